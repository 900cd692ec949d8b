/* SPDX-License-Identifier: BSD-3-Clause */
/* Rx bursts for packed rings: whole cache lines of the ring (four used entries of the
 * buffers due, each a whole packet) checked in one pass and taken together, in plain C or,
 * for vectorized=1, with AVX-512 or AVX2; for split rings with vectorized=1, four used
 * entries at a time with AVX2. The general burst (vuser_rx.c) for anything else. */
#include <rte_prefetch.h>

#if defined(RTE_ARCH_X86_64)
#include <immintrin.h>
#endif

#include "vuser_filter.h"
#include "vuser_queue.h"

/* What both line checks test of the last 8 bytes of a descriptor (len | id << 32 |
 * flags << 48): the used bits of the lap, and the id due; the length is judged apart. */
static inline uint64_t
vuser_rx_line_want(uint16_t id, bool wrap)
{
	return (uint64_t)vu_packed_used_bits(wrap) << 48 | (uint64_t)id << 32;
}

#define VUSER_RX_LINE_ID_FLAGS ((uint64_t)VU_PACKED_DESC_F_AVAIL_USED << 48 | 0xffffull << 32)

/*
 * Is the line of the ring at `slot` four used entries of the four buffers due (first_id
 * on), each with a length a first buffer can have (hdr_size < len <= cap)? Then their
 * lengths go to lens. Each descriptor's last 8 bytes are read in one aligned load, so its
 * flags come with its own id and len (as in vu_packed_desc_read); acquire: the buffers
 * are read after. Anything else (a line not yet used whole, an id or length the general
 * burst must judge and count) is left to the general burst.
 */
static __rte_always_inline bool
vuser_rx_line_c(const struct vuser_rxq *rxq, uint16_t slot, uint16_t first_id, bool wrap,
		uint32_t cap, uint32_t *lens)
{
	const struct vu_packed_desc *d = &rxq->packed.desc[slot];
	uint64_t tail[VU_PACKED_DESCS_PER_LINE];
	bool ok = true;

	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		tail[k] = __atomic_load_n((const vu_packed_desc_tail_word *)&d[k].len,
					  __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++) {
		uint32_t len = (uint32_t)tail[k];

		ok &= (tail[k] & VUSER_RX_LINE_ID_FLAGS) ==
			vuser_rx_line_want((uint16_t)(first_id + k), wrap);
		ok &= len > rxq->hdr_size && len <= cap;
		lens[k] = len;
	}
	return ok;
}

#if defined(RTE_ARCH_X86_64)
#define VUSER_AVX2 __attribute__((target("avx2")))

/* vuser_rx_line_c with AVX2: the line in two 32-byte loads, whose aligned 8-byte elements
 * are single accesses (each descriptor's flags still come with its id and len). */
static inline VUSER_AVX2 bool
vuser_rx_line_avx2(const struct vuser_rxq *rxq, uint16_t slot, uint16_t first_id, bool wrap,
		   uint32_t cap, uint32_t *lens)
{
	const __m256i *line = (const __m256i *)&rxq->packed.desc[slot];
	/* Descriptors 0-1 and 2-3: take the odd 64-bit lanes, the tails, in ring order. */
	__m256i a = _mm256_load_si256(line);
	__m256i b = _mm256_load_si256(line + 1);
	__m256i tails = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b), 0xd8);
	__m256i want = _mm256_set_epi64x((long long)vuser_rx_line_want(first_id + 3, wrap),
					 (long long)vuser_rx_line_want(first_id + 2, wrap),
					 (long long)vuser_rx_line_want(first_id + 1, wrap),
					 (long long)vuser_rx_line_want(first_id, wrap));
	__m256i id_flags =
		_mm256_and_si256(tails, _mm256_set1_epi64x((long long)VUSER_RX_LINE_ID_FLAGS));
	__m256i len = _mm256_and_si256(tails, _mm256_set1_epi64x(0xffffffffll));
	/* In 64-bit lanes, where the signed compare is exact for 32-bit lengths. */
	__m256i too_short = _mm256_cmpgt_epi64(_mm256_set1_epi64x(rxq->hdr_size + 1), len);
	__m256i too_long = _mm256_cmpgt_epi64(len, _mm256_set1_epi64x(cap));
	__m256i bad = _mm256_or_si256(
		_mm256_or_si256(too_short, too_long),
		_mm256_xor_si256(_mm256_cmpeq_epi64(id_flags, want), _mm256_set1_epi64x(-1)));

	__atomic_signal_fence(__ATOMIC_ACQUIRE); /* x86 keeps loads in order; the compiler too */
	if (!_mm256_testz_si256(bad, bad))
		return false;
	/* The lengths, in the low halves of the lanes, as four 32-bit words. */
	_mm_storeu_si128((__m128i *)lens,
			 _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
				 len, _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0))));
	return true;
}

