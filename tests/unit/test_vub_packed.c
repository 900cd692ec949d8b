/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's packed-ring data path: both ways, chains, wrap, hostile rings. */
#include <errno.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

#define PACKED_FEATURES (VF_FEATURES | VU_BIT(VU_F_RING_PACKED))
#define FRAME_LEN 100u
#define NFRAMES 5u
#define BIG_FRAME 3000u
#define MRG_BUF 1024u
#define ODD_SIZE 6u /* packed rings need not be a power of two */
#define LAPS 4u
#define USED_BITS (VU_PACKED_DESC_F_AVAIL | VU_PACKED_DESC_F_USED)

static struct vub_pkt pkt;

static int
setup(void **state)
{
	struct vf *f = test_malloc(sizeof(*f));

	tu_log_capture();
	vf_open(f, 1);
	vf_handshake(f, PACKED_FEATURES);
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

/* 5 frames taken exactly; used descriptors with their ids, no WRITE, and the base
 * GET_VRING_BASE returns is slot 5 of wrap counter 1. */
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
		assert_int_equal(f->pring[VF_TX].desc[i].flags, USED_BITS);
		assert_true(vf_used(f, VF_TX, &id, &ulen));
		assert_int_equal(id, i);
	}
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(vf_get_vring_base(f, VF_TX), NFRAMES | 1u << 15);
	/* The device polls: it asked not to be notified. */
	assert_int_equal(f->pring[VF_TX].device_event->flags, VU_RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(tu_log_errors(), 0);
}

static void
test_enqueue(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN];
	uint32_t id, len;

	vf_post_rx(f, NFRAMES, VF_BUF_SIZE);
	for (uint8_t i = 0; i < NFRAMES; i++) {
		vf_fill(frame, FRAME_LEN, i);
		assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	}
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 0);
	for (uint8_t i = 0; i < NFRAMES; i++) {
		/* "In a used descriptor, this bit is used to specify whether any data has
		 * been written by the device". */
		assert_int_equal(f->pring[VF_RX].desc[i].flags, USED_BITS | VU_DESC_F_WRITE);
		assert_true(vf_used(f, VF_RX, &id, &len));
		assert_int_equal(id, i);
		assert_int_equal(len, VF_HDR_LEN + FRAME_LEN);
		assert_int_equal(((const struct vu_net_hdr *)vf_buf(f, VF_RX, i))->num_buffers, 1);
		vf_fill(frame, FRAME_LEN, i);
		assert_memory_equal(vf_buf(f, VF_RX, i) + VF_HDR_LEN, frame, FRAME_LEN);
	}
	assert_int_equal(tu_log_errors(), 0);
}

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
	assert_memory_equal(got, frame, BIG_FRAME);
	assert_int_equal(vf_enqueue(f, frame, BIG_FRAME), 0);
	assert_false(vf_used(f, VF_RX, &id, &len));
}

/* A ring of 6 descriptors, four laps: the wrap counters flip every 6 descriptors on both
 * sides, and the base says where the ring stands. */
static void
test_wraparound(void **state)
{
	struct vf *f = *state;
	uint8_t in[FRAME_LEN] = { 0 }, out[FRAME_LEN];
	uint32_t len, id, ulen;

	assert_int_equal(vf_get_vring_base(f, VF_TX), 1u << 15);
	assert_int_equal(vf_setup_ring(f, VF_TX, ODD_SIZE), 0);
	for (uint32_t n = 0; n < LAPS * ODD_SIZE; n++) {
		in[0] = (uint8_t)n;
		vf_post_tx(f, in, FRAME_LEN);
		assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
		assert_int_equal(out[0], (uint8_t)n);
		assert_true(vf_used(f, VF_TX, &id, &ulen));
		assert_int_equal(id, n % ODD_SIZE);
	}
	/* An even number of laps: back at slot 0 with wrap counter 1. */
	assert_int_equal(vf_get_vring_base(f, VF_TX), 1u << 15);
	assert_int_equal(tu_log_errors(), 0);
}

