/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's inflight I/O tracking (INFLIGHT_SHMFD): the region and a restart. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_transport.h"
#include "vub_frontend.h"

#define VI_PROTOCOL (VF_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
#define VI_FEATURES (VF_FEATURES & ~VU_BIT(VU_NET_F_MRG_RXBUF))
#define VI_FRAME_LEN 60u
#define VI_FRAMES 4

static struct vub_pkt vi_pkt[VI_FRAMES + 1];

/* GET_INFLIGHT_FD (reply) or SET_INFLIGHT_FD (ack) for the pair's two rings; the reply's
 * description goes to *in and its fd is returned (-1 none). */
static int
vi_inflight(struct vf *f, uint32_t request, struct vu_vhost_inflight *in, int fd)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, request, sizeof(*in));
	msg.payload.inflight = *in;
	if (request == VU_VHOST_USER_SET_INFLIGHT_FD) {
		msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
		msg.fds[0] = fd;
		msg.nfds = 1;
	}
	assert_int_equal(vu_vhost_msg_send(f->sock, &msg, 1000), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vf_recv(f, &reply), 0);
	assert_int_equal(reply.hdr.request, request);
	if (request == VU_VHOST_USER_SET_INFLIGHT_FD) {
		assert_int_equal(reply.payload.u64, 0);
		return -1;
	}
	assert_int_equal(reply.hdr.size, sizeof(*in));
	*in = reply.payload.inflight;
	return reply.nfds ? reply.fds[0] : -1;
}

/* The connection set-up with these protocol features, up to the memory table. */
static void
vi_setup_protocol(struct vf *f, uint64_t features, uint64_t protocol)
{
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, protocol), VF_NO_ACK);
	f->acks = true;
	f->packed = features & VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_FEATURES, features), 0);
	assert_int_equal(vf_set_mem_table(f), 0);
}

static void
vi_setup(struct vf *f, uint64_t features)
{
	vi_setup_protocol(f, features, VI_PROTOCOL);
}

/* A new backend process on the same frontend: the old device is gone as if killed (its
 * ring state with it), the rings and the region stay in the frontend's memory. */
static void
vi_new_backend(struct vf *f)
{
	struct vub_af_unix_params ap = { .name = "vub-ut" };
	struct vub_dev_params dp = { .name = "vub-ut", .queue_pairs = 1 };
	struct vub_transport *t;
	int sv[2];

	vub_dev_destroy(f->dev);
	close(f->sock);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	ap.fd = sv[1];
	assert_int_equal(vub_af_unix_create(&ap, &t), 0);
	assert_int_equal(vub_dev_create(&dp, t, &f->dev), 0);
	assert_int_equal(vub_dev_start(f->dev), 0);
	f->acks = false;
}

/* Hand ring i to the new backend where it is: base its used index. */
static void
vi_resume_ring(struct vf *f, uint32_t i)
{
	struct vu_split_ring *r = &f->ring[i];
	struct vu_vhost_vring_addr a = {
		.index = i,
		.desc_user_addr = (uintptr_t)r->desc,
		.avail_user_addr = (uintptr_t)r->avail,
		.used_user_addr = (uintptr_t)r->used,
	};
	uint64_t v = i;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_NUM, i, VF_RING_SIZE), 0);
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_BASE, i, r->used->idx), 0);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_VRING_CALL, &v, sizeof(v), &f->call[i], 1),
			 0);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_VRING_KICK, &v, sizeof(v), &kick, 1), 0);
	close(f->kick[i]);
	f->kick[i] = kick;
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
}

/* Take n Tx packets; each frame's first byte says which it is. */
static void
vi_take(struct vf *f, struct vub_vq *vq, int n, uint8_t *which)
{
	uint8_t frame[VI_FRAME_LEN];

	for (int k = 0; k < n; k++) {
		assert_int_equal(vub_dequeue_begin(vq, &vi_pkt[k]), 1);
		assert_int_equal(vub_pkt_read(&vi_pkt[k], 0, frame, sizeof(frame)), VI_FRAME_LEN);
		which[k] = frame[0];
	}
	(void)f;
}

static uint16_t
vi_head(int k)
{
	return vi_pkt[k].chains[0].head;
}

/*
 * Split: the first backend takes 4 Tx buffers, completes the 4th and the 2nd (one batch)
 * and dies with the 1st and 3rd in flight, the region saying so; it is killed as if after
 * publishing the batch but before clearing it. The next one, handed the region, clears
 * that batch (last_batch_head, next), resubmits the 1st and 3rd oldest first, then goes on
 * after them: every frame used once, none twice.
 */