#define VUSER_AVX512 __attribute__((target("avx512f")))
/* The odd 64-bit lanes of a line: the descriptors' tails (len | id << 32 | flags << 48). */
#define VUSER_RX_LINE_TAILS 0xaa

/* vuser_rx_line_c with AVX-512: the whole line in one 64-byte load, whose aligned 8-byte
 * elements are single accesses; only the tails' lanes are compared. */
static inline VUSER_AVX512 bool
vuser_rx_line_avx512(const struct vuser_rxq *rxq, uint16_t slot, uint16_t first_id, bool wrap,
		     uint32_t cap, uint32_t *lens)
{
	__m512i line = _mm512_load_si512((const void *)&rxq->packed.desc[slot]);
	__m512i want = _mm512_set_epi64((long long)vuser_rx_line_want(first_id + 3, wrap), 0,
					(long long)vuser_rx_line_want(first_id + 2, wrap), 0,
					(long long)vuser_rx_line_want(first_id + 1, wrap), 0,
					(long long)vuser_rx_line_want(first_id, wrap), 0);
	__m512i id_flags =
		_mm512_and_si512(line, _mm512_set1_epi64((long long)VUSER_RX_LINE_ID_FLAGS));
	__m512i len = _mm512_and_si512(line, _mm512_set1_epi64(0xffffffffll));
	__mmask8 bad = _mm512_mask_cmpneq_epu64_mask(VUSER_RX_LINE_TAILS, id_flags, want) |
		_mm512_mask_cmple_epu64_mask(VUSER_RX_LINE_TAILS, len,
					     _mm512_set1_epi64(rxq->hdr_size)) |
		_mm512_mask_cmpgt_epu64_mask(VUSER_RX_LINE_TAILS, len, _mm512_set1_epi64(cap));

	__atomic_signal_fence(__ATOMIC_ACQUIRE); /* x86 keeps loads in order; the compiler too */
	if (bad)
		return false;
	/* The lengths: 32-bit words 2, 6, 10 and 14 of the line. */
	_mm_storeu_si128(
		(__m128i *)lens,
		_mm512_castsi512_si128(_mm512_permutexvar_epi32(
			_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 10, 6, 2), line)));
	return true;
}
#endif

/* Which line check a burst is built with. */
enum vuser_rx_isa {
	VUSER_RX_C,
	VUSER_RX_AVX2,
	VUSER_RX_AVX512
};

static __rte_always_inline bool
vuser_rx_line(const struct vuser_rxq *rxq, uint16_t slot, uint16_t first_id, bool wrap,
	      uint32_t cap, uint32_t *lens, enum vuser_rx_isa isa)
{
#if defined(RTE_ARCH_X86_64)
	if (isa == VUSER_RX_AVX512)
		return vuser_rx_line_avx512(rxq, slot, first_id, wrap, cap, lens);
	if (isa == VUSER_RX_AVX2)
		return vuser_rx_line_avx2(rxq, slot, first_id, wrap, cap, lens);
#endif
	RTE_SET_USED(isa);
	return vuser_rx_line_c(rxq, slot, first_id, wrap, cap, lens);
}

/* The general burst for what the line burst leaves. */
static __rte_always_inline uint16_t
vuser_rx_lines_general(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts, bool mrg)
{
	return mrg ? vuser_packed_recv_mrg(queue, pkts, nb_pkts) :
		     vuser_packed_recv(queue, pkts, nb_pkts);
}

