/* SPDX-License-Identifier: BSD-3-Clause */
/* Rx/Tx queue state of the net_vuser PMD and the inline helpers all ring layouts share. */
#ifndef VUSER_QUEUE_H
#define VUSER_QUEUE_H

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "vu_ring.h"
#include "vu_ring_packed.h"
#include "vuser_fault.h"
#include "vuser_offload.h"
#include "vuser.h"

/* Most used entries handled per burst call (bounds the on-stack arrays). */
#define VUSER_BURST_MAX 64

/* Frame size buckets of the xstats: <64, 64, 65-127, 128-255, 256-511, 512-1023,
 * 1024-1518, >=1519 (the RFC 2819 etherStatsPkts ranges DPDK drivers report). */
#define VUSER_SIZE_BINS 8

/* The per-queue counters, named in vuser_xstats.c. multicast excludes broadcast, as DPDK's
 * virtio counts them. */
struct vuser_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors;
	uint64_t multicast;
	uint64_t broadcast;
	uint64_t size_bins[VUSER_SIZE_BINS];
	uint64_t faults[VUSER_FAULT_N]; /* used entries the backend got wrong, by kind */
};

/* The bin of the power of two at or below len (2^6 -> 2 ... 2^10 -> 6; clz ^ 31 is the
 * highest bit set), moved for the two ranges that do not start at one: 64 alone, and 1519
 * up. Conditional moves and flags, no branch: mixed sizes mispredict nothing. */
static inline unsigned int
vuser_size_bin(uint32_t len)
{
	unsigned int log2 = (unsigned int)__builtin_clz(len | 1u) ^ 31u;

	log2 = RTE_MIN(RTE_MAX(log2, 5u), 10u);
	return log2 - 4u - (len <= 64) + (len >= 1519);
}

/* What a burst counts per packet besides its size bin: kept in registers and added to the
 * queue's counters once per burst. */
struct vuser_burst_tally {
	uint64_t bytes;
	uint32_t multicast;
	uint32_t broadcast;
};

/*
 * Count one packet of len bytes. The destination is a group address when its I/G bit (bit
 * 0 of the first octet) is set, broadcast when all 48 bits are; no branch on either. A
 * frame shorter than an address counts as neither.
 */
static __rte_always_inline void
vuser_tally_pkt(struct vuser_queue_stats *st, struct vuser_burst_tally *t, const struct rte_mbuf *m,
		uint32_t len)
{
	const uint8_t *dst = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t lo, whole = m->data_len >= RTE_ETHER_ADDR_LEN, bcast;
	uint16_t hi;

	memcpy(&lo, dst, sizeof(lo));
	memcpy(&hi, dst + sizeof(lo), sizeof(hi));
	bcast = (lo == UINT32_MAX) & (hi == UINT16_MAX) & whole;
	t->broadcast += bcast;
	t->multicast += ((dst[0] & 1u) & whole) ^ bcast;
	t->bytes += len;
	st->size_bins[vuser_size_bin(len)]++;
}

static __rte_always_inline void
vuser_tally_add(struct vuser_queue_stats *st, const struct vuser_burst_tally *t, uint16_t n)
{
	st->packets += n;
	st->bytes += t->bytes;
	st->multicast += t->multicast;
	st->broadcast += t->broadcast;
}

struct vuser_rxq {
	union {
		struct vu_split_ring split;
		struct vu_packed_ring packed;
	};
	struct rte_mbuf **sw_ring; /* mbuf posted under each buffer id */
	struct rte_mempool *mp;
	struct vuser_port *port;
	uint16_t size;	  /* ring size */
	uint16_t nb_desc; /* buffers kept posted */
	uint16_t hdr_size;
	uint16_t port_id;
	uint16_t queue_id;
	uint32_t hdr_hint;	/* a pool mbuf's header, bytes from the mbuf's start */
	bool mrg;		/* VIRTIO_NET_F_MRG_RXBUF: a packet may span buffers */
	bool filtering;		/* the receive filter can drop frames */
	bool offload;		/* GUEST_CSUM or GUEST_TSO*: read the header's flags */
	bool vlan_strip;	/* RTE_ETH_RX_OFFLOAD_VLAN_STRIP, done in software */
	bool in_order;		/* VIRTIO_F_IN_ORDER: buffers come back as posted */
	bool halted;		/* ring state corrupt: no burst touches it until restart */
	uint16_t next_id;	/* in-order: the id due next (posted ids cycle 0..nb_desc-1) */
	uint32_t epoch;		/* count of bursts that took entries (never 0) */
	uint32_t *posted_epoch; /* by id: the burst that last posted it (duplicate check) */
	uint32_t filter_seq;	/* version of `filter` (see vuser_filter.h) */
	uint64_t nombuf;
	uint64_t filtered; /* frames the receive filter dropped */
	struct vuser_queue_stats stats;
	const struct rte_memzone *mz;
	struct vu_rx_filter filter;
	struct vuser_fault_log fault_log;
};

