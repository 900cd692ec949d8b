/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's data path: split rings both ways, mergeable buffers, hostile rings. */
#include <errno.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

#define FRAME_LEN 100u
#define NFRAMES 5u
#define BIG_FRAME 3000u
#define MRG_BUF 1024u

static struct vub_pkt pkt;

static int
setup(void **state)
{
	struct vf *f = test_malloc(sizeof(*f));

	tu_log_capture();
	vf_open(f, 1);
	vf_handshake(f, VF_FEATURES);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct vf *f = *state;

	vf_close(f);
	test_free(f);
	return 0;
}

/* The frontend sends 5 frames: the device takes exactly those, byte for byte, and
 * returns each buffer (used length 0: nothing written into a transmit buffer). */
static void
test_dequeue(void **state)
{
	struct vf *f = *state;
	uint8_t in[FRAME_LEN], out[FRAME_LEN];
	uint32_t len, id, ulen;

	for (uint8_t i = 0; i < NFRAMES; i++) {
		vf_fill(in, FRAME_LEN, i);
		vf_post_tx(f, in, FRAME_LEN);
	}
	for (uint8_t i = 0; i < NFRAMES; i++) {
		assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
		assert_int_equal(len, FRAME_LEN);
		vf_fill(in, FRAME_LEN, i);
		assert_memory_equal(in, out, FRAME_LEN);
	}
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 0);
	for (uint32_t i = 0; i < NFRAMES; i++) {
		assert_true(vf_used(f, VF_TX, &id, &ulen));
		assert_int_equal(id, i);
		assert_int_equal(ulen, 0);
	}
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(vf_get_vring_base(f, VF_TX), NFRAMES);
	assert_int_equal(tu_log_errors(), 0);
}

/* 5 frames into 5 posted buffers: used length header + frame, num_buffers 1; the 6th
 * finds no buffer. */
static void
test_enqueue(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN];
	const struct vu_net_hdr *hdr;
	uint32_t id, len;

	vf_post_rx(f, NFRAMES, VF_BUF_SIZE);
	for (uint8_t i = 0; i < NFRAMES; i++) {
		vf_fill(frame, FRAME_LEN, i);
		assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	}
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 0);
	for (uint8_t i = 0; i < NFRAMES; i++) {
		assert_true(vf_used(f, VF_RX, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, VF_HDR_LEN + FRAME_LEN);
		hdr = (const struct vu_net_hdr *)vf_buf(f, VF_RX, i);
		assert_int_equal(hdr->num_buffers, 1);
		assert_int_equal(hdr->flags, 0);
		assert_int_equal(hdr->gso_type, 0);
		vf_fill(frame, FRAME_LEN, i);
		assert_memory_equal(vf_buf(f, VF_RX, i) + VF_HDR_LEN, frame, FRAME_LEN);
	}
	assert_false(vf_used(f, VF_RX, &id, &len));
	assert_int_equal(tu_log_errors(), 0);
}

/* A 3000-byte frame in 1024-byte buffers: three of them, num_buffers 3 (5.1.6.4). */
static void
test_enqueue_mergeable(void **state)
{
	struct vf *f = *state;
	static uint8_t frame[BIG_FRAME], got[BIG_FRAME];
	const uint32_t lens[] = { MRG_BUF, MRG_BUF, VF_HDR_LEN + BIG_FRAME - 2 * MRG_BUF };
	uint32_t id, len, off = 0;

	vf_fill(frame, BIG_FRAME, 3);
	vf_post_rx(f, 4, MRG_BUF);
	assert_int_equal(vf_enqueue(f, frame, BIG_FRAME), 1);
	assert_int_equal(((const struct vu_net_hdr *)vf_buf(f, VF_RX, 0))->num_buffers, 3);
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t skip = i == 0 ? VF_HDR_LEN : 0;

		assert_true(vf_used(f, VF_RX, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, lens[i]);
		memcpy(got + off, vf_buf(f, VF_RX, (uint16_t)i) + skip, len - skip);
		off += len - skip;
	}
	assert_false(vf_used(f, VF_RX, &id, &len));
	assert_int_equal(off, BIG_FRAME);
	assert_memory_equal(got, frame, BIG_FRAME);
	/* Not enough buffers left for another: nothing taken, the 4th still available. */
	assert_int_equal(vf_enqueue(f, frame, BIG_FRAME), 0);
	assert_int_equal(vf_enqueue(f, frame, 100), 1);
	assert_true(vf_used(f, VF_RX, &id, &len));
	assert_int_equal(id, 3);
}

