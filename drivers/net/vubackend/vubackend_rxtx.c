/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend Rx/Tx bursts: libvub's dequeue into mbufs and enqueue from mbufs. */
#include <rte_mbuf.h>

#include "vubackend.h"

/* An mbuf chain holding the packet's frame, or NULL when the pool ran dry. Every mbuf
 * has room past its headroom (checked at queue setup). */
static struct rte_mbuf *
vubackend_to_mbufs(struct rte_mempool *mp, const struct vub_pkt *pkt)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(mp), *seg = head;
	uint32_t off = 0;

	if (!head)
		return NULL;
	for (;;) {
		uint32_t n = RTE_MIN((uint32_t)rte_pktmbuf_tailroom(seg), pkt->len - off);

		vub_pkt_read(pkt, off, rte_pktmbuf_mtod(seg, uint8_t *), n);
		seg->data_len = (uint16_t)n;
		off += n;
		if (off == pkt->len)
			break;
		seg->next = rte_pktmbuf_alloc(mp);
		if (!seg->next) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		seg = seg->next;
		head->nb_segs++;
	}
	head->pkt_len = pkt->len;
	return head;
}

/* The frontend's transmit ring of this pair into mbufs. */
uint16_t
vubackend_rx(void *queue, struct rte_mbuf **bufs, uint16_t nb)
{
	struct vubackend_queue *q = queue;
	struct vub_vq *vq = vub_dequeue_enter(q->port->dev, q->pair);
	uint64_t bytes = 0;
	uint16_t n = 0;

	if (!vq)
		return 0;
	while (n < nb && vub_dequeue_begin(vq, &q->pkt) == 1) {
		struct rte_mbuf *m = vubackend_to_mbufs(q->mp, &q->pkt);

		if (!m) {
			/* Left in the ring for the next burst. */
			vub_dequeue_abort(vq, &q->pkt);
			q->port->eth_dev->data->rx_mbuf_alloc_failed++;
			break;
		}
		vub_dequeue_end(vq, &q->pkt);
		bytes += m->pkt_len;
		bufs[n++] = m;
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	q->stats.packets += n;
	q->stats.bytes += bytes;
	return n;
}

static void
vubackend_from_mbufs(const struct vub_pkt *pkt, const struct rte_mbuf *m)
{
	uint32_t off = 0;

	for (; m; m = m->next) {
		vub_pkt_write(pkt, off, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
		off += m->data_len;
	}
}

/* mbufs into the frontend's receive ring of this pair. A frame its buffers cannot hold
 * is dropped (counted); the burst stops where the frontend has no buffers left. */
uint16_t
vubackend_tx(void *queue, struct rte_mbuf **bufs, uint16_t nb)
{
	struct vubackend_queue *q = queue;
	struct vub_vq *vq = vub_enqueue_enter(q->port->dev, q->pair);
	uint64_t bytes = 0, sent = 0;
	uint16_t i;

	if (!vq)
		return 0;
	for (i = 0; i < nb; i++) {
		struct rte_mbuf *m = bufs[i];
		int rc = vub_enqueue_begin(vq, m->pkt_len, &q->pkt);

		if (rc == -EMSGSIZE) {
			q->stats.errors++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (rc != 1)
			break;
		vubackend_from_mbufs(&q->pkt, m);
		vub_enqueue_end(vq, &q->pkt);
		bytes += m->pkt_len;
		sent++;
		rte_pktmbuf_free(m);
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	q->stats.packets += sent;
	q->stats.bytes += bytes;
	return i;
}