/* What one in-flight Tx buffer holds, by buffer id. */
struct vuser_tx_buf {
	struct rte_mbuf *m;
	uint16_t ndesc; /* descriptors the chain takes */
	uint16_t tail;	/* split: last descriptor of the chain */
};

struct vuser_txq {
	union {
		struct vu_split_ring split;
		struct vu_packed_ring packed;
	};
	struct vuser_tx_buf *bufs; /* by buffer id (split: the head descriptor id; packed
				    * in-order: the head's ring slot) */
	uint16_t *ids;		   /* packed without in-order: free buffer ids (a stack) */
	uint16_t *order;	   /* split in-order: buffer ids in the order made available */
	uint16_t *next;		   /* split: the free list's links, kept out of ring memory:
				    * desc.next is written only inside a chain being built */
	struct vu_net_hdr *hdrs;   /* a zeroed header slot per buffer id, in ring memory */
	struct vuser_port *port;
	uint16_t size;
	uint16_t nb_desc;     /* descriptors allowed in flight */
	uint16_t num_free;    /* descriptors (slots) free now */
	uint16_t free_head;   /* split: first free descriptor */
	uint16_t free_tail;   /* split: last free descriptor */
	uint16_t ids_top;     /* packed without in-order: free ids on the stack */
	uint16_t order_head;  /* split in-order: oldest in-flight entry of `order` */
	uint16_t order_tail;  /* split in-order: next entry of `order` to fill */
	uint16_t order_count; /* split in-order: buffers in flight */
	uint16_t hdr_size;
	uint16_t queue_id;
	bool in_order;	    /* VIRTIO_F_IN_ORDER: one used entry may complete a batch */
	bool offload;	    /* CSUM negotiated: headers carry checksum/TSO requests */
	bool fast_free;	    /* RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE */
	bool hdr_prefetchw; /* MRG_RXBUF and a CPU with PREFETCHW: fetch the header
				    * lines for writing (vuser_tx_prefetch_hdrs) */
	bool halted;	    /* ring state corrupt: no burst touches it until restart */
	struct vuser_queue_stats stats;
	const struct rte_memzone *mz;
	struct vuser_fault_log fault_log;
	uint32_t max_frame; /* longest frame rte_eth_tx_prepare passes (vuser_tx_prepare) */
};

/* Virtqueue indexes: rx of pair i is 2i, tx is 2i + 1 (spec 5.1.2). */
static inline uint16_t
vuser_rxq_vq_index(const struct vuser_rxq *rxq)
{
	return (uint16_t)(2 * rxq->queue_id);
}

static inline uint16_t
vuser_txq_vq_index(const struct vuser_txq *txq)
{
	return (uint16_t)(2 * txq->queue_id + 1);
}

/*
 * After a burst made buffers available: publish them (split: the avail index; a packed
 * ring's descriptors were published as they were written), then kick the device if it
 * asks for it. rxq and txq keep `split` and `packed` in the same union.
 */
static __rte_always_inline void
vuser_ring_publish(struct vuser_port *port, uint16_t vq_index, struct vu_split_ring *split,
		   const struct vu_packed_ring *packed_ring, bool packed)
{
	bool kick;

	if (packed) {
		kick = vu_packed_ring_needs_kick(packed_ring);
	} else {
		vu_split_ring_avail_publish(split);
		kick = vu_split_ring_needs_kick(split);
	}
	if (unlikely(kick))
		vuser_glue_notify(port, vq_index);
}

