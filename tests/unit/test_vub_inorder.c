/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub with VIRTIO_F_IN_ORDER: buffers used in the order made available. */
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

#define IN_ORDER VU_BIT(VU_F_IN_ORDER)
#define PACKED VU_BIT(VU_F_RING_PACKED)
#define CHAIN_DESCS 3u /* header + two data pieces: chains of 3 cross an 8-entry end */
#define PIECE1 40u
#define PIECE2 20u
#define CHAINS_PER_ROUND 2u
#define ROUNDS 6u /* 36 descriptors: four and a half laps */
#define RX_BUF 512u
#define RX_FRAME 1000u /* header + frame: two 512-byte buffers */
#define RX_FRAMES_PER_ROUND 3u
#define RX_ROUNDS 4u

static struct vub_pkt pkt;

static struct vf *
open_dev(uint64_t features)
{
	struct vf *f = test_malloc(sizeof(*f));

	tu_log_capture();
	vf_open(f, 1);
	vf_handshake(f, VF_FEATURES | IN_ORDER | features);
	/* Offered, so negotiated. */
	assert_true(vub_dev_features(f->dev) & IN_ORDER);
	return f;
}

static void
close_dev(struct vf *f)
{
	assert_int_equal(tu_log_errors(), 0);
	vf_close(f);
	test_free(f);
}

/* Split: a chain in descriptors head, head + 1, head + 2 of the table, each "next" the
 * following entry and 0 after the last ("driver MUST set next to 0 for the last
 * descriptor in the table ... and to x + 1 for the rest", 2.7.9). */
static uint16_t
split_post_chain(struct vf *f, uint16_t head, uint8_t seed)
{
	const uint32_t lens[CHAIN_DESCS] = { VF_HDR_LEN, PIECE1, PIECE2 };
	uint16_t slot = head, mask = (uint16_t)(VF_RING_SIZE - 1);

	for (uint32_t i = 0; i < CHAIN_DESCS; i++) {
		uint16_t next = (uint16_t)((slot + 1) & mask);
		uint8_t *buf = vf_buf(f, VF_TX, slot);

		if (i == 0)
			memset(buf, 0, VF_HDR_LEN);
		else
			vf_fill(buf, lens[i], (uint8_t)(seed + i));
		vf_put_desc(f, VF_TX, slot, (uint64_t)(uintptr_t)buf, lens[i],
			    i + 1 < CHAIN_DESCS ? VU_DESC_F_NEXT : 0, next);
		slot = next;
	}
	vf_avail(f, VF_TX, head);
	return slot;
}

/* Packed: the chain in the next three slots, id in every descriptor ("Buffer ID is
 * included in the last descriptor"); the lap flags follow the fill position. */
static void
packed_post_chain(struct vf *f, uint16_t id, uint8_t seed)
{
	const uint32_t lens[CHAIN_DESCS] = { VF_HDR_LEN, PIECE1, PIECE2 };
	struct vu_packed_ring *r = &f->pring[VF_TX];

	for (uint32_t i = 0; i < CHAIN_DESCS; i++) {
		uint8_t *buf = vf_buf(f, VF_TX, r->avail_idx);

		if (i == 0)
			memset(buf, 0, VF_HDR_LEN);
		else
			vf_fill(buf, lens[i], (uint8_t)(seed + i));
		vf_put_pdesc(f, VF_TX, r->avail_idx, (uint64_t)(uintptr_t)buf, lens[i], id,
			     i + 1 < CHAIN_DESCS ? VU_DESC_F_NEXT : 0);
		vf_pavail_advance(f, VF_TX, 1);
	}
	f->ndesc[VF_TX][id % VF_SLOTS_PER_RING] = CHAIN_DESCS;
}

/* Chains of three over an 8-entry ring, two per burst: each frame byte for byte, the
 * used entries in the order the chains were made available, whatever the wrap. */
