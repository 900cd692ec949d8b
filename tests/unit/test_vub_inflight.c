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
#define VI_PACKED (VI_FEATURES | VU_BIT(VU_F_RING_PACKED))
#define VI_ODD_SIZE 6u	       /* packed rings need not be a power of 2 */
#define VI_BURST_MAX_LEN 1500u /* the longest frame the fast path may take */

/* Up to VI_FRAMES + 1 frames taken at once, and a slot for the begin that finds none. */
static struct vub_pkt vi_pkt[VI_FRAMES + 2];

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
	struct vub_dev_params dp = { .name = "vub-ut", .queue_pairs = 1, .inflight = true };
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

/* Hand ring i to the new backend where the driver has read it up to: a split ring's used
 * index, or a packed ring's slot and wrap counter (the base a frontend sends). */
static void
vi_resume_ring(struct vf *f, uint32_t i, bool packed)
{
	struct vu_split_ring *r = &f->ring[i];
	struct vu_packed_ring *pr = &f->pring[i];
	struct vu_vhost_vring_addr a = {
		.index = i,
		.desc_user_addr = packed ? (uintptr_t)pr->desc : (uintptr_t)r->desc,
		.avail_user_addr = packed ? (uintptr_t)pr->driver_event : (uintptr_t)r->avail,
		.used_user_addr = packed ? (uintptr_t)pr->device_event : (uintptr_t)r->used,
	};
	uint64_t base = packed ? vu_packed_ring_base(pr->used_idx, pr->used_wrap) : r->used->idx;
	uint64_t v = i;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_NUM, i, VF_RING_SIZE), 0);
	assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_BASE, i, base), 0);
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

/* A pair on a fresh region of 2 * qbytes (the layout of features): GET_INFLIGHT_FD, both
 * rings set up; *tx is the Tx ring's part (the region mapped whole at *map), the
 * region's fd returned. */
static int
vi_region_open(struct vf *f, uint64_t features, uint64_t qbytes, void **map, void **tx)
{
	struct vu_vhost_inflight in = { .num_queues = 2, .queue_size = VF_RING_SIZE };
	int fd;

	vf_open(f, 1);
	vi_setup(f, features);
	fd = vi_inflight(f, VU_VHOST_USER_GET_INFLIGHT_FD, &in, -1);
	assert_true(fd >= 0);
	assert_int_equal(in.mmap_size, 2 * qbytes);
	assert_int_equal(in.mmap_offset, 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	*map = mmap(NULL, in.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*map != MAP_FAILED);
	*tx = (uint8_t *)*map + qbytes;
	return fd;
}

/* The next backend: the region of 2 * qbytes, then each ring where the driver has read it
 * up to (the base a frontend sends). */
static void
vi_region_restart(struct vf *f, int fd, uint64_t features, uint64_t qbytes)
{
	struct vu_vhost_inflight in = { .mmap_size = 2 * qbytes,
					.num_queues = 2,
					.queue_size = VF_RING_SIZE };

	vi_new_backend(f);
	vi_setup(f, features);
	vi_inflight(f, VU_VHOST_USER_SET_INFLIGHT_FD, &in, fd);
	for (uint32_t i = 0; i < VF_NRINGS; i++)
		vi_resume_ring(f, i, features & VU_BIT(VU_F_RING_PACKED));
}

static int
vi_split_open(struct vf *f, void **map, struct vu_inflight_split **tx)
{
	void *part;
	int fd = vi_region_open(f, VI_FEATURES, vu_inflight_split_queue_size(VF_RING_SIZE), map,
				&part);

	*tx = part;
	assert_int_equal((*tx)->version, VU_INFLIGHT_VERSION);
	assert_int_equal((*tx)->desc_num, VF_RING_SIZE);
	return fd;
}

static void
vi_split_restart(struct vf *f, int fd)
{
	vi_region_restart(f, fd, VI_FEATURES, vu_inflight_split_queue_size(VF_RING_SIZE));
}

/* The end of a split case: nothing left in flight, the region and the pair closed. */
static void
vi_split_close(struct vf *f, void *map, int fd, const struct vu_inflight_split *tx)
{
	for (uint16_t h = 0; h < VF_RING_SIZE; h++)
		assert_int_equal(tx->desc[h].inflight, 0);
	munmap(map, 2 * vu_inflight_split_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(f);
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
	uint8_t frame[VI_FRAME_LEN] = { 0 }, which[VI_FRAMES + 1];
	struct vu_inflight_split *tx;
	uint32_t id, len;
	struct vub_vq *vq;
	struct vf f;
	void *region;
	int fd;

	(void)state;
	fd = vi_split_open(&f, &region, &tx);

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

	vi_split_restart(&f, fd);
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
	vi_split_close(&f, region, fd, tx);
}

/* INFLIGHT_SHMFD is offered only to an application that asks (vub_dev_params.inflight):
 * one that completes in order does without the region's stores. */
static void
test_offered_on_request(void **state)
{
	const struct vub_dev_params plain = { .queue_pairs = 1 };
	const uint64_t bit = VU_BIT(VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	struct vf f;

	(void)state;
	vf_open_params(&f, &plain);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_PROTOCOL_FEATURES) & bit, 0);
	vf_close(&f);
	vf_open(&f, 1);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_PROTOCOL_FEATURES) & bit, bit);
	vf_close(&f);
}

