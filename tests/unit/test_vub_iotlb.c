/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's IOTLB mode: updates, invalidates, misses on the backend channel, denials. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vu_iotlb.h"
#include "vub_frontend.h"

#define VI_PROTOCOL (VF_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ))
#define VI_FEATURES (VF_FEATURES | VU_BIT(VU_F_ACCESS_PLATFORM))
/* The rings' part of the memory, and the buffers' (both rings' slots). */
#define VI_RINGS_LEN (VF_NRINGS * VF_RING_STRIDE)
#define VI_BUFS_LEN (VF_NRINGS * VF_SLOTS_PER_RING * VF_BUF_SIZE)
#define VI_FRAME_LEN 60u
#define VI_WAIT_MS 1000

static int64_t
vi_iotlb(struct vf *f, uint8_t type, uint64_t off, uint64_t size, uint8_t perm)
{
	struct vu_vhost_iotlb_msg m = {
		.iova = vf_addr(f, off),
		.size = size,
		.uaddr = vf_addr(f, off),
		.perm = perm,
		.type = type,
	};

	return vf_request(f, VU_VHOST_USER_IOTLB_MSG, &m, sizeof(m), NULL, 0);
}

/* A device offering IOTLB mode, taken with `features` (VI_FEATURES and more) and a
 * backend channel unless told not; the rings' and buffers' memory given as IOTLB
 * entries with these permissions (0: left out). Returns the last ring's KICK ack. */
static int64_t
vi_open_proto(struct vf *f, uint64_t features, uint64_t protocol, bool channel, uint8_t rings_perm,
	      uint8_t bufs_perm)
{
	struct vub_dev_params dp = { .queue_pairs = 1, .iommu = true };
	int64_t ack = 0;

	vf_open_params(f, &dp);
	assert_true(vf_get_u64(f, VU_VHOST_USER_GET_FEATURES) & VU_BIT(VU_F_ACCESS_PLATFORM));
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, protocol), VF_NO_ACK);
	f->acks = true;
	f->packed = features & VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_FEATURES, features), 0);
	assert_int_equal(vf_set_mem_table(f), 0);
	if (channel)
		assert_int_equal(vf_backend_channel(f), 0);
	if (rings_perm)
		assert_int_equal(vi_iotlb(f, VU_VHOST_IOTLB_UPDATE, 0, VI_RINGS_LEN, rings_perm),
				 0);
	if (bufs_perm)
		assert_int_equal(
			vi_iotlb(f, VU_VHOST_IOTLB_UPDATE, VF_BUF_BASE, VI_BUFS_LEN, bufs_perm), 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		ack = vf_setup_ring(f, i, VF_RING_SIZE);
		assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	return ack;
}

static int64_t
vi_open_with(struct vf *f, uint64_t features, bool channel, uint8_t rings_perm, uint8_t bufs_perm)
{
	return vi_open_proto(f, features, VI_PROTOCOL, channel, rings_perm, bufs_perm);
}

static void
vi_open(struct vf *f, uint8_t rings_perm, uint8_t bufs_perm)
{
	assert_int_equal(vi_open_with(f, VI_FEATURES, true, rings_perm, bufs_perm), 0);
}

/* The next request on the backend channel: an IOTLB miss asking for iova with perm, the
 * ack wanted (REPLY_ACK is negotiated). */
static void
vi_expect_miss(struct vf *f, uint64_t iova, uint8_t perm)
{
	struct vu_vhost_msg m;

	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vu_vhost_msg_recv(f->backend, &m, VI_WAIT_MS), 0);
	assert_int_equal(m.hdr.request, VU_VHOST_USER_BACKEND_IOTLB_MSG);
	assert_int_equal(m.hdr.flags, VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY);
	assert_int_equal(m.hdr.size, sizeof(struct vu_vhost_iotlb_msg));
	assert_int_equal(m.payload.iotlb.type, VU_VHOST_IOTLB_MISS);
	assert_int_equal(m.payload.iotlb.iova, iova);
	assert_int_equal(m.payload.iotlb.perm, perm);
	assert_int_equal(m.payload.iotlb.size, 0);
	assert_int_equal(m.payload.iotlb.uaddr, 0);
	assert_int_equal(m.nfds, 0);
}

static void
vi_expect_no_request(struct vf *f)
{
	struct vu_vhost_msg m;

	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vu_vhost_msg_recv(f->backend, &m, 0), -ETIMEDOUT);
}