/* Without MRG_RXBUF one buffer must hold it all: too big is dropped, buffers kept. */
static void
test_enqueue_no_mrg(void **state)
{
	struct vf *f = *state;
	static uint8_t frame[BIG_FRAME];
	uint32_t id, len;

	vf_close(f);
	vf_open(f, 1);
	vf_handshake(f, VF_FEATURES & ~VU_BIT(VU_NET_F_MRG_RXBUF));
	vf_post_rx(f, 4, MRG_BUF);
	assert_int_equal(vf_enqueue(f, frame, BIG_FRAME), -EMSGSIZE);
	assert_false(vf_used(f, VF_RX, &id, &len));
	assert_int_equal(vf_enqueue(f, frame, 500), 1);
	assert_true(vf_used(f, VF_RX, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, VF_HDR_LEN + 500);
	/* "MUST set num_buffers to 1" without MRG_RXBUF (VERSION_1: the field is there). */
	assert_int_equal(((const struct vu_net_hdr *)vf_buf(f, VF_RX, 0))->num_buffers, 1);
}

/* A transmit chain through an indirect table: header and frame in two entries. */
static void
test_dequeue_indirect(void **state)
{
	struct vf *f = *state;
	struct vu_desc *table = (struct vu_desc *)vf_buf(f, VF_TX, 10);
	uint8_t *hdr = vf_buf(f, VF_TX, 11), *data = vf_buf(f, VF_TX, 12);
	uint8_t out[FRAME_LEN];
	uint32_t len;

	memset(hdr, 0, VF_HDR_LEN);
	vf_fill(data, FRAME_LEN, 9);
	table[0] = (struct vu_desc){ (uintptr_t)hdr, VF_HDR_LEN, VU_DESC_F_NEXT, 1 };
	table[1] = (struct vu_desc){ (uintptr_t)data, FRAME_LEN, 0, 0 };
	vf_put_desc(f, VF_TX, 0, (uintptr_t)table, 2 * sizeof(*table), VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_memory_equal(out, data, FRAME_LEN);
	assert_int_equal(pkt.niov, 2);
	assert_int_equal(tu_log_errors(), 0);
}

/* What the frontend did to its transmit ring stops that ring, with one log line and
 * its error eventfd signalled; the receive ring goes on. */
static void
assert_tx_broken(struct vf *f, const char *needle)
{
	uint8_t out[FRAME_LEN];
	uint32_t len, id, ulen;

	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), -EIO);
	assert_int_equal(tu_log_errors(), 1);
	vf_assert_error_logged(needle);
	assert_int_equal(vf_eventfd_count(f->err[VF_TX]), 1);
	assert_null(vub_dequeue_enter(f->dev, 0));
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	vf_post_rx(f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(f, out, FRAME_LEN), 1);
	assert_int_equal(tu_log_errors(), 0);
}

static void
test_desc_outside_memory(void **state)
{
	struct vf *f = *state;

	vf_put_desc(f, VF_TX, 0, vf_addr(f, VF_MEM_SIZE - 64), 128, 0, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "buffer is not inside one memory region");
}

static void
test_chain_loop(void **state)
{
	struct vf *f = *state;
	uint64_t buf = (uintptr_t)vf_buf(f, VF_TX, 0);

	vf_put_desc(f, VF_TX, 0, buf, VF_HDR_LEN, VU_DESC_F_NEXT, 1);
	vf_put_desc(f, VF_TX, 1, buf, 64, VU_DESC_F_NEXT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "chain longer than its table (a loop)");
}

static void
test_indirect_loop(void **state)
{
	struct vf *f = *state;
	struct vu_desc *table = (struct vu_desc *)vf_buf(f, VF_TX, 10);
	uint64_t buf = (uintptr_t)vf_buf(f, VF_TX, 0);

	table[0] = (struct vu_desc){ buf, VF_HDR_LEN, VU_DESC_F_NEXT, 1 };
	table[1] = (struct vu_desc){ buf, 64, VU_DESC_F_NEXT, 0 };
	vf_put_desc(f, VF_TX, 0, (uintptr_t)table, 2 * sizeof(*table), VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "indirect entry");
}