/*
 * Mergeable buffers: of the n entries checked, the whole lines before the first packet
 * that says it took more than one buffer (num_buffers, in its header; the general burst
 * gathers such a packet and judges a bad count).
 */
static __rte_always_inline uint16_t
vuser_rx_lines_single(const struct vuser_rxq *rxq, uint16_t n)
{
	uint16_t id = rxq->next_id;

	for (uint16_t k = 0; k < n; k++) {
		if (vuser_rx_hdr(rxq, rxq->sw_ring[id])->num_buffers != 1)
			return (uint16_t)RTE_ALIGN_FLOOR(k, VU_PACKED_DESCS_PER_LINE);
		if (++id == rxq->nb_desc)
			id = 0;
	}
	return n;
}

/*
 * Deliver the n one-buffer packets of the ids due (lens[k] bytes each, header included),
 * each buffer reposted under its id with a fresh mbuf, then published together: what the
 * line bursts do once they have checked the used entries.
 */
static __rte_always_inline uint16_t
vuser_rx_lines_take(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t n, const uint32_t *lens,
		    bool packed)
{
	struct rte_mbuf *fresh[VUSER_BURST_MAX];
	uint16_t give[VUSER_BURST_MAX];
	struct vuser_burst_tally tally = { 0 };
	uint16_t id;

	if (unlikely(rte_mempool_get_bulk(rxq->mp, (void **)fresh, n) != 0)) {
		rxq->nombuf += n;
		return 0;
	}
	id = rxq->next_id;
	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *m = rxq->sw_ring[id];

		vuser_rx_first_seg(rxq, m, lens[k]);
		pkts[k] = m;
		vuser_tally_pkt(&rxq->stats, &tally, m, m->pkt_len);
		rxq->sw_ring[id] = fresh[k];
		give[k] = id;
		if (++id == rxq->nb_desc)
			id = 0;
	}
	rxq->next_id = id;
	if (packed) {
		vu_packed_ring_used_advance(&rxq->packed, n);
		vuser_rx_give_packed_all(rxq, give, n);
	} else {
		rxq->split.last_used_idx = (uint16_t)(rxq->split.last_used_idx + n);
		for (uint16_t k = 0; k < n; k++)
			vuser_rx_give(rxq, false, give[k]);
	}
	vuser_ring_publish(rxq->port, vuser_rxq_vq_index(rxq), &rxq->split, &rxq->packed, packed);
	vuser_filter_refresh(rxq);
	vuser_tally_add(&rxq->stats, &tally, n);
	return n;
}

/* One function on purpose: one hot loop, its per-line state in locals (see vuser_rx_burst). */
static __rte_always_inline uint16_t
vuser_rx_lines_burst(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts, bool mrg,
		     enum vuser_rx_isa isa)
{
	struct vuser_rxq *rxq = queue;
	struct vu_packed_ring *r = &rxq->packed;
	uint32_t lens[VUSER_BURST_MAX];
	uint16_t n = 0, max, slot = r->used_idx, id = rxq->next_id;
	bool wrap = r->used_wrap;
	uint32_t cap;

