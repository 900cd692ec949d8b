/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vuser's SIMD Rx bursts (split: AVX2; packed: AVX2, AVX-512 and the plain-C line
 * burst) against the scalar ones, in step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rte_mempool.h>

#include "vuser_queue.h"

#define T_MBUFS 1024 /* per side: the ring's buffers and what the test holds */
#define T_ROOM 512   /* data room after the headroom */
#define T_STRIDE (sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM + T_ROOM)
#define T_HDR 12
#define T_STEPS 400
#define T_MAX_BURST 40

/* What the bursts reach outside vuser_rx*.c: the kick, and the fault log (counted). */
void
vuser_glue_notify(struct vuser_port *port, uint32_t vq_index)
{
	(void)port;
	(void)vq_index;
}

void
vuser_rxq_fault(struct vuser_rxq *rxq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		uint32_t len)
{
	(void)pos;
	(void)id;
	(void)len;
	rxq->stats.faults[kind]++;
	rxq->stats.errors++;
}

/* Linked with --wrap: the general bursts count what they deliver when the burst under test
 * calls them, so a case can tell that the line check took its share (a line check that
 * always said no would still deliver the same packets, through the general burst). */
static bool counting;
static uint64_t general_pkts;

#define T_WRAP_GENERAL(name)                                                           \
	uint16_t __real_##name(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts); \
	uint16_t __wrap_##name(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts); \
	uint16_t __wrap_##name(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)  \
	{                                                                              \
		uint16_t n = __real_##name(queue, pkts, nb_pkts);                      \
                                                                                       \
		general_pkts += counting ? n : 0;                                      \
		return n;                                                              \
	}
T_WRAP_GENERAL(vuser_split_recv)
T_WRAP_GENERAL(vuser_split_recv_mrg)
T_WRAP_GENERAL(vuser_packed_recv)
T_WRAP_GENERAL(vuser_packed_recv_mrg)

/* A pool without EAL: a mempool header whose ops hand out the side's mbufs (a stack). */
struct side {
	struct {
		struct rte_mempool mp;
		struct rte_pktmbuf_pool_private priv; /* rte_mempool_get_priv: right after */
	} pool;
	struct vuser_rxq rxq;
	struct vuser_port port;
	uint8_t *ring_mem;
	uint8_t *mbuf_mem;
	struct rte_mbuf *stack[T_MBUFS];
	unsigned int top;
	uint16_t avail_pos; /* the device's next avail entry (split) */
	uint16_t dev_slot;  /* the device's next slot and its wrap counter (packed) */
	bool dev_wrap;
	bool packed;
	eth_rx_burst_t burst;
};

static struct side sides[2];

static struct side *
side_of_pool(const struct rte_mempool *mp)
{
	return mp == &sides[0].pool.mp ? &sides[0] : &sides[1];
}

static int
pool_enqueue(struct rte_mempool *mp, void *const *objs, unsigned int n)
{
	struct side *s = side_of_pool(mp);

	assert_true(s->top + n <= T_MBUFS);
	for (unsigned int i = 0; i < n; i++)
		s->stack[s->top++] = objs[i];
	return 0;
}

static int
pool_dequeue(struct rte_mempool *mp, void **objs, unsigned int n)
{
	struct side *s = side_of_pool(mp);

	if (n > s->top)
		return -ENOBUFS;
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = s->stack[--s->top];

		/* Raw, as a pool gives them (rte_pktmbuf_init, then freed). */
		rte_mbuf_refcnt_set(m, 1);
		m->nb_segs = 1;
		m->next = NULL;
		objs[i] = m;
	}
	return 0;
}

static int
pool_alloc(struct rte_mempool *mp)
{
	(void)mp;
	return 0;
}

static void
pool_free(struct rte_mempool *mp)
{
	(void)mp;
}

static unsigned int
pool_count(const struct rte_mempool *mp)
{
	return side_of_pool(mp)->top;
}

static struct rte_mempool_ops pool_ops = {
	.name = "vuser_test_stack",
	.alloc = pool_alloc,
	.free = pool_free,
	.enqueue = pool_enqueue,
	.dequeue = pool_dequeue,
	.get_count = pool_count,
};

/* Linked with --wrap: mbufs go back to the side's pool (one segment each here). */
void __wrap_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);

void
__wrap_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		pool_enqueue(mbufs[i]->pool, (void *const *)&mbufs[i], 1);
}