static void
test_next_outside_table(void **state)
{
	struct vf *f = *state;

	vf_put_desc(f, VF_TX, 0, (uintptr_t)vf_buf(f, VF_TX, 0), 64, VU_DESC_F_NEXT, VF_RING_SIZE);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "next descriptor is outside the table");
}

/* "A driver MUST NOT decrement the available idx": an index more than a ring ahead. */
static void
test_bad_avail_index(void **state)
{
	struct vf *f = *state;

	__atomic_store_n(&f->ring[VF_TX].avail->idx, VF_RING_SIZE + 1, __ATOMIC_RELEASE);
	assert_tx_broken(f, "avail index 9 is 9 entries past the last one taken (0)");
}

/* A program that sleeps asks for kicks once its ring is empty. A ring broken by an index
 * a ring ahead has nothing to take: 0 ("sleep"), not 1 ("a buffer came": vub-net took it
 * again, failed, asked again, forever, and served nothing else). */
static void
test_kick_mode_broken_ring(void **state)
{
	struct vf *f = *state;
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);
	int begin, mode;

	assert_non_null(vq);
	__atomic_store_n(&f->ring[VF_TX].avail->idx, VF_RING_SIZE + 1, __ATOMIC_RELEASE);
	begin = vub_dequeue_begin(vq, &pkt);
	mode = vub_vq_kick_mode(vq, VUB_KICK_NOTIFY);
	/* Left before asserting: teardown takes the ring. */
	vub_vq_leave(vq);
	assert_int_equal(begin, -EIO);
	assert_int_equal(mode, 0);
	assert_int_equal(tu_log_errors(), 1);
	vf_assert_error_logged("avail index 9 is 9 entries past the last one taken (0)");
}

static void
test_bad_head(void **state)
{
	struct vf *f = *state;

	vf_avail(f, VF_TX, VF_RING_SIZE + 3);
	assert_tx_broken(f, "avail slot 0 names descriptor 11 of a table of 8");
}

/* A transmit buffer marked device-writable is read all the same ("SHOULD NOT read",
 * and DPDK's packed indirect Tx tables mark their header entry so). */
static void
test_writable_in_tx(void **state)
{
	struct vf *f = *state;
	uint8_t *buf = vf_buf(f, VF_TX, 0), out[FRAME_LEN];
	uint32_t len;

	memset(buf, 0, VF_HDR_LEN);
	vf_fill(buf + VF_HDR_LEN, FRAME_LEN, 5);
	vf_put_desc(f, VF_TX, 0, (uintptr_t)buf, VF_HDR_LEN + FRAME_LEN, VU_DESC_F_WRITE, 0);
	vf_avail(f, VF_TX, 0);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_memory_equal(out, buf + VF_HDR_LEN, FRAME_LEN);
	assert_int_equal(tu_log_errors(), 0);
}

static void
test_short_tx_chain(void **state)
{
	struct vf *f = *state;

	vf_put_desc(f, VF_TX, 0, (uintptr_t)vf_buf(f, VF_TX, 0), VF_HDR_LEN - 1, 0, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "less than the 12-byte virtio-net header");
}

static void
test_indirect_rules(void **state)
{
	struct vf *f = *state;
	struct vu_desc *table = (struct vu_desc *)vf_buf(f, VF_TX, 10);
	uint64_t t = (uintptr_t)table;

	/* Nested table. */
	table[0] = (struct vu_desc){ t, sizeof(*table), VU_DESC_F_INDIRECT, 0 };
	vf_put_desc(f, VF_TX, 0, t, sizeof(*table), VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "indirect descriptor inside an indirect table");
}

static void
test_indirect_with_next(void **state)
{
	struct vf *f = *state;
	uint64_t t = (uintptr_t)vf_buf(f, VF_TX, 10);

	vf_put_desc(f, VF_TX, 0, t, 16, VU_DESC_F_INDIRECT | VU_DESC_F_NEXT, 1);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "indirect descriptor with VIRTQ_DESC_F_NEXT");
}

static void
test_indirect_bad_length(void **state)
{
	struct vf *f = *state;
	uint64_t t = (uintptr_t)vf_buf(f, VF_TX, 10);

	vf_put_desc(f, VF_TX, 0, t, 17, VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "indirect table length");
}

