/* SPDX-License-Identifier: BSD-3-Clause */
/* Rx bursts: one body for split and packed rings, with and without mergeable buffers.
 * The layout-specific steps are small inline functions the compiler specializes. */
#include <rte_prefetch.h>

#include "vuser_filter.h"
#include "vuser_queue.h"

/* Largest number of buffers one packet may take (a 64 KiB packet in 1 KiB buffers). */
#define VUSER_RX_MAX_BUFFERS 64

/* Used entries the device has published, at most max, with the buffer id and the bytes
 * written of each (ids[k], lens[k] for the k-th): read once, here. */
static __rte_always_inline uint16_t
vuser_rx_pending(struct vuser_rxq *rxq, bool packed, uint16_t max, uint32_t *ids, uint32_t *lens)
{
	if (!packed) {
		uint16_t n = vu_split_ring_used_pending(&rxq->split);

		/* No more than the buffers in flight can be used. */
		if (unlikely(n > rxq->nb_desc)) {
			vuser_rxq_fault(rxq, VUSER_FAULT_BAD_USED_IDX, rxq->split.last_used_idx,
					(uint16_t)(rxq->split.last_used_idx + n), 0);
			return 0;
		}
		n = RTE_MIN(n, max);
		for (uint16_t k = 0; k < n; k++) {
			const struct vu_used_elem *e = vu_split_ring_used_elem(&rxq->split, k);

			ids[k] = e->id;
			lens[k] = e->len;
		}
		return n;
	}

	const struct vu_packed_ring *r = &rxq->packed;
	uint16_t idx = r->used_idx;
	bool wrap = r->used_wrap;
	uint16_t n = 0;

	/* Only the nb_desc slots from the used position hold buffers of this lap; with
	 * fewer than the ring (--rxd below queue_size) the slots after them do not. */
	max = RTE_MIN(max, rxq->nb_desc);
	while (n < max) {
		uint16_t id;
		uint32_t len;
		uint16_t f =
			vu_packed_desc_read(&r->desc[idx], &id, &len) & VU_PACKED_DESC_F_AVAIL_USED;

		if (f != vu_packed_used_bits(wrap)) {
			/* Every slot from the used position on holds a posted buffer. */
			if (unlikely(f != vu_packed_avail_bits(wrap)))
				vuser_rxq_fault(rxq, VUSER_FAULT_BAD_WRAP, idx, id, f);
			break;
		}
		ids[n] = id;
		lens[n] = len;
		n++;
		if (++idx == r->size) {
			idx = 0;
			wrap = !wrap;
		}
	}
	/* Take whole cache lines of the ring when there is more than the last one. The slots
	 * taken are refilled at the end of the burst and made available together; ending on
	 * a line boundary keeps the refills aligned to lines, which is what DPDK's vhost needs
	 * to fill them four at a time (DPDK's virtio trims its Rx bursts the same way). */
	uint16_t partial = vu_packed_line_offset(idx);

	if (n > partial)
		n = (uint16_t)(n - partial);
	return n;
}

static __rte_always_inline void
vuser_rx_consumed(struct vuser_rxq *rxq, bool packed, uint16_t n)
{
	if (packed)
		vu_packed_ring_used_advance(&rxq->packed, n);
	else
		rxq->split.last_used_idx = (uint16_t)(rxq->split.last_used_idx + n);
}

/*
 * Is `id` a buffer the device may hand back now? With IN_ORDER buffers come back in the
 * order they were posted, which is 0..nb_desc-1 over and over (each one is reposted under
 * its id as it is taken): exactly one id is due. Without it, any posted id may come, but
 * not one posted in this burst: the device has not seen that posting yet, so the entry
 * completes a buffer twice.
 */
static __rte_always_inline bool
vuser_rx_id_ok(const struct vuser_rxq *rxq, uint32_t id)
{
	if (rxq->in_order)
		return id == rxq->next_id;
	return id < rxq->size && rxq->sw_ring[id] != NULL && rxq->posted_epoch[id] != rxq->epoch;
}

