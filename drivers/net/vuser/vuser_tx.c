/* SPDX-License-Identifier: BSD-3-Clause */
/* Tx bursts for split and packed rings: descriptor writing, completion and in-order batches. */
#include <rte_net.h>
#include <rte_prefetch.h>

#if defined(RTE_ARCH_X86_64)
#include <immintrin.h>
#endif

#include "vuser_queue.h"

/* Give back everything buffer `id` held. */
static __rte_always_inline void
vuser_tx_release(struct vuser_txq *txq, bool packed, uint16_t id, struct vuser_free_batch *fb)
{
	struct vuser_tx_buf *buf = &txq->bufs[id];

	vuser_free_batch_add(fb, buf->m, buf->ndesc == 1);
	buf->m = NULL;
	if (packed) {
		if (!txq->in_order)
			txq->ids[txq->ids_top++] = id;
	} else {
		/* FIFO: the chain goes to the end of the free list (private links), so that
		 * descriptors are reused in ring order when the device completes in order. */
		bool list_empty = txq->num_free + (txq->size - txq->nb_desc) == 0;

		if (list_empty)
			txq->free_head = id;
		else
			txq->next[txq->free_tail] = id;
		txq->free_tail = buf->tail;
	}
	txq->num_free = (uint16_t)(txq->num_free + buf->ndesc);
}

/* A used entry with an id that is out of range or not in flight. */
static __rte_noinline void
vuser_tx_bad_id(struct vuser_txq *txq, uint32_t pos, uint32_t id)
{
	vuser_txq_fault(txq, id >= txq->size ? VUSER_FAULT_BAD_ID : VUSER_FAULT_DUPLICATE_ID, pos,
			id, 0);
}

/* A used entry for `id`: on a packed ring with IN_ORDER it also completes every buffer
 * made available before it ("the device ... only writing out a single used descriptor
 * with the Buffer ID corresponding to the last descriptor in the batch"; split rings with
 * IN_ORDER complete by the used index, vuser_tx_reclaim). Returns descriptors completed.
 * `pos` (ring position of the used entry) is for the log line of a bad id only. */
static __rte_always_inline uint16_t
vuser_tx_complete(struct vuser_txq *txq, bool packed, uint32_t id, uint32_t pos,
		  struct vuser_free_batch *fb)
{
	uint16_t before = txq->num_free;

	/* Out of range, or not in flight: completed twice, or never made available. */
	if (unlikely(id >= txq->size || txq->bufs[id].m == NULL)) {
		vuser_tx_bad_id(txq, pos, id);
		return 0;
	}
	if (txq->in_order && packed) {
		/* Ids are head slots (vuser_tx_packed_id): the buffers in flight are the chains
		 * from the used position on, one after another, the oldest first. */
		uint16_t done, slot = (uint16_t)pos;

		do {
			done = slot;
			slot = (uint16_t)(slot + txq->bufs[done].ndesc);
			if (slot >= txq->size)
				slot = (uint16_t)(slot - txq->size);
			vuser_tx_release(txq, packed, done, fb);
		} while (done != id && txq->num_free < txq->nb_desc);
	} else {
		vuser_tx_release(txq, packed, (uint16_t)id, fb);
	}
	return (uint16_t)(txq->num_free - before);
}

static __rte_always_inline void
vuser_tx_reclaim(struct vuser_txq *txq, bool packed)
{
	struct vuser_free_batch fb;

	fb.n = 0;
	fb.fast = txq->fast_free;
	if (packed) {
		struct vu_packed_ring *r = &txq->packed;

		while (txq->num_free < txq->nb_desc) {
			uint16_t id, ndesc;
			uint32_t len;
			uint16_t f = vu_packed_desc_read(&r->desc[r->used_idx], &id, &len) &
				VU_PACKED_DESC_F_AVAIL_USED;

			if (f != vu_packed_used_bits(r->used_wrap)) {
				/* With buffers in flight the used position holds a posted one. */
				if (unlikely(f != vu_packed_avail_bits(r->used_wrap)))
					vuser_txq_fault(txq, VUSER_FAULT_BAD_WRAP, r->used_idx, id,
							f);
				break;
			}
			ndesc = vuser_tx_complete(txq, packed, id, r->used_idx, &fb);
			/* A bad id says nothing of how far to skip: the queue stopped. */
			if (unlikely(ndesc == 0))
				break;
			/* The device skips the rest of the chain or batch, and so do we. */
			vu_packed_ring_used_advance(r, ndesc);
		}
	} else {
		struct vu_split_ring *r = &txq->split;
		uint16_t n = vu_split_ring_used_pending(r);

		/* No more than the buffers in flight can be used. */
		if (unlikely(n > (txq->in_order ? txq->order_count : txq->nb_desc))) {
			vuser_txq_fault(txq, VUSER_FAULT_BAD_USED_IDX, r->last_used_idx,
					(uint16_t)(r->last_used_idx + n), 0);
			return;
		}
		if (txq->in_order) {
			/* VIRTIO 1.2 2.7.9: with IN_ORDER the device "increments the used idx by
			 * the size of the batch"; the idx alone says the n oldest buffers are
			 * done, so the entries are not read and their lines stay with the device. */
			for (uint16_t i = 0; i < n; i++)
				vuser_tx_release(txq, packed, vuser_tx_order_pop(txq), &fb);
		} else {
			for (uint16_t i = 0; i < n; i++)
				vuser_tx_complete(txq, packed, vu_split_ring_used_elem(r, i)->id,
						  (uint16_t)(r->last_used_idx + i), &fb);
		}
		r->last_used_idx = (uint16_t)(r->last_used_idx + n);
	}
	vuser_free_batch_flush(&fb);
}