static void
tx_chains(bool packed)
{
	struct vf *f = open_dev(packed ? PACKED : 0);
	uint8_t want[PIECE1 + PIECE2], got[PIECE1 + PIECE2];
	uint16_t head = 0, heads[CHAINS_PER_ROUND];
	uint32_t id, len, n = 0;

	for (uint32_t round = 0; round < ROUNDS; round++) {
		for (uint32_t c = 0; c < CHAINS_PER_ROUND; c++, n++) {
			/* Split: the id is the head slot; packed: a number of the driver's. */
			heads[c] = packed ? (uint16_t)(n % VF_SLOTS_PER_RING) : head;
			if (packed)
				packed_post_chain(f, heads[c], (uint8_t)n);
			else
				head = split_post_chain(f, head, (uint8_t)n);
		}
		for (uint32_t c = 0; c < CHAINS_PER_ROUND; c++) {
			uint8_t seed = (uint8_t)(n - CHAINS_PER_ROUND + c);

			assert_int_equal(vf_dequeue(f, &pkt, got, sizeof(got), &len), 1);
			assert_int_equal(len, PIECE1 + PIECE2);
			vf_fill(want, PIECE1, (uint8_t)(seed + 1));
			vf_fill(want + PIECE1, PIECE2, (uint8_t)(seed + 2));
			assert_memory_equal(got, want, sizeof(want));
		}
		for (uint32_t c = 0; c < CHAINS_PER_ROUND; c++) {
			assert_true(vf_used(f, VF_TX, &id, &len));
			assert_int_equal(id, heads[c]);
			assert_int_equal(len, 0);
		}
		assert_false(vf_used(f, VF_TX, &id, &len));
	}
	close_dev(f);
}

static void
test_split_tx_chains(void **state)
{
	(void)state;
	tx_chains(false);
}

static void
test_packed_tx_chains(void **state)
{
	(void)state;
	tx_chains(true);
}

/* Mergeable Rx: each frame over two buffers, three frames per burst on an 8-entry ring:
 * used entries are the buffers in posting order (ids = slots), 512 then the rest, and the
 * first buffer's header says num_buffers 2. */
static void
rx_merged(bool packed)
{
	struct vf *f = open_dev(packed ? PACKED : 0);
	static uint8_t frame[RX_FRAME];
	uint32_t id, len, next_slot = 0;

	for (uint32_t round = 0; round < RX_ROUNDS; round++) {
		vf_post_rx(f, 2 * RX_FRAMES_PER_ROUND, RX_BUF);
		for (uint32_t i = 0; i < RX_FRAMES_PER_ROUND; i++) {
			vf_fill(frame, RX_FRAME, (uint8_t)(round * 10 + i));
			assert_int_equal(vf_enqueue(f, frame, RX_FRAME), 1);
		}
		for (uint32_t i = 0; i < RX_FRAMES_PER_ROUND; i++) {
			uint32_t first = next_slot;
			const struct vu_net_hdr *hdr = (const void *)vf_buf(f, VF_RX, first);

			assert_true(vf_used(f, VF_RX, &id, &len));
			assert_int_equal(id, first);
			assert_int_equal(len, RX_BUF);
			assert_int_equal(hdr->num_buffers, 2);
			vf_fill(frame, RX_FRAME, (uint8_t)(round * 10 + i));
			assert_memory_equal(vf_buf(f, VF_RX, first) + VF_HDR_LEN, frame,
					    RX_BUF - VF_HDR_LEN);
			next_slot = (next_slot + 1) % VF_RING_SIZE;
			assert_true(vf_used(f, VF_RX, &id, &len));
			assert_int_equal(id, next_slot);
			assert_int_equal(len, VF_HDR_LEN + RX_FRAME - RX_BUF);
			assert_memory_equal(vf_buf(f, VF_RX, next_slot),
					    frame + RX_BUF - VF_HDR_LEN,
					    VF_HDR_LEN + RX_FRAME - RX_BUF);
			next_slot = (next_slot + 1) % VF_RING_SIZE;
		}
		assert_false(vf_used(f, VF_RX, &id, &len));
	}
	close_dev(f);
}

static void
test_split_rx_merged(void **state)
{
	(void)state;
	rx_merged(false);
}

static void
test_packed_rx_merged(void **state)
{
	(void)state;
	rx_merged(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_tx_chains),
		cmocka_unit_test(test_packed_tx_chains),
		cmocka_unit_test(test_split_rx_merged),
		cmocka_unit_test(test_packed_rx_merged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