/* No region (size 0, no fd) without the protocol feature negotiated, nor for more rings
 * than the device has, nor for a split ring whose size is not a power of 2. */
static void
test_no_region(void **state)
{
	const struct {
		uint64_t features, protocol;
		uint16_t num_queues, queue_size;
	} cases[] = {
		{ VI_FEATURES, VF_PROTOCOL, 2, VF_RING_SIZE },
		{ VI_FEATURES, VI_PROTOCOL, 3, VF_RING_SIZE },
		{ VI_PACKED, VI_PROTOCOL, 3, VF_RING_SIZE },
		{ VI_FEATURES, VI_PROTOCOL, 2, VI_ODD_SIZE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vu_vhost_inflight in = { .num_queues = cases[i].num_queues,
						.queue_size = cases[i].queue_size };
		struct vf f;

		vf_open(&f, 1);
		vi_setup_protocol(&f, cases[i].features, cases[i].protocol);
		assert_int_equal(vi_inflight(&f, VU_VHOST_USER_GET_INFLIGHT_FD, &in, -1), -1);
		assert_int_equal(in.mmap_size, 0);
		vf_close(&f);
	}
}

/* ---- packed rings ---- */

/* The spec's QueueRegionPacked and DescStatePacked byte for byte (QEMU's and DPDK's
 * layout): a GET_INFLIGHT_FD for packed rings sizes its region by them, 64-byte aligned,
 * for ring sizes that are not a power of 2 too. */
static void
test_packed_layout(void **state)
{
	const uint16_t sizes[] = { VF_RING_SIZE, VI_ODD_SIZE };

	(void)state;
	assert_int_equal(offsetof(struct vu_inflight_packed, version), 8);
	assert_int_equal(offsetof(struct vu_inflight_packed, desc_num), 10);
	assert_int_equal(offsetof(struct vu_inflight_packed, free_head), 12);
	assert_int_equal(offsetof(struct vu_inflight_packed, old_free_head), 14);
	assert_int_equal(offsetof(struct vu_inflight_packed, used_idx), 16);
	assert_int_equal(offsetof(struct vu_inflight_packed, old_used_idx), 18);
	assert_int_equal(offsetof(struct vu_inflight_packed, used_wrap_counter), 20);
	assert_int_equal(offsetof(struct vu_inflight_packed, old_used_wrap_counter), 21);
	assert_int_equal(offsetof(struct vu_inflight_packed, desc), 32);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, next), 2);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, last), 4);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, num), 6);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, counter), 8);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, id), 16);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, flags), 18);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, len), 20);
	assert_int_equal(offsetof(struct vu_inflight_desc_packed, addr), 24);
	/* 32 + 8 * 32 = 288, and 32 + 6 * 32 = 224, each rounded up to 64 */
	assert_int_equal(vu_inflight_packed_queue_size(VF_RING_SIZE), 320);
	assert_int_equal(vu_inflight_packed_queue_size(VI_ODD_SIZE), 256);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vu_vhost_inflight in = { .num_queues = 2, .queue_size = sizes[i] };
		struct vf f;
		int fd;

		vf_open(&f, 1);
		vi_setup(&f, VI_PACKED);
		fd = vi_inflight(&f, VU_VHOST_USER_GET_INFLIGHT_FD, &in, -1);
		assert_true(fd >= 0);
		assert_int_equal(in.mmap_size, 2 * vu_inflight_packed_queue_size(sizes[i]));
		close(fd);
		vf_close(&f);
	}
}

