/* SPDX-License-Identifier: BSD-3-Clause */
/* The device's receive filter applied on the Rx path: the backend delivers every frame, a
 * virtio-net device with VIRTIO_NET_F_CTRL_RX / CTRL_VLAN would not (spec 5.1.6.5). */
#ifndef VUSER_FILTER_H
#define VUSER_FILTER_H

#include <rte_ether.h>

#include "vuser_queue.h"

/* Take the control path's latest filter if it changed (seqlock reader; once per burst). */
static inline void
vuser_filter_refresh(struct vuser_rxq *rxq)
{
	const struct vuser_filter_pub *pub = &rxq->port->filter;
	uint32_t seq = __atomic_load_n(&pub->seq, __ATOMIC_ACQUIRE);
	struct vu_rx_filter copy;

	if (likely(seq == rxq->filter_seq) || (seq & 1))
		return;
	copy = pub->filter;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&pub->seq, __ATOMIC_RELAXED) != seq)
		return; /* torn: try again next burst */
	rxq->filter = copy;
	rxq->filter_seq = seq;
	rxq->filtering = !copy.promisc || copy.vlan_filter;
}

static inline bool
vuser_mac_in(const uint8_t table[][6], uint32_t n, const struct rte_ether_addr *a)
{
	for (uint32_t i = 0; i < n; i++)
		if (rte_is_same_ether_addr((const struct rte_ether_addr *)table[i], a))
			return true;
	return false;
}

static inline bool
vuser_filter_pass(const struct vu_rx_filter *f, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth;
	const struct rte_ether_addr *dst;

	if (unlikely(m->data_len < sizeof(*eth)))
		return f->promisc;
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	dst = &eth->dst_addr;
	if (f->vlan_filter && eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) &&
	    m->data_len >= sizeof(*eth) + sizeof(struct rte_vlan_hdr)) {
		const struct rte_vlan_hdr *vh = (const struct rte_vlan_hdr *)(eth + 1);
		uint16_t vid = rte_be_to_cpu_16(vh->vlan_tci) & 0xfff;

		if (!vu_vlan_bit(f->vlans, vid))
			return false;
	}
	if (f->promisc)
		return true;
	if (rte_is_multicast_ether_addr(dst))
		return rte_is_broadcast_ether_addr(dst) || f->allmulti ||
			vuser_mac_in(f->multicast, f->n_multicast, dst);
	return rte_is_same_ether_addr((const struct rte_ether_addr *)f->mac, dst) ||
		vuser_mac_in(f->unicast, f->n_unicast, dst);
}

/* Drop what the filter rejects; returns the packets kept, compacted in place. */
static inline uint16_t
vuser_filter_apply(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (likely(vuser_filter_pass(&rxq->filter, pkts[i]))) {
			pkts[kept++] = pkts[i];
			continue;
		}
		rxq->filtered++;
		rte_pktmbuf_free(pkts[i]);
	}
	return kept;
}

#endif /* VUSER_FILTER_H */
