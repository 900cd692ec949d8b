/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vuser's SIMD packed-ring Tx bursts (AVX2, AVX-512) against the scalar one, in step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vuser_queue.h"

/* Mbufs of a run, never reused: each side has its own copy of every packet. */
#define T_MBUFS 16384
#define T_ROOM 256 /* data room after the headroom */
#define T_STRIDE (sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM + T_ROOM)
#define T_HDR 12 /* VERSION_1 header */
#define T_STEPS 300
#define T_MAX_BURST 40
#define T_FREED_MAX (2 * T_MBUFS)

/* What the burst reaches outside vuser_tx.c: the kick (counted) and a fault (none due). */
static unsigned int kicks;

void
vuser_glue_notify(struct vuser_port *port, uint32_t vq_index)
{
	(void)port;
	(void)vq_index;
	kicks++;
}

void
vuser_txq_fault(struct vuser_txq *txq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		uint32_t len)
{
	(void)txq;
	fail_msg("unexpected fault %d at %u id %u len %u", kind, pos, id, len);
}

/* One driver under test, with the device in front of its ring. */
struct side {
	struct vuser_txq txq;
	struct vuser_port port;
	uint8_t *ring_mem;
	uint8_t *mbuf_mem;
	uint32_t next_mbuf;
	uint16_t read_pos, write_pos; /* the device's: next descriptor, next used entry */
	bool read_wrap, write_wrap;
	uint32_t freed[T_FREED_MAX]; /* mbuf indexes, in the order freed */
	uint32_t nfreed;
	eth_tx_burst_t burst;
};

/* The side whose frees rte_pktmbuf_free_bulk is recording. */
static struct side *freeing;

static struct rte_mbuf *
side_mbuf(const struct side *s, uint32_t i)
{
	return (struct rte_mbuf *)(void *)(s->mbuf_mem + (size_t)i * T_STRIDE);
}

static uint32_t
side_mbuf_index(const struct side *s, const void *p)
{
	return (uint32_t)(((const uint8_t *)p - s->mbuf_mem) / T_STRIDE);
}

/* Linked with --wrap: the mbufs have no pool; the test records which went back. */
void __wrap_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);

void
__wrap_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		for (struct rte_mbuf *m = mbufs[i]; m; m = m->next) {
			assert_true(freeing->nfreed < T_FREED_MAX);
			freeing->freed[freeing->nfreed++] = side_mbuf_index(freeing, m);
		}
}

/* The queue as vuser_txq_start leaves it for a packed ring of `size`. */
static void
side_init(struct side *s, uint16_t size, bool in_order, eth_tx_burst_t burst)
{
	size_t ring_len = vu_packed_ring_mem_size(size);
	struct vuser_txq *txq = &s->txq;

	memset(s, 0, sizeof(*s));
	assert_int_equal(posix_memalign((void **)&s->ring_mem, 4096,
					ring_len + sizeof(struct vu_net_hdr) * size),
			 0);
	memset(s->ring_mem, 0, ring_len + sizeof(struct vu_net_hdr) * size);
	assert_int_equal(posix_memalign((void **)&s->mbuf_mem, RTE_CACHE_LINE_SIZE,
					(size_t)T_MBUFS * T_STRIDE),
			 0);
	txq->bufs = calloc(size, sizeof(*txq->bufs) + 3 * sizeof(uint16_t));
	assert_non_null(txq->bufs);
	txq->ids = (uint16_t *)(txq->bufs + size);
	txq->order = txq->ids + size;
	txq->next = txq->order + size;
	txq->hdrs = (struct vu_net_hdr *)(s->ring_mem + ring_len);
	txq->port = &s->port;
	txq->size = size;
	txq->nb_desc = size;
	txq->hdr_size = T_HDR;
	txq->in_order = in_order;
	vu_packed_ring_init(&txq->packed, s->ring_mem, size);
	txq->packed.driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	for (uint16_t i = 0; i < size; i++)
		txq->ids[i] = (uint16_t)(size - 1 - i);
	txq->ids_top = size;
	txq->num_free = size;
	s->read_wrap = true;
	s->write_wrap = true;
	s->burst = burst;
}

static void
side_fini(struct side *s)
{
	free(s->txq.bufs);
	free(s->ring_mem);
	free(s->mbuf_mem);
}

/* The kinds of packet a burst gets: mostly one-descriptor ones, and each kind the line
 * write must leave to the general loop. */
enum pkt_kind {
	PK_SIMPLE,
	PK_TWO_SEGS,
	PK_NO_HEADROOM,
	PK_SHARED,
	PK_VLAN,
	PK_KINDS
};