/* The ring as vuser_rxq_start lays it out and posts it. */
static void
side_ring_init(struct side *s, uint16_t size)
{
	struct vuser_rxq *rxq = &s->rxq;

	if (s->packed) {
		vu_packed_ring_init(&rxq->packed, s->ring_mem, size);
		rxq->packed.driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
		s->dev_wrap = true;
	} else {
		vu_split_ring_init(&rxq->split, s->ring_mem, size);
		rxq->split.avail->flags = VU_AVAIL_F_NO_INTERRUPT;
		rxq->split.used->flags = VU_USED_F_NO_NOTIFY;
	}
	for (uint16_t id = 0; id < size; id++) {
		struct rte_mbuf *m;

		assert_int_equal(rte_mempool_get(rxq->mp, (void **)&m), 0);
		if (!s->packed)
			rxq->split.desc[id].flags = VU_DESC_F_WRITE;
		vuser_rx_post(rxq, s->packed, id, m);
	}
	if (!s->packed)
		vu_split_ring_avail_publish(&rxq->split);
}

static void
side_init(struct side *s, int ops_index, uint16_t size, bool in_order, bool mrg, bool packed,
	  eth_rx_burst_t burst)
{
	size_t ring_len = packed ? vu_packed_ring_mem_size(size) : vu_split_ring_mem_size(size);
	struct vuser_rxq *rxq = &s->rxq;

	memset(s, 0, sizeof(*s));
	s->packed = packed;
	s->pool.mp.ops_index = ops_index;
	s->pool.mp.cache_size = 0;
	s->pool.priv.mbuf_data_room_size = RTE_PKTMBUF_HEADROOM + T_ROOM;
	assert_int_equal(posix_memalign((void **)&s->ring_mem, 4096, ring_len), 0);
	memset(s->ring_mem, 0, ring_len);
	assert_int_equal(posix_memalign((void **)&s->mbuf_mem, RTE_CACHE_LINE_SIZE,
					(size_t)T_MBUFS * T_STRIDE),
			 0);
	for (unsigned int i = 0; i < T_MBUFS; i++) {
		struct rte_mbuf *m = (struct rte_mbuf *)(void *)(s->mbuf_mem + i * T_STRIDE);

		memset(m, 0, sizeof(*m));
		m->buf_addr = (uint8_t *)m + sizeof(*m);
		m->buf_len = RTE_PKTMBUF_HEADROOM + T_ROOM;
		m->pool = &s->pool.mp;
		s->stack[s->top++] = m;
	}
	rxq->sw_ring = calloc(size, sizeof(*rxq->sw_ring) + sizeof(*rxq->posted_epoch));
	assert_non_null(rxq->sw_ring);
	rxq->posted_epoch = (uint32_t *)(rxq->sw_ring + size);
	rxq->mp = &s->pool.mp;
	rxq->port = &s->port;
	rxq->size = size;
	rxq->nb_desc = size;
	rxq->hdr_size = T_HDR;
	rxq->mrg = mrg;
	rxq->in_order = in_order;
	rxq->filter_seq = s->port.filter.seq;
	side_ring_init(s, size);
	s->burst = burst;
}

static void
side_fini(struct side *s)
{
	free(s->rxq.sw_ring);
	free(s->ring_mem);
	free(s->mbuf_mem);
}

/* A small deterministic generator: both sides get the same frames. */
static uint32_t
rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

/* The device's slot k places after its next one, and that slot's wrap counter. */
static uint16_t
side_slot(const struct side *s, unsigned int k, bool *wrap)
{
	unsigned int slot = s->dev_slot + k;

	*wrap = s->dev_wrap;
	if (slot >= s->rxq.size) {
		slot -= s->rxq.size;
		*wrap = !*wrap;
	}
	return (uint16_t)slot;
}

/* Buffers posted on the ring that the device has not taken yet. */
static uint16_t
side_posted(const struct side *s)
{
	uint16_t n = 0;
	bool wrap;

	if (!s->packed)
		return (uint16_t)(__atomic_load_n(&s->rxq.split.avail->idx, __ATOMIC_ACQUIRE) -
				  s->avail_pos);
	/* "A descriptor is available when its AVAIL bit matches the driver ring wrap counter
	 * and its USED bit does not": the ones in a row from the device's slot. */
	while (n < s->rxq.size) {
		const struct vu_packed_desc *d = &s->rxq.packed.desc[side_slot(s, n, &wrap)];

		if ((__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE) & VU_PACKED_DESC_F_AVAIL_USED) !=
		    vu_packed_avail_bits(wrap))
			break;
		n++;
	}
	return n;
}