/* Write one descriptor of a chain. Split: at descriptor `*slot`, following the free list.
 * Packed: at the ring's fill position; the head's flags are left for the caller. */
static __rte_always_inline void
vuser_tx_desc(struct vuser_txq *txq, bool packed, uint16_t *slot, uint16_t id, uint64_t addr,
	      uint32_t len, bool more, bool head)
{
	if (packed) {
		struct vu_packed_ring *r = &txq->packed;
		struct vu_packed_desc *d = &r->desc[r->avail_idx];

		d->addr = addr;
		d->len = len;
		d->id = id;
		if (!head)
			d->flags = (uint16_t)(vu_packed_ring_avail_flags(r) |
					      (more ? VU_DESC_F_NEXT : 0));
		vu_packed_ring_avail_advance(r, 1);
	} else {
		struct vu_desc *d = &txq->split.desc[*slot];

		d->addr = addr;
		d->len = len;
		d->flags = more ? VU_DESC_F_NEXT : 0;
		if (more) {
			/* The device follows desc.next only within a chain: the link is written
			 * here, and only when it changed (the free list lives in txq->next). */
			*slot = txq->next[*slot];
			if (d->next != *slot)
				d->next = *slot;
		}
	}
}

/*
 * Single-descriptor packets on a packed ring are staged here and written a cache line
 * (four descriptors) at a time: a device polling its next slot then sees a whole line and
 * can take it as one batch (docs/performance.md, "What makes the difference").
 */
struct vuser_tx_line {
	uint16_t n;
	uint16_t slot; /* ring slot of d[0] */
	struct vu_packed_desc d[VU_PACKED_DESCS_PER_LINE];
};

static __rte_always_inline void
vuser_tx_line_flush(struct vuser_tx_line *l, struct vu_packed_ring *r)
{
	for (uint16_t i = 0; i < l->n; i++)
		vu_packed_desc_fill(r, &r->desc[l->slot + i], l->d[i].addr, l->d[i].len, l->d[i].id,
				    l->d[i].flags);
	l->n = 0;
}

/* Stage the descriptor for the ring's fill position and advance it; the line is written
 * when its last slot (or the ring's last slot) is staged, or by the flush at the end of
 * the burst or before a chain. */
static __rte_always_inline void
vuser_tx_stage(struct vuser_tx_line *l, struct vu_packed_ring *r, uint64_t addr, uint32_t len,
	       uint16_t id)
{
	uint16_t slot = r->avail_idx;
	struct vu_packed_desc *d = &l->d[l->n];

	if (l->n == 0)
		l->slot = slot;
	d->addr = addr;
	d->len = len;
	d->id = id;
	d->flags = vu_packed_ring_avail_flags(r);
	l->n++;
	vu_packed_ring_avail_advance(r, 1);
	if (vu_packed_line_offset((uint16_t)(slot + 1)) == 0 || slot + 1 == r->size)
		vuser_tx_line_flush(l, r);
}

/*
 * Ask for the ring lines the burst will fill, for writing, before filling them. They hold
 * used entries the device wrote, or descriptors it read: each store into such a line waits
 * for the line, and x86 commits stores in order, so behind that wait the store buffer fills
 * with the per-packet stores and the loop stalls, one line at a time. Asked for together,
 * the lines come in parallel.
 */
