/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's burst fast path: the same rings as the per-frame path leaves them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

#define PACKED_FEATURES (VF_FEATURES | VU_BIT(VU_F_RING_PACKED))
#define CSUM_FEATURES (VF_FEATURES | VU_BIT(VU_NET_F_CSUM))
#define CHUNK 32u		/* frames handed to the fast path at a time, as the PMD does */
#define MAX_FRAMES 64u		/* frames of one test */
#define FRAME_MAX 1600u		/* the largest frame a test sends */
#define SMALL_BUF 64u		/* a receive buffer a frame spans several of (mergeable) */
#define TABLE_AREA (128u << 10) /* free memory between the rings and the buffers */
#define TABLE_STRIDE 64u	/* one indirect table per slot there */
#define CHAIN_HDR 64u		/* packed chains: header piece, then the frame piece */
#define ODD_SIZE 6u		/* packed rings need not be a power of two: partial lines */
#define DEQ_MAX_LEN 1000u	/* frames longer than this leave the fast path (one mbuf) */

/* What the frontend posts: one buffer of a kind, len bytes. */
enum buf_kind {
	B_SIMPLE,   /* one descriptor: what the fast path takes */
	B_INDIRECT, /* one descriptor naming a table of one (rx) or two (tx) entries */
	B_CHAIN,    /* packed: two descriptors, header then frame */
	B_BAD,	    /* one descriptor outside the memory table: the ring stops */
	B_OFFLOAD,  /* tx: its header asks for a checksum */
	B_RDONLY,   /* rx: a device-readable buffer: the ring stops */
};

struct post {
	enum buf_kind kind;
	uint32_t len; /* rx: the buffer's bytes; tx: the frame's */
};

/* A run's outcome, compared between the fast and the per-frame path. */
struct outcome {
	int rc[MAX_FRAMES];	  /* per frame: 1 taken, 0 stopped, -EMSGSIZE dropped */
	uint32_t len[MAX_FRAMES]; /* dequeue: each frame's bytes, copied to frames */
	uint8_t frames[MAX_FRAMES][FRAME_MAX];
	uint32_t nframes;
	uint32_t fast;	      /* frames the fast path took */
	char error[256];      /* the last error line logged ("" none) */
	uint64_t err_signals; /* the ring's err eventfd */
};

static struct vub_pkt pkt;
static struct outcome out_fast, out_slow;

static uint16_t
next_slot(const struct vf *f, uint32_t ring)
{
	if (f->packed)
		return f->pring[ring].avail_idx;
	return f->ring[ring].avail_idx & f->ring[ring].mask;
}

static uint8_t *
table_at(const struct vf *f, uint32_t ring, uint16_t slot)
{
	return f->mem + TABLE_AREA + (ring * VF_SLOTS_PER_RING + slot) * TABLE_STRIDE;
}

/* One descriptor in the next slot (id = slot), made available. */
static void
post_desc(struct vf *f, uint32_t ring, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint16_t slot = next_slot(f, ring);

	if (f->packed) {
		vf_put_pdesc(f, ring, slot, addr, len, slot, flags);
		vf_pavail_advance(f, ring, 1);
		return;
	}
	vf_put_desc(f, ring, slot, addr, len, flags, 0);
	vf_avail(f, ring, slot);
}

/* Packed: head bytes at buf and data bytes at CHAIN_HDR in two descriptors, the head
 * written last; the buffer id is the second slot's. */
static void
post_chain(struct vf *f, uint32_t ring, uint8_t *buf, uint32_t head_len, uint32_t data,
	   uint16_t wflag)
{
	struct vu_packed_ring *r = &f->pring[ring];
	uint16_t head = r->avail_idx, head_flags = vu_packed_ring_avail_flags(r), tail;

	vf_pavail_advance(f, ring, 1);
	tail = r->avail_idx;
	vf_put_pdesc(f, ring, tail, (uintptr_t)buf + CHAIN_HDR, data, tail, wflag);
	vf_pavail_advance(f, ring, 1);
	vu_packed_desc_fill(r, &r->desc[head], (uintptr_t)buf, head_len, 0,
			    head_flags | wflag | VU_DESC_F_NEXT);
	f->ndesc[ring][tail % VF_SLOTS_PER_RING] = 2;
}