static void
test_indirect_not_negotiated(void **state)
{
	struct vf *f = *state;
	uint64_t t = (uintptr_t)vf_buf(f, VF_TX, 10);

	vf_close(f);
	vf_open(f, 1);
	vf_handshake(f, VF_FEATURES & ~VU_BIT(VU_F_RING_INDIRECT_DESC));
	vf_put_desc(f, VF_TX, 0, t, 16, VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "without VIRTIO_F_INDIRECT_DESC");
}

/* More pieces than the device takes for one packet (2.7.4.1: "a reasonable limit"). */
static void
test_too_many_buffers(void **state)
{
	struct vf *f = *state;
	struct vu_desc *table = (struct vu_desc *)vf_buf(f, VF_TX, 10);
	uint64_t buf = (uintptr_t)vf_buf(f, VF_TX, 0);
	const uint16_t n = VUB_PKT_MAX_IOV + 1;

	for (uint16_t i = 0; i < n; i++)
		table[i] = (struct vu_desc){ buf, VF_HDR_LEN, i + 1 < n ? VU_DESC_F_NEXT : 0,
					     (uint16_t)(i + 1) };
	vf_put_desc(f, VF_TX, 0, (uintptr_t)table, n * sizeof(*table), VU_DESC_F_INDIRECT, 0);
	vf_avail(f, VF_TX, 0);
	assert_tx_broken(f, "has more than 64 buffers");
}

/* A receive chain with a device-readable buffer: that ring stops, transmit goes on. */
static void
test_readable_in_rx(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 }, out[FRAME_LEN];
	uint32_t len;

	vf_put_desc(f, VF_RX, 0, (uintptr_t)vf_buf(f, VF_RX, 0), VF_BUF_SIZE, 0, 0);
	vf_avail(f, VF_RX, 0);
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), -EIO);
	vf_assert_error_logged("device-readable buffer in a receive chain");
	assert_int_equal(vf_eventfd_count(f->err[VF_RX]), 1);
	assert_null(vub_enqueue_enter(f->dev, 0));
	vf_post_tx(f, frame, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
}

/* A broken ring set up again by the frontend runs again. */
static void
test_recover_after_break(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 1 }, out[FRAME_LEN];
	uint32_t len;

	vf_avail(f, VF_TX, VF_RING_SIZE + 3);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), -EIO);
	tu_log_reset();
	/* The bad entry was not taken. */
	assert_int_equal(vf_get_vring_base(f, VF_TX), 0);
	assert_int_equal(vf_setup_ring(f, VF_TX, VF_RING_SIZE), 0);
	vf_post_tx(f, frame, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_int_equal(tu_log_errors(), 0);
}

/* A frontend that comes back with base 0 and its rings as they are in memory (DPDK's
 * virtio_user in server mode after a backend reconnect): the ring resumes at the used
 * index in memory, so the device takes the new frames only, not the old ones again. */
static void
test_resume_at_used_index(void **state)
{
	struct vf *f = *state;
	struct vu_split_ring *r = &f->ring[VF_TX];
	struct vu_vhost_vring_addr a = {
		.index = VF_TX,
		.desc_user_addr = (uint64_t)(uintptr_t)r->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)r->avail,
		.used_user_addr = (uint64_t)(uintptr_t)r->used,
	};
	uint8_t frame[FRAME_LEN], out[FRAME_LEN];
	uint32_t len, id, ulen;
	uint64_t kick = VF_TX | VU_VHOST_USER_VRING_NOFD;

	for (uint8_t i = 0; i < NFRAMES; i++) {
		vf_fill(frame, FRAME_LEN, i);
		vf_post_tx(f, frame, FRAME_LEN);
	}
	for (uint8_t i = 0; i < NFRAMES; i++)
		assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(vf_get_vring_base(f, VF_TX), NFRAMES);
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_NUM, VF_TX, VF_RING_SIZE), 0);
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_BASE, VF_TX, 0), 0);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_VRING_KICK, kick), 0);
	for (uint8_t i = 0; i < 2; i++) {
		vf_fill(frame, FRAME_LEN, (uint8_t)(100 + i));
		vf_post_tx(f, frame, FRAME_LEN);
	}
	for (uint8_t i = 0; i < 2; i++) {
		assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
		vf_fill(frame, FRAME_LEN, (uint8_t)(100 + i));
		assert_memory_equal(out, frame, FRAME_LEN);
	}
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 0);
	for (uint32_t i = 0; i < NFRAMES + 2; i++) {
		assert_true(vf_used(f, VF_TX, &id, &ulen));
		assert_int_equal(id, i % VF_RING_SIZE);
	}
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(vf_get_vring_base(f, VF_TX), NFRAMES + 2);
	assert_int_equal(tu_log_errors(), 0);
}