static int
vi_packed_open(struct vf *f, void **map, struct vu_inflight_packed **tx)
{
	void *part;
	int fd = vi_region_open(f, VI_PACKED, vu_inflight_packed_queue_size(VF_RING_SIZE), map,
				&part);

	*tx = part;
	return fd;
}

static void
vi_packed_restart(struct vf *f, int fd)
{
	vi_region_restart(f, fd, VI_PACKED, vu_inflight_packed_queue_size(VF_RING_SIZE));
}

/* Post n Tx frames numbered from `first` (the frame's first byte). */
static void
vi_post(struct vf *f, uint8_t first, int n)
{
	uint8_t frame[VI_FRAME_LEN] = { 0 };

	for (int k = 0; k < n; k++) {
		frame[0] = (uint8_t)(first + k);
		vf_post_tx(f, frame, VI_FRAME_LEN);
	}
}

/* Take n Tx frames, complete those of `done` (positions, in that order) in one batch:
 * the ring is left entered, returned. */
static struct vub_vq *
vi_take_complete(struct vf *f, int n, const int *done, int ndone, uint8_t *which)
{
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);

	assert_non_null(vq);
	vi_take(f, vq, n, which);
	for (int k = 0; k < ndone; k++)
		vub_dequeue_end(vq, &vi_pkt[done[k]]);
	return vq;
}

/* The used descriptors the driver has not read yet, by buffer id, into ids. */
static int
vi_used_ids(struct vf *f, uint32_t *ids, int max)
{
	uint32_t len;
	int n = 0;

	while (n < max && vf_used(f, VF_TX, &ids[n], &len))
		n++;
	return n;
}

/* One descriptor of buffer id `slot` taken into entry `e`: exactly what the spec keeps. */
static void
vi_assert_entry(const struct vf *f, const struct vu_inflight_packed *r, uint16_t e, uint16_t slot,
		uint8_t inflight, uint64_t counter)
{
	const struct vu_inflight_desc_packed *d = &r->desc[e];

	assert_int_equal(d->inflight, inflight);
	assert_int_equal(d->num, 1);
	assert_int_equal(d->last, e);
	assert_int_equal(d->counter, counter);
	assert_int_equal(d->id, slot);
	assert_int_equal(d->addr, (uintptr_t)vf_buf(f, VF_TX, slot));
	assert_int_equal(d->len, VF_HDR_LEN + VI_FRAME_LEN);
	assert_int_equal(d->flags & VU_PACKED_DESC_F_AVAIL_USED, VU_PACKED_DESC_F_AVAIL);
}

/*
 * Taking 4 Tx buffers fills entries 0-3 from the free list (each its own chain of 1, in
 * flight, counters 0-3); completing the 4th then the 2nd in one batch puts their entries
 * back at the free list's head (1 -> 3 -> 4) with the used slot, and the old_* fields
 * follow once published: the region's bytes after each step.
 */