/* A descriptor naming an indirect table in the table area: the buffer in one entry, or
 * header and frame in two (transmit). */
static void
post_indirect(struct vf *f, uint32_t ring, uint8_t *buf, uint32_t len, uint16_t wflag)
{
	struct vu_desc *t = (struct vu_desc *)table_at(f, ring, next_slot(f, ring));
	uint32_t n = wflag ? 1 : 2;

	memset(t, 0, 2 * sizeof(*t));
	if (f->packed) {
		struct vu_packed_desc *p = (struct vu_packed_desc *)t;

		p[0] = (struct vu_packed_desc){ .addr = (uintptr_t)buf,
						.len = wflag ? len : VF_HDR_LEN,
						.flags = wflag };
		p[1] = (struct vu_packed_desc){ .addr = (uintptr_t)buf + VF_HDR_LEN,
						.len = len - VF_HDR_LEN };
	} else {
		t[0] = (struct vu_desc){ .addr = (uintptr_t)buf,
					 .len = wflag ? len : VF_HDR_LEN,
					 .flags = (uint16_t)(wflag | (n == 2 ? VU_DESC_F_NEXT : 0)),
					 .next = 1 };
		t[1] = (struct vu_desc){ .addr = (uintptr_t)buf + VF_HDR_LEN,
					 .len = len - VF_HDR_LEN };
	}
	post_desc(f, ring, (uintptr_t)t, n * sizeof(*t), VU_DESC_F_INDIRECT);
}

#define HDR_GARBAGE 0xa5 /* what a receive header holds before the device writes it */

/* Receive buffers as the script says. */
static void
post_rx(struct vf *f, const struct post *p, unsigned int n, bool garbage)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf = vf_buf(f, VF_RX, next_slot(f, VF_RX));

		/* Garbage but for num_buffers: a check of that field alone would not see it. */
		if (garbage) {
			memset(buf, HDR_GARBAGE, VF_HDR_LEN);
			((struct vu_net_hdr *)buf)->num_buffers = 1;
		}

		switch (p[i].kind) {
		case B_INDIRECT:
			post_indirect(f, VF_RX, buf, p[i].len, VU_DESC_F_WRITE);
			break;
		case B_CHAIN:
			/* The head alone could hold a short frame: only its NEXT says otherwise. */
			post_chain(f, VF_RX, buf, CHAIN_HDR, p[i].len - CHAIN_HDR, VU_DESC_F_WRITE);
			break;
		case B_BAD:
			post_desc(f, VF_RX, (uintptr_t)f->mem + VF_MEM_SIZE, p[i].len,
				  VU_DESC_F_WRITE);
			break;
		case B_RDONLY:
			post_desc(f, VF_RX, (uintptr_t)buf, p[i].len, 0);
			break;
		default:
			post_desc(f, VF_RX, (uintptr_t)buf, p[i].len, VU_DESC_F_WRITE);
		}
	}
}

/* Transmit frames as the script says, frame i filled with seed i + seed. */
static void
post_tx(struct vf *f, const struct post *p, unsigned int n, uint8_t seed)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf = vf_buf(f, VF_TX, next_slot(f, VF_TX));
		uint32_t len = VF_HDR_LEN + p[i].len;
		struct vu_net_hdr *h = (struct vu_net_hdr *)buf;

		memset(buf, 0, VF_HDR_LEN);
		vf_fill(buf + VF_HDR_LEN, p[i].len, (uint8_t)(seed + i));
		switch (p[i].kind) {
		case B_INDIRECT:
			post_indirect(f, VF_TX, buf, len, 0);
			break;
		case B_CHAIN:
			memmove(buf + CHAIN_HDR, buf + VF_HDR_LEN, p[i].len);
			post_chain(f, VF_TX, buf, VF_HDR_LEN, p[i].len, 0);
			break;
		case B_BAD:
			post_desc(f, VF_TX, (uintptr_t)f->mem + VF_MEM_SIZE, len, 0);
			break;
		case B_OFFLOAD:
			/* A checksum: without CSUM negotiated cleared, logged once. */
			h->flags = VU_NET_HDR_F_NEEDS_CSUM;
			h->csum_offset = 2;
			post_desc(f, VF_TX, (uintptr_t)buf, len, 0);
			break;
		default:
			post_desc(f, VF_TX, (uintptr_t)buf, len, 0);
		}
	}
}