/* Buffer `id` was taken (delivered or reposted): the one due next is the one after it.
 * With IN_ORDER that is the rule; without, it is the guess the line burst checks
 * (vuser_rx_lines.c), kept in step with a device that returns buffers in order. */
static __rte_always_inline void
vuser_rx_id_done(struct vuser_rxq *rxq, uint32_t id)
{
	rxq->next_id = (uint16_t)(id + 1 >= rxq->nb_desc ? 0 : id + 1);
}

/* Ring position of the k-th pending used entry, for log lines. */
static uint32_t
vuser_rx_pos(const struct vuser_rxq *rxq, bool packed, uint16_t k)
{
	if (packed)
		return ((uint32_t)rxq->packed.used_idx + k) % rxq->packed.size;
	return (uint16_t)(rxq->split.last_used_idx + k);
}

/*
 * The entry is dropped and its buffer left where it is (the device may hold it). With
 * IN_ORDER, an id of ours that is not the one due means the device completed it twice, or
 * lost count of the buffers: expect the one after it, so that one lost buffer costs at
 * most one more dropped entry instead of every entry after it.
 */
static __rte_noinline void
vuser_rx_bad_id(struct vuser_rxq *rxq, bool packed, uint16_t k, uint32_t id, uint32_t len)
{
	bool ours = id < rxq->size && rxq->sw_ring[id] != NULL;

	vuser_rxq_fault(rxq, ours ? VUSER_FAULT_DUPLICATE_ID : VUSER_FAULT_BAD_ID,
			vuser_rx_pos(rxq, packed, k), id, len);
	if (rxq->in_order && id < rxq->nb_desc)
		rxq->next_id = (uint16_t)(id + 1 == rxq->nb_desc ? 0 : id + 1);
}

static __rte_noinline void
vuser_rx_bad_len(struct vuser_rxq *rxq, bool packed, uint16_t k, uint32_t id, uint32_t len,
		 enum vuser_fault_kind kind)
{
	vuser_rxq_fault(rxq, kind, vuser_rx_pos(rxq, packed, k), id, len);
}

/* posted_epoch[] keeps the burst count of each id's last posting; past 2^32 bursts it
 * restarts, and no posting then counts as made in the current burst. */
static __rte_noinline void
vuser_rx_epoch_wrap(struct vuser_rxq *rxq)
{
	memset(rxq->posted_epoch, 0, sizeof(*rxq->posted_epoch) * rxq->size);
	rxq->epoch = 1;
}

/* The mbufs of a ring were last touched when posted, long ago: fetch the header line of
 * the k-th pending buffer's mbuf a few entries ahead of its use. */
#define VUSER_RX_PREFETCH_AHEAD 4

static __rte_always_inline void
vuser_rx_prefetch(const struct vuser_rxq *rxq, const uint32_t *ids, uint16_t k, uint16_t avail)
{
	if (k < avail && likely(ids[k] < rxq->size)) {
		rte_prefetch0(rxq->sw_ring[ids[k]]);
		vuser_rx_prefetch_frame(rxq, rxq->sw_ring[ids[k]]);
	}
}

/* Buffer `id` gets m; the descriptor is written after the burst has read all its used
 * entries. Packed rings reuse the slots just read, and the device may still be writing
 * the next used entries of the same cache line: writing into it entry by entry would pull
 * the line back and forth. */
static __rte_always_inline void
vuser_rx_repost(struct vuser_rxq *rxq, uint16_t *give, uint16_t *ngive, uint16_t id,
		struct rte_mbuf *m)
{
	vuser_rx_assign(rxq, id, m);
	give[(*ngive)++] = id;
}

/*
 * Take up to nb_pkts packets. Replacement mbufs are allocated before anything is taken,
 * so the ring stays full; a packet whose buffers are not all published yet is left for
 * the next call.
 * One function on purpose: one hot loop whose steps are the inline helpers above.
 */