static void
test_packed_track(void **state)
{
	const int done[] = { 3, 1 };
	struct vu_inflight_packed *tx;
	uint8_t which[VI_FRAMES];
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_packed_open(&f, &map, &tx);
	assert_int_equal(tx->version, VU_INFLIGHT_VERSION);
	assert_int_equal(tx->desc_num, VF_RING_SIZE);
	assert_int_equal(tx->used_wrap_counter + tx->old_used_wrap_counter, 2);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(tx->desc[e].next, e + 1);
	vi_post(&f, 0, VI_FRAMES);
	vq = vi_take_complete(&f, VI_FRAMES, done, 0, which);
	assert_int_equal(tx->free_head, 4);
	assert_int_equal(tx->old_free_head, 4);
	for (uint16_t e = 0; e < VI_FRAMES; e++)
		vi_assert_entry(&f, tx, e, e, 1, e);
	for (int k = 0; k < 2; k++)
		vub_dequeue_end(vq, &vi_pkt[done[k]]);
	/* Used but not published: the region still has them in flight. */
	assert_int_equal(tx->free_head, 4);
	assert_int_equal(tx->desc[3].inflight + tx->desc[1].inflight, 2);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 1);
	assert_int_equal(tx->free_head, 1);
	assert_int_equal(tx->desc[1].next, 3);
	assert_int_equal(tx->desc[3].next, 4);
	assert_int_equal(tx->old_free_head, 1);
	assert_int_equal(tx->used_idx, 2);
	assert_int_equal(tx->old_used_idx, 2);
	assert_int_equal(tx->used_wrap_counter, 1);
	assert_int_equal(tx->old_used_wrap_counter, 1);
	for (uint16_t e = 0; e < VI_FRAMES; e++)
		vi_assert_entry(&f, tx, e, e, e % 2 == 0, e);
	munmap(map, 2 * vu_inflight_packed_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(&f);
}

/*
 * A backend killed in the middle of publishing the batch above, either side of the flags
 * store ("If d.flags is not equal to the calculated flags value ... commit", else "roll
 * back"): the next one resubmits exactly the buffers the driver did not see used, oldest
 * first, then goes on after them at slot 4; every frame used once.
 */
static void
vi_packed_killed(bool published)
{
	const int done[] = { 3, 1 };
	const uint8_t want_pub[] = { 0, 2, VI_FRAMES }, want_unpub[] = { 0, 1, 2, 3, VI_FRAMES };
	const uint8_t *want = published ? want_pub : want_unpub;
	const int nwant = published ? 3 : 5;
	struct vu_inflight_packed *tx;
	uint8_t which[VI_FRAMES + 1];
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	fd = vi_packed_open(&f, &map, &tx);
	vi_post(&f, 0, VI_FRAMES);
	vq = vi_take_complete(&f, VI_FRAMES, done, 2, which);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	/* Killed before the clearing: the batch's heads in flight, the old_* fields before
	 * it; and, unpublished, before the flags store of its first used slot too. */
	tx->desc[1].inflight = tx->desc[3].inflight = 1;
	tx->old_free_head = 4;
	tx->old_used_idx = 0;
	if (published) {
		assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 2);
	} else {
		f.pring[VF_TX].desc[0].flags = VU_PACKED_DESC_F_AVAIL;
		assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 0);
	}

	vi_packed_restart(&f, fd);
	assert_int_equal(tx->free_head, tx->old_free_head);
	assert_int_equal(tx->used_idx, published ? 2 : 0);
	vi_post(&f, VI_FRAMES, 1);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, nwant, which);
	assert_int_equal(vub_dequeue_begin(vq, &vi_pkt[nwant]), 0);
	assert_memory_equal(which, want, nwant);
	for (int k = 0; k < nwant; k++)
		vub_dequeue_end(vq, &vi_pkt[k]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), nwant);
	for (int k = 0; k < nwant; k++)
		assert_int_equal(ids[k], want[k]);
	assert_int_equal(tx->used_idx, 5);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(tx->desc[e].inflight, 0);
	assert_int_equal(tu_log_errors(), 0);
	munmap(map, 2 * vu_inflight_packed_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(&f);
}

static void
test_packed_killed_published(void **state)
{
	(void)state;
	vi_packed_killed(true);
}

static void
test_packed_killed_unpublished(void **state)
{
	(void)state;
	vi_packed_killed(false);
}

