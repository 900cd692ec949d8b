/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-thread ping-pong between net_vhost and a virtio-user frontend (ours or DPDK's),
 * for per-packet cost comparisons of the drivers' Rx/Tx functions under callgrind:
 * the backend sends a burst, the frontend receives it and sends it back. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "app_port.h"

/* Move exactly n packets from one port to the other, polling both. */
static int
move(uint16_t from, uint16_t to, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0, got = 0;
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * 5;

	while (sent < n)
		sent += rte_eth_tx_burst(from, 0, pkts + sent, n - sent);
	while (got < n && rte_get_timer_cycles() < deadline)
		got += rte_eth_rx_burst(to, 0, pkts + got, n - got);
	return got == n ? 0 : -1;
}

/* usage: vuser_pingpong EAL-ARGS(with net_vhost0) -- FRONTEND_NAME FRONTEND_ARGS ROUNDS BURST LEN
 *        [both|tx|rx] */
int
main(int argc, char **argv)
{
	struct rte_mbuf *pkts[512];
	struct rte_mempool *mp;
	uint16_t vhost = 0, front = 1;
	uint64_t start, rounds;
	uint16_t burst, len;
	int n = rte_eal_init(argc, argv);

	if (n < 0 || argc - n < 6) {
		fprintf(stderr, "usage: %s EAL -- NAME ARGS ROUNDS BURST LEN\n", argv[0]);
		return 2;
	}
	argv += n;
	rounds = strtoull(argv[3], NULL, 0);
	burst = (uint16_t)atoi(argv[4]);
	len = (uint16_t)atoi(argv[5]);
	mp = rte_pktmbuf_pool_create("pp", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (!mp || burst > 512 || app_port_start(vhost, mp) ||
	    rte_eal_hotplug_add("vdev", argv[1], argv[2]) || app_port_start(front, mp) ||
	    !app_link_up(front) || !app_link_up(vhost) || rte_pktmbuf_alloc_bulk(mp, pkts, burst)) {
		fprintf(stderr, "set-up failed\n");
		return 2;
	}
	for (uint16_t i = 0; i < burst; i++) {
		memset(rte_pktmbuf_append(pkts[i], len), 0x5a, len);
		memset(rte_pktmbuf_mtod(pkts[i], char *), 0xff, 6);
	}
	start = rte_get_timer_cycles();
	/* DIRECTION (optional 7th argument): both (default), tx (frontend -> backend only)
	 * or rx (backend -> frontend only), to cost one burst function at a time. */
	const char *dir = argc - n > 6 ? argv[6] : "both";
	bool do_rx = strcmp(dir, "tx") != 0, do_tx = strcmp(dir, "rx") != 0;

	for (uint64_t r = 0; r < rounds; r++)
		if ((do_rx && move(vhost, front, pkts, burst)) ||
		    (do_tx && move(front, vhost, pkts, burst))) {
			fprintf(stderr, "round %lu: packets lost\n", (unsigned long)r);
			return 1;
		}
	printf("%lu rounds of %u packets: %.1f ns per packet per direction\n",
	       (unsigned long)rounds, burst,
	       (double)(rte_get_timer_cycles() - start) * 1e9 / rte_get_timer_hz() /
		       ((double)rounds * burst * 2));
	rte_pktmbuf_free_bulk(pkts, burst);
	rte_eth_dev_stop(front);
	rte_eth_dev_close(front);
	rte_eth_dev_stop(vhost);
	rte_eth_dev_close(vhost);
	rte_eal_cleanup();
	return 0;
}
