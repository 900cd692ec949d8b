/* SPDX-License-Identifier: BSD-3-Clause */
/* Offloads carried in the virtio-net header (spec 5.1.6.2, 5.1.6.4): Tx checksum and TSO,
 * Rx checksum status and LRO, mapped to and from mbuf flags. */
#ifndef VUSER_OFFLOAD_H
#define VUSER_OFFLOAD_H

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "vu_virtio.h"

#define VUSER_HDR_F_NEEDS_CSUM 1u
#define VUSER_HDR_F_DATA_VALID 2u
#define VUSER_HDR_GSO_NONE 0u
#define VUSER_HDR_GSO_TCPV4 1u
#define VUSER_HDR_GSO_TCPV6 4u

#define VUSER_TX_OFFLOAD_FLAGS (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)

/* Fill the header of an outgoing packet from its mbuf flags. "The driver ... sets
 * VIRTIO_NET_HDR_F_NEEDS_CSUM ... csum_start ... csum_offset" and, for TSO, gso_type,
 * hdr_len and gso_size (spec 5.1.6.2). The application has put the pseudo-header checksum
 * in the L4 checksum field, as DPDK's offload API asks (rte_eth_tx_prepare does it). */
static inline void
vuser_tx_offload_hdr(struct vu_net_hdr *hdr, const struct rte_mbuf *m)
{
	uint64_t ol = m->ol_flags;
	uint16_t csum_start = (uint16_t)(m->l2_len + m->l3_len);

	memset(hdr, 0, sizeof(*hdr));
	if (ol & RTE_MBUF_F_TX_TCP_SEG) {
		hdr->gso_type = ol & RTE_MBUF_F_TX_IPV6 ? VUSER_HDR_GSO_TCPV6 : VUSER_HDR_GSO_TCPV4;
		hdr->gso_size = m->tso_segsz;
		hdr->hdr_len = (uint16_t)(csum_start + m->l4_len);
		ol |= RTE_MBUF_F_TX_TCP_CKSUM;
	}
	switch (ol & RTE_MBUF_F_TX_L4_MASK) {
	case RTE_MBUF_F_TX_TCP_CKSUM:
		hdr->flags = VUSER_HDR_F_NEEDS_CSUM;
		hdr->csum_start = csum_start;
		hdr->csum_offset = offsetof(struct rte_tcp_hdr, cksum);
		break;
	case RTE_MBUF_F_TX_UDP_CKSUM:
		hdr->flags = VUSER_HDR_F_NEEDS_CSUM;
		hdr->csum_start = csum_start;
		hdr->csum_offset = offsetof(struct rte_udp_hdr, dgram_cksum);
		break;
	default:
		break;
	}
}

/* Mbuf flags from the header of a received packet (spec 5.1.6.4). */
static inline void
vuser_rx_offload(struct rte_mbuf *m, const struct vu_net_hdr *hdr)
{
	if (hdr->flags & VUSER_HDR_F_NEEDS_CSUM)
		/* Partial checksum: the data is intact, the checksum field is not final. */
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
	else if (hdr->flags & VUSER_HDR_F_DATA_VALID)
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	if (hdr->gso_type == VUSER_HDR_GSO_TCPV4 || hdr->gso_type == VUSER_HDR_GSO_TCPV6) {
		m->ol_flags |= RTE_MBUF_F_RX_LRO;
		m->tso_segsz = hdr->gso_size;
	}
}

#endif /* VUSER_OFFLOAD_H */
