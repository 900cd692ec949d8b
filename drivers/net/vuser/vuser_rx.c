/* Rx bursts: one body for split and packed rings, with and without mergeable buffers.
 * The layout-specific steps are small inline functions the compiler specializes. */
#include <rte_prefetch.h>

#include "vuser_filter.h"
#include "vuser_queue.h"

/* Largest number of buffers one packet may take (a 64 KiB packet in 1 KiB buffers). */
#define VUSER_RX_MAX_BUFFERS 64

/* Used entries the device has published, at most max. */
static __rte_always_inline uint16_t
vuser_rx_pending(struct vuser_rxq *rxq, bool packed, uint16_t max)
{
	if (!packed)
		return RTE_MIN(vu_split_ring_used_pending(&rxq->split), max);

	const struct vu_packed_ring *r = &rxq->packed;
	uint16_t idx = r->used_idx;
	bool wrap = r->used_wrap;
	uint16_t n = 0;

	while (n < max && vu_packed_desc_is_used(&r->desc[idx], wrap)) {
		n++;
		if (++idx == r->size) {
			idx = 0;
			wrap = !wrap;
		}
	}
	return n;
}

/* The k-th pending used entry: buffer id and bytes written. */
static __rte_always_inline void
vuser_rx_used(const struct vuser_rxq *rxq, bool packed, uint16_t k, uint32_t *id, uint32_t *len)
{
	if (!packed) {
		const struct vu_used_elem *e = vu_split_ring_used_elem(&rxq->split, k);

		*id = e->id;
		*len = e->len;
		return;
	}

	const struct vu_packed_ring *r = &rxq->packed;
	uint32_t slot = (uint32_t)r->used_idx + k;
	const struct vu_packed_desc *d;

	if (slot >= r->size)
		slot -= r->size;
	d = &r->desc[slot];
	*id = d->id;
	*len = d->len;
}

static __rte_always_inline void
vuser_rx_consumed(struct vuser_rxq *rxq, bool packed, uint16_t n)
{
	if (packed)
		vu_packed_ring_used_advance(&rxq->packed, n);
	else
		rxq->split.last_used_idx = (uint16_t)(rxq->split.last_used_idx + n);
}

/* Hand buffer `id` (holding m) back to the device. */
static __rte_always_inline void
vuser_rx_post(struct vuser_rxq *rxq, bool packed, uint16_t id, struct rte_mbuf *m)
{
	rxq->sw_ring[id] = m;
	if (packed) {
		struct vu_packed_ring *r = &rxq->packed;
		struct vu_packed_desc *d = &r->desc[r->avail_idx];

		d->addr = vuser_rx_buf_addr(rxq, m);
		d->len = vuser_rx_buf_len(rxq, m);
		d->id = id;
		vu_packed_desc_publish(d, (uint16_t)(VU_DESC_F_WRITE | vu_packed_ring_avail_flags(r)));
		vu_packed_ring_avail_advance(r, 1);
	} else {
		struct vu_desc *d = &rxq->split.desc[id];

		d->addr = vuser_rx_buf_addr(rxq, m);
		d->len = vuser_rx_buf_len(rxq, m);
		vu_split_ring_avail_add(&rxq->split, id);
	}
}

static __rte_always_inline void
vuser_rx_publish(struct vuser_rxq *rxq, bool packed)
{
	bool kick;

	if (packed) {
		kick = vu_packed_ring_needs_kick(&rxq->packed);
	} else {
		vu_split_ring_avail_publish(&rxq->split);
		kick = vu_split_ring_needs_kick(&rxq->split);
	}
	if (unlikely(kick))
		vuser_glue_notify(rxq->port, vuser_rxq_vq_index(rxq));
}

static __rte_always_inline bool
vuser_rx_id_bad(const struct vuser_rxq *rxq, uint32_t id)
{
	return id >= rxq->size || rxq->sw_ring[id] == NULL;
}

/* The mbufs of a ring were last touched when posted, long ago: fetch the header line of
 * the k-th pending buffer's mbuf a few entries ahead of its use. */
#define VUSER_RX_PREFETCH_AHEAD 4

static __rte_always_inline void
vuser_rx_prefetch(const struct vuser_rxq *rxq, bool packed, uint16_t k, uint16_t avail)
{
	uint32_t id, len;

	if (k >= avail)
		return;
	vuser_rx_used(rxq, packed, k, &id, &len);
	if (likely(id < rxq->size))
		rte_prefetch0(rxq->sw_ring[id]);
}