/*
 * Across the ring's wrap: 6 frames go through, then 4 more sit in slots 6, 7, 0, 1; only
 * the 2nd (id 7) completes, and the backend dies with ids 6, 0 and 1 in flight, the used
 * position at slot 7 of counter 1. The next one resubmits 6, 0, 1 in that order and takes
 * the next frame at slot 2 of the second lap (counter 0): the used descriptors go to
 * slots 7, 0, 1, 2 and the region ends at slot 3, counter 0.
 */
static void
test_packed_wrap(void **state)
{
	const int none[] = { 0 }, done[] = { 1 };
	struct vu_inflight_packed *tx;
	uint8_t which[6];
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_packed_open(&f, &map, &tx);
	vi_post(&f, 0, 6);
	vq = vi_take_complete(&f, 6, none, 0, which);
	for (int k = 0; k < 6; k++)
		vub_dequeue_end(vq, &vi_pkt[k]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 6);
	vi_post(&f, 6, 4);
	vq = vi_take_complete(&f, 4, done, 1, which);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_memory_equal(which, ((uint8_t[]){ 6, 7, 8, 9 }), 4);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 1);
	assert_int_equal(ids[0], 7);
	assert_int_equal(tx->used_idx, 7);
	assert_int_equal(tx->used_wrap_counter, 1);

	vi_packed_restart(&f, fd);
	vi_post(&f, 10, 1);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, 4, which);
	assert_int_equal(vub_dequeue_begin(vq, &vi_pkt[4]), 0);
	assert_memory_equal(which, ((uint8_t[]){ 6, 8, 9, 10 }), 4);
	for (int k = 0; k < 4; k++)
		vub_dequeue_end(vq, &vi_pkt[k]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 4);
	assert_memory_equal(ids, ((uint32_t[]){ 6, 0, 1, 2 }), 4 * sizeof(uint32_t));
	assert_int_equal(tx->used_idx, 3);
	assert_int_equal(tx->used_wrap_counter, 0);
	assert_int_equal(tx->old_used_idx, 3);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(tx->desc[e].inflight, 0);
	munmap(map, 2 * vu_inflight_packed_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(&f);
}

/* Nothing in flight when the backend died, and the frontend lays its rings out afresh
 * (slot 0, counter 1) but hands the same region (used slot 4): the base wins, the region
 * starts again there, and the next frame, at slot 0, is taken. */
static void
test_packed_nothing_in_flight(void **state)
{
	const int done[] = { 0, 1, 2, 3 };
	struct vu_vhost_inflight in = { .mmap_size =
						2 * vu_inflight_packed_queue_size(VF_RING_SIZE),
					.num_queues = 2,
					.queue_size = VF_RING_SIZE };
	struct vu_inflight_packed *tx;
	uint8_t which[VI_FRAMES];
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_packed_open(&f, &map, &tx);
	vi_post(&f, 0, VI_FRAMES);
	vq = vi_take_complete(&f, VI_FRAMES, done, VI_FRAMES, which);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), VI_FRAMES);
	assert_int_equal(tx->used_idx, VI_FRAMES);

	vi_new_backend(&f);
	vi_setup(&f, VI_PACKED);
	vi_inflight(&f, VU_VHOST_USER_SET_INFLIGHT_FD, &in, fd);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(&f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	assert_int_equal(tx->used_idx, 0);
	assert_int_equal(tx->free_head, 0);
	vi_post(&f, 7, 1);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, 1, which);
	assert_int_equal(which[0], 7);
	vub_dequeue_end(vq, &vi_pkt[0]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), 1);
	assert_int_equal(ids[0], 0);
	assert_int_equal(tx->used_idx, 1);
	munmap(map, in.mmap_size);
	close(fd);
	vf_close(&f);
}

/* The burst fast path on the Tx ring: VI_FRAMES frames numbered from `first` reserved
 * (left entered, returned). */
static struct vub_vq *
vi_reserve_tx(struct vf *f, uint8_t first, struct vub_buf *bufs)
{
	struct vub_vq *vq;

	vi_post(f, first, VI_FRAMES);
	vq = vub_dequeue_enter(f->dev, 0);
	assert_non_null(vq);
	assert_int_equal(vub_dequeue_reserve(vq, VI_BURST_MAX_LEN, bufs, VI_FRAMES), VI_FRAMES);
	for (int k = 0; k < VI_FRAMES; k++)
		assert_int_equal(bufs[k].frame[0], first + k);
	return vq;
}