/* The buffer of the device's i-th next available entry: its id and address. */
static uint16_t
side_take(struct side *s, unsigned int i, uint8_t **buf)
{
	uint16_t id;
	bool wrap;

	if (!s->packed) {
		struct vu_split_ring *r = &s->rxq.split;

		id = r->avail->ring[(uint16_t)(s->avail_pos + i) & r->mask];
		*buf = (uint8_t *)(uintptr_t)r->desc[id].addr;
		return id;
	}
	id = s->rxq.packed.desc[side_slot(s, i, &wrap)].id;
	*buf = (uint8_t *)(uintptr_t)s->rxq.packed.desc[side_slot(s, i, &wrap)].addr;
	return id;
}

/* The device marks n entries used, e[] in this order: a split ring's used ring and index,
 * or a packed ring's slots from its own (each with the used bits of its lap). */
static void
side_used(struct side *s, const struct vu_used_elem *e, unsigned int n)
{
	if (!s->packed) {
		struct vu_split_ring *r = &s->rxq.split;
		uint16_t used = r->used->idx;

		for (unsigned int i = 0; i < n; i++)
			r->used->ring[(uint16_t)(used + i) & r->mask] = e[i];
		__atomic_store_n(&r->used->idx, (uint16_t)(used + n), __ATOMIC_RELEASE);
		s->avail_pos = (uint16_t)(s->avail_pos + n);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		bool wrap;
		struct vu_packed_desc *d = &s->rxq.packed.desc[side_slot(s, i, &wrap)];

		d->id = (uint16_t)e[i].id;
		d->len = e[i].len;
		vu_packed_desc_publish(d, VU_DESC_F_WRITE | vu_packed_used_bits(wrap));
	}
	s->dev_slot = side_slot(s, n, &s->dev_wrap);
}

/* What the device does to one ring: take `n` posted buffers, write a frame (and the
 * header, num_buffers 1) into each, and mark them used, in the order taken or (`swap`)
 * out of turn; `bad_at` (if < n) gets a length no first buffer can have. */
static void
side_device(struct side *s, unsigned int n, bool swap, unsigned int bad_at, uint32_t seed)
{
	struct vu_used_elem e[VUSER_BURST_MAX];

	assert_true(n <= RTE_DIM(e) && n <= side_posted(s));
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf;
		uint16_t id = side_take(s, i, &buf);
		uint32_t len = 60 + rnd(&seed) % (T_ROOM - 60);
		struct vu_net_hdr hdr = { .num_buffers = 1 };

		memcpy(buf, &hdr, T_HDR);
		for (uint32_t b = 0; b < len; b++)
			buf[T_HDR + b] = (uint8_t)(seed + b);
		e[i].id = id;
		e[i].len = i == bad_at ? T_HDR : T_HDR + len;
	}
	for (unsigned int i = 0; swap && i + 1 < n; i += 2) {
		/* Pairs, or (odd seeds) the first of each eight with the fifth: one lane of
		 * each of two lines out of turn. */
		unsigned int j = seed & 1 ? i + VU_PACKED_DESCS_PER_LINE : i + 1;
		struct vu_used_elem t = e[i];

		if (seed & 1 && (i % 8 != 0 || j >= n))
			continue;
		e[i] = e[j];
		e[j] = t;
	}
	side_used(s, e, n);
}

/* Packets an application took and the test has not compared yet. */
struct fifo {
	struct rte_mbuf *m[T_MBUFS];
	unsigned int n;
};

static struct fifo fifos[2];

/* The packets both sides delivered so far, compared in order (the line burst may leave
 * a partial line for the next call, so the counts per call differ), then freed. */
