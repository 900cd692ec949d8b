/* SPDX-License-Identifier: BSD-3-Clause */
/* Port set-up the test apps share: one queue pair started on a pool, a bounded link wait. */
#ifndef APP_PORT_H
#define APP_PORT_H

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#define APP_RING 256
/* Link wait: polls of APP_LINK_POLL_US, APP_LINK_POLLS of them (10 s). */
#define APP_LINK_POLLS 1000
#define APP_LINK_POLL_US 10000

/* Configure one Rx and one Tx queue of APP_RING entries on mp and start the port. */
static inline int
app_port_start(uint16_t port, struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, APP_RING, rte_socket_id(), NULL, mp);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, APP_RING, rte_socket_id(), NULL);
	return rc ? rc : rte_eth_dev_start(port);
}

/* True once the port reports link up, false after APP_LINK_POLLS polls. */
static inline bool
app_link_up(uint16_t port)
{
	struct rte_eth_link link;

	for (int i = 0; i < APP_LINK_POLLS; i++) {
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			return true;
		usleep(APP_LINK_POLL_US);
	}
	return false;
}

#endif