static void
mbuf_init(struct rte_mbuf *m, uint16_t len, uint16_t data_off, uint32_t seed)
{
	memset(m, 0, sizeof(*m));
	m->buf_addr = (uint8_t *)m + sizeof(*m);
	m->buf_len = RTE_PKTMBUF_HEADROOM + T_ROOM;
	m->data_off = data_off;
	rte_mbuf_refcnt_set(m, 1);
	m->nb_segs = 1;
	m->data_len = len;
	m->pkt_len = len;
	/* Frames to unicast, multicast and broadcast addresses alike; nonzero stale bytes
	 * in the headroom, so that the header is written. */
	memset((uint8_t *)m->buf_addr, (int)(seed & 0xff), m->buf_len);
	if (seed % 5 == 0)
		memset(rte_pktmbuf_mtod(m, uint8_t *), 0xff, RTE_ETHER_ADDR_LEN);
}

/* Make the packet of kind k, of `len` bytes, from the side's next mbuf(s). */
static struct rte_mbuf *
side_pkt(struct side *s, enum pkt_kind k, uint16_t len, uint32_t seed)
{
	struct rte_mbuf *m = side_mbuf(s, s->next_mbuf++);

	assert_true(s->next_mbuf + 1 < T_MBUFS);
	mbuf_init(m, len, k == PK_NO_HEADROOM ? T_HDR - 2 : RTE_PKTMBUF_HEADROOM, seed);
	if (k == PK_TWO_SEGS) {
		struct rte_mbuf *seg = side_mbuf(s, s->next_mbuf++);

		mbuf_init(seg, 100, RTE_PKTMBUF_HEADROOM, seed + 1);
		m->next = seg;
		m->nb_segs = 2;
		m->pkt_len = (uint32_t)(len + seg->data_len);
	} else if (k == PK_SHARED) {
		rte_mbuf_refcnt_set(m, 2);
	} else if (k == PK_VLAN) {
		m->ol_flags = RTE_MBUF_F_TX_VLAN;
		m->vlan_tci = (uint16_t)(seed & 0xfff);
	}
	return m;
}

/* The device takes up to `chains` available buffers and marks them used: one entry for
 * the lot in order (VIRTIO 1.2 2.8.20), else one per buffer, the last taken first. */
static void
side_device(struct side *s, unsigned int chains, bool in_order)
{
	struct vu_packed_ring *r = &s->txq.packed;
	uint16_t ids[VUSER_BURST_MAX * 2], lens[VUSER_BURST_MAX * 2];
	unsigned int n = 0, total = 0;

	while (n < chains && n < RTE_DIM(ids)) {
		struct vu_packed_desc *d = &r->desc[s->read_pos];
		uint16_t f = d->flags, len = 0;

		if (!!(f & VU_PACKED_DESC_F_AVAIL) != s->read_wrap ||
		    !!(f & VU_PACKED_DESC_F_USED) == s->read_wrap)
			break;
		do {
			f = r->desc[s->read_pos].flags;
			ids[n] = r->desc[s->read_pos].id;
			len++;
			if (++s->read_pos == r->size) {
				s->read_pos = 0;
				s->read_wrap = !s->read_wrap;
			}
		} while (f & VU_DESC_F_NEXT);
		lens[n++] = len;
		total += len;
	}
	if (n == 0)
		return;
	for (unsigned int i = 0; i < (in_order ? 1 : n); i++) {
		unsigned int c = n - 1 - i; /* the last one first */
		struct vu_packed_desc *d = &r->desc[s->write_pos];
		uint16_t skip = in_order ? (uint16_t)total : lens[c];

		d->id = ids[c];
		d->len = 0;
		__atomic_store_n(&d->flags, vu_packed_used_bits(s->write_wrap), __ATOMIC_RELEASE);
		s->write_pos = (uint16_t)(s->write_pos + skip);
		if (s->write_pos >= r->size) {
			s->write_pos = (uint16_t)(s->write_pos - r->size);
			s->write_wrap = !s->write_wrap;
		}
	}
}

/* A descriptor's address as a place both sides can compare: a header slot, or an offset
 * in the side's n-th mbuf. */
static uint64_t
side_addr(const struct side *s, uint64_t addr)
{
	uintptr_t hdrs = (uintptr_t)s->txq.hdrs;

	if (addr >= hdrs && addr < hdrs + sizeof(struct vu_net_hdr) * s->txq.size)
		return 1ull << 63 | (addr - hdrs);
	if (addr == 0) /* a slot not written yet */
		return 0;
	assert_in_range(addr, (uintptr_t)s->mbuf_mem,
			(uintptr_t)s->mbuf_mem + (size_t)T_MBUFS * T_STRIDE - 1);
	return (uint64_t)side_mbuf_index(s, (void *)(uintptr_t)addr) << 32 |
		(addr - (uintptr_t)s->mbuf_mem) % T_STRIDE;
}