/* The next backend takes what the killed one had reserved again, through the per-frame
 * path, oldest first: frames `first` on, completed, the region left with none in flight. */
static void
vi_resubmitted(struct vf *f, uint8_t first)
{
	uint8_t which[VI_FRAMES];
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);
	struct vub_buf b;

	assert_non_null(vq);
	assert_int_equal(vub_dequeue_reserve(vq, VI_BURST_MAX_LEN, &b, 1), 0);
	vi_take(f, vq, VI_FRAMES, which);
	assert_int_equal(vub_dequeue_begin(vq, &vi_pkt[VI_FRAMES]), 0);
	for (int k = 0; k < VI_FRAMES; k++) {
		assert_int_equal(which[k], first + k);
		vub_dequeue_end(vq, &vi_pkt[k]);
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(f, ids, VF_RING_SIZE), VI_FRAMES);
}

/*
 * Split, the burst fast path on a tracked ring: a burst reserved is marked in flight in
 * taking order, as vub_split_pop marks chains, and cleared once published; a backend
 * killed between reserve and commit leaves it marked, and the next resubmits it.
 */
static void
test_split_burst_tracked(void **state)
{
	struct vub_buf bufs[VI_FRAMES];
	struct vu_inflight_split *tx;
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_split_open(&f, &map, &tx);
	vq = vi_reserve_tx(&f, 0, bufs);
	for (int k = 0; k < VI_FRAMES; k++) {
		assert_int_equal(tx->desc[bufs[k].id].inflight, 1);
		assert_int_equal(tx->desc[bufs[k].id].counter, k);
	}
	vub_dequeue_commit(vq, bufs, VI_FRAMES);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), VI_FRAMES);
	assert_int_equal(tx->used_idx, VI_FRAMES);
	assert_int_equal(tx->last_batch_head, bufs[0].id);
	for (int k = 0; k + 1 < VI_FRAMES; k++)
		assert_int_equal(tx->desc[bufs[k].id].next, bufs[k + 1].id);
	for (uint16_t h = 0; h < VF_RING_SIZE; h++)
		assert_int_equal(tx->desc[h].inflight, 0);

	vq = vi_reserve_tx(&f, VI_FRAMES, bufs);
	vub_vq_leave(vq);
	vi_split_restart(&f, fd);
	vi_resubmitted(&f, VI_FRAMES);
	assert_int_equal(tx->used_idx, 2 * VI_FRAMES);
	vi_split_close(&f, map, fd, tx);
}

/* A packed pair's Rx ring through the fast path: the region's entries of each buffer
 * reserved as the per-frame path fills them, cleared once published. */
static void
vi_packed_burst_rx(struct vf *f, const struct vu_inflight_packed *rx)
{
	struct vub_buf bufs[VI_FRAMES];
	uint32_t id, len;
	struct vub_vq *vq;
	unsigned int n = 0;

	vf_post_rx(f, VI_FRAMES, VF_HDR_LEN + VI_FRAME_LEN);
	vq = vub_enqueue_enter(f->dev, 0);
	assert_non_null(vq);
	for (int k = 0; k < VI_FRAMES; k++)
		bufs[k].len = VI_FRAME_LEN;
	assert_int_equal(vub_enqueue_reserve(vq, bufs, VI_FRAMES), VI_FRAMES);
	for (uint16_t e = 0; e < VI_FRAMES; e++) {
		assert_int_equal(rx->desc[e].inflight, 1);
		assert_int_equal(rx->desc[e].num, 1);
		assert_int_equal(rx->desc[e].id, e);
		assert_int_equal(rx->desc[e].counter, e);
		assert_int_equal(rx->desc[e].addr, (uintptr_t)vf_buf(f, VF_RX, e));
	}
	vub_enqueue_commit(vq, bufs, VI_FRAMES);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	while (n < VF_RING_SIZE && vf_used(f, VF_RX, &id, &len))
		n++;
	assert_int_equal(n, VI_FRAMES);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(rx->desc[e].inflight, 0);
	assert_int_equal(rx->used_idx, VI_FRAMES);
}

