/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend PMD private state shared by the ethdev ops and the Rx/Tx bursts. */
#ifndef VUBACKEND_H
#define VUBACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <ethdev_driver.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "vub.h"
#include "vubackend_devargs.h"

extern int vubackend_logtype;

/* Header offloads always offered, as net_vhost does: partial checksums both ways and
 * segmentation towards the frontend; segmentation from it (HOST_TSO4/6) with tso=1. */
#define VUBACKEND_OFFLOADS                                                                   \
	(VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) | \
	 VU_BIT(VU_NET_F_GUEST_TSO6))

/* "VUSER" leads every line of the project's drivers (tests/lib/dpdkapp.py knows it). */
#define VUBACKEND_LOG(level, port, fmt, ...)                                              \
	rte_log(RTE_LOG_##level, vubackend_logtype, "VUSER: %s: " fmt "\n", (port)->name, \
		##__VA_ARGS__)

/* The frame size bins of RFC 2819's etherStatsPkts*Octets, as DPDK 22.11's lib/vhost
 * counts them for net_vhost: under 64, 64, 65-127, 128-255, 256-511, 512-1023,
 * 1024-1518, 1519 and up (frame bytes without FCS or virtio-net header). */
#define VUBACKEND_SIZE_BINS 8

/* One queue's counters (vubackend_xstats.c names them): those lib/vhost keeps per ring
 * for net_vhost, plus the Tx drops net_vhost does not have. */
struct vubackend_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t multicast; /* group destinations other than broadcast */
	uint64_t broadcast;
	uint64_t size_bins[VUBACKEND_SIZE_BINS];
	uint64_t notifications; /* used buffer notifications sent to the frontend */
	uint64_t errors;	/* Tx: frames the frontend cannot take, dropped */
};

/* One ethdev queue: Rx queue i takes the frontend's Tx ring of pair i, Tx queue i fills
 * its Rx ring. */
struct vubackend_queue {
	struct vubackend_port *port;
	uint16_t pair;
	struct rte_mempool *mp; /* Rx */
	struct vubackend_stats stats;
	struct vub_pkt pkt; /* the packet being copied */
};

struct vubackend_port {
	char name[RTE_DEV_NAME_MAX_LEN];
	struct vubackend_devargs args;
	struct rte_eth_dev *eth_dev;
	struct vub_dev *dev;
	bool started;
	bool rx_l4_csum; /* the application takes partial checksums (RX_L4_CKSUM_NONE) */
	/* Serializes the device's control path: the frontend's messages in EAL's interrupt
	 * thread and the application's calls. The data path never takes it. */
	pthread_mutex_t lock;
	struct rte_intr_handle *intr; /* the device's event fd, in EAL's interrupt thread */
};

/* The bin of a frame of len bytes: one compare per bin edge, no branch. */
static inline unsigned int
vubackend_size_bin(uint32_t len)
{
	return (len >= 64) + (len >= 65) + (len >= 128) + (len >= 256) + (len >= 512) +
		(len >= 1024) + (len >= 1519);
}

/* What the bursts count per frame beyond packets and bytes: its size bin and its kind of
 * destination (read from the first segment, where a frame's Ethernet header sits). */
static inline void
vubackend_count_frame(struct vubackend_stats *s, const struct rte_mbuf *m)
{
	const struct rte_ether_addr *dst = rte_pktmbuf_mtod(m, const struct rte_ether_addr *);

	s->size_bins[vubackend_size_bin(m->pkt_len)]++;
	if (unlikely(m->data_len < RTE_ETHER_ADDR_LEN) || !rte_is_multicast_ether_addr(dst))
		return;
	if (rte_is_broadcast_ether_addr(dst))
		s->broadcast++;
	else
		s->multicast++;
}

/* vubackend_xstats.c: ethdev's xstats ops. No xstats_reset: ethdev's fallback to
 * stats_reset zeroes every counter, rx_nombuf included. */
int vubackend_xstats_get_names(struct rte_eth_dev *eth_dev, struct rte_eth_xstat_name *names,
			       unsigned int n);
int vubackend_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xstats, unsigned int n);

/* vubackend_rxtx.c */
uint16_t vubackend_rx(void *queue, struct rte_mbuf **bufs, uint16_t nb);
uint16_t vubackend_tx(void *queue, struct rte_mbuf **bufs, uint16_t nb);

#endif /* VUBACKEND_H */