static __rte_always_inline void
vuser_tx_prefetch_lines(const struct vu_packed_ring *r, uint16_t n)
{
	uint16_t first = (uint16_t)(r->avail_idx - vu_packed_line_offset(r->avail_idx));
	uint16_t span = (uint16_t)(n + vu_packed_line_offset(r->avail_idx));

	for (uint16_t k = 0; k < span; k = (uint16_t)(k + VU_PACKED_DESCS_PER_LINE)) {
		uint16_t slot = (uint16_t)(first + k);

		if (slot >= r->size)
			slot = (uint16_t)(slot - r->size);
		vu_prefetch_write(&r->desc[slot]);
	}
}

/* The buffer id of a chain whose head goes into ring slot `head_slot` of a packed ring.
 * In order it is that slot: completions then walk the ring from the used position
 * (vuser_tx_complete) instead of keeping the ids' order on the side, as split rings must. */
static __rte_always_inline uint16_t
vuser_tx_packed_id(struct vuser_txq *txq, uint16_t head_slot)
{
	if (txq->in_order)
		return head_slot;
	return txq->ids[--txq->ids_top];
}

/* The bookkeeping of a packet made available as buffer `id` over `need` descriptors. */
static __rte_always_inline void
vuser_tx_account(struct vuser_txq *txq, bool packed, uint16_t id, struct rte_mbuf *m, uint16_t need,
		 uint32_t pkt_len, struct vuser_burst_tally *tally)
{
	txq->bufs[id].m = m;
	txq->bufs[id].ndesc = need;
	txq->num_free = (uint16_t)(txq->num_free - need);
	if (!packed && txq->in_order)
		vuser_tx_order_push(txq, id);
	vuser_tally_pkt(&txq->stats, tally, m, pkt_len);
}

/* Do the four packets each go out as one descriptor with the header pushed into its
 * headroom, as the general loop would send them (no VLAN tag to insert first)? Offload
 * requests need no test: vuser_tx_push_hdr writes them. */
static __rte_always_inline bool
vuser_tx_line_fits(const struct vuser_txq *txq, struct rte_mbuf *const *pkts)
{
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		if (pkts[k]->ol_flags & RTE_MBUF_F_TX_VLAN ||
		    !vuser_tx_can_push(pkts[k], txq->hdr_size))
			return false;
	return true;
}

/*
 * Four one-descriptor packets into the ring line at the fill position (line-aligned, room
 * checked by the caller): headers pushed, descriptors written back to back, bookkeeping
 * after. The general loop does the same a packet at a time through the staged line; this
 * keeps the four in registers, so the loop's stores are the ones that must happen.
 */
static __rte_always_inline void
vuser_tx_line_write(struct vuser_txq *txq, struct rte_mbuf *const *pkts,
		    struct vuser_burst_tally *tally)
{
	struct vu_packed_ring *r = &txq->packed;
	struct vu_packed_desc *d = &r->desc[r->avail_idx];
	uint16_t flags = vu_packed_ring_avail_flags(r);
	uint16_t ids[VU_PACKED_DESCS_PER_LINE];
	uint64_t addrs[VU_PACKED_DESCS_PER_LINE];

	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++) {
		ids[k] = vuser_tx_packed_id(txq, (uint16_t)(r->avail_idx + k));
		addrs[k] = vuser_tx_push_hdr(txq, pkts[k]);
	}
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		vu_packed_desc_fill(r, &d[k], addrs[k], pkts[k]->data_len + txq->hdr_size, ids[k],
				    flags);
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		vuser_tx_account(txq, true, ids[k], pkts[k], 1, pkts[k]->pkt_len, tally);
	vu_packed_ring_avail_advance(r, VU_PACKED_DESCS_PER_LINE);
}

#if defined(RTE_ARCH_X86_64)
#define VUSER_TX_AVX2 __attribute__((target("avx2")))
#define VUSER_TX_AVX512 __attribute__((target("avx512f")))

/* The mbuf words a SIMD line write reads, 16 bytes each: buf_addr; data_off, refcnt,
 * nb_segs, port and ol_flags; packet_type, pkt_len, data_len, vlan_tci. */
#define VUSER_TX_MB_ADDR offsetof(struct rte_mbuf, buf_addr)
#define VUSER_TX_MB_REARM offsetof(struct rte_mbuf, rearm_data)
#define VUSER_TX_MB_FIELDS offsetof(struct rte_mbuf, rx_descriptor_fields1)
_Static_assert(VUSER_TX_MB_ADDR == 0 && VUSER_TX_MB_REARM == 16 &&
		       offsetof(struct rte_mbuf, ol_flags) == 24 && VUSER_TX_MB_FIELDS == 32 &&
		       offsetof(struct rte_mbuf, data_len) == 40,
	       "the mbuf layout the SIMD Tx line write reads");

/* In each descriptor-sized lane: the low word of the rearm lane holds data_off (bits
 * 0-15), refcnt (16-31), nb_segs (32-47); the high word ol_flags. vuser_tx_line_fits
 * asks refcnt 1, one segment, a direct mbuf and no VLAN tag to insert. */