static void
test_split_restart(void **state)
{
	const uint64_t qbytes = vu_inflight_split_queue_size(VF_RING_SIZE);
	struct vu_vhost_inflight in = { .num_queues = 2, .queue_size = VF_RING_SIZE };
	uint8_t frame[VI_FRAME_LEN] = { 0 }, which[VI_FRAMES + 1];
	struct vu_inflight_split *tx;
	uint32_t id, len;
	struct vub_vq *vq;
	struct vf f;
	void *region;
	int fd;

	(void)state;
	vf_open(&f, 1);
	vi_setup(&f, VI_FEATURES);
	fd = vi_inflight(&f, VU_VHOST_USER_GET_INFLIGHT_FD, &in, -1);
	assert_true(fd >= 0);
	assert_int_equal(in.mmap_size, 2 * qbytes);
	assert_int_equal(in.mmap_offset, 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(&f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	region = mmap(NULL, in.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(region != MAP_FAILED);
	tx = (struct vu_inflight_split *)((uint8_t *)region + qbytes);
	assert_int_equal(tx->version, VU_INFLIGHT_VERSION);
	assert_int_equal(tx->desc_num, VF_RING_SIZE);

	for (uint8_t k = 0; k < VI_FRAMES; k++) {
		frame[0] = k;
		vf_post_tx(&f, frame, VI_FRAME_LEN);
	}
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, VI_FRAMES, which);
	vub_dequeue_end(vq, &vi_pkt[3]);
	vub_dequeue_end(vq, &vi_pkt[1]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_true(vf_used(&f, VF_TX, &id, &len) && id == vi_head(3));
	assert_true(vf_used(&f, VF_TX, &id, &len) && id == vi_head(1));
	assert_int_equal(tx->used_idx, 2);
	assert_int_equal(tx->last_batch_head, vi_head(3));
	assert_int_equal(tx->desc[vi_head(3)].next, vi_head(1));
	for (int k = 0; k < VI_FRAMES; k++)
		assert_int_equal(tx->desc[vi_head(k)].inflight, k % 2 == 0);
	assert_true(tx->desc[vi_head(0)].counter < tx->desc[vi_head(2)].counter);
	/* Killed between the batch's used->idx store and its clearing. */
	tx->desc[vi_head(3)].inflight = 1;
	tx->desc[vi_head(1)].inflight = 1;
	tx->used_idx = 0;

	vi_new_backend(&f);
	vi_setup(&f, VI_FEATURES);
	in.mmap_size = 2 * qbytes;
	vi_inflight(&f, VU_VHOST_USER_SET_INFLIGHT_FD, &in, fd);
	for (uint32_t i = 0; i < VF_NRINGS; i++)
		vi_resume_ring(&f, i);
	assert_int_equal(tx->used_idx, 2);
	assert_int_equal(tx->desc[vi_head(1)].inflight + tx->desc[vi_head(3)].inflight, 0);
	frame[0] = VI_FRAMES;
	vf_post_tx(&f, frame, VI_FRAME_LEN);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, 3, which);
	assert_int_equal(vub_dequeue_begin(vq, &vi_pkt[3]), 0);
	assert_memory_equal(which, ((uint8_t[]){ 0, 2, VI_FRAMES }), 3);
	for (int k = 0; k < 3; k++)
		vub_dequeue_end(vq, &vi_pkt[k]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	for (int k = 0; k < 3; k++)
		assert_true(vf_used(&f, VF_TX, &id, &len) && id == vi_head(k));
	assert_false(vf_used(&f, VF_TX, &id, &len));
	assert_int_equal(tx->used_idx, 5);
	for (uint16_t h = 0; h < VF_RING_SIZE; h++)
		assert_int_equal(tx->desc[h].inflight, 0);
	munmap(region, in.mmap_size);
	close(fd);
	vf_close(&f);
}

/* No region (size 0, no fd) for packed rings, which this device does not track; nor
 * without the protocol feature negotiated, nor for more rings than it has. */
static void
test_no_region(void **state)
{
	const uint64_t packed = VI_FEATURES | VU_BIT(VU_F_RING_PACKED);
	const struct {
		uint64_t features, protocol;
		uint16_t num_queues;
	} cases[] = {
		{ packed, VI_PROTOCOL, 2 },
		{ VI_FEATURES, VF_PROTOCOL, 2 },
		{ VI_FEATURES, VI_PROTOCOL, 3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vu_vhost_inflight in = { .num_queues = cases[i].num_queues,
						.queue_size = VF_RING_SIZE };
		struct vf f;

		vf_open(&f, 1);
		vi_setup_protocol(&f, cases[i].features, cases[i].protocol);
		assert_int_equal(vi_inflight(&f, VU_VHOST_USER_GET_INFLIGHT_FD, &in, -1), -1);
		assert_int_equal(in.mmap_size, 0);
		vf_close(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_restart),
		cmocka_unit_test(test_no_region),
	};

	tu_log_capture();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