/* Frames i of lens[i] bytes into the frontend's receive ring in one burst, as the PMD
 * does: the fast path first, the per-frame path for what it leaves (or only that). */
static void
run_enqueue(struct vf *f, const uint32_t *lens, unsigned int n, uint8_t seed, bool fast,
	    struct outcome *o)
{
	struct vub_vq *vq = vub_enqueue_enter(f->dev, 0);
	static uint8_t frame[FRAME_MAX];
	unsigned int i = 0;

	assert_non_null(vq);
	while (i < n) {
		if (fast) {
			struct vub_buf vb[CHUNK];
			uint16_t want = (uint16_t)(n - i < CHUNK ? n - i : CHUNK), k;

			for (uint16_t j = 0; j < want; j++)
				vb[j].len = lens[i + j];
			k = vub_enqueue_reserve(vq, vb, want);
			for (uint16_t j = 0; j < k; j++) {
				vf_fill(vb[j].frame, lens[i + j], (uint8_t)(seed + i + j));
				o->rc[i + j] = 1;
			}
			vub_enqueue_commit(vq, vb, k);
			i += k;
			o->fast += k;
			if (k == want)
				continue;
		}
		if (i == n)
			break;
		o->rc[i] = vub_enqueue_begin(vq, lens[i], &pkt);
		if (o->rc[i] == 1) {
			vf_fill(frame, lens[i], (uint8_t)(seed + i));
			assert_int_equal(vub_pkt_write(&pkt, 0, frame, lens[i]), lens[i]);
			vub_enqueue_end(vq, &pkt);
		} else if (o->rc[i] != -EMSGSIZE) {
			break;
		}
		i++;
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
}

/* Up to n frames out of the frontend's transmit ring in one burst, frames longer than
 * DEQ_MAX_LEN left to the per-frame path as the PMD leaves those one mbuf cannot hold. */
static void
run_dequeue(struct vf *f, unsigned int n, bool fast, struct outcome *o)
{
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);