#define VUSER_TX_SIMD_REF_SEGS 0x0000ffffffff0000ull
#define VUSER_TX_SIMD_ONE_ONE (1ull << 16 | 1ull << 32)
#define VUSER_TX_SIMD_BAD_OL (RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)

static inline __m128i
vuser_tx_mb_word(const struct rte_mbuf *m, size_t off)
{
	return _mm_load_si128((const __m128i *)(const void *)((const char *)m + off));
}

/*
 * The four ids the line's buffers take, as vuser_tx_packed_id gives them in turn, into
 * ids and as four 64-bit lanes: in order the line's slots (it does not cross the ring's
 * end), else the top four of the free stack, the last pushed first.
 */
static inline VUSER_TX_AVX2 __m256i
vuser_tx_line_ids(struct vuser_txq *txq, uint16_t *ids)
{
	__m128i v;

	if (txq->in_order) {
		v = _mm_add_epi16(_mm_set1_epi16((short)txq->packed.avail_idx),
				  _mm_set_epi16(0, 0, 0, 0, 3, 2, 1, 0));
	} else {
		txq->ids_top = (uint16_t)(txq->ids_top - VU_PACKED_DESCS_PER_LINE);
		v = _mm_loadl_epi64((const __m128i *)(const void *)&txq->ids[txq->ids_top]);
		v = _mm_shufflelo_epi16(v, _MM_SHUFFLE(0, 1, 2, 3));
	}
	_mm_storel_epi64((__m128i *)(void *)ids, v);
	return _mm256_cvtepu16_epi64(v);
}

/* Store one descriptor with one aligned 16-byte move: the SDM guarantees atomicity for
 * 16-byte MOVDQA/VMOVDQA (VEX.128, EVEX.128) only, not for wider stores, so a device
 * never sees a descriptor's flags before its address. */
static __rte_always_inline void
vuser_tx_desc_store(struct vu_packed_desc *d, __m128i v)
{
	/* In a register, so that no wider or extracting store is folded in. */
	__asm__("" : "+x"(v));
	_mm_store_si128((__m128i *)(void *)d, v);
}

/* Before a SIMD line's descriptors: its headers pushed; after them (vuser_tx_desc_store,
 * in ring order) vuser_tx_line_done. */
static __rte_always_inline struct vu_packed_desc *
vuser_tx_line_hdrs(struct vuser_txq *txq, struct rte_mbuf *const *pkts)
{
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		vuser_tx_push_hdr(txq, pkts[k]);
	/* Headers first (x86 keeps stores in order; the compiler must too). */
	__atomic_signal_fence(__ATOMIC_RELEASE);
	return &txq->packed.desc[txq->packed.avail_idx];
}

/* The bookkeeping half of a SIMD line write: the buffers accounted, the fill position
 * advanced (as vuser_tx_line_write). */
static __rte_always_inline void
vuser_tx_line_done(struct vuser_txq *txq, struct rte_mbuf *const *pkts, const uint16_t *ids,
		   struct vuser_burst_tally *tally)
{
	for (uint16_t k = 0; k < VU_PACKED_DESCS_PER_LINE; k++)
		vuser_tx_account(txq, true, ids[k], pkts[k], 1, pkts[k]->pkt_len, tally);
	vu_packed_ring_avail_advance(&txq->packed, VU_PACKED_DESCS_PER_LINE);
}

/*
 * Two of a line's descriptors, pkts[0] and pkts[1], in the two 128-bit lanes of `*desc`
 * (address; len | id << 32 | flags << 48), built from the mbufs' words: address
 * buf_addr + data_off - hdr_size, length data_len + hdr_size. The ids are added by the
 * caller. Returns false when either packet is not what vuser_tx_line_fits asks.
 */