/* Header and frame in two chained descriptors: one used descriptor over the first, with
 * the id of the last ("Buffer ID is included in the last descriptor in the list"). */
static void
test_chain(void **state)
{
	struct vf *f = *state;
	uint8_t *hdr = vf_buf(f, VF_TX, 0), *data = vf_buf(f, VF_TX, 1), out[FRAME_LEN];
	uint32_t len, id, ulen;

	memset(hdr, 0, VF_HDR_LEN);
	vf_fill(data, FRAME_LEN, 4);
	vf_put_pdesc(f, VF_TX, 1, (uintptr_t)data, FRAME_LEN, 7, 0);
	vf_put_pdesc(f, VF_TX, 0, (uintptr_t)hdr, VF_HDR_LEN, 0, VU_DESC_F_NEXT);
	f->ndesc[VF_TX][7] = 2;
	vf_pavail_advance(f, VF_TX, 2);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_memory_equal(out, data, FRAME_LEN);
	assert_true(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(id, 7);
	assert_int_equal(f->pring[VF_TX].used_idx, 2);
	vf_post_tx(f, out, FRAME_LEN);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_true(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(id, 2);
}

static void
test_indirect(void **state)
{
	struct vf *f = *state;
	struct vu_packed_desc *table = (struct vu_packed_desc *)vf_buf(f, VF_TX, 10);
	uint8_t *hdr = vf_buf(f, VF_TX, 11), *data = vf_buf(f, VF_TX, 12), out[FRAME_LEN];
	uint32_t len;

	memset(hdr, 0, VF_HDR_LEN);
	vf_fill(data, FRAME_LEN, 9);
	/* Flags other than WRITE are ignored in a table (DPDK's driver leaves WRITE on the
	 * header entry of its Tx tables). */
	table[0] = (struct vu_packed_desc){ (uintptr_t)hdr, VF_HDR_LEN, 0, VU_DESC_F_WRITE };
	table[1] = (struct vu_packed_desc){ (uintptr_t)data, FRAME_LEN, 0, VU_DESC_F_NEXT };
	vf_put_pdesc(f, VF_TX, 0, (uintptr_t)table, 2 * sizeof(*table), 0, VU_DESC_F_INDIRECT);
	vf_pavail_advance(f, VF_TX, 1);
	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), 1);
	assert_int_equal(len, FRAME_LEN);
	assert_memory_equal(out, data, FRAME_LEN);
	assert_int_equal(tu_log_errors(), 0);
}

/* What the frontend did to its transmit ring stops that ring, with one log line and its
 * error eventfd; the receive ring goes on. */
static void
assert_tx_broken(struct vf *f, const char *needle)
{
	uint8_t out[FRAME_LEN];
	uint32_t len;

	assert_int_equal(vf_dequeue(f, &pkt, out, sizeof(out), &len), -EIO);
	assert_int_equal(tu_log_errors(), 1);
	vf_assert_error_logged(needle);
	assert_int_equal(vf_eventfd_count(f->err[VF_TX]), 1);
	assert_null(vub_dequeue_enter(f->dev, 0));
	vf_post_rx(f, 1, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(f, out, FRAME_LEN), 1);
	assert_int_equal(tu_log_errors(), 0);
}

/* The head is available, the descriptor it chains to is not. */
static void
test_chain_into_unavailable(void **state)
{
	struct vf *f = *state;

	vf_put_pdesc(f, VF_TX, 0, (uintptr_t)vf_buf(f, VF_TX, 0), VF_HDR_LEN, 0, VU_DESC_F_NEXT);
	vf_pavail_advance(f, VF_TX, 1);
	assert_tx_broken(f, "the chain runs into a descriptor not made available");
}