	assert_non_null(vq);
	while (o->nframes < n) {
		uint32_t i = o->nframes;

		if (fast) {
			struct vub_buf vb[CHUNK];
			uint16_t want = (uint16_t)(n - i < CHUNK ? n - i : CHUNK), k;

			k = vub_dequeue_reserve(vq, DEQ_MAX_LEN, vb, want);
			for (uint16_t j = 0; j < k; j++) {
				assert_true(vb[j].len <= DEQ_MAX_LEN);
				memcpy(o->frames[i + j], vb[j].frame, vb[j].len);
				o->len[i + j] = vb[j].len;
				o->rc[i + j] = 1;
			}
			vub_dequeue_commit(vq, vb, k);
			o->nframes += k;
			o->fast += k;
			if (k == want)
				continue;
			i = o->nframes;
			if (i == n)
				break;
		}
		o->rc[i] = vub_dequeue_begin(vq, &pkt);
		if (o->rc[i] != 1)
			break;
		o->len[i] = vub_pkt_read(&pkt, 0, o->frames[i], FRAME_MAX);
		vub_dequeue_end(vq, &pkt);
		o->nframes++;
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
}

static void
finish(struct vf *f, uint32_t ring, struct outcome *o)
{
	snprintf(o->error, sizeof(o->error), "%s", tu_log_errors() ? tu_log_last_error() : "");
	tu_log_reset();
	o->err_signals += vf_eventfd_count(f->err[ring]);
}

/* Two frontends given the same rings: the ring memory the device wrote is the same. */
static void
assert_same_rings(const struct vf *a, const struct vf *b, uint32_t ring)
{
	uint16_t size = a->packed ? a->pring[ring].size : (uint16_t)(a->ring[ring].mask + 1);

	assert_memory_equal(vf_buf(a, ring, 0), vf_buf(b, ring, 0),
			    VF_SLOTS_PER_RING * VF_BUF_SIZE);
	for (uint16_t i = 0; i < size; i++) {
		if (a->packed) {
			const struct vu_packed_desc *x = &a->pring[ring].desc[i];
			const struct vu_packed_desc *y = &b->pring[ring].desc[i];

			assert_int_equal(x->id, y->id);
			assert_int_equal(x->len, y->len);
			assert_int_equal(x->flags, y->flags);
		} else {
			assert_int_equal(a->ring[ring].used->ring[i].id,
					 b->ring[ring].used->ring[i].id);
			assert_int_equal(a->ring[ring].used->ring[i].len,
					 b->ring[ring].used->ring[i].len);
		}
	}
	if (!a->packed)
		assert_int_equal(a->ring[ring].used->idx, b->ring[ring].used->idx);
}

static void
assert_same_outcome(const struct outcome *a, const struct outcome *b, unsigned int n)
{
	assert_memory_equal(a->rc, b->rc, n * sizeof(a->rc[0]));
	assert_int_equal(a->nframes, b->nframes);
	for (uint32_t i = 0; i < a->nframes; i++) {
		assert_int_equal(a->len[i], b->len[i]);
		assert_memory_equal(a->frames[i], b->frames[i], a->len[i]);
	}
	assert_string_equal(a->error, b->error);
	assert_int_equal(a->err_signals, b->err_signals);
}

/* The used entries the driver sees, in order, the same; the ring is drained for the next
 * round (its buffers then reposted). */
static void
assert_same_used(struct vf *a, struct vf *b, uint32_t ring)
{
	uint32_t ida, lena, idb, lenb;
	bool more;

	do {
		more = vf_used(a, ring, &ida, &lena);
		assert_int_equal(more, vf_used(b, ring, &idb, &lenb));
		if (more) {
			assert_int_equal(ida, idb);
			assert_int_equal(lena, lenb);
		}
	} while (more);
}

static void
open_pair(struct vf *a, struct vf *b, uint64_t features, uint32_t ring, uint16_t size)
{
	tu_log_capture();
	vf_open_offloads(a, 1, features & VUB_OFFLOAD_FEATURES);
	vf_open_offloads(b, 1, features & VUB_OFFLOAD_FEATURES);
	vf_handshake(a, features);
	vf_handshake(b, features);
	if (size != VF_RING_SIZE) {
		/* Stopped first: a started ring keeps its size. */
		vf_get_vring_base(a, ring);
		vf_get_vring_base(b, ring);
		assert_int_equal(vf_setup_ring(a, ring, size), 0);
		assert_int_equal(vf_setup_ring(b, ring, size), 0);
	}
	memset(&out_fast, 0, sizeof(out_fast));
	memset(&out_slow, 0, sizeof(out_slow));
}

/* Rounds of receive buffers and frames through both paths, compared after each round; the
 * rounds of garbage (bit r: round r) post their buffers with garbage where the header goes,
 * the others keep what the round before left there. */
static void
enqueue_rounds_hdr(uint64_t features, uint16_t size, const struct post *p, unsigned int nposts,
		   const uint32_t *lens, unsigned int nframes, unsigned int rounds,
		   uint32_t garbage)
{
	struct vf a, b;

	open_pair(&a, &b, features, VF_RX, size);
	for (unsigned int r = 0; r < rounds; r++) {
		memset(&out_fast, 0, sizeof(out_fast));
		memset(&out_slow, 0, sizeof(out_slow));
		post_rx(&a, p, nposts, garbage >> r & 1);
		post_rx(&b, p, nposts, garbage >> r & 1);
		run_enqueue(&a, lens, nframes, (uint8_t)r, true, &out_fast);
		finish(&a, VF_RX, &out_fast);
		run_enqueue(&b, lens, nframes, (uint8_t)r, false, &out_slow);
		finish(&b, VF_RX, &out_slow);
		assert_same_outcome(&out_fast, &out_slow, nframes);
		assert_same_rings(&a, &b, VF_RX);
		assert_same_used(&a, &b, VF_RX);
	}
	vf_close(&a);
	vf_close(&b);
}

static void
enqueue_rounds(uint64_t features, uint16_t size, const struct post *p, unsigned int nposts,
	       const uint32_t *lens, unsigned int nframes, unsigned int rounds)
{
	enqueue_rounds_hdr(features, size, p, nposts, lens, nframes, rounds, 0);
}

static void
dequeue_rounds(uint64_t features, uint16_t size, const struct post *p, unsigned int nposts,
	       unsigned int rounds)
{
	struct vf a, b;

	open_pair(&a, &b, features, VF_TX, size);
	for (unsigned int r = 0; r < rounds; r++) {
		post_tx(&a, p, nposts, (uint8_t)r);
		post_tx(&b, p, nposts, (uint8_t)r);
		memset(&out_fast, 0, sizeof(out_fast));
		memset(&out_slow, 0, sizeof(out_slow));
		run_dequeue(&a, nposts, true, &out_fast);
		finish(&a, VF_TX, &out_fast);
		run_dequeue(&b, nposts, false, &out_slow);
		finish(&b, VF_TX, &out_slow);
		assert_same_outcome(&out_fast, &out_slow, nposts);
		assert_same_rings(&a, &b, VF_TX);
		assert_same_used(&a, &b, VF_TX);
	}
	vf_close(&a);
	vf_close(&b);
}

static const struct post simple6[] = {
	{ B_SIMPLE, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE },
	{ B_SIMPLE, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE },
};
static const uint32_t lens6[] = { 60, 64, 100, 1500, 64, 1514 };
/* Seven frames for six buffers: the burst stops where the buffers end. */
static const uint32_t lens7[] = { 60, 64, 100, 1500, 64, 1514, 64 };

/* Rounds of six buffers on rings of 8: every round starts elsewhere and wraps; all fast. */
static void
test_enqueue_split_wrap(void **state)
{
	(void)state;
	enqueue_rounds(VF_FEATURES, VF_RING_SIZE, simple6, 6, lens7, 7, 5);
	assert_int_equal(out_fast.fast, 6);
	assert_int_equal(out_fast.rc[6], 0);
	assert_string_equal(out_fast.error, "");
}

/* Neither VERSION_1 nor MRG_RXBUF: the legacy 10-byte header, no num_buffers. */
static void
test_enqueue_legacy_header(void **state)
{
	(void)state;
	enqueue_rounds(VF_FEATURES & ~(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF)),
		       VF_RING_SIZE, simple6, 6, lens6, 6, 2);
	assert_int_equal(out_fast.fast, 6);
}