static inline VUSER_TX_AVX2 bool
vuser_tx_pair_avx2(const struct vuser_txq *txq, struct rte_mbuf *const *pkts, uint16_t flags,
		   __m256i *desc)
{
	__m256i addr = _mm256_set_m128i(vuser_tx_mb_word(pkts[1], VUSER_TX_MB_ADDR),
					vuser_tx_mb_word(pkts[0], VUSER_TX_MB_ADDR));
	__m256i rearm = _mm256_set_m128i(vuser_tx_mb_word(pkts[1], VUSER_TX_MB_REARM),
					 vuser_tx_mb_word(pkts[0], VUSER_TX_MB_REARM));
	__m256i fields = _mm256_set_m128i(vuser_tx_mb_word(pkts[1], VUSER_TX_MB_FIELDS),
					  vuser_tx_mb_word(pkts[0], VUSER_TX_MB_FIELDS));
	__m256i check = _mm256_and_si256(
		rearm,
		_mm256_set_epi64x((long long)VUSER_TX_SIMD_BAD_OL, VUSER_TX_SIMD_REF_SEGS,
				  (long long)VUSER_TX_SIMD_BAD_OL, VUSER_TX_SIMD_REF_SEGS));
	__m256i data_off = _mm256_and_si256(rearm, _mm256_set_epi64x(0, 0xffff, 0, 0xffff));
	/* Signed 64-bit compare, exact for 16-bit values; 0 > 0 is false in the high lanes. */
	__m256i bad = _mm256_or_si256(
		_mm256_xor_si256(_mm256_cmpeq_epi64(check,
						    _mm256_set_epi64x(0, VUSER_TX_SIMD_ONE_ONE, 0,
								      VUSER_TX_SIMD_ONE_ONE)),
				 _mm256_set1_epi64x(-1)),
		_mm256_cmpgt_epi64(_mm256_set_epi64x(0, txq->hdr_size, 0, txq->hdr_size),
				   data_off));
	uint64_t tail = (uint64_t)txq->hdr_size | (uint64_t)flags << 48;

	if (!_mm256_testz_si256(bad, bad))
		return false;
	/* The lanes' fields are disjoint, so one sum assembles each descriptor. */
	*desc = _mm256_add_epi64(
		_mm256_add_epi64(_mm256_and_si256(addr, _mm256_set_epi64x(0, -1, 0, -1)), data_off),
		_mm256_add_epi64(_mm256_and_si256(fields, _mm256_set_epi64x(0xffff, 0, 0xffff, 0)),
				 _mm256_set_epi64x((long long)tail, -(long long)txq->hdr_size,
						   (long long)tail, -(long long)txq->hdr_size)));
	return true;
}

/* vuser_tx_line_fits + vuser_tx_line_write with AVX2, a pair of descriptors per
 * register. Returns false, having changed nothing, when the line does not fit. */
static inline VUSER_TX_AVX2 bool
vuser_tx_line_avx2(struct vuser_txq *txq, struct rte_mbuf *const *pkts,
		   struct vuser_burst_tally *tally)
{
	uint16_t flags = vu_packed_ring_avail_flags(&txq->packed);
	uint16_t ids[VU_PACKED_DESCS_PER_LINE];
	struct vu_packed_desc *d;
	__m256i lo, hi, idv;

	if (!vuser_tx_pair_avx2(txq, pkts, flags, &lo) ||
	    !vuser_tx_pair_avx2(txq, pkts + 2, flags, &hi))
		return false;
	/* Each id to bits 32-47 of its descriptor's second word. */
	idv = _mm256_slli_epi64(vuser_tx_line_ids(txq, ids), 32);
	lo = _mm256_add_epi64(lo,
			      _mm256_and_si256(_mm256_permute4x64_epi64(idv, 0x50),
					       _mm256_set_epi64x(-1, 0, -1, 0)));
	hi = _mm256_add_epi64(hi,
			      _mm256_and_si256(_mm256_permute4x64_epi64(idv, 0xfa),
					       _mm256_set_epi64x(-1, 0, -1, 0)));
	d = vuser_tx_line_hdrs(txq, pkts);
	vuser_tx_desc_store(&d[0], _mm256_castsi256_si128(lo));
	vuser_tx_desc_store(&d[1], _mm256_extracti128_si256(lo, 1));
	vuser_tx_desc_store(&d[2], _mm256_castsi256_si128(hi));
	vuser_tx_desc_store(&d[3], _mm256_extracti128_si256(hi, 1));
	vuser_tx_line_done(txq, pkts, ids, tally);
	return true;
}