/* The frontend's ack of a miss, read by the device's control path. */
static void
vi_ack(struct vf *f, uint64_t status)
{
	struct vu_vhost_msg ack;

	vu_vhost_msg_init(&ack, VU_VHOST_USER_BACKEND_IOTLB_MSG, sizeof(uint64_t));
	ack.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	ack.payload.u64 = status;
	assert_int_equal(vu_vhost_msg_send(f->backend, &ack, VI_WAIT_MS), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
}

static void
vi_assert_stats(struct vf *f, uint16_t vring, uint64_t misses, uint64_t denied)
{
	uint64_t m, d;

	vub_dev_iotlb_stats(f->dev, vring, &m, &d);
	assert_int_equal(m, misses);
	assert_int_equal(d, denied);
}

/* One frame each way through entries covering rings and buffers: no miss, no denial. */
static void
test_iotlb_traffic(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint32_t len = 0, id, ulen;
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, VU_IOTLB_PERM_RW);
	assert_true(vub_dev_ready(f.dev));
	vf_fill(frame, sizeof(frame), 7);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	vf_post_rx(&f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(&f, frame, sizeof(frame)), 1);
	assert_true(vf_used(&f, VF_RX, &id, &ulen));
	assert_int_equal(ulen, VF_HDR_LEN + sizeof(frame));
	assert_memory_equal(vf_buf(&f, VF_RX, 0) + VF_HDR_LEN, frame, sizeof(frame));
	vi_expect_no_request(&f);
	vi_assert_stats(&f, VF_RX, 0, 0);
	vi_assert_stats(&f, VF_TX, 0, 0);
	vf_close(&f);
}

/* Without iommu the bit is not offered, and IOTLB_MSG is refused. */
static void
test_iotlb_not_offered(void **state)
{
	struct vub_dev_params dp = { .queue_pairs = 1 };
	struct vf f;

	(void)state;
	vf_open_params(&f, &dp);
	assert_false(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES) & VU_BIT(VU_F_ACCESS_PLATFORM));
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, 0, VI_RINGS_LEN, VU_IOTLB_PERM_RW),
			 ENOTSUP);
	vf_assert_error_logged("IOTLB_MSG to a device not offering VIRTIO_F_ACCESS_PLATFORM");
	vf_close(&f);
}

/* Rings whose addresses are not in the IOTLB wait at SET_VRING_KICK (acked 0): a miss
 * goes out for the descriptor table, and the update starts them. */
static void
test_iotlb_ring_miss(void **state)
{
	struct vf f;

	(void)state;
	vi_open(&f, 0, VU_IOTLB_PERM_RW);
	assert_false(vub_dev_ready(f.dev));
	assert_null(vub_dequeue_enter(f.dev, 0));
	/* One miss per ring, each its descriptor table (read), in ring order. */
	vi_expect_miss(&f, (uint64_t)(uintptr_t)f.ring[VF_RX].desc, VU_IOTLB_PERM_RO);
	vi_expect_miss(&f, (uint64_t)(uintptr_t)f.ring[VF_TX].desc, VU_IOTLB_PERM_RO);
	vi_expect_no_request(&f);
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, 0, VI_RINGS_LEN, VU_IOTLB_PERM_RW), 0);
	vi_ack(&f, 0);
	vi_ack(&f, 0);
	assert_true(vub_dev_ready(f.dev));
	assert_true(tu_log_contains("vring 1 started: its addresses are in the IOTLB"));
	vi_assert_stats(&f, VF_RX, 1, 0);
	vi_assert_stats(&f, VF_TX, 1, 0);
	vf_close(&f);
}

/* A buffer outside the IOTLB: the packet waits, a miss asks for it, the update lets it
 * through; the ring keeps running. */
static void
test_iotlb_buffer_miss(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	struct vub_vq *vq;
	uint32_t len = 0;
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, 0);
	vf_fill(frame, sizeof(frame), 3);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 0);
	/* Asked once, however often the burst comes back meanwhile; a program that sleeps
	 * until kicked is told to (the update, a message, wakes it), not to spin. */
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 0);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	assert_int_equal(vub_vq_kick_mode(vq, VUB_KICK_NOTIFY), 0);
	assert_int_equal(vub_vq_kick_mode(vq, VUB_KICK_POLLED), 0);
	vub_vq_leave(vq);
	vi_expect_miss(&f, (uint64_t)(uintptr_t)vf_buf(&f, VF_TX, 0), VU_IOTLB_PERM_RO);
	vi_expect_no_request(&f);
	assert_int_equal(
		vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, VF_BUF_BASE, VI_BUFS_LEN, VU_IOTLB_PERM_RW), 0);
	vi_ack(&f, 0);
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	vi_assert_stats(&f, VF_TX, 1, 0);
	vf_close(&f);
}

