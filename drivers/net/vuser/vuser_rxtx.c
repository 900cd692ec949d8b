/* Split-ring Rx and Tx bursts of the net_vuser PMD, and the queues' memory. */
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "vuser.h"

#define VUSER_RX_BATCH 64

static const struct rte_memzone *
vuser_ring_zone(struct vuser_port *port, const char *kind, uint16_t queue_id, size_t len,
		int socket)
{
	char zname[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	snprintf(zname, sizeof(zname), "vuser_%u_%s%u", port->data->port_id, kind, queue_id);
	mz = rte_memzone_reserve_aligned(zname, len, socket, 0, VU_RING_ALIGN);
	if (!mz && socket != SOCKET_ID_ANY)
		mz = rte_memzone_reserve_aligned(zname, len, SOCKET_ID_ANY, 0, VU_RING_ALIGN);
	if (!mz)
		VUSER_LOG(ERR, port, "%s queue %u: no memory for a ring of %zu bytes: %s", kind,
			  queue_id, len, rte_strerror(rte_errno));
	return mz;
}

static uint16_t
vuser_usable_desc(uint16_t nb_desc, uint16_t ring_size)
{
	return nb_desc == 0 || nb_desc > ring_size ? ring_size : nb_desc;
}

int
vuser_rxq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		struct rte_mempool *mp, struct vuser_rxq **out)
{
	uint16_t size = port->args.queue_size;
	struct vuser_rxq *rxq;

	rxq = rte_zmalloc_socket("vuser_rxq", sizeof(*rxq), RTE_CACHE_LINE_SIZE, socket);
	if (!rxq)
		return -ENOMEM;
	rxq->sw_ring = rte_zmalloc_socket("vuser_rx_sw", sizeof(*rxq->sw_ring) * size,
					  RTE_CACHE_LINE_SIZE, socket);
	rxq->mz = vuser_ring_zone(port, "rx", queue_id, vu_split_ring_mem_size(size), socket);
	if (!rxq->sw_ring || !rxq->mz) {
		vuser_rxq_free(rxq);
		return -ENOMEM;
	}
	rxq->mp = mp;
	rxq->port = port;
	rxq->nb_desc = vuser_usable_desc(nb_desc, size);
	rxq->port_id = port->data->port_id;
	rxq->queue_id = queue_id;
	rxq->vq_index = 2u * queue_id;
	vu_split_ring_init(&rxq->ring, rxq->mz->addr, size);
	*out = rxq;
	return 0;
}

int
vuser_txq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		struct vuser_txq **out)
{
	uint16_t size = port->args.queue_size;
	size_t ring_len = vu_split_ring_mem_size(size);
	struct vuser_txq *txq;

	txq = rte_zmalloc_socket("vuser_txq", sizeof(*txq), RTE_CACHE_LINE_SIZE, socket);
	if (!txq)
		return -ENOMEM;
	txq->sw_ring = rte_zmalloc_socket("vuser_tx_sw",
					  (sizeof(*txq->sw_ring) + 2 * sizeof(uint16_t)) * size,
					  RTE_CACHE_LINE_SIZE, socket);
	/* The header slots live after the ring so the backend can read them. */
	txq->mz = vuser_ring_zone(port, "tx", queue_id,
				  ring_len + sizeof(struct vu_net_hdr) * size, socket);
	if (!txq->sw_ring || !txq->mz) {
		vuser_txq_free(txq);
		return -ENOMEM;
	}
	txq->chain_tail = (uint16_t *)(txq->sw_ring + size);
	txq->chain_len = txq->chain_tail + size;
	txq->hdrs = (struct vu_net_hdr *)((uint8_t *)txq->mz->addr + ring_len);
	txq->port = port;
	txq->num_free = vuser_usable_desc(nb_desc, size);
	txq->queue_id = queue_id;
	txq->vq_index = 2u * queue_id + 1;
	vu_split_ring_init(&txq->ring, txq->mz->addr, size);
	*out = txq;
	return 0;
}

void
vuser_rxq_free(struct vuser_rxq *rxq)
{
	if (!rxq)
		return;
	vuser_rxq_stop(rxq);
	rte_memzone_free(rxq->mz);
	rte_free(rxq->sw_ring);
	rte_free(rxq);
}

void
vuser_txq_free(struct vuser_txq *txq)
{
	if (!txq)
		return;
	vuser_txq_stop(txq);
	rte_memzone_free(txq->mz);
	rte_free(txq->sw_ring);
	rte_free(txq);
}

/* Point descriptor id at a fresh mbuf: the header goes in the headroom right before the
 * data, so the packet lands at the usual data offset. */