/* Same ring, same buffers in flight, same mbufs freed, same counters. */
static void
sides_compare(const struct side *a, const struct side *b)
{
	const struct vuser_txq *x = &a->txq, *y = &b->txq;

	assert_int_equal(x->packed.avail_idx, y->packed.avail_idx);
	assert_int_equal(x->packed.avail_wrap, y->packed.avail_wrap);
	assert_int_equal(x->packed.used_idx, y->packed.used_idx);
	assert_int_equal(x->num_free, y->num_free);
	assert_int_equal(x->ids_top, y->ids_top);
	assert_memory_equal(x->ids, y->ids, sizeof(*x->ids) * x->size);
	for (uint16_t i = 0; i < x->size; i++) {
		const struct vu_packed_desc *d = &x->packed.desc[i], *e = &y->packed.desc[i];

		assert_int_equal(d->flags, e->flags);
		assert_int_equal(d->id, e->id);
		assert_int_equal(d->len, e->len);
		assert_int_equal(side_addr(a, d->addr), side_addr(b, e->addr));
		assert_int_equal(x->bufs[i].ndesc, y->bufs[i].ndesc);
		assert_int_equal(x->bufs[i].m ? side_mbuf_index(a, x->bufs[i].m) : UINT32_MAX,
				 y->bufs[i].m ? side_mbuf_index(b, y->bufs[i].m) : UINT32_MAX);
	}
	assert_memory_equal(x->hdrs, y->hdrs, sizeof(*x->hdrs) * x->size);
	assert_int_equal(a->nfreed, b->nfreed);
	assert_memory_equal(a->freed, b->freed, sizeof(a->freed[0]) * a->nfreed);
	assert_memory_equal(&x->stats, &y->stats, sizeof(x->stats));
	assert_int_equal(a->next_mbuf, b->next_mbuf);
}

/* Every mbuf alike: headers pushed into headroom, VLAN tags inserted. */
static void
sides_compare_mbufs(const struct side *a, const struct side *b)
{
	for (uint32_t i = 0; i < a->next_mbuf; i++) {
		struct rte_mbuf *m = side_mbuf(a, i), *n = side_mbuf(b, i);

		assert_int_equal(m->data_off, n->data_off);
		assert_int_equal(m->data_len, n->data_len);
		assert_memory_equal(m->buf_addr, n->buf_addr, m->buf_len);
	}
}

/* A small deterministic generator: the sides get the same packets and completions. */
static uint32_t
rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

/* Bursts of mixed packets on ring `size`, the device completing some between them,
 * scalar and `simd` in step; `simple_pct` of the packets are one-descriptor ones. */
static void
run_against_scalar(eth_tx_burst_t simd, uint16_t size, bool in_order, unsigned int simple_pct)
{
	static struct side a, b;
	struct rte_mbuf *held_a[T_MAX_BURST * 2], *held_b[T_MAX_BURST * 2];
	uint16_t nheld = 0;
	uint32_t seed = 0x5eed + size + in_order;

	side_init(&a, size, in_order, vuser_packed_xmit);
	side_init(&b, size, in_order, simd);
	for (unsigned int step = 0; step < T_STEPS; step++) {
		uint16_t want = (uint16_t)(1 + rnd(&seed) % T_MAX_BURST), sa, sb;
		unsigned int done = rnd(&seed) % (size + 1);

		/* What the last burst left, first, then new packets. */
		while (nheld < want) {
			uint32_t r = rnd(&seed);
			enum pkt_kind k = r % 100 < simple_pct ?
				PK_SIMPLE :
				(enum pkt_kind)(1 + (r >> 8) % (PK_KINDS - 1));
			uint16_t len = (uint16_t)(14 + (r >> 12) % (T_ROOM - 14));

			held_a[nheld] = side_pkt(&a, k, len, r);
			held_b[nheld++] = side_pkt(&b, k, len, r);
		}
		freeing = &a;
		sa = a.burst(&a.txq, held_a, want);
		freeing = &b;
		sb = b.burst(&b.txq, held_b, want);
		assert_int_equal(sa, sb);
		memmove(held_a, held_a + sa, sizeof(held_a[0]) * (nheld - sa));
		memmove(held_b, held_b + sb, sizeof(held_b[0]) * (nheld - sb));
		nheld = (uint16_t)(nheld - sa);
		side_device(&a, done, in_order);
		side_device(&b, done, in_order);
		sides_compare(&a, &b);
	}
	/* The ring wrapped many times over (and the counts say packets went). */
	assert_true(a.txq.stats.packets > (uint64_t)size * 4);
	sides_compare_mbufs(&a, &b);
	side_fini(&a);
	side_fini(&b);
}

static const struct {
	uint16_t size;
	bool in_order;
	unsigned int simple_pct;
} cases[] = {
	{ 64, true, 100 }, { 64, false, 100 }, { 64, true, 70 },  { 64, false, 70 },
	{ 30, true, 85 },  { 30, false, 85 },  { 256, true, 95 }, { 256, false, 95 },
	{ 6, true, 90 },   { 6, false, 90 },
};

static void
run_cases(eth_tx_burst_t simd)
{
	for (size_t i = 0; i < RTE_DIM(cases); i++)
		run_against_scalar(simd, cases[i].size, cases[i].in_order, cases[i].simple_pct);
}

static void
test_avx2_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx2"))
		skip();
	run_cases(vuser_packed_xmit_avx2);
}

static void
test_avx512_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx512f"))
		skip();
	run_cases(vuser_packed_xmit_avx512);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avx2_against_scalar),
		cmocka_unit_test(test_avx512_against_scalar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