/* The frontend refuses the miss: the ring stops as on a bad descriptor (err fd, log
 * line naming the ring), the denial is counted. */
static void
test_iotlb_miss_refused(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint32_t len = 0;
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, 0);
	vf_fill(frame, sizeof(frame), 5);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 0);
	vi_expect_miss(&f, (uint64_t)(uintptr_t)vf_buf(&f, VF_TX, 0), VU_IOTLB_PERM_RO);
	vi_ack(&f, 1);
	assert_true(tu_log_contains("refused by the frontend"));
	vf_assert_error_logged("vub-ut: vring 1 stopped: IOTLB miss at IOVA");
	assert_int_equal(vf_eventfd_count(f.err[VF_TX]), 1);
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), -EAGAIN);
	vi_assert_stats(&f, VF_TX, 1, 1);
	vi_assert_stats(&f, VF_RX, 0, 0);
	vf_close(&f);
}

/* Receive buffers in an entry the device may only read: denied without a miss. */
static void
test_iotlb_permission(void **state)
{
	uint8_t frame[VI_FRAME_LEN];
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, VU_IOTLB_PERM_RO);
	vf_fill(frame, sizeof(frame), 9);
	vf_post_rx(&f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(&f, frame, sizeof(frame)), -EIO);
	vf_assert_error_logged("vub-ut: vring 0 stopped: chain at descriptor 0, descriptor 0: "
			       "buffer's IOTLB entry lacks the permission");
	vi_expect_no_request(&f);
	vi_assert_stats(&f, VF_RX, 0, 1);
	vf_close(&f);
}

/* An invalidate of the rings' memory stops them without a miss; an update restarts
 * them where they were. */
static void
test_iotlb_invalidate(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint32_t len = 0;
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, VU_IOTLB_PERM_RW);
	vf_fill(frame, sizeof(frame), 1);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_INVALIDATE, 0, VI_RINGS_LEN, 0), 0);
	assert_false(vub_dev_ready(f.dev));
	assert_null(vub_dequeue_enter(f.dev, 0));
	assert_true(tu_log_contains("vring 1 stopped: its addresses left the IOTLB"));
	vi_expect_no_request(&f);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, 0, VI_RINGS_LEN, VU_IOTLB_PERM_RW), 0);
	assert_true(vub_dev_ready(f.dev));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_memory_equal(got, frame, sizeof(frame));
	/* The buffers' entry went with an invalidate of its range too. */
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_INVALIDATE, VF_BUF_BASE + 1, 1, 0), 0);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 0);
	vi_expect_miss(&f, (uint64_t)(uintptr_t)vf_buf(&f, VF_TX, 2), VU_IOTLB_PERM_RO);
	vi_assert_stats(&f, VF_TX, 1, 0);
	vf_close(&f);
}

/* Updates the device cannot honour are refused: memory outside the table, no
 * permission, an empty range, an unknown type. */
static void
test_iotlb_update_refused(void **state)
{
	struct vu_vhost_iotlb_msg m = { .size = 4096, .perm = VU_IOTLB_PERM_RW };
	struct vf f;

	(void)state;
	vi_open(&f, VU_IOTLB_PERM_RW, VU_IOTLB_PERM_RW);
	m.type = VU_VHOST_IOTLB_UPDATE;
	m.iova = 0x1000;
	m.uaddr = vf_addr(&f, VF_MEM_SIZE - 2048);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_IOTLB_MSG, &m, sizeof(m), NULL, 0), EINVAL);
	vf_assert_error_logged("not inside one region of the memory table: refused");
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, 0, 4096, 0), EINVAL);
	vf_assert_error_logged("permissions are not read, write or both");
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, 0, 0, VU_IOTLB_PERM_RW), EINVAL);
	vf_assert_error_logged("empty or wrapping range");
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_MISS, 0, 4096, VU_IOTLB_PERM_RW), EINVAL);
	vf_assert_error_logged("IOTLB_MSG of type 1");
	/* The rings run on. */
	assert_true(vub_dev_ready(f.dev));
	vf_close(&f);
}

/* Packed rings: the descriptor ring and the device's event structure are written, so a
 * read-only ring zone is denied at SET_VRING_KICK (EFAULT, counted); read-write, one
 * frame each way. */
