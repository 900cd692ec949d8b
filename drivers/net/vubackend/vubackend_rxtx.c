/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend Rx/Tx bursts: libvub's dequeue into mbufs and enqueue from mbufs. */
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "vubackend.h"
#include "vuser_offload.h"

/* A partial checksum completed in software: the one's complement of the sum from
 * csum_start on (the field holds the pseudo-header sum). A result of 0 is sent as 0xffff,
 * as DPDK's virtio driver does: to UDP, 0 means "no checksum". */
static uint16_t
vubackend_csum_final(const struct rte_mbuf *m, uint16_t start)
{
	uint16_t sum = 0;

	rte_raw_cksum_mbuf(m, start, m->pkt_len - start, &sum);
	return sum == 0xffff ? sum : (uint16_t)~sum;
}

/* Store len bytes at byte off of an mbuf chain (inside its data). */
static void
vubackend_mbuf_store(struct rte_mbuf *m, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *p = src;

	for (; m && len; m = m->next) {
		uint32_t n;

		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		n = RTE_MIN(len, (uint32_t)m->data_len - off);
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, off), p, n);
		p += n;
		len -= n;
		off = 0;
	}
}

/* The frontend's requests for a frame it sent (libvub checked them against the features
 * and the frame), as DPDK's virtio driver maps a device's: segmentation is LRO with the
 * MSS; a partial checksum is RX_L4_CKSUM_NONE when the application takes L4 checksum
 * offloads, else completed here. */
static void
vubackend_rx_offload(const struct vubackend_port *port, struct rte_mbuf *m,
		     const struct vu_net_hdr *hdr)
{
	uint16_t csum;

	if (hdr->gso_type != VU_NET_HDR_GSO_NONE) {
		m->ol_flags |= RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_NONE;
		m->tso_segsz = hdr->gso_size;
		return;
	}
	if (!(hdr->flags & VU_NET_HDR_F_NEEDS_CSUM))
		return;
	if (port->rx_l4_csum) {
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		return;
	}
	csum = vubackend_csum_final(m, hdr->csum_start);
	vubackend_mbuf_store(m, (uint32_t)hdr->csum_start + hdr->csum_offset, &csum, sizeof(csum));
}

/* mbufs taken from the pool a chunk at a time: each pool call finds the lcore's cache
 * through thread-local storage, which costs a shared object far more than a load. */
#define VUBACKEND_RX_CHUNK 32u

struct vubackend_rx_stash {
	struct rte_mempool *mp;
	unsigned int n, used;
	struct rte_mbuf *m[VUBACKEND_RX_CHUNK];
};

/* One mbuf, want: how many the burst may still take. A pool too low for a chunk is
 * asked for one at a time, so a burst gets every mbuf the pool has. */
static struct rte_mbuf *
vubackend_stash_get(struct vubackend_rx_stash *st, unsigned int want)
{
	unsigned int n = RTE_MIN(RTE_MAX(want, 1u), VUBACKEND_RX_CHUNK);

	if (st->used == st->n) {
		if (rte_pktmbuf_alloc_bulk(st->mp, st->m, n) != 0)
			return rte_pktmbuf_alloc(st->mp);
		st->n = n;
		st->used = 0;
	}
	return st->m[st->used++];
}

/* The burst's unused mbufs back to the pool. */
static void
vubackend_stash_drain(struct vubackend_rx_stash *st)
{
	if (st->used < st->n)
		rte_pktmbuf_free_bulk(&st->m[st->used], st->n - st->used);
	st->n = st->used = 0;
}

/* An mbuf chain holding the packet's frame, or NULL when the pool ran dry. Every mbuf
 * has room past its headroom (checked at queue setup). */
static struct rte_mbuf *
vubackend_to_mbufs(struct vubackend_rx_stash *st, unsigned int want, const struct vub_pkt *pkt)
{
	struct rte_mbuf *head = vubackend_stash_get(st, want), *seg = head;
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
		seg->next = vubackend_stash_get(st, want);
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
	struct vubackend_rx_stash st = { .mp = q->mp };
	uint64_t bytes = 0;
	uint16_t n = 0;

	if (!vq)
		return 0;
	while (n < nb && vub_dequeue_begin(vq, &q->pkt) == 1) {
		struct rte_mbuf *m = vubackend_to_mbufs(&st, nb - n, &q->pkt);

		if (!m) {
			/* Left in the ring for the next burst. */
			vub_dequeue_abort(vq, &q->pkt);
			q->port->eth_dev->data->rx_mbuf_alloc_failed++;
			break;
		}
		vub_dequeue_end(vq, &q->pkt);
		vubackend_rx_offload(q->port, m, &q->pkt.hdr);
		vubackend_count_frame(&q->stats, m);
		bytes += m->pkt_len;
		bufs[n++] = m;
	}
	vubackend_stash_drain(&st);
	q->stats.notifications += vub_vq_flush(vq);
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

/* The mbuf's offload requests into the frame's header, mapped as the driver side maps
 * them. A checksum the frontend does not take (no GUEST_CSUM) is completed here: *csum_at
 * and *csum say where and what to write into its copy (0: nothing). A segmentation it
 * does not take cannot be: -ENOTSUP, the frame is dropped. */
static int
vubackend_tx_offload(struct vub_vq *vq, struct vub_pkt *pkt, const struct rte_mbuf *m,
		     uint32_t *csum_at, uint16_t *csum)
{
	struct vu_net_hdr hdr;
	int rc;

	*csum_at = 0;
	if (!(m->ol_flags & VUSER_TX_OFFLOAD_FLAGS))
		return 0;
	vuser_tx_offload_hdr(&hdr, m);
	rc = vub_enqueue_offload(vq, pkt, &hdr);
	if (rc != -ENOTSUP || hdr.gso_type != VU_NET_HDR_GSO_NONE || !hdr.flags)
		return rc;
	*csum_at = (uint32_t)hdr.csum_start + hdr.csum_offset;
	*csum = vubackend_csum_final(m, hdr.csum_start);
	return 0;
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
		uint32_t csum_at;
		uint16_t csum;

		if (rc == 1) {
			rc = vubackend_tx_offload(vq, &q->pkt, m, &csum_at, &csum);
			if (rc < 0)
				vub_enqueue_abort(vq, &q->pkt);
			else
				rc = 1;
		}
		if (rc == -EMSGSIZE || rc == -ENOTSUP || rc == -EINVAL) {
			q->stats.errors++;
			continue;
		}
		if (rc != 1)
			break;
		vubackend_from_mbufs(&q->pkt, m);
		if (csum_at)
			vub_pkt_write(&q->pkt, csum_at, &csum, sizeof(csum));
		vub_enqueue_end(vq, &q->pkt);
		vubackend_count_frame(&q->stats, m);
		bytes += m->pkt_len;
		sent++;
	}
	/* Sent and dropped alike: [0, i) is what the burst consumed. */
	rte_pktmbuf_free_bulk(bufs, i);
	q->stats.notifications += vub_vq_flush(vq);
	vub_vq_leave(vq);
	q->stats.packets += sent;
	q->stats.bytes += bytes;
	return i;
}