/*
 * Packed, the burst fast path on a tracked ring: each buffer reserved fills its free
 * entry as vub_packed_pop does (a chain of one, in flight, counters in taking order);
 * published, the entries lead the free list newest first (3 -> 2 -> 1 -> 0 -> 4), none
 * in flight. A backend killed between reserve and commit: the next resubmits them.
 */
static void
test_packed_burst_tracked(void **state)
{
	struct vub_buf bufs[VI_FRAMES];
	struct vu_inflight_packed *tx;
	uint32_t ids[VF_RING_SIZE];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_packed_open(&f, &map, &tx);
	vq = vi_reserve_tx(&f, 0, bufs);
	for (uint16_t e = 0; e < VI_FRAMES; e++)
		vi_assert_entry(&f, tx, e, e, 1, e);
	assert_int_equal(tx->free_head, VI_FRAMES);
	assert_int_equal(tx->old_free_head, VI_FRAMES);
	vub_dequeue_commit(vq, bufs, VI_FRAMES);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	assert_int_equal(vi_used_ids(&f, ids, VF_RING_SIZE), VI_FRAMES);
	assert_int_equal(tx->free_head, VI_FRAMES - 1);
	for (uint16_t e = VI_FRAMES - 1; e > 0; e--)
		assert_int_equal(tx->desc[e].next, e - 1);
	assert_int_equal(tx->desc[0].next, VI_FRAMES);
	assert_int_equal(tx->used_idx, VI_FRAMES);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(tx->desc[e].inflight, 0);
	vi_packed_burst_rx(&f, (const struct vu_inflight_packed *)map);

	vq = vi_reserve_tx(&f, VI_FRAMES, bufs);
	vub_vq_leave(vq);
	vi_packed_restart(&f, fd);
	vi_resubmitted(&f, VI_FRAMES);
	assert_int_equal(tx->used_idx, 0);
	assert_int_equal(tx->used_wrap_counter, 0);
	for (uint16_t e = 0; e < VF_RING_SIZE; e++)
		assert_int_equal(tx->desc[e].inflight, 0);
	munmap(map, 2 * vu_inflight_packed_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(&f);
}

/* A region a ring of this size cannot have written (its free list loops): logged, nothing
 * resubmitted, and tracking starts again from the base on a fresh free list. */
static void
test_packed_bad_region(void **state)
{
	struct vu_inflight_packed *tx;
	uint8_t which[1];
	struct vub_vq *vq;
	struct vf f;
	void *map;
	int fd;

	(void)state;
	fd = vi_packed_open(&f, &map, &tx);
	tx->desc[5].next = 4;
	tx->desc[2].inflight = 1;
	vi_packed_restart(&f, fd);
	vf_assert_error_logged("does not describe a ring of 8");
	assert_int_equal(tx->desc[2].inflight, 0);
	assert_int_equal(tx->desc[5].next, 6);
	vi_post(&f, 0, 1);
	vq = vub_dequeue_enter(f.dev, 0);
	assert_non_null(vq);
	vi_take(&f, vq, 1, which);
	assert_int_equal(which[0], 0);
	vub_dequeue_end(vq, &vi_pkt[0]);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	munmap(map, 2 * vu_inflight_packed_queue_size(VF_RING_SIZE));
	close(fd);
	vf_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_restart),
		cmocka_unit_test(test_no_region),
		cmocka_unit_test(test_offered_on_request),
		cmocka_unit_test(test_packed_layout),
		cmocka_unit_test(test_packed_track),
		cmocka_unit_test(test_packed_killed_published),
		cmocka_unit_test(test_packed_killed_unpublished),
		cmocka_unit_test(test_packed_wrap),
		cmocka_unit_test(test_packed_nothing_in_flight),
		cmocka_unit_test(test_packed_bad_region),
		cmocka_unit_test(test_split_burst_tracked),
		cmocka_unit_test(test_packed_burst_tracked),
	};

	tu_log_capture();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