	/* Installed on packed rings (vuser_select_bursts); what can change while the port runs
	 * is checked here.
	 *
	 * The ids due: buffers are posted under ids 0..nb_desc-1 in turn and reposted in the
	 * order they come back, so a device that uses them in order returns them in that cycle,
	 * with IN_ORDER or without (DPDK's vhost takes and completes a packed ring's buffers in
	 * ring order either way). Without IN_ORDER a device may return them in any order: a
	 * line that is not the ids due goes to the general burst, which takes any id posted.
	 * Either way every id taken here is one the device holds: the ids of one burst are
	 * consecutive and at most nb_desc, so none comes twice, and each goes back at the end. */
	if (unlikely(rxq->halted || rxq->filtering || rxq->vlan_strip || rxq->offload ||
		     vu_packed_line_offset(slot) != 0))
		return vuser_rx_lines_general(queue, pkts, nb_pkts, mrg);
	/* Every buffer comes from the pool: its data room is every buffer's buf_len. */
	cap = vuser_rx_buf_len_of(rxq, rte_pktmbuf_data_room_size(rxq->mp));
	/* At most a burst, and never more than nb_desc (no id twice in one burst). */
	max = RTE_MIN(RTE_MIN(nb_pkts, (uint16_t)VUSER_BURST_MAX), rxq->nb_desc);
	/* Whole lines only: of the ring (a packed ring's size need not be a multiple of 4) and
	 * of the ids due (they cycle through 0..nb_desc-1). */
	while (n + VU_PACKED_DESCS_PER_LINE <= max && slot + VU_PACKED_DESCS_PER_LINE <= r->size &&
	       id + VU_PACKED_DESCS_PER_LINE <= rxq->nb_desc &&
	       vuser_rx_line(rxq, slot, id, wrap, cap, &lens[n], isa)) {
		for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++) {
			rte_prefetch0(rxq->sw_ring[id + k]);
			vuser_rx_prefetch_frame(rxq, rxq->sw_ring[id + k]);
			if (mrg)
				rte_prefetch0((const char *)rxq->sw_ring[id + k] + rxq->hdr_hint);
		}
		n += VU_PACKED_DESCS_PER_LINE;
		id += VU_PACKED_DESCS_PER_LINE;
		if (id == rxq->nb_desc)
			id = 0;
		slot += VU_PACKED_DESCS_PER_LINE;
		if (slot == r->size) {
			slot = 0;
			wrap = !wrap;
		}
	}
	if (n == 0) {
		uint16_t first_id;
		uint32_t len;

		/* Nothing used yet (the usual empty poll): the slot still holds the buffer posted
		 * in this lap, the answer the general burst would give after reading it again. */
		if ((vu_packed_desc_read(&r->desc[slot], &first_id, &len) &
		     VU_PACKED_DESC_F_AVAIL_USED) == vu_packed_avail_bits(wrap))
			return 0;
		return vuser_rx_lines_general(queue, pkts, nb_pkts, mrg);
	}
	if (mrg) {
		n = vuser_rx_lines_single(rxq, n);
		if (n == 0)
			return vuser_rx_lines_general(queue, pkts, nb_pkts, mrg);
	}
	return vuser_rx_lines_take(rxq, pkts, n, lens, true);
}

uint16_t
vuser_packed_recv_lines(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, false, VUSER_RX_C);
}

uint16_t
vuser_packed_recv_lines_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, true, VUSER_RX_C);
}

#if defined(RTE_ARCH_X86_64)
/*
 * Are the four used entries of a split ring from the k-th pending one (not across the
 * ring's end) the buffers due (first_id on), each with a length a first buffer can have
 * (hdr_size < len <= cap)? Then their lengths go to lens. One 32-byte load: the entries
 * are id | len << 32, read after the acquire load of used->idx that published them.
 */
static inline VUSER_AVX2 bool
vuser_rx_split_line_avx2(const struct vuser_rxq *rxq, uint16_t k, uint16_t first_id, uint32_t cap,
			 uint32_t *lens)
{
	__m256i e = _mm256_loadu_si256((const __m256i *)vu_split_ring_used_elem(&rxq->split, k));
	/* Even 32-bit lanes hold the ids, odd ones the lengths: each test lets the other's
	 * lanes pass (id mask 0, want 0; bounds 0 and UINT32_MAX). */
	__m256i want =
		_mm256_set_epi32(0, first_id + 3, 0, first_id + 2, 0, first_id + 1, 0, first_id);
	__m256i id = _mm256_and_si256(e, _mm256_set_epi32(0, -1, 0, -1, 0, -1, 0, -1));
	__m256i lo = _mm256_set_epi32(rxq->hdr_size + 1, 0, rxq->hdr_size + 1, 0, rxq->hdr_size + 1,
				      0, rxq->hdr_size + 1, 0);
	__m256i hi = _mm256_set_epi32((int)cap, -1, (int)cap, -1, (int)cap, -1, (int)cap, -1);
	/* Unsigned bounds: max(e, lo) == e is e >= lo, min(e, hi) == e is e <= hi. */
	__m256i ok =
		_mm256_and_si256(_mm256_cmpeq_epi32(id, want),
				 _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(e, lo), e),
						  _mm256_cmpeq_epi32(_mm256_min_epu32(e, hi), e)));

	if (_mm256_movemask_epi8(ok) != -1)
		return false;
	_mm_storeu_si128((__m128i *)lens,
			 _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
				 e, _mm256_set_epi32(6, 4, 2, 0, 7, 5, 3, 1))));
	return true;
}