/* The four mbufs' 16-byte words at `off`, in ring order, one per 128-bit lane. */
static inline VUSER_TX_AVX512 __m512i
vuser_tx_quad_avx512(struct rte_mbuf *const *pkts, size_t off)
{
	__m256i lo =
		_mm256_set_m128i(vuser_tx_mb_word(pkts[1], off), vuser_tx_mb_word(pkts[0], off));
	__m256i hi =
		_mm256_set_m128i(vuser_tx_mb_word(pkts[3], off), vuser_tx_mb_word(pkts[2], off));

	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* vuser_tx_line_avx2 with AVX-512: the whole line of descriptors in one register. */
static inline VUSER_TX_AVX512 bool
vuser_tx_line_avx512(struct vuser_txq *txq, struct rte_mbuf *const *pkts,
		     struct vuser_burst_tally *tally)
{
	uint64_t tail =
		(uint64_t)txq->hdr_size | (uint64_t)vu_packed_ring_avail_flags(&txq->packed) << 48;
	__m512i addr = vuser_tx_quad_avx512(pkts, VUSER_TX_MB_ADDR);
	__m512i rearm = vuser_tx_quad_avx512(pkts, VUSER_TX_MB_REARM);
	__m512i fields = vuser_tx_quad_avx512(pkts, VUSER_TX_MB_FIELDS);
	__m512i data_off = _mm512_and_si512(rearm, _mm512_set4_epi64(0, 0xffff, 0, 0xffff));
	__m512i check = _mm512_and_si512(
		rearm,
		_mm512_set4_epi64((long long)VUSER_TX_SIMD_BAD_OL, VUSER_TX_SIMD_REF_SEGS,
				  (long long)VUSER_TX_SIMD_BAD_OL, VUSER_TX_SIMD_REF_SEGS));
	__mmask8 ok = _mm512_cmpeq_epi64_mask(check,
					      _mm512_set4_epi64(0, VUSER_TX_SIMD_ONE_ONE, 0,
								VUSER_TX_SIMD_ONE_ONE)) &
		_mm512_cmpge_epu64_mask(data_off,
					_mm512_set4_epi64(0, txq->hdr_size, 0, txq->hdr_size));
	uint16_t ids[VU_PACKED_DESCS_PER_LINE];
	struct vu_packed_desc *d;
	__m512i line, idv;

	if (ok != 0xff)
		return false;
	/* Each id to bits 32-47 of its descriptor's second word (the odd 64-bit lanes). */
	idv = _mm512_slli_epi64(_mm512_maskz_expand_epi64(
					0xaa, _mm512_castsi256_si512(vuser_tx_line_ids(txq, ids))),
				32);
	/* The lanes' fields are disjoint, so one sum assembles each descriptor. */
	line = _mm512_add_epi64(
		_mm512_add_epi64(_mm512_and_si512(addr, _mm512_set4_epi64(0, -1, 0, -1)), data_off),
		_mm512_add_epi64(_mm512_and_si512(fields, _mm512_set4_epi64(0xffff, 0, 0xffff, 0)),
				 _mm512_add_epi64(idv,
						  _mm512_set4_epi64((long long)tail,
								    -(long long)txq->hdr_size,
								    (long long)tail,
								    -(long long)txq->hdr_size))));
	d = vuser_tx_line_hdrs(txq, pkts);
	vuser_tx_desc_store(&d[0], _mm512_castsi512_si128(line));
	vuser_tx_desc_store(&d[1], _mm512_extracti32x4_epi32(line, 1));
	vuser_tx_desc_store(&d[2], _mm512_extracti32x4_epi32(line, 2));
	vuser_tx_desc_store(&d[3], _mm512_extracti32x4_epi32(line, 3));
	vuser_tx_line_done(txq, pkts, ids, tally);
	return true;
}
#endif

/* Which line write a packed burst uses: vuser_pick_bursts chose the ISA at port start. */
enum vuser_tx_simd {
	VUSER_TX_SCALAR,
	VUSER_TX_SIMD256,
	VUSER_TX_SIMD512,
};

/* A whole ring line of one-descriptor packets at the fill position (line-aligned, room
 * checked by the caller); false, nothing changed, when the four do not fit. */
static __rte_always_inline bool
vuser_tx_line(struct vuser_txq *txq, struct rte_mbuf *const *pkts, struct vuser_burst_tally *tally,
	      enum vuser_tx_simd simd)
{
#if defined(RTE_ARCH_X86_64)
	if (simd == VUSER_TX_SIMD512)
		return vuser_tx_line_avx512(txq, pkts, tally);
	if (simd == VUSER_TX_SIMD256)
		return vuser_tx_line_avx2(txq, pkts, tally);
#endif
	RTE_SET_USED(simd);
	if (!vuser_tx_line_fits(txq, pkts))
		return false;
	vuser_tx_line_write(txq, pkts, tally);
	return true;
}

/* Write a packet that takes a descriptor chain (several segments, or a header of its own)
 * at the ring's fill position (packed) or from the free list (split). Returns its buffer
 * id; the caller does the bookkeeping. */
static __rte_always_inline uint16_t
vuser_tx_chain(struct vuser_txq *txq, bool packed, struct rte_mbuf *m, bool push, uint16_t need,
	       struct vuser_tx_line *line)
{
	uint16_t head_slot, head_flags = 0, id, slot;
	uint64_t push_addr = 0;

	if (packed) {
		/* Written in place: the ring's slots are filled in order. */
		vuser_tx_line_flush(line, &txq->packed);
		head_slot = txq->packed.avail_idx;
		id = vuser_tx_packed_id(txq, head_slot);
		head_flags = (uint16_t)(vu_packed_ring_avail_flags(&txq->packed) |
					(need > 1 ? VU_DESC_F_NEXT : 0));
	} else {
		id = txq->free_head;
		head_slot = id;
	}
	slot = id;
	if (push) {
		push_addr = vuser_tx_push_hdr(txq, m);
	} else {
		/* Slots start zeroed; only offload requests need writing. */
		if (txq->offload)
			vuser_tx_fill_hdr(txq, &txq->hdrs[id], m);
		vuser_tx_desc(txq, packed, &slot, id, (uint64_t)(uintptr_t)&txq->hdrs[id],
			      txq->hdr_size, true, true);
	}
	for (struct rte_mbuf *seg = m; seg; seg = seg->next) {
		bool pushed = push && seg == m;

		vuser_tx_desc(txq, packed, &slot, id, pushed ? push_addr : vuser_mbuf_addr(seg),
			      seg->data_len + (pushed ? txq->hdr_size : 0u), seg->next != NULL,
			      pushed);
	}
	if (packed) {
		/* Last: the device must never see half a chain. */
		vu_packed_desc_publish(&txq->packed.desc[head_slot], head_flags);
	} else {
		txq->bufs[id].tail = slot;
		txq->free_head = txq->next[slot];
		vu_split_ring_avail_add(&txq->split, id);
	}
	return id;
}

/* Insert the VLAN tag of the mbuf's vlan_tci in front of the payload; a packet that cannot
 * take it (shared or indirect mbuf, no headroom) is dropped and counted. Returns true
 * when the packet is gone. */
static bool
vuser_tx_vlan_insert(struct vuser_txq *txq, struct rte_mbuf **m)
{
	if (likely(rte_vlan_insert(m) == 0))
		return false;
	txq->stats.errors++;
	rte_pktmbuf_free(*m);
	return true;
}

/*
 * Room a burst waits for when the ring is nearly full: the whole burst, up to 32 (or half
 * a small ring). Taking whatever room the last completions left would hand a slower
 * backend a few descriptors at a time, and both sides would settle on small batches
 * (docs/performance.md, "What makes the difference").
 */
static __rte_always_inline uint16_t
vuser_tx_whole_burst(const struct vuser_txq *txq, uint16_t nb_pkts)
{
	return RTE_MIN(nb_pkts, RTE_MIN((uint16_t)32, (uint16_t)(txq->nb_desc / 2)));
}

/*
 * Each header goes into its mbuf's headroom, a line the device touched last (it wrote a
 * received packet's header there, or read the previous packet's): start fetching them all
 * at the start of the burst, so the misses overlap each other and the completions instead
 * of stalling the loop one packet at a time.
 *
 * With MRG_RXBUF a forwarded header must have num_buffers set to 0 ("The driver MUST set
 * num_buffers to zero", virtio 1.2 5.1.6.2.1), so its line is fetched for writing; without
 * it the header is left alone and a plain prefetch keeps the line shared with the device.
 */
static __rte_always_inline void
vuser_tx_prefetch_hdrs(const struct vuser_txq *txq, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		const char *hdr = rte_pktmbuf_mtod_offset(pkts[i], char *, -(int)txq->hdr_size);

		/* Not rte_prefetch0_write: for the baseline -march DPDK is built for, it compiles
		 * to PREFETCHT0. vuser_txq_start checked that the CPU has PREFETCHW; where it
		 * does not, the plain prefetch stays (there PREFETCHW would be a NOP). */
		if (txq->hdr_prefetchw)
			vu_prefetch_write(hdr);
		else
			rte_prefetch0(hdr);
	}
}