static void
fifos_compare(void)
{
	struct fifo *fa = &fifos[0], *fb = &fifos[1];
	unsigned int n = RTE_MIN(fa->n, fb->n);

	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *a = fa->m[i], *b = fb->m[i];

		assert_int_equal(a->pkt_len, b->pkt_len);
		assert_int_equal(a->data_len, b->data_len);
		assert_int_equal(a->nb_segs, 1);
		assert_int_equal(b->nb_segs, 1);
		assert_int_equal(a->data_off, b->data_off);
		assert_memory_equal(rte_pktmbuf_mtod(a, void *), rte_pktmbuf_mtod(b, void *),
				    a->data_len);
	}
	__wrap_rte_pktmbuf_free_bulk(fa->m, n);
	__wrap_rte_pktmbuf_free_bulk(fb->m, n);
	memmove(fa->m, fa->m + n, sizeof(fa->m[0]) * (fa->n - n));
	memmove(fb->m, fb->m + n, sizeof(fb->m[0]) * (fb->n - n));
	fa->n -= n;
	fb->n -= n;
}

static uint16_t
side_burst(unsigned int i, uint16_t want)
{
	struct fifo *f = &fifos[i];
	uint16_t n;

	counting = i == 1;
	n = sides[i].burst(&sides[i].rxq, &f->m[f->n], want);
	counting = false;

	f->n += n;
	return n;
}

/* A packed ring once everything is taken and reposted: every slot available, holding
 * a buffer of its id, alike on both sides. */
static void
packed_compare(const struct vuser_rxq *x, const struct vuser_rxq *y)
{
	assert_int_equal(x->packed.avail_idx, y->packed.avail_idx);
	assert_int_equal(x->packed.avail_wrap, y->packed.avail_wrap);
	assert_int_equal(x->packed.used_idx, y->packed.used_idx);
	assert_int_equal(x->packed.used_wrap, y->packed.used_wrap);
	for (uint16_t slot = 0; slot < x->size; slot++) {
		const struct vu_packed_desc *a = &x->packed.desc[slot], *b = &y->packed.desc[slot];

		assert_int_equal(a->id, b->id);
		assert_int_equal(a->len, b->len);
		assert_int_equal(a->flags, b->flags);
		assert_int_equal(a->addr, vuser_rx_buf_addr(x, x->sw_ring[a->id]));
		assert_int_equal(b->addr, vuser_rx_buf_addr(y, y->sw_ring[b->id]));
	}
}

static void
split_compare(const struct vuser_rxq *x, const struct vuser_rxq *y)
{
	assert_int_equal(x->split.last_used_idx, y->split.last_used_idx);
	assert_int_equal(x->split.avail_idx, y->split.avail_idx);
	assert_int_equal(x->split.avail->idx, y->split.avail->idx);
	assert_memory_equal(x->split.avail->ring, y->split.avail->ring, sizeof(uint16_t) * x->size);
	/* Every posted buffer is described by its descriptor, on both sides. */
	for (uint16_t id = 0; id < x->size; id++) {
		assert_int_equal(x->split.desc[id].addr, vuser_rx_buf_addr(x, x->sw_ring[id]));
		assert_int_equal(y->split.desc[id].addr, vuser_rx_buf_addr(y, y->sw_ring[id]));
		assert_int_equal(x->split.desc[id].len, y->split.desc[id].len);
		assert_int_equal(x->split.desc[id].flags, y->split.desc[id].flags);
	}
}

/* Once everything is taken: the same ring state and counters on both sides. */
static void
sides_compare(const struct side *a, const struct side *b)
{
	const struct vuser_rxq *x = &a->rxq, *y = &b->rxq;

	assert_int_equal(fifos[0].n, 0);
	assert_int_equal(fifos[1].n, 0);
	if (a->packed)
		packed_compare(x, y);
	else
		split_compare(x, y);
	assert_int_equal(x->next_id, y->next_id);
	assert_int_equal(x->nombuf, y->nombuf);
	assert_memory_equal(&x->stats, &y->stats, sizeof(x->stats));
}

/* The device fills batches of 0-47 buffers (whole fours, partial ones, the ring's end in
 * the middle); each side's application takes bursts of 1-40. */