/* A ring set up afresh (zeroed, base 0) after the device took frames from it: the device
 * knows nothing of the old ring's available entries, so it takes none until the frontend
 * makes new ones available. */
static void
test_fresh_ring_after_stop(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 }, out[FRAME_LEN];
	uint32_t len;

	for (uint8_t i = 0; i < NFRAMES; i++)
		vf_post_tx(f, frame, FRAME_LEN);
	for (uint8_t i = 0; i < NFRAMES; i++)
		assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(vf_get_vring_base(f, VF_TX), NFRAMES);
	assert_int_equal(vf_setup_ring(f, VF_TX, VF_RING_SIZE), 0);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 0);
	vf_fill(frame, FRAME_LEN, 7);
	vf_post_tx(f, frame, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_memory_equal(out, frame, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 0);
	assert_int_equal(tu_log_errors(), 0);
}

/* "started but disabled: ... must not supply any new RX packets, but must process and
 * discard any TX packets". */
static void
test_disabled_rings(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 }, out[FRAME_LEN];
	uint32_t len, id, ulen;

	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, VF_TX, 0), 0);
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, VF_RX, 0), 0);
	assert_false(f->ready);
	vf_post_tx(f, frame, FRAME_LEN);
	vf_post_tx(f, frame, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 0);
	assert_true(vf_used(f, VF_TX, &id, &ulen));
	assert_true(vf_used(f, VF_TX, &id, &ulen));
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	vf_post_rx(f, 1, VF_BUF_SIZE);
	assert_null(vub_enqueue_enter(f->dev, 0));
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, VF_RX, 1), 0);
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
}

/* The call eventfd is written only when the driver asks for interrupts. */
static void
test_call_suppression(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 };

	vf_post_rx(f, 2, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	assert_int_equal(vf_eventfd_count(f->call[VF_RX]), 1);
	f->ring[VF_RX].avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	assert_int_equal(vf_eventfd_count(f->call[VF_RX]), 0);
	/* The device polls: it asked not to be kicked. */
	assert_int_equal(f->ring[VF_RX].used->flags, VU_USED_F_NO_NOTIFY);
}

/* A new memory table without the rings in it stops them. */
static void
test_rings_left_out_of_new_table(void **state)
{
	struct vf *f = *state;
	struct vu_vhost_memory m = { .nregions = 1 };
	size_t size = offsetof(struct vu_vhost_memory, regions) + sizeof(m.regions[0]);

	m.regions[0].guest_phys_addr = m.regions[0].userspace_addr = vf_addr(f, VF_BUF_BASE);
	m.regions[0].memory_size = VF_MEM_SIZE - VF_BUF_BASE;
	m.regions[0].mmap_offset = VF_BUF_BASE;
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_MEM_TABLE, &m, size, &f->memfd, 1), 0);
	vf_assert_error_logged("not inside the new memory table");
	assert_null(vub_dequeue_enter(f->dev, 0));
	assert_null(vub_enqueue_enter(f->dev, 0));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dequeue),
		T(test_enqueue),
		T(test_enqueue_mergeable),
		T(test_enqueue_no_mrg),
		T(test_dequeue_indirect),
		T(test_desc_outside_memory),
		T(test_chain_loop),
		T(test_indirect_loop),
		T(test_next_outside_table),
		T(test_bad_avail_index),
		T(test_kick_mode_broken_ring),
		T(test_bad_head),
		T(test_writable_in_tx),
		T(test_short_tx_chain),
		T(test_indirect_rules),
		T(test_indirect_with_next),
		T(test_indirect_bad_length),
		T(test_indirect_not_negotiated),
		T(test_too_many_buffers),
		T(test_readable_in_rx),
		T(test_recover_after_break),
		T(test_resume_at_used_index),
		T(test_fresh_ring_after_stop),
		T(test_disabled_rings),
		T(test_call_suppression),
		T(test_rings_left_out_of_new_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