/*
 * vectorized=1 on a split ring: the pending used entries four at a time, while they are
 * the buffers due, each a whole packet; the general burst for anything else (an id out
 * of turn, a bad length, more than one buffer, the ring's end in the middle of four, a
 * fault). Ids are due as on a packed ring (vuser_rx_lines_burst): posted 0..nb_desc-1 in
 * turn and reposted as taken, so a device using them in order returns them in that
 * cycle, and each id taken is one the device holds.
 */
static __rte_always_inline uint16_t
vuser_rx_split_lines_burst(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts, bool mrg)
{
	struct vuser_rxq *rxq = queue;
	struct vu_split_ring *r = &rxq->split;
	uint32_t lens[VUSER_BURST_MAX];
	uint16_t n = 0, max, pending, id = rxq->next_id;
	uint32_t cap;

	if (unlikely(rxq->halted || rxq->filtering || rxq->vlan_strip || rxq->offload))
		return mrg ? vuser_split_recv_mrg(queue, pkts, nb_pkts) :
			     vuser_split_recv(queue, pkts, nb_pkts);
	pending = vu_split_ring_used_pending(r);
	if (pending == 0)
		return 0;
	/* More than the buffers in flight: the general burst counts the fault. */
	if (likely(pending <= rxq->nb_desc)) {
		cap = vuser_rx_buf_len_of(rxq, rte_pktmbuf_data_room_size(rxq->mp));
		max = RTE_MIN(RTE_MIN(nb_pkts, (uint16_t)VUSER_BURST_MAX), pending);
		while (n + VU_PACKED_DESCS_PER_LINE <= max &&
		       ((r->last_used_idx + n) & r->mask) + VU_PACKED_DESCS_PER_LINE <= r->size &&
		       id + VU_PACKED_DESCS_PER_LINE <= rxq->nb_desc &&
		       vuser_rx_split_line_avx2(rxq, n, id, cap, &lens[n])) {
			for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++) {
				rte_prefetch0(rxq->sw_ring[id + k]);
				vuser_rx_prefetch_frame(rxq, rxq->sw_ring[id + k]);
				if (mrg)
					rte_prefetch0((const char *)rxq->sw_ring[id + k] +
						      rxq->hdr_hint);
			}
			n += VU_PACKED_DESCS_PER_LINE;
			id += VU_PACKED_DESCS_PER_LINE;
			if (id == rxq->nb_desc)
				id = 0;
		}
		if (mrg && n > 0)
			n = vuser_rx_lines_single(rxq, n);
	}
	if (n == 0)
		return mrg ? vuser_split_recv_mrg(queue, pkts, nb_pkts) :
			     vuser_split_recv(queue, pkts, nb_pkts);
	return vuser_rx_lines_take(rxq, pkts, n, lens, false);
}

VUSER_AVX2 uint16_t
vuser_split_recv_vec(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_split_lines_burst(queue, pkts, nb_pkts, false);
}

VUSER_AVX2 uint16_t
vuser_split_recv_vec_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_split_lines_burst(queue, pkts, nb_pkts, true);
}
#endif

#if defined(RTE_ARCH_X86_64)
VUSER_AVX2 uint16_t
vuser_packed_recv_vec(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, false, VUSER_RX_AVX2);
}

VUSER_AVX2 uint16_t
vuser_packed_recv_vec_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, true, VUSER_RX_AVX2);
}

VUSER_AVX512 uint16_t
vuser_packed_recv_avx512(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, false, VUSER_RX_AVX512);
}

VUSER_AVX512 uint16_t
vuser_packed_recv_avx512_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_lines_burst(queue, pkts, nb_pkts, true, VUSER_RX_AVX512);
}
#endif