static __rte_always_inline uint16_t
vuser_rx_burst(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t nb_pkts, bool packed,
	       bool mrg)
{
	struct rte_mbuf *fresh[VUSER_BURST_MAX];
	uint16_t give[VUSER_BURST_MAX]; /* ids to hand back to the device, in order */
	uint32_t ids[VUSER_BURST_MAX], lens[VUSER_BURST_MAX]; /* the used entries */
	uint16_t avail, used = 0, nfresh = 0, nrx = 0, ngive = 0;
	struct vuser_burst_tally tally = { 0 };

	if (unlikely(rxq->halted))
		return 0; /* the ring state is corrupt (vuser_fault.h) */
	avail = vuser_rx_pending(rxq, packed, VUSER_BURST_MAX, ids, lens);

	if (avail == 0)
		return 0;
	/* Raw mbufs (rte_mbuf_raw_alloc in bulk): vuser_rx_first_seg sets what reception
	 * needs, where rte_pktmbuf_reset would also write the mbuf's second cache line. */
	if (unlikely(rte_mempool_get_bulk(rxq->mp, (void **)fresh, avail) != 0)) {
		/* Leave the packets in the ring; they are taken once mbufs return. */
		rxq->nombuf += avail;
		return 0;
	}
	if (unlikely(++rxq->epoch == 0))
		vuser_rx_epoch_wrap(rxq);
	for (uint16_t k = 0; k < VUSER_RX_PREFETCH_AHEAD; k++)
		vuser_rx_prefetch(rxq, ids, k, avail);
	while (nrx < nb_pkts && used < avail) {
		uint32_t id, len, nbufs = 1;
		struct rte_mbuf *head, *last;

		vuser_rx_prefetch(rxq, ids, (uint16_t)(used + VUSER_RX_PREFETCH_AHEAD), avail);
		id = ids[used];
		len = lens[used];
		if (unlikely(!vuser_rx_id_ok(rxq, id))) {
			/* Not a buffer the device holds: nothing to take, nothing to repost. */
			vuser_rx_bad_id(rxq, packed, used, id, len);
			used++;
			continue;
		}
		head = rxq->sw_ring[id];
		if (mrg) {
			nbufs = vuser_rx_hdr(rxq, head)->num_buffers;
			if (unlikely(nbufs == 0 || nbufs > VUSER_RX_MAX_BUFFERS ||
				     nbufs > rxq->nb_desc)) {
				vuser_rx_bad_len(rxq, packed, used, id, nbufs,
						 VUSER_FAULT_BAD_NUM_BUFFERS);
				vuser_rx_repost(rxq, give, &ngive, (uint16_t)id,
						head); /* same buffer */
				vuser_rx_id_done(rxq, id);
				used++;
				continue;
			}
			if (used + nbufs > avail)
				break; /* the rest of this packet is not visible yet */
		}
		if (unlikely(vuser_rx_len_bad(rxq, head, len, true))) {
			vuser_rx_bad_len(rxq, packed, used, id, len, VUSER_FAULT_BAD_LEN);
			vuser_rx_repost(rxq, give, &ngive, (uint16_t)id, head); /* same buffer */
			vuser_rx_id_done(rxq, id);
			used++;
			continue;
		}
		vuser_rx_id_done(rxq, id);
		vuser_rx_first_seg(rxq, head, len);
		if (rxq->offload)
			vuser_rx_offload(head, vuser_rx_hdr(rxq, head));
		vuser_rx_repost(rxq, give, &ngive, (uint16_t)id, fresh[nfresh++]);
		used++;
		last = head;
		for (uint32_t k = 1; mrg && k < nbufs; k++) {
			struct rte_mbuf *seg;

			id = ids[used];
			len = lens[used];
			used++;
			/* A broken chain: drop what was gathered of the packet. */
			if (unlikely(!vuser_rx_id_ok(rxq, id))) {
				vuser_rx_bad_id(rxq, packed, (uint16_t)(used - 1), id, len);
				rte_pktmbuf_free(head);
				head = NULL;
				break;
			}
			if (unlikely(vuser_rx_len_bad(rxq, rxq->sw_ring[id], len, false))) {
				vuser_rx_bad_len(rxq, packed, (uint16_t)(used - 1), id, len,
						 VUSER_FAULT_BAD_LEN);
				vuser_rx_repost(rxq, give, &ngive, (uint16_t)id, rxq->sw_ring[id]);
				vuser_rx_id_done(rxq, id);
				rte_pktmbuf_free(head);
				head = NULL;
				break;
			}
			vuser_rx_id_done(rxq, id);
			seg = rxq->sw_ring[id];
			vuser_rx_append_seg(rxq, head, last, seg, len);
			last = seg;
			vuser_rx_repost(rxq, give, &ngive, (uint16_t)id, fresh[nfresh++]);
		}
		if (unlikely(!head))
			continue;
		pkts[nrx++] = head;
	}
	vuser_rx_consumed(rxq, packed, used);
	if (packed)
		vuser_rx_give_packed_all(rxq, give, ngive);
	else
		for (uint16_t i = 0; i < ngive; i++)
			vuser_rx_give(rxq, packed, give[i]);
	vuser_ring_publish(rxq->port, vuser_rxq_vq_index(rxq), &rxq->split, &rxq->packed, packed);
	/* Through the mbuf library rather than straight back to the pool: the inlined pool
	 * put grew the ASan build's heap on every attach/detach (test_lifecycle). */
	if (nfresh < avail)
		rte_pktmbuf_free_bulk(fresh + nfresh, avail - nfresh);
	vuser_filter_refresh(rxq);
	if (unlikely(rxq->filtering))
		nrx = vuser_filter_apply(rxq, pkts, nrx);
	/* After the filter, which looks at the tag: RTE_ETH_RX_OFFLOAD_VLAN_STRIP in software. */
	if (unlikely(rxq->vlan_strip))
		for (uint16_t i = 0; i < nrx; i++)
			rte_vlan_strip(pkts[i]);
	/* What the application gets: after the filter and without a stripped tag. */
	for (uint16_t i = 0; i < nrx; i++)
		vuser_tally_pkt(&rxq->stats, &tally, pkts[i], pkts[i]->pkt_len);
	vuser_tally_add(&rxq->stats, &tally, nrx);
	return nrx;
}