static void
test_indirect_in_list(void **state)
{
	struct vf *f = *state;
	uint64_t t = (uintptr_t)vf_buf(f, VF_TX, 10);

	vf_put_pdesc(f, VF_TX, 1, t, 16, 0, VU_DESC_F_INDIRECT);
	vf_put_pdesc(f, VF_TX, 0, (uintptr_t)vf_buf(f, VF_TX, 0), VF_HDR_LEN, 0, VU_DESC_F_NEXT);
	vf_pavail_advance(f, VF_TX, 2);
	assert_tx_broken(f, "indirect descriptor in a list of several");
}

static void
test_outside_memory(void **state)
{
	struct vf *f = *state;

	vf_put_pdesc(f, VF_TX, 0, vf_addr(f, VF_MEM_SIZE - 8), 64, 0, 0);
	vf_pavail_advance(f, VF_TX, 1);
	assert_tx_broken(f, "buffer is not inside one memory region");
}

static void
test_readable_in_rx(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 };

	vf_put_pdesc(f, VF_RX, 0, (uintptr_t)vf_buf(f, VF_RX, 0), VF_BUF_SIZE, 0, 0);
	vf_pavail_advance(f, VF_RX, 1);
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), -EIO);
	vf_assert_error_logged("device-readable buffer in a receive chain");
	assert_null(vub_enqueue_enter(f->dev, 0));
}

/* A base past the ring's end does not start the ring. */
static void
test_base_past_ring(void **state)
{
	struct vf *f = *state;
	uint64_t nofd = VF_TX | VU_VHOST_USER_VRING_NOFD;

	assert_int_equal(vf_get_vring_base(f, VF_TX), 1u << 15);
	assert_int_equal(
		vf_set_state(f, VU_VHOST_USER_SET_VRING_BASE, VF_TX, VF_RING_SIZE | 1u << 15), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_VRING_KICK, nofd), EINVAL);
	vf_assert_error_logged("its base 8 is past its 8 descriptors");
	assert_null(vub_dequeue_enter(f->dev, 0));
}

/* Calls only when the driver's event suppression asks for them. */
static void
test_call_suppression(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 };

	vf_post_rx(f, 2, VF_BUF_SIZE);
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	assert_int_equal(vf_eventfd_count(f->call[VF_RX]), 1);
	f->pring[VF_RX].driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	assert_int_equal(vf_enqueue(f, frame, FRAME_LEN), 1);
	assert_int_equal(vf_eventfd_count(f->call[VF_RX]), 0);
}

/* A burst's used descriptors appear at its flush, all at once: before it the driver's
 * next used descriptor (the burst's first) is not used, so it sees none of them; after
 * it every one, in order. */
static void
test_used_at_flush(void **state)
{
	struct vf *f = *state;
	uint8_t frame[FRAME_LEN] = { 0 };
	struct vub_vq *vq;
	uint32_t id, ulen;
	bool early;

	for (uint8_t i = 0; i < NFRAMES; i++)
		vf_post_tx(f, frame, FRAME_LEN);
	vq = vub_dequeue_enter(f->dev, 0);
	assert_non_null(vq);
	for (uint8_t i = 0; i < NFRAMES; i++) {
		if (vub_dequeue_begin(vq, &pkt) == 1)
			vub_dequeue_end(vq, &pkt);
	}
	early = vf_used(f, VF_TX, &id, &ulen);
	vub_vq_flush(vq);
	/* Left before asserting: teardown takes the ring. */
	vub_vq_leave(vq);
	assert_false(early);
	for (uint32_t i = 0; i < NFRAMES; i++) {
		assert_true(vf_used(f, VF_TX, &id, &ulen));
		assert_int_equal(id, i);
	}
	assert_false(vf_used(f, VF_TX, &id, &ulen));
	assert_int_equal(tu_log_errors(), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dequeue),
		T(test_enqueue),
		T(test_enqueue_mergeable),
		T(test_wraparound),
		T(test_chain),
		T(test_indirect),
		T(test_chain_into_unavailable),
		T(test_indirect_in_list),
		T(test_outside_memory),
		T(test_readable_in_rx),
		T(test_base_past_ring),
		T(test_call_suppression),
		T(test_used_at_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
