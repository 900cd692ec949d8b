/* SPDX-License-Identifier: BSD-3-Clause */
/* A frontend app whose memory grows and shrinks while its port runs (test_memslots.py):
 * commands on stdin create and free a mempool and send frames from either pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "app_port.h"

#define BASE_MBUFS 1023
#define BURST 32
#define FRAME_LEN 64
/* An mbuf of the default size with its header and the pool's per-object overhead. */
#define MBUF_FOOTPRINT (RTE_MBUF_DEFAULT_BUF_SIZE + 256)
#define SEND_TIMEOUT_S 5

/* n broadcast frames of FRAME_LEN bytes from mp, each sent once: the count sent. */
static unsigned int
send_frames(struct rte_mempool *mp, unsigned int n)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * SEND_TIMEOUT_S;
	struct rte_mbuf *pkts[BURST];
	unsigned int sent = 0;

	while (sent < n && rte_get_timer_cycles() < deadline) {
		uint16_t want = n - sent < BURST ? n - sent : BURST, done = 0;

		if (rte_pktmbuf_alloc_bulk(mp, pkts, want) != 0)
			break;
		for (uint16_t i = 0; i < want; i++) {
			char *p = rte_pktmbuf_append(pkts[i], FRAME_LEN);

			memset(p, 0x5a, FRAME_LEN);
			memset(p, 0xff, 6);
		}
		while (done < want && rte_get_timer_cycles() < deadline)
			done += rte_eth_tx_burst(0, 0, pkts + done, want - done);
		rte_pktmbuf_free_bulk(pkts + done, want - done);
		sent += done;
	}
	return sent;
}

/* Give back what the Tx ring still holds of pool mp; the mbufs of mp still in use. */
static unsigned int
drain(struct rte_mempool *mp)
{
	/* A Tx burst, even of nothing, takes back what the backend used. */
	for (int i = 0; i < 100 && rte_mempool_in_use_count(mp) > 0; i++) {
		rte_eth_tx_burst(0, 0, NULL, 0);
		usleep(10000);
	}
	return rte_mempool_in_use_count(mp);
}

/*
 * usage: vuser_hotadd EAL-ARGS (port 0: the frontend)
 * stdin: "grow MB" (a pool of about MB megabytes), "send N" (from the grown pool, else
 * the base pool), "shrink" (free the grown pool), "quit"; each answered with one line.
 */
int
main(int argc, char **argv)
{
	struct rte_mempool *base, *grown = NULL;
	char line[128];

	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 2;
	}
	base = rte_pktmbuf_pool_create("base", BASE_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_socket_id());
	if (!base || app_port_start(0, base) || !app_link_up(0)) {
		fprintf(stderr, "set-up failed\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned int arg = 0;

		if (sscanf(line, "grow %u", &arg) == 1 && !grown) {
			grown = rte_pktmbuf_pool_create("grown", arg * (1u << 20) / MBUF_FOOTPRINT,
							0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
							rte_socket_id());
			printf("%s\n", grown ? "grown" : "grow failed");
		} else if (sscanf(line, "send %u", &arg) == 1) {
			printf("sent %u\n", send_frames(grown ? grown : base, arg));
		} else if (strncmp(line, "shrink", 6) == 0 && grown) {
			unsigned int busy = drain(grown);

			if (busy == 0) {
				rte_mempool_free(grown);
				grown = NULL;
				printf("shrunk\n");
			} else {
				printf("busy %u\n", busy);
			}
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("what: %s", line);
		}
		fflush(stdout);
	}
	if (grown && drain(grown) == 0)
		rte_mempool_free(grown);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	rte_eal_cleanup();
	printf("bye\n");
	return 0;
}