static void
test_iotlb_packed(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint64_t packed = VI_FEATURES | VU_BIT(VU_F_RING_PACKED);
	uint32_t len = 0, id, ulen;
	struct vf f;

	(void)state;
	assert_int_equal(vi_open_with(&f, packed, true, VU_IOTLB_PERM_RO, VU_IOTLB_PERM_RW),
			 EFAULT);
	vf_assert_error_logged("vub-ut: vring 1: descriptor ring at IOVA");
	assert_false(vub_dev_ready(f.dev));
	vi_assert_stats(&f, VF_TX, 0, 1);
	vf_close(&f);

	vi_open_with(&f, packed, true, VU_IOTLB_PERM_RW, VU_IOTLB_PERM_RW);
	assert_true(vub_dev_ready(f.dev));
	vf_fill(frame, sizeof(frame), 11);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_memory_equal(got, frame, sizeof(frame));
	vf_post_rx(&f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(&f, frame, sizeof(frame)), 1);
	assert_true(vf_used(&f, VF_RX, &id, &ulen));
	assert_int_equal(ulen, VF_HDR_LEN + sizeof(frame));
	vi_assert_stats(&f, VF_RX, 0, 0);
	vi_assert_stats(&f, VF_TX, 0, 0);
	vf_close(&f);
}

/* No backend channel to ask on: a miss is denied at once, the ring stops. */
static void
test_iotlb_no_channel(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint32_t len = 0;
	struct vf f;

	(void)state;
	vi_open_with(&f, VI_FEATURES, false, VU_IOTLB_PERM_RW, 0);
	vf_fill(frame, sizeof(frame), 13);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 0);
	assert_int_equal(vub_dev_process(f.dev), 0);
	assert_true(tu_log_contains("no backend channel to ask the frontend on"));
	vf_assert_error_logged("vub-ut: vring 1 stopped: IOTLB miss at IOVA");
	assert_int_equal(vf_eventfd_count(f.err[VF_TX]), 1);
	vi_assert_stats(&f, VF_TX, 0, 1);
	vf_close(&f);
}

/* The burst fast path translates buffers through the IOTLB as the per-frame path does:
 * receive buffers in a writable entry go fast; one outside the IOTLB is left to the
 * per-frame path, which asks its miss; answered read-only, neither path writes it: denied,
 * counted, the ring stopped. */
static void
fast_path_rx(uint64_t features)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN];
	struct vub_buf vb[4];
	uint32_t id, ulen;
	struct vub_vq *vq;
	struct vf f;

	vi_open_with(&f, features, true, VU_IOTLB_PERM_RW, 0);
	assert_int_equal(
		vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, VF_BUF_BASE, 2 * VF_BUF_SIZE, VU_IOTLB_PERM_WO),
		0);
	vf_post_rx(&f, 4, VF_BUF_SIZE);
	vq = vub_enqueue_enter(f.dev, 0);
	assert_non_null(vq);
	for (unsigned int i = 0; i < 4; i++)
		vb[i].len = VI_FRAME_LEN;
	assert_int_equal(vub_enqueue_reserve(vq, vb, 4), 2);
	vf_fill(frame, sizeof(frame), 2);
	vf_fill(vb[0].frame, VI_FRAME_LEN, 1);
	memcpy(vb[1].frame, frame, sizeof(frame));
	vub_enqueue_commit(vq, vb, 2);
	assert_int_equal(vub_enqueue_begin(vq, VI_FRAME_LEN, &pkt), 0);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	for (uint32_t i = 0; i < 2; i++) {
		assert_true(vf_used(&f, VF_RX, &id, &ulen));
		assert_int_equal(ulen, VF_HDR_LEN + VI_FRAME_LEN);
	}
	assert_false(vf_used(&f, VF_RX, &id, &ulen));
	assert_memory_equal(vf_buf(&f, VF_RX, 1) + VF_HDR_LEN, frame, sizeof(frame));
	vi_expect_miss(&f, (uint64_t)(uintptr_t)vf_buf(&f, VF_RX, 2), VU_IOTLB_PERM_WO);
	vi_expect_no_request(&f);
	vi_assert_stats(&f, VF_RX, 1, 0);

	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, VF_BUF_BASE + 2 * VF_BUF_SIZE,
				  2 * VF_BUF_SIZE, VU_IOTLB_PERM_RO),
			 0);
	vi_ack(&f, 0);
	vq = vub_enqueue_enter(f.dev, 0);
	assert_non_null(vq);
	assert_int_equal(vub_enqueue_reserve(vq, vb, 2), 0);
	assert_int_equal(vub_enqueue_begin(vq, VI_FRAME_LEN, &pkt), -EIO);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	vf_assert_error_logged("buffer's IOTLB entry lacks the permission the device needs");
	assert_int_equal(vf_eventfd_count(f.err[VF_RX]), 1);
	assert_false(vf_used(&f, VF_RX, &id, &ulen));
	vi_assert_stats(&f, VF_RX, 1, 1);
	vf_close(&f);
}