/* The fast path writes a receive header only where it differs from the one it must hold:
 * buffers posted with garbage there get the whole header (num_buffers 1, no offload), as
 * from the per-frame path, which always writes it; rounds between them find it right. */
static void
test_enqueue_header_garbage(void **state)
{
	const uint32_t garbage = 0x5; /* rounds 0 and 2 */

	(void)state;
	enqueue_rounds_hdr(VF_FEATURES, VF_RING_SIZE, simple6, 6, lens6, 6, 4, garbage);
	assert_int_equal(out_fast.fast, 6);
	enqueue_rounds_hdr(PACKED_FEATURES, VF_RING_SIZE, simple6, 6, lens6, 6, 4, garbage);
	assert_int_equal(out_fast.fast, 6);
}

/* Packed, 8 descriptors (two cache lines) taken six at a time: whole and partial lines,
 * and both wrap counters flipping. */
static void
test_enqueue_packed_wrap(void **state)
{
	(void)state;
	enqueue_rounds(PACKED_FEATURES, VF_RING_SIZE, simple6, 6, lens7, 7, 5);
	assert_int_equal(out_fast.fast, 6);
	assert_string_equal(out_fast.error, "");
}

/* A packed ring of 6: no line fits at its end, every lap. */
static void
test_enqueue_packed_odd(void **state)
{
	(void)state;
	enqueue_rounds(PACKED_FEATURES, ODD_SIZE, simple6, 4, lens6, 4, 7);
	assert_int_equal(out_fast.fast, 4);
}

/* Buffers the fast path leaves mid-burst (an indirect table, a frame spanning small
 * mergeable buffers, a packed chain): the per-frame path takes them, then the fast path
 * goes on. */