uint16_t vuser_split_recv(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_split_recv_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_split_xmit(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_lines(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_lines_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
#if defined(RTE_ARCH_X86_64)
uint16_t vuser_packed_recv_vec(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_vec_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_avx512(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_recv_avx512_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_split_recv_vec(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_split_recv_vec_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
#endif
uint16_t vuser_packed_xmit(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
#if defined(RTE_ARCH_X86_64)
uint16_t vuser_packed_xmit_avx2(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_packed_xmit_avx512(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
#endif

/* Fetch the first line of the frame a posted buffer will hold, whose destination address
 * the xstats read at the end of the burst: the device wrote it from another core, and
 * asking for all of a burst's lines early lets their transfers overlap. The address comes
 * from the pool's layout (hdr_hint); it is only a hint. */
static __rte_always_inline void
vuser_rx_prefetch_frame(const struct vuser_rxq *rxq, const struct rte_mbuf *m)
{
	rte_prefetch0((const void *)((uintptr_t)m + rxq->hdr_hint + rxq->hdr_size));
}

/* Where a posted Rx buffer starts: the header goes in the headroom right before the data,
 * so the packet lands at the usual data offset. */
static inline uint64_t
vuser_rx_buf_addr(const struct vuser_rxq *rxq, const struct rte_mbuf *m)
{
	return (uint64_t)(uintptr_t)m->buf_addr + RTE_PKTMBUF_HEADROOM - rxq->hdr_size;
}

/* What the device may write into a posted buffer of buf_len bytes: header + data room. */
static inline uint32_t
vuser_rx_buf_len_of(const struct vuser_rxq *rxq, uint32_t buf_len)
{
	return buf_len - RTE_PKTMBUF_HEADROOM + rxq->hdr_size;
}

static inline uint32_t
vuser_rx_buf_len(const struct vuser_rxq *rxq, const struct rte_mbuf *m)
{
	return vuser_rx_buf_len_of(rxq, m->buf_len);
}

/* The header of a received packet, in front of its first buffer's data. */
static inline const struct vu_net_hdr *
vuser_rx_hdr(const struct vuser_rxq *rxq, const struct rte_mbuf *m)
{
	return (const struct vu_net_hdr *)(uintptr_t)vuser_rx_buf_addr(rxq, m);
}

/* Buffer `id` now holds m: the bookkeeping half of posting, done at once so that a
 * second used entry for the same id in this burst is seen as a duplicate. */
static __rte_always_inline void
vuser_rx_assign(struct vuser_rxq *rxq, uint16_t id, struct rte_mbuf *m)
{
	rxq->sw_ring[id] = m;
	rxq->posted_epoch[id] = rxq->epoch;
}

/* Write the packed descriptor for buffer `id` (assigned already) at the fill position with
 * `flags`, and advance the position. Returns the descriptor written. */
static __rte_always_inline struct vu_packed_desc *
vuser_rx_fill_packed(struct vuser_rxq *rxq, uint16_t id, uint16_t flags)
{
	struct vu_packed_ring *r = &rxq->packed;
	struct vu_packed_desc *d = &r->desc[r->avail_idx];
	struct rte_mbuf *m = rxq->sw_ring[id];

	vu_packed_desc_fill(r, d, vuser_rx_buf_addr(rxq, m), vuser_rx_buf_len(rxq, m), id, flags);
	vu_packed_ring_avail_advance(r, 1);
	return d;
}

/* Hand buffer `id` (assigned already) to the device: split descriptors keep their WRITE
 * flag from the queue's start, packed ones get the flags of the current lap, written
 * last. */
static __rte_always_inline void
vuser_rx_give(struct vuser_rxq *rxq, bool packed, uint16_t id)
{
	if (packed) {
		uint16_t flags = VU_DESC_F_WRITE | vu_packed_ring_avail_flags(&rxq->packed);

		vuser_rx_fill_packed(rxq, id, flags);
	} else {
		struct vu_desc *d = &rxq->split.desc[id];
		struct rte_mbuf *m = rxq->sw_ring[id];

		d->addr = vuser_rx_buf_addr(rxq, m);
		d->len = vuser_rx_buf_len(rxq, m);
		vu_split_ring_avail_add(&rxq->split, id);
	}
}

/*
 * Hand the burst's buffers back on a packed ring, the first one last: its slot keeps the
 * used flags it has until every other descriptor is written, then one release store makes
 * them all available at once (as for the head of a chain). The device takes available
 * descriptors in ring order, so the later ones wait for the first; it polls that slot, and
 * seeing the whole refill at once DPDK's vhost fills it four descriptors at a time.
 */
static __rte_always_inline void
vuser_rx_give_packed_all(struct vuser_rxq *rxq, const uint16_t *give, uint16_t ngive)
{
	struct vu_packed_ring *r = &rxq->packed;
	struct vu_packed_desc *head;
	uint16_t head_flags;

	if (ngive == 0)
		return;
	head_flags = (uint16_t)(VU_DESC_F_WRITE | vu_packed_ring_avail_flags(r));
	/* Written with the flags its slot has now: not available yet. */
	head = vuser_rx_fill_packed(rxq, give[0], r->desc[r->avail_idx].flags);
	for (uint16_t i = 1; i < ngive; i++)
		vuser_rx_give(rxq, true, give[i]);
	vu_packed_desc_publish(head, head_flags);
}

static __rte_always_inline void
vuser_rx_post(struct vuser_rxq *rxq, bool packed, uint16_t id, struct rte_mbuf *m)
{
	vuser_rx_assign(rxq, id, m);
	vuser_rx_give(rxq, packed, id);
}

/* The fields vuser_rx_first_seg writes as words: rearm_data (data_off, refcnt, nb_segs,
 * port), and packet_type, pkt_len, data_len, vlan_tci of rx_descriptor_fields1. */
#define VUSER_REARM_OFF(field) \
	(offsetof(struct rte_mbuf, field) - offsetof(struct rte_mbuf, data_off))
#define VUSER_RXD_OFF(field) \
	(offsetof(struct rte_mbuf, field) - offsetof(struct rte_mbuf, rx_descriptor_fields1))
_Static_assert(VUSER_REARM_OFF(refcnt) == 2 && VUSER_REARM_OFF(nb_segs) == 4 &&
		       VUSER_REARM_OFF(port) == 6 && sizeof(((struct rte_mbuf *)0)->refcnt) == 2,
	       "rearm_data: data_off, refcnt, nb_segs, port");
_Static_assert(VUSER_RXD_OFF(packet_type) == 0 && VUSER_RXD_OFF(pkt_len) == 4 &&
		       VUSER_RXD_OFF(data_len) == 8 && VUSER_RXD_OFF(vlan_tci) == 10,
	       "rx_descriptor_fields1: packet_type, pkt_len, data_len, vlan_tci");

/* Turn the first buffer of a packet into the head mbuf; len includes the header. The mbuf
 * came raw from its pool (refcnt 1, nb_segs 1, next NULL); every field an application
 * reads on a received packet is set here, all in the mbuf's first cache line, in three
 * word stores and the flags. An mbuf of a pinned external buffer pool keeps its
 * RTE_MBUF_F_EXTERNAL flag, as rte_pktmbuf_reset keeps it. */
static inline void
vuser_rx_first_seg(const struct vuser_rxq *rxq, struct rte_mbuf *m, uint32_t len)
{
	uint32_t data = len - rxq->hdr_size;
	uint64_t rearm = RTE_PKTMBUF_HEADROOM | (uint64_t)1 << 16 | (uint64_t)1 << 32 |
		(uint64_t)rxq->port_id << 48;
	uint64_t type_len = (uint64_t)data << 32; /* packet_type 0, pkt_len */
	uint32_t dlen_tci = (uint16_t)data;	  /* data_len, vlan_tci 0 */

	memcpy(&m->data_off, &rearm, sizeof(rearm));
	m->ol_flags &= RTE_MBUF_F_EXTERNAL;
	memcpy(&m->rx_descriptor_fields1, &type_len, sizeof(type_len));
	memcpy((uint8_t *)&m->rx_descriptor_fields1 + VUSER_RXD_OFF(data_len), &dlen_tci,
	       sizeof(dlen_tci));
}

/* Append a further buffer of a mergeable packet: it holds data from its first byte. */
static inline void
vuser_rx_append_seg(const struct vuser_rxq *rxq, struct rte_mbuf *head, struct rte_mbuf *last,
		    struct rte_mbuf *seg, uint32_t len)
{
	seg->data_off = (uint16_t)(RTE_PKTMBUF_HEADROOM - rxq->hdr_size);
	seg->data_len = (uint16_t)len;
	seg->next = NULL;
	last->next = seg;
	head->nb_segs++;
	head->pkt_len += len;
}

/* A used length the buffer could not have held, or with no packet after the header. */
static inline bool
vuser_rx_len_bad(const struct vuser_rxq *rxq, const struct rte_mbuf *m, uint32_t len, bool first)
{
	return (first && len <= rxq->hdr_size) || len > vuser_rx_buf_len(rxq, m);
}

/* The header can share the first descriptor when it fits in a headroom we own. */
static inline bool
vuser_tx_can_push(const struct rte_mbuf *m, uint16_t hdr_size)
{
	return rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) && m->nb_segs == 1 &&
		rte_pktmbuf_headroom(m) >= hdr_size;
}

/* A zero header (hdr_size is 12 with VERSION_1, 10 for legacy). The header sits in the
 * mbuf headroom, on a line the device read when it took the buffer's last packet: when it
 * is zero already (the usual case for a recycled mbuf) it is only read, so the line stays
 * shared instead of being pulled back from the device's cache for a store of the same
 * zeroes (DPDK's virtio does the same, "to lessen cache issues"). */
static inline void
vuser_tx_zero_hdr(void *hdr, uint16_t hdr_size)
{
	const uint64_t zero8 = 0;
	uint64_t head;
	uint32_t tail;
	size_t tail_len = hdr_size - sizeof(head);

	memcpy(&head, hdr, sizeof(head));
	/* Constant sizes, so that no memcpy call is left in the burst. */
	if (likely(hdr_size == sizeof(struct vu_net_hdr))) {
		memcpy(&tail, (uint8_t *)hdr + sizeof(head), sizeof(tail));
	} else {
		uint16_t tail2;

		memcpy(&tail2, (uint8_t *)hdr + sizeof(head), sizeof(tail2));
		tail = tail2;
	}
	if (likely((head | tail) == 0))
		return;
	memcpy(hdr, &zero8, sizeof(zero8));
	memset((uint8_t *)hdr + sizeof(head), 0, tail_len);
}

/* Write the header of m to hdr: zeroes, or the offload requests when negotiated. */
static inline void
vuser_tx_fill_hdr(const struct vuser_txq *txq, void *hdr, const struct rte_mbuf *m)
{
	struct vu_net_hdr full;

	if (likely(!txq->offload || !(m->ol_flags & VUSER_TX_OFFLOAD_FLAGS))) {
		vuser_tx_zero_hdr(hdr, txq->hdr_size);
		return;
	}
	vuser_tx_offload_hdr(&full, m);
	memcpy(hdr, &full, txq->hdr_size == sizeof(full) ? sizeof(full) : VU_NET_HDR_LEGACY_SIZE);
}

/*
 * Put the header in the mbuf's headroom, right in front of the data; the descriptor then
 * covers header + data from the address returned. The mbuf itself is left as it is: it is
 * freed once sent, so moving data_off and the lengths (rte_pktmbuf_prepend) would be three
 * stores per packet that nobody reads.
 */
static inline uint64_t
vuser_tx_push_hdr(const struct vuser_txq *txq, const struct rte_mbuf *m)
{
	void *hdr = rte_pktmbuf_mtod_offset(m, char *, -(int)txq->hdr_size);

	vuser_tx_fill_hdr(txq, hdr, m);
	return (uint64_t)(uintptr_t)hdr;
}

static inline uint64_t
vuser_mbuf_addr(const struct rte_mbuf *m)
{
	return (uint64_t)(uintptr_t)rte_pktmbuf_mtod(m, void *);
}

/* Collects mbufs to free and frees them in bulk. With RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE
 * the application guarantees one mempool per queue and a reference count of 1, so
 * single-segment mbufs go straight back to their pool. */
struct vuser_free_batch {
	uint16_t n;
	bool fast;
	struct rte_mbuf *m[VUSER_BURST_MAX];
};

static inline void
vuser_free_batch_flush(struct vuser_free_batch *b)
{
	if (b->n == 0)
		return;
	if (b->fast)
		rte_mempool_put_bulk(b->m[0]->pool, (void **)b->m, b->n);
	else
		rte_pktmbuf_free_bulk(b->m, b->n);
	b->n = 0;
}

/* one_seg: the caller knows m has a single segment (it took one descriptor), so the
 * fast path need not read the mbuf, whose line may have gone cold since it was sent. */
static inline void
vuser_free_batch_add(struct vuser_free_batch *b, struct rte_mbuf *m, bool one_seg)
{
	if (b->fast && !one_seg && unlikely(m->nb_segs != 1)) {
		rte_pktmbuf_free(m);
		return;
	}
	b->m[b->n++] = m;
	if (unlikely(b->n == VUSER_BURST_MAX))
		vuser_free_batch_flush(b);
}

/* In-order bookkeeping: ids in the order made available; size need not be a power of 2. */
static inline void
vuser_tx_order_push(struct vuser_txq *txq, uint16_t id)
{
	txq->order[txq->order_tail] = id;
	if (++txq->order_tail == txq->size)
		txq->order_tail = 0;
	txq->order_count++;
}

static inline uint16_t
vuser_tx_order_pop(struct vuser_txq *txq)
{
	uint16_t id = txq->order[txq->order_head];

	if (++txq->order_head == txq->size)
		txq->order_head = 0;
	txq->order_count--;
	return id;
}

#endif /* VUSER_QUEUE_H */