/* Transmit: a frame in a readable entry goes fast, the next (outside the IOTLB) is the
 * per-frame path's miss; refused by the frontend, the ring stops and the denial counts. */
static void
fast_path_tx(uint64_t features)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN];
	struct vub_buf vb[2];
	struct vub_vq *vq;
	struct vf f;

	vi_open_with(&f, features, true, VU_IOTLB_PERM_RW, 0);
	assert_int_equal(vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE,
				  VF_BUF_BASE + VF_SLOTS_PER_RING * VF_BUF_SIZE, VF_BUF_SIZE,
				  VU_IOTLB_PERM_RO),
			 0);
	vf_fill(frame, sizeof(frame), 4);
	vf_post_tx(&f, frame, sizeof(frame));
	vf_post_tx(&f, frame, sizeof(frame));
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	assert_int_equal(vub_dequeue_reserve(vq, VF_BUF_SIZE, vb, 2), 1);
	assert_int_equal(vb[0].len, sizeof(frame));
	assert_memory_equal(vb[0].frame, frame, sizeof(frame));
	vub_dequeue_commit(vq, vb, 1);
	assert_int_equal(vub_dequeue_begin(vq, &pkt), 0);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	vi_expect_miss(&f, (uint64_t)(uintptr_t)vf_buf(&f, VF_TX, 1), VU_IOTLB_PERM_RO);
	vi_ack(&f, 1);
	vf_assert_error_logged("vub-ut: vring 1 stopped: IOTLB miss at IOVA");
	assert_int_equal(vf_eventfd_count(f.err[VF_TX]), 1);
	assert_null(vub_dequeue_enter(f.dev, 0));
	vi_assert_stats(&f, VF_TX, 1, 1);
	vf_close(&f);
}

static void
test_iotlb_fast_path(void **state)
{
	(void)state;
	fast_path_rx(VI_FEATURES);
	fast_path_tx(VI_FEATURES);
	tu_log_reset();
	fast_path_rx(VI_FEATURES | VU_BIT(VU_F_RING_PACKED));
	fast_path_tx(VI_FEATURES | VU_BIT(VU_F_RING_PACKED));
}

/* A status reset is the device's: the IOTLB stays (the frontend's, like the memory table)
 * and updates between the reset and SET_FEATURES are taken, as net_vuser describes its
 * mempools at port start; the rings set up again start on the entries without a miss. */
static void
test_iotlb_status_reset(void **state)
{
	static struct vub_pkt pkt;
	uint8_t frame[VI_FRAME_LEN], got[VI_FRAME_LEN];
	uint32_t len = 0, id, ulen;
	struct vf f;

	(void)state;
	vi_open_proto(&f, VI_FEATURES, VI_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS), true,
		      VU_IOTLB_PERM_RW, 0);
	assert_true(vub_dev_ready(f.dev));
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0), 0);
	assert_false(vub_dev_ready(f.dev));
	assert_int_equal(vub_dev_features(f.dev), 0);
	assert_int_equal(
		vi_iotlb(&f, VU_VHOST_IOTLB_UPDATE, VF_BUF_BASE, VI_BUFS_LEN, VU_IOTLB_PERM_RW), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VI_FEATURES), 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(&f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	assert_true(vub_dev_ready(f.dev));
	vf_fill(frame, sizeof(frame), 17);
	vf_post_tx(&f, frame, sizeof(frame));
	assert_int_equal(vf_dequeue(&f, &pkt, got, sizeof(got), &len), 1);
	assert_memory_equal(got, frame, sizeof(frame));
	vf_post_rx(&f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(&f, frame, sizeof(frame)), 1);
	assert_true(vf_used(&f, VF_RX, &id, &ulen));
	assert_int_equal(ulen, VF_HDR_LEN + sizeof(frame));
	vi_expect_no_request(&f);
	vi_assert_stats(&f, VF_RX, 0, 0);
	vi_assert_stats(&f, VF_TX, 0, 0);
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_iotlb_traffic, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_not_offered, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_ring_miss, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_buffer_miss, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_miss_refused, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_permission, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_invalidate, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_update_refused, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_packed, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_no_channel, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_fast_path, vf_log_setup),
		cmocka_unit_test_setup(test_iotlb_status_reset, vf_log_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