static __rte_always_inline uint16_t
vuser_tx_burst(struct vuser_txq *txq, struct rte_mbuf **pkts, uint16_t nb_pkts, bool packed,
	       enum vuser_tx_simd simd)
{
	struct vuser_burst_tally tally = { 0 };
	uint16_t ntx = 0, sent = 0;
	struct vuser_tx_line line = { .n = 0 };

	/* A corrupt ring (vuser_fault.h) is left alone: the caller keeps every packet. */
	if (unlikely(txq->halted))
		return 0;
	vuser_tx_prefetch_hdrs(txq, pkts, RTE_MIN(nb_pkts, VUSER_BURST_MAX));
	/* Completions first, every burst: the mbufs go back while still warm in the cache. */
	vuser_tx_reclaim(txq, packed);
	if (unlikely(txq->halted))
		return 0;
	if (txq->num_free < vuser_tx_whole_burst(txq, nb_pkts))
		return 0; /* the caller keeps every packet */
	if (packed)
		vuser_tx_prefetch_lines(&txq->packed, RTE_MIN(nb_pkts, txq->num_free));
	for (; ntx < nb_pkts; ntx++) {
		struct rte_mbuf *m = pkts[ntx];
		bool push;

		/* A whole ring line of one-descriptor packets (the staged line is empty at a
		 * line's first slot). */
		if (packed && vu_packed_line_offset(txq->packed.avail_idx) == 0 &&
		    (unsigned int)(nb_pkts - ntx) >= VU_PACKED_DESCS_PER_LINE &&
		    txq->num_free >= VU_PACKED_DESCS_PER_LINE &&
		    txq->packed.avail_idx + VU_PACKED_DESCS_PER_LINE <= txq->packed.size &&
		    vuser_tx_line(txq, &pkts[ntx], &tally, simd)) {
			sent = (uint16_t)(sent + VU_PACKED_DESCS_PER_LINE);
			ntx = (uint16_t)(ntx + VU_PACKED_DESCS_PER_LINE - 1);
			continue;
		}

		/* RTE_ETH_TX_OFFLOAD_VLAN_INSERT in software, as DPDK's virtio does. */
		if (unlikely(m->ol_flags & RTE_MBUF_F_TX_VLAN) &&
		    vuser_tx_vlan_insert(txq, &pkts[ntx]))
			continue;
		m = pkts[ntx];
		push = vuser_tx_can_push(m, txq->hdr_size);
		uint16_t need = (uint16_t)(m->nb_segs + !push);
		uint32_t pkt_len = m->pkt_len;
		uint16_t id;

		if (unlikely(need > txq->num_free)) {
			if (likely(need <= txq->nb_desc))
				break; /* ring full: the caller keeps the rest */
			/* A chain longer than the ring can never be sent. */
			txq->stats.errors++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (packed && push && m->nb_segs == 1) {
			/* One descriptor, staged and written with the rest of its cache line. */
			id = vuser_tx_packed_id(txq, txq->packed.avail_idx);
			vuser_tx_stage(&line, &txq->packed, vuser_tx_push_hdr(txq, m),
				       m->data_len + txq->hdr_size, id);
		} else {
			id = vuser_tx_chain(txq, packed, m, push, need, &line);
		}
		vuser_tx_account(txq, packed, id, m, need, pkt_len, &tally);
		sent++;
	}
	if (packed)
		vuser_tx_line_flush(&line, &txq->packed);
	if (unlikely(sent == 0))
		return ntx;
	vuser_ring_publish(txq->port, vuser_txq_vq_index(txq), &txq->split, &txq->packed, packed);
	/* The next burst starts by reading used->idx: ask for its line now, so that it comes
	 * while the application does the rest of its loop. */
	if (!packed)
		rte_prefetch0(&txq->split.used->idx);
	vuser_tally_add(&txq->stats, &tally, sent);
	return ntx;
}

uint16_t
vuser_split_xmit(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_tx_burst(queue, pkts, nb_pkts, false, VUSER_TX_SCALAR);
}

uint16_t
vuser_packed_xmit(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_tx_burst(queue, pkts, nb_pkts, true, VUSER_TX_SCALAR);
}

#if defined(RTE_ARCH_X86_64)
VUSER_TX_AVX2 uint16_t
vuser_packed_xmit_avx2(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_tx_burst(queue, pkts, nb_pkts, true, VUSER_TX_SIMD256);
}

VUSER_TX_AVX512 uint16_t
vuser_packed_xmit_avx512(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_tx_burst(queue, pkts, nb_pkts, true, VUSER_TX_SIMD512);
}
#endif

/*
 * rte_eth_tx_prepare: the pseudo-header checksum the offloads expect in the L4 header.
 * With VIRTIO_NET_F_MTU, "the driver MUST NOT transmit packets of size exceeding the value
 * of mtu (plus low level ethernet header length) with gso_type NONE or ECN" (spec
 * 5.1.4.2): a longer frame without TSO stops the burst there, with EINVAL.
 */
uint16_t
vuser_tx_prepare(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	const struct vuser_txq *txq = queue;

	for (uint16_t i = 0; i < nb_pkts; i++) {
		int rc;

		if (unlikely(pkts[i]->pkt_len > txq->max_frame) &&
		    !(pkts[i]->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) {
			rte_errno = EINVAL;
			return i;
		}
		if (!(pkts[i]->ol_flags & VUSER_TX_OFFLOAD_FLAGS))
			continue;
		rc = rte_net_intel_cksum_prepare(pkts[i]);
		if (rc != 0) {
			rte_errno = -rc;
			return i;
		}
	}
	return nb_pkts;
}