static inline void
vuser_rx_post(struct vuser_rxq *rxq, uint16_t id, struct rte_mbuf *m)
{
	struct vu_desc *d = &rxq->ring.desc[id];

	rxq->sw_ring[id] = m;
	d->addr = (uint64_t)(uintptr_t)m->buf_addr + RTE_PKTMBUF_HEADROOM - rxq->hdr_size;
	d->len = (uint32_t)(m->buf_len - RTE_PKTMBUF_HEADROOM + rxq->hdr_size);
	d->flags = VU_DESC_F_WRITE;
	vu_split_ring_avail_add(&rxq->ring, id);
}

/* Fresh ring, every usable descriptor posted with a buffer; called before DRIVER_OK. */
int
vuser_rxq_start(struct vuser_rxq *rxq)
{
	struct vu_split_ring *r = &rxq->ring;
	struct rte_mbuf *m[VUSER_RX_BATCH];

	memset(rxq->mz->addr, 0, vu_split_ring_mem_size(r->size));
	vu_split_ring_init(r, rxq->mz->addr, r->size);
	/* Polling driver: the backend need not signal the call eventfd. */
	r->avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	for (uint16_t id = 0; id < rxq->nb_desc;) {
		uint16_t n = RTE_MIN((uint16_t)VUSER_RX_BATCH, (uint16_t)(rxq->nb_desc - id));

		if (rte_pktmbuf_alloc_bulk(rxq->mp, m, n) != 0) {
			VUSER_LOG(ERR, rxq->port, "rx queue %u: mempool %s has no %u free mbufs",
				  rxq->queue_id, rxq->mp->name, rxq->nb_desc);
			vuser_rxq_stop(rxq);
			return -ENOMEM;
		}
		for (uint16_t i = 0; i < n; i++, id++)
			vuser_rx_post(rxq, id, m[i]);
	}
	vu_split_ring_avail_publish(r);
	return 0;
}

void
vuser_rxq_stop(struct vuser_rxq *rxq)
{
	if (!rxq->sw_ring)
		return;
	for (uint16_t id = 0; id < rxq->ring.size; id++) {
		rte_pktmbuf_free(rxq->sw_ring[id]);
		rxq->sw_ring[id] = NULL;
	}
}

void
vuser_txq_start(struct vuser_txq *txq)
{
	struct vu_split_ring *r = &txq->ring;
	uint16_t usable = txq->num_free;

	memset(txq->mz->addr, 0,
	       vu_split_ring_mem_size(r->size) + sizeof(struct vu_net_hdr) * r->size);
	vu_split_ring_init(r, txq->mz->addr, r->size);
	r->avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	/* Free list threaded through desc.next; only `usable` descriptors are handed out. */
	for (uint16_t id = 0; id < r->size; id++)
		r->desc[id].next = (uint16_t)(id + 1);
	txq->free_head = 0;
	txq->num_free = usable;
}

void
vuser_txq_stop(struct vuser_txq *txq)
{
	uint16_t in_flight = 0;

	if (!txq->sw_ring)
		return;
	for (uint16_t id = 0; id < txq->ring.size; id++) {
		if (!txq->sw_ring[id])
			continue;
		rte_pktmbuf_free(txq->sw_ring[id]);
		txq->sw_ring[id] = NULL;
		in_flight += txq->chain_len[id];
	}
	/* Back to the count txq_start will hand out again. */
	txq->num_free = (uint16_t)(txq->num_free + in_flight);
}