static void
run_against_scalar(eth_rx_burst_t vec, eth_rx_burst_t scalar, uint16_t size, bool in_order,
		   bool mrg, bool packed, unsigned int swap_pct, unsigned int bad_pct)
{
	static int ops_index = -1;
	uint32_t seed = 0xfeed + size + in_order * 2 + mrg + packed * 4;
	uint64_t lines;

	if (ops_index < 0)
		ops_index = rte_mempool_register_ops(&pool_ops);
	assert_true(ops_index >= 0);
	memset(fifos, 0, sizeof(fifos));
	general_pkts = 0;
	side_init(&sides[0], ops_index, size, in_order, mrg, packed, scalar);
	side_init(&sides[1], ops_index, size, in_order, mrg, packed, vec);
	for (unsigned int step = 0; step < T_STEPS; step++) {
		unsigned int posted = RTE_MIN(side_posted(&sides[0]), side_posted(&sides[1]));
		unsigned int fill = RTE_MIN(rnd(&seed) % 48u, posted);
		bool swap = !in_order && rnd(&seed) % 100 < swap_pct;
		unsigned int bad_at = rnd(&seed) % 100 < bad_pct ? rnd(&seed) % 8 : UINT32_MAX;
		uint32_t frame_seed = rnd(&seed);
		uint16_t want = (uint16_t)(1 + rnd(&seed) % T_MAX_BURST);

		side_device(&sides[0], fill, swap, bad_at, frame_seed);
		side_device(&sides[1], fill, swap, bad_at, frame_seed);
		side_burst(0, want);
		side_burst(1, want);
		fifos_compare();
	}
	/* Drain: what a side left for a later call (the line burst takes whole fours up to
	 * the burst size, the scalar one all it may) comes with the next calls. */
	for (unsigned int i = 0; i < 2u * size / VUSER_BURST_MAX + 2u; i++) {
		side_burst(0, VUSER_BURST_MAX);
		side_burst(1, VUSER_BURST_MAX);
		fifos_compare();
	}
	sides_compare(&sides[0], &sides[1]);
	/* Many laps of the ring, and the faults the scalar burst counts were counted alike. */
	assert_true(sides[1].rxq.stats.packets > (uint64_t)size * 8);
	/* The burst under test took its share itself: most of a clean run, some whenever the
	 * device keeps to the posted order. */
	lines = sides[1].rxq.stats.packets - general_pkts;
	if (swap_pct == 0)
		assert_true(lines > 0);
	if (swap_pct == 0 && bad_pct == 0)
		assert_true(lines * 2 > sides[1].rxq.stats.packets);
	if (bad_pct)
		assert_true(sides[1].rxq.stats.faults[VUSER_FAULT_BAD_LEN] > 0);
	side_fini(&sides[0]);
	side_fini(&sides[1]);
}

static const struct {
	uint16_t size;
	bool in_order;
	unsigned int swap_pct, bad_pct;
} cases[] = {
	{ 256, true, 0, 0 },  { 256, false, 0, 0 }, { 64, true, 0, 5 },
	{ 64, false, 20, 5 }, { 16, true, 0, 0 },   { 16, false, 30, 10 },
};

static void
run_cases(eth_rx_burst_t vec, eth_rx_burst_t scalar, bool mrg, bool packed)
{
	for (size_t i = 0; i < RTE_DIM(cases); i++)
		run_against_scalar(vec, scalar, cases[i].size, cases[i].in_order, mrg, packed,
				   cases[i].swap_pct, cases[i].bad_pct);
}

static void
test_split_vec_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx2"))
		skip();
	run_cases(vuser_split_recv_vec, vuser_split_recv, false, false);
}

static void
test_split_vec_mrg_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx2"))
		skip();
	run_cases(vuser_split_recv_vec_mrg, vuser_split_recv_mrg, true, false);
}

/* The plain-C line burst: what a packed ring gets without vectorized=1. */
static void
test_packed_lines_against_scalar(void **state)
{
	(void)state;
	run_cases(vuser_packed_recv_lines, vuser_packed_recv, false, true);
	run_cases(vuser_packed_recv_lines_mrg, vuser_packed_recv_mrg, true, true);
}

static void
test_packed_avx2_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx2"))
		skip();
	run_cases(vuser_packed_recv_vec, vuser_packed_recv, false, true);
	run_cases(vuser_packed_recv_vec_mrg, vuser_packed_recv_mrg, true, true);
}

static void
test_packed_avx512_against_scalar(void **state)
{
	(void)state;
	if (!__builtin_cpu_supports("avx512f"))
		skip();
	run_cases(vuser_packed_recv_avx512, vuser_packed_recv, false, true);
	run_cases(vuser_packed_recv_avx512_mrg, vuser_packed_recv_mrg, true, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_vec_against_scalar),
		cmocka_unit_test(test_split_vec_mrg_against_scalar),
		cmocka_unit_test(test_packed_lines_against_scalar),
		cmocka_unit_test(test_packed_avx2_against_scalar),
		cmocka_unit_test(test_packed_avx512_against_scalar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
