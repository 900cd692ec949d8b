/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend Rx/Tx bursts: libvub's dequeue into mbufs and enqueue from mbufs. */
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

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
/* Frames handed to libvub's burst fast path at a time (its buffers sit on the stack). */
#define VUBACKEND_TX_CHUNK 32u

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

/* One frame through libvub's per-frame path (chains, offloads, what the fast path left):
 * 1 with *out set, 0 when the burst stops there. */
static int
vubackend_rx_one(struct vubackend_queue *q, struct vub_vq *vq, struct vubackend_rx_stash *st,
		 unsigned int want, struct rte_mbuf **out)
{
	struct rte_mbuf *m;

	if (vub_dequeue_begin(vq, &q->pkt) != 1)
		return 0;
	m = vubackend_to_mbufs(st, want, &q->pkt);
	if (!m) {
		/* Left in the ring for the next burst. */
		vub_dequeue_abort(vq, &q->pkt);
		q->port->eth_dev->data->rx_mbuf_alloc_failed++;
		return 0;
	}
	vub_dequeue_end(vq, &q->pkt);
	vubackend_rx_offload(q->port, m, &q->pkt.hdr);
	*out = m;
	return 1;
}

/* Frames in one buffer each, asking no offload and fitting one mbuf, through libvub's
 * burst fast path into the stash's mbufs: how many; *more when all it looked for came
 * (else the next frame, if any, needs the per-frame path). */
static uint16_t
vubackend_rx_fast(struct vub_vq *vq, struct vubackend_rx_stash *st, struct rte_mbuf **bufs,
		  uint16_t want, bool *more)
{
	struct vub_buf vb[VUBACKEND_RX_CHUNK];
	uint16_t k;

	*more = false;
	if (st->used == st->n) {
		if (rte_pktmbuf_alloc_bulk(st->mp, st->m, want) != 0)
			return 0;
		st->n = want;
		st->used = 0;
	}
	want = (uint16_t)RTE_MIN(want, st->n - st->used);
	k = vub_dequeue_reserve(vq, rte_pktmbuf_tailroom(st->m[st->used]), vb, want);
	for (uint16_t i = 0; i < k; i++) {
		struct rte_mbuf *m = st->m[st->used++];

		rte_memcpy(rte_pktmbuf_mtod(m, void *), vb[i].frame, vb[i].len);
		m->data_len = (uint16_t)vb[i].len;
		m->pkt_len = vb[i].len;
		bufs[i] = m;
	}
	vub_dequeue_commit(vq, vb, k);
	*more = k == want;
	return k;
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
	bool more;

	if (!vq)
		return 0;
	while (n < nb) {
		n += vubackend_rx_fast(vq, &st, bufs + n,
				       RTE_MIN((unsigned int)(nb - n), VUBACKEND_RX_CHUNK), &more);
		if (more)
			continue;
		if (n == nb || !vubackend_rx_one(q, vq, &st, nb - n, &bufs[n]))
			break;
		n++;
	}
	vubackend_stash_drain(&st);
	q->stats.notifications += vub_vq_flush(vq);
	vub_vq_leave(vq);
	for (uint16_t i = 0; i < n; i++) {
		vubackend_count_frame(&q->stats, bufs[i]);
		bytes += bufs[i]->pkt_len;
	}
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

/* One frame through libvub's per-frame path (offloads, mergeable buffers, what the fast
 * path left): 1 sent, 0 dropped (counted), -1 when the burst stops there. */
static int
vubackend_tx_one(struct vubackend_queue *q, struct vub_vq *vq, struct rte_mbuf *m)
{
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
		return 0;
	}
	if (rc != 1)
		return -1;
	vubackend_from_mbufs(&q->pkt, m);
	if (csum_at)
		vub_pkt_write(&q->pkt, csum_at, &csum, sizeof(csum));
	vub_enqueue_end(vq, &q->pkt);
	return 1;
}

/* Frames asking no offload, each into one buffer, through libvub's burst fast path: how
 * many went; *more when all it looked for did (else the next frame, if any, needs the
 * per-frame path). */
static uint16_t
vubackend_tx_fast(struct vub_vq *vq, struct rte_mbuf **bufs, uint16_t want, bool *more)
{
	struct vub_buf vb[VUBACKEND_TX_CHUNK];
	uint16_t n = 0, k;

	while (n < want && !(bufs[n]->ol_flags & VUSER_TX_OFFLOAD_FLAGS)) {
		vb[n].len = bufs[n]->pkt_len;
		n++;
	}
	k = n ? vub_enqueue_reserve(vq, vb, n) : 0;
	for (uint16_t i = 0; i < k; i++) {
		uint8_t *dst = vb[i].frame;

		for (const struct rte_mbuf *m = bufs[i]; m; m = m->next) {
			rte_memcpy(dst, rte_pktmbuf_mtod(m, const void *), m->data_len);
			dst += m->data_len;
		}
	}
	vub_enqueue_commit(vq, vb, k);
	*more = k == want;
	return k;
}

/* mbufs into the frontend's receive ring of this pair. A frame its buffers cannot hold
 * is dropped (counted); the burst stops where the frontend has no buffers left. */
uint16_t
vubackend_tx(void *queue, struct rte_mbuf **bufs, uint16_t nb)
{
	struct vubackend_queue *q = queue;
	struct vub_vq *vq = vub_enqueue_enter(q->port->dev, q->pair);
	uint64_t bytes = 0;
	uint16_t i = 0, sent = 0;
	bool more;

	if (!vq)
		return 0;
	while (i < nb) {
		uint16_t k = vubackend_tx_fast(
			vq, bufs + i, RTE_MIN((unsigned int)(nb - i), VUBACKEND_TX_CHUNK), &more);
		int rc;

		/* Counted before the burst frees them. */
		for (uint16_t j = i; j < i + k; j++) {
			vubackend_count_frame(&q->stats, bufs[j]);
			bytes += bufs[j]->pkt_len;
		}
		i += k;
		sent += k;
		if (more)
			continue;
		if (i == nb)
			break;
		rc = vubackend_tx_one(q, vq, bufs[i]);
		if (rc < 0)
			break;
		if (rc == 1) {
			vubackend_count_frame(&q->stats, bufs[i]);
			bytes += bufs[i]->pkt_len;
			sent++;
		}
		i++;
	}
	/* Sent and dropped alike: [0, i) is what the burst consumed. */
	rte_pktmbuf_free_bulk(bufs, i);
	q->stats.notifications += vub_vq_flush(vq);
	vub_vq_leave(vq);
	q->stats.packets += sent;
	q->stats.bytes += bytes;
	return i;
}