static const struct post mixed_rx[] = {
	{ B_SIMPLE, VF_BUF_SIZE }, { B_INDIRECT, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE },
	{ B_SIMPLE, SMALL_BUF },   { B_SIMPLE, SMALL_BUF },	{ B_SIMPLE, VF_BUF_SIZE },
	{ B_CHAIN, VF_BUF_SIZE },  { B_SIMPLE, VF_BUF_SIZE },
};
static const struct post mixed_rx_split[] = {
	{ B_SIMPLE, VF_BUF_SIZE },   { B_INDIRECT, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE },
	{ B_SIMPLE, SMALL_BUF },     { B_SIMPLE, SMALL_BUF },	  { B_SIMPLE, VF_BUF_SIZE },
	{ B_INDIRECT, VF_BUF_SIZE }, { B_SIMPLE, VF_BUF_SIZE },
};
static const uint32_t mixed_lens[] = { 64, 64, 64, 100, 64, 40, 64 };

static void
test_enqueue_split_mixed(void **state)
{
	(void)state;
	enqueue_rounds(VF_FEATURES, VF_RING_SIZE, mixed_rx_split, 8, mixed_lens, 7, 3);
	assert_int_equal(out_fast.fast, 4);
	assert_string_equal(out_fast.error, "");
}

static void
test_enqueue_packed_mixed(void **state)
{
	(void)state;
	enqueue_rounds(PACKED_FEATURES, 16, mixed_rx, 8, mixed_lens, 7, 3);
	assert_int_equal(out_fast.fast, 4);
	assert_string_equal(out_fast.error, "");
}

/* Without mergeable buffers a frame too big for its buffer is dropped by the per-frame
 * path, the buffer kept for the next frame. */
static void
test_enqueue_split_too_small(void **state)
{
	static const struct post p[] = { { B_SIMPLE, VF_BUF_SIZE },
					 { B_SIMPLE, SMALL_BUF },
					 { B_SIMPLE, VF_BUF_SIZE } };
	static const uint32_t lens[] = { 64, 1500, 40, 64 };

	(void)state;
	enqueue_rounds(VF_FEATURES & ~VU_BIT(VU_NET_F_MRG_RXBUF), VF_RING_SIZE, p, 3, lens, 4, 3);
	assert_int_equal(out_fast.rc[1], -EMSGSIZE);
	assert_int_equal(out_fast.fast, 3);
}

/* A bad buffer mid-burst: the frames before it go, then the ring stops with the same log
 * line and err signal as the per-frame path gives. */
static void
hostile_rx(uint64_t features, enum buf_kind kind, const char *needle)
{
	const struct post p[] = { { B_SIMPLE, VF_BUF_SIZE },
				  { B_SIMPLE, VF_BUF_SIZE },
				  { kind, VF_BUF_SIZE },
				  { B_SIMPLE, VF_BUF_SIZE } };
	static const uint32_t lens[] = { 64, 64, 64, 64 };

	enqueue_rounds(features, VF_RING_SIZE, p, 4, lens, 4, 1);
	assert_int_equal(out_fast.fast, 2);
	assert_int_equal(out_fast.rc[2], -EIO);
	assert_non_null(strstr(out_fast.error, needle));
	assert_int_equal(out_fast.err_signals, 1);
}

static void
test_enqueue_hostile(void **state)
{
	(void)state;
	hostile_rx(VF_FEATURES, B_BAD, "buffer is not inside one memory region");
	hostile_rx(PACKED_FEATURES, B_BAD, "buffer is not inside one memory region");
	hostile_rx(VF_FEATURES, B_RDONLY, "device-readable buffer in a receive chain");
	hostile_rx(PACKED_FEATURES, B_RDONLY, "device-readable buffer in a receive chain");
}

/* Transmit frames: one descriptor each (fast), a header asking a checksum, an indirect
 * table, a frame longer than one mbuf, a packed chain (per-frame), rounds wrapping. */
static const struct post tx_simple[] = {
	{ B_SIMPLE, 60 }, { B_SIMPLE, 64 }, { B_SIMPLE, 1500 }, { B_SIMPLE, 100 }, { B_SIMPLE, 64 },
};
static const struct post tx_mixed[] = {
	{ B_SIMPLE, 64 },   { B_OFFLOAD, 64 }, { B_SIMPLE, 64 }, { B_INDIRECT, 100 },
	{ B_SIMPLE, 1500 }, { B_SIMPLE, 64 },  { B_CHAIN, 200 }, { B_SIMPLE, 64 },
};
static const struct post tx_mixed_split[] = {
	{ B_SIMPLE, 64 },   { B_OFFLOAD, 64 }, { B_SIMPLE, 64 },    { B_INDIRECT, 100 },
	{ B_SIMPLE, 1500 }, { B_SIMPLE, 64 },  { B_INDIRECT, 200 }, { B_SIMPLE, 64 },
};