uint16_t
vuser_recv_pkts(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct vuser_rxq *rxq = queue;
	struct vu_split_ring *r = &rxq->ring;
	struct rte_mbuf *fresh[VUSER_RX_BATCH];
	uint16_t n = vu_split_ring_used_pending(r);
	uint16_t nrx = 0;
	uint64_t bytes = 0;

	if (n == 0)
		return 0;
	n = RTE_MIN(n, RTE_MIN(nb_pkts, (uint16_t)VUSER_RX_BATCH));
	if (unlikely(rte_pktmbuf_alloc_bulk(rxq->mp, fresh, n) != 0)) {
		/* Leave the packets in the ring; they are taken once mbufs return. */
		rxq->nombuf += n;
		return 0;
	}
	for (uint16_t i = 0; i < n; i++) {
		const struct vu_used_elem *e = vu_split_ring_used_elem(r, i);
		uint32_t id = e->id;
		uint32_t len = e->len;
		struct rte_mbuf *m;

		if (unlikely(id >= r->size || !rxq->sw_ring[id])) {
			/* Not a buffer we posted: nothing to take, nothing to repost. */
			rxq->stats.errors++;
			rte_pktmbuf_free(fresh[i]);
			continue;
		}
		m = rxq->sw_ring[id];
		if (unlikely(len <= rxq->hdr_size || len > rxq->ring.desc[id].len)) {
			rxq->stats.errors++;
			rte_pktmbuf_free(fresh[i]);
			vu_split_ring_avail_add(r, (uint16_t)id); /* same buffer again */
			continue;
		}
		len -= rxq->hdr_size;
		m->data_off = RTE_PKTMBUF_HEADROOM;
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		m->port = rxq->port_id;
		m->ol_flags = 0;
		m->packet_type = 0;
		pkts[nrx++] = m;
		bytes += len;
		vuser_rx_post(rxq, (uint16_t)id, fresh[i]);
	}
	r->last_used_idx = (uint16_t)(r->last_used_idx + n);
	vu_split_ring_avail_publish(r);
	if (unlikely(vu_split_ring_needs_kick(r)))
		vuser_glue_notify(rxq->port, rxq->vq_index);
	rxq->stats.packets += nrx;
	rxq->stats.bytes += bytes;
	return nrx;
}

/* Take back the chains the device has used and free their mbufs. */
static inline void
vuser_tx_reclaim(struct vuser_txq *txq)
{
	struct vu_split_ring *r = &txq->ring;
	uint16_t n = vu_split_ring_used_pending(r);

	for (uint16_t i = 0; i < n; i++) {
		uint32_t id = vu_split_ring_used_elem(r, i)->id;

		if (unlikely(id >= r->size || !txq->sw_ring[id])) {
			txq->stats.errors++;
			continue;
		}
		rte_pktmbuf_free(txq->sw_ring[id]);
		txq->sw_ring[id] = NULL;
		r->desc[txq->chain_tail[id]].next = txq->free_head;
		txq->free_head = (uint16_t)id;
		txq->num_free = (uint16_t)(txq->num_free + txq->chain_len[id]);
	}
	r->last_used_idx = (uint16_t)(r->last_used_idx + n);
}

/* The header can share the first descriptor when it fits in a headroom we own. */
static inline bool
vuser_tx_can_push(const struct rte_mbuf *m, uint16_t hdr_size)
{
	return rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) && m->nb_segs == 1 &&
	       rte_pktmbuf_headroom(m) >= hdr_size;
}

uint16_t
vuser_xmit_pkts(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct vuser_txq *txq = queue;
	struct vu_split_ring *r = &txq->ring;
	uint64_t bytes = 0;
	uint16_t ntx = 0;

	vuser_tx_reclaim(txq);
	for (; ntx < nb_pkts; ntx++) {
		struct rte_mbuf *m = pkts[ntx];
		bool push = vuser_tx_can_push(m, txq->hdr_size);
		uint16_t need = (uint16_t)(m->nb_segs + !push);
		uint16_t head = txq->free_head;
		uint16_t id = head;
		uint32_t pkt_len = m->pkt_len;
		struct vu_desc *d;

		if (unlikely(need > txq->num_free)) {
			if (likely(need <= r->size))
				break; /* ring full: the caller keeps the rest */
			/* A chain longer than the ring can never be sent. */
			txq->stats.errors++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (push) {
			void *hdr = rte_pktmbuf_prepend(m, txq->hdr_size);

			memset(hdr, 0, txq->hdr_size);
		} else {
			d = &r->desc[id];
			d->addr = (uint64_t)(uintptr_t)&txq->hdrs[id];
			d->len = txq->hdr_size;
			d->flags = VU_DESC_F_NEXT;
			id = d->next;
		}
		for (struct rte_mbuf *seg = m; seg; seg = seg->next) {
			d = &r->desc[id];
			d->addr = (uint64_t)(uintptr_t)rte_pktmbuf_mtod(seg, void *);
			d->len = seg->data_len;
			d->flags = seg->next ? VU_DESC_F_NEXT : 0;
			if (seg->next)
				id = d->next;
		}
		txq->free_head = d->next;
		txq->num_free = (uint16_t)(txq->num_free - need);
		txq->sw_ring[head] = m;
		txq->chain_tail[head] = id;
		txq->chain_len[head] = need;
		vu_split_ring_avail_add(r, head);
		bytes += pkt_len;
	}
	if (likely(ntx)) {
		vu_split_ring_avail_publish(r);
		if (unlikely(vu_split_ring_needs_kick(r)))
			vuser_glue_notify(txq->port, txq->vq_index);
	}
	txq->stats.packets += ntx;
	txq->stats.bytes += bytes;
	return ntx;
}