uint16_t
vuser_split_recv(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_burst(queue, pkts, nb_pkts, false, false);
}

uint16_t
vuser_split_recv_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_burst(queue, pkts, nb_pkts, false, true);
}

uint16_t
vuser_packed_recv(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_burst(queue, pkts, nb_pkts, true, false);
}

uint16_t
vuser_packed_recv_mrg(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	return vuser_rx_burst(queue, pkts, nb_pkts, true, true);
}

/* rte_power_monitor_cond.opaque of an Rx queue's watch (vu_ring_watch). */
enum {
	VUSER_WATCH_EXPECT,
	VUSER_WATCH_MASK,
	VUSER_WATCH_IF_EQUAL
};

/* rte_power_monitor's question, after the watched word changed or before it sleeps:
 * -1 (stay awake) when a used buffer is pending, 0 (sleep) when not. */
static int
vuser_rx_monitor_check(const uint64_t value, const uint64_t opaque[RTE_POWER_MONITOR_OPAQUE_SZ])
{
	if (vu_ring_watch_pending(value, opaque[VUSER_WATCH_EXPECT], opaque[VUSER_WATCH_MASK],
				  opaque[VUSER_WATCH_IF_EQUAL]))
		return -1;
	return 0;
}

/* eth_dev_ops.get_monitor_addr: what the next Rx burst waits for, on the lcore that polls
 * the queue. The ring exists from the port's start on. */
int
vuser_rx_monitor_addr(void *queue, struct rte_power_monitor_cond *pmc)
{
	const struct vuser_rxq *rxq = queue;
	struct vu_ring_watch w;

	if (!rxq->port->started)
		return -EINVAL;
	if (vu_ring_is_packed(rxq->port->features))
		w = vu_packed_ring_watch(&rxq->packed);
	else
		w = vu_split_ring_watch(&rxq->split);
	pmc->addr = (volatile void *)(uintptr_t)w.addr;
	pmc->size = w.size;
	pmc->fn = vuser_rx_monitor_check;
	pmc->opaque[VUSER_WATCH_EXPECT] = w.expect;
	pmc->opaque[VUSER_WATCH_MASK] = w.mask;
	pmc->opaque[VUSER_WATCH_IF_EQUAL] = w.pending_if_equal;
	return 0;
}
