/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend PMD private state shared by the ethdev ops and the Rx/Tx bursts. */
#ifndef VUBACKEND_H
#define VUBACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <ethdev_driver.h>
#include <rte_log.h>

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

struct vubackend_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors; /* Tx: frames too big for the frontend's buffers, dropped */
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

/* vubackend_rxtx.c */
uint16_t vubackend_rx(void *queue, struct rte_mbuf **bufs, uint16_t nb);
uint16_t vubackend_tx(void *queue, struct rte_mbuf **bufs, uint16_t nb);

#endif /* VUBACKEND_H */