static void
test_dequeue_wrap(void **state)
{
	(void)state;
	dequeue_rounds(VF_FEATURES, VF_RING_SIZE, tx_simple, 5, 5);
	assert_int_equal(out_fast.fast, 4);
	dequeue_rounds(PACKED_FEATURES, VF_RING_SIZE, tx_simple, 5, 5);
	assert_int_equal(out_fast.fast, 4);
	dequeue_rounds(PACKED_FEATURES, ODD_SIZE, tx_simple, 5, 7);
	assert_int_equal(out_fast.fast, 4);
}

/* With VIRTIO_NET_F_CSUM negotiated a header asking a checksum is the per-frame path's,
 * which keeps the request (nothing logged). */
static void
test_dequeue_mixed(void **state)
{
	(void)state;
	dequeue_rounds(CSUM_FEATURES, VF_RING_SIZE, tx_mixed_split, 8, 3);
	assert_int_equal(out_fast.fast, 4);
	assert_string_equal(out_fast.error, "");
	dequeue_rounds(PACKED_FEATURES | VU_BIT(VU_NET_F_CSUM), 16, tx_mixed, 8, 3);
	assert_int_equal(out_fast.fast, 4);
}

/* Without CSUM or HOST_TSO negotiated "the driver MUST set flags to zero": the fast path
 * does not read the header, and a frame asking a checksum all the same goes through it,
 * bytes intact, unlogged; the per-frame path takes the same bytes, clears the request and
 * logs it. */
static void
test_dequeue_header_unread(void **state)
{
	static const struct post p[] = { { B_SIMPLE, 64 }, { B_OFFLOAD, 64 }, { B_SIMPLE, 64 } };
	const uint64_t layouts[] = { VF_FEATURES, PACKED_FEATURES };
	struct vf a, b;

	(void)state;
	for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
		open_pair(&a, &b, layouts[l], VF_TX, VF_RING_SIZE);
		post_tx(&a, p, 3, 0);
		post_tx(&b, p, 3, 0);
		run_dequeue(&a, 3, true, &out_fast);
		finish(&a, VF_TX, &out_fast);
		run_dequeue(&b, 3, false, &out_slow);
		finish(&b, VF_TX, &out_slow);
		assert_int_equal(out_fast.fast, 3);
		assert_string_equal(out_fast.error, "");
		assert_non_null(strstr(out_slow.error, "an offload not negotiated"));
		out_slow.error[0] = '\0';
		assert_same_outcome(&out_fast, &out_slow, 3);
		assert_same_used(&a, &b, VF_TX);
		vf_close(&a);
		vf_close(&b);
	}
}

static void
test_dequeue_hostile(void **state)
{
	const struct post p[] = { { B_SIMPLE, 64 }, { B_BAD, 64 }, { B_SIMPLE, 64 } };

	(void)state;
	dequeue_rounds(VF_FEATURES, VF_RING_SIZE, p, 3, 1);
	assert_int_equal(out_fast.fast, 1);
	assert_non_null(strstr(out_fast.error, "buffer is not inside one memory region"));
	assert_int_equal(out_fast.err_signals, 1);
	dequeue_rounds(PACKED_FEATURES, VF_RING_SIZE, p, 3, 1);
	assert_int_equal(out_fast.fast, 1);
	assert_int_equal(out_fast.err_signals, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enqueue_split_wrap),
		cmocka_unit_test(test_enqueue_legacy_header),
		cmocka_unit_test(test_enqueue_header_garbage),
		cmocka_unit_test(test_enqueue_packed_wrap),
		cmocka_unit_test(test_enqueue_packed_odd),
		cmocka_unit_test(test_enqueue_split_mixed),
		cmocka_unit_test(test_enqueue_packed_mixed),
		cmocka_unit_test(test_enqueue_split_too_small),
		cmocka_unit_test(test_enqueue_hostile),
		cmocka_unit_test(test_dequeue_wrap),
		cmocka_unit_test(test_dequeue_mixed),
		cmocka_unit_test(test_dequeue_header_unread),
		cmocka_unit_test(test_dequeue_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