/*
 * Take up to nb_pkts packets. Replacement mbufs are allocated before anything is taken,
 * so the ring stays full; a packet whose buffers are not all published yet is left for
 * the next call.
 */
static __rte_always_inline uint16_t
vuser_rx_burst(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t nb_pkts, bool packed,
	       bool mrg)
{
	struct rte_mbuf *fresh[VUSER_BURST_MAX];
	uint16_t avail = vuser_rx_pending(rxq, packed, VUSER_BURST_MAX);
	uint16_t used = 0, nfresh = 0, nrx = 0;
	uint64_t bytes = 0;

	if (avail == 0)
		return 0;
	if (unlikely(rte_pktmbuf_alloc_bulk(rxq->mp, fresh, avail) != 0)) {
		/* Leave the packets in the ring; they are taken once mbufs return. */
		rxq->nombuf += avail;
		return 0;
	}
	for (uint16_t k = 0; k < VUSER_RX_PREFETCH_AHEAD; k++)
		vuser_rx_prefetch(rxq, packed, k, avail);
	while (nrx < nb_pkts && used < avail) {
		uint32_t id, len, nbufs = 1;
		struct rte_mbuf *head, *last;

		vuser_rx_prefetch(rxq, packed, (uint16_t)(used + VUSER_RX_PREFETCH_AHEAD), avail);
		vuser_rx_used(rxq, packed, used, &id, &len);
		if (unlikely(vuser_rx_id_bad(rxq, id))) {
			/* Not a buffer we posted: nothing to take, nothing to repost. */
			rxq->stats.errors++;
			used++;
			continue;
		}
		head = rxq->sw_ring[id];
		if (mrg) {
			nbufs = vuser_rx_hdr(rxq, head)->num_buffers;
			if (unlikely(nbufs == 0 || nbufs > VUSER_RX_MAX_BUFFERS))
				len = 0; /* dropped below as a bad length */
			else if (used + nbufs > avail)
				break; /* the rest of this packet is not visible yet */
		}
		if (unlikely(vuser_rx_len_bad(rxq, head, len, true))) {
			rxq->stats.errors++;
			vuser_rx_post(rxq, packed, (uint16_t)id, head); /* same buffer again */
			used++;
			continue;
		}
		vuser_rx_first_seg(rxq, head, len);
		if (rxq->offload)
			vuser_rx_offload(head, vuser_rx_hdr(rxq, head));
		vuser_rx_post(rxq, packed, (uint16_t)id, fresh[nfresh++]);
		used++;
		last = head;
		for (uint32_t k = 1; mrg && k < nbufs; k++) {
			struct rte_mbuf *seg;

			vuser_rx_used(rxq, packed, used, &id, &len);
			used++;
			if (unlikely(vuser_rx_id_bad(rxq, id) ||
				     vuser_rx_len_bad(rxq, rxq->sw_ring[id], len, false))) {
				/* A broken chain: drop what was gathered of the packet. */
				rxq->stats.errors++;
				if (!vuser_rx_id_bad(rxq, id))
					vuser_rx_post(rxq, packed, (uint16_t)id, rxq->sw_ring[id]);
				rte_pktmbuf_free(head);
				head = NULL;
				break;
			}
			seg = rxq->sw_ring[id];
			vuser_rx_append_seg(rxq, head, last, seg, len);
			last = seg;
			vuser_rx_post(rxq, packed, (uint16_t)id, fresh[nfresh++]);
		}
		if (unlikely(!head))
			continue;
		bytes += head->pkt_len;
		pkts[nrx++] = head;
	}
	vuser_rx_consumed(rxq, packed, used);
	vuser_rx_publish(rxq, packed);
	if (nfresh < avail)
		rte_pktmbuf_free_bulk(fresh + nfresh, avail - nfresh);
	vuser_filter_refresh(rxq);
	if (unlikely(rxq->filtering))
		nrx = vuser_filter_apply(rxq, pkts, nrx, &bytes);
	for (uint16_t i = 0; i < nrx; i++)
		rxq->stats.size_bins[vuser_size_bin(pkts[i]->pkt_len)]++;
	rxq->stats.packets += nrx;
	rxq->stats.bytes += bytes;
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
