/* SPDX-License-Identifier: BSD-3-Clause */
/* Sleeps on port 0's Rx queue interrupt (eventfd) instead of polling; commands from stdin. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_mbuf.h>

#include "app_port.h"

/*
 * Commands (one per line on stdin; one answer line each on stdout):
 *   link <ms>    wait until the link is up:    "link up" | "link timeout"
 *   quiet <ms>   arm the Rx interrupt and sleep on it, expecting nothing:
 *                "armed", then "quiet timeout" | "quiet woke <packets>"
 *   wait <ms>    arm and sleep until packets come:
 *                "armed", then "wake <ms> <packets>" | "wait timeout"
 *   stats        "stats ipackets=<n> ierrors=<n> rx_nombuf=<n>"
 *   quit
 * Link-state events print "lsc up" or "lsc down" when they happen. Once the port is up
 * it prints "ready driver=<name of the driver that took port 0>".
 */

#define PORT 0
#define BURST 32

static struct rte_mempool *mp;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
on_lsc(uint16_t port, enum rte_eth_event_type type, void *arg, void *ret)
{
	struct rte_eth_link link;

	(void)type;
	(void)arg;
	(void)ret;
	rte_eth_link_get_nowait(port, &link);
	printf("lsc %s\n", link.link_status ? "up" : "down");
	fflush(stdout);
	return 0;
}

/* Take every packet there is; returns how many. */
static unsigned int
drain(void)
{
	struct rte_mbuf *pkts[BURST];
	unsigned int total = 0;
	uint16_t n;

	while ((n = rte_eth_rx_burst(PORT, 0, pkts, BURST)) > 0) {
		rte_pktmbuf_free_bulk(pkts, n);
		total += n;
	}
	return total;
}

/* Arm the interrupt, sleep up to ms on it. Returns the ms slept, or -1 on timeout. */
static int64_t
sleep_on_rx(int ms)
{
	struct rte_epoll_event ev;
	int64_t t0;
	int n;

	if (rte_eth_dev_rx_intr_enable(PORT, 0) < 0) {
		printf("error rx_intr_enable\n");
		return -2;
	}
	printf("armed\n");
	fflush(stdout);
	t0 = now_ms();
	do {
		n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, &ev, 1, ms);
	} while (n < 0 && now_ms() - t0 < ms); /* interrupted: go on sleeping */
	rte_eth_dev_rx_intr_disable(PORT, 0);
	return n > 0 ? now_ms() - t0 : -1;
}

static int
setup_port(void)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.intr_conf.rxq = 1;
	conf.intr_conf.lsc = 1;
	mp = rte_pktmbuf_pool_create("rxintr", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (!mp)
		return -rte_errno;
	rc = rte_eth_dev_callback_register(PORT, RTE_ETH_EVENT_INTR_LSC, on_lsc, NULL);
	if (rc == 0)
		rc = rte_eth_dev_configure(PORT, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(PORT, 0, APP_RING, rte_socket_id(), NULL, mp);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(PORT, 0, APP_RING, rte_socket_id(), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(PORT);
	if (rc == 0)
		rc = rte_eth_dev_rx_intr_ctl_q(PORT, 0, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD,
					       NULL);
	return rc;
}

int
main(int argc, char **argv)
{
	struct rte_eth_dev_info info;
	char line[128];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		printf("error rte_eal_init\n");
		return 1;
	}
	if (rte_eth_dev_count_avail() < 1) {
		printf("error no port\n");
		rte_eal_cleanup();
		return 1;
	}
	rc = setup_port();
	if (rc < 0) {
		printf("error port setup: %s\n", rte_strerror(-rc));
		rte_eal_cleanup();
		return 1;
	}
	/* The alias virtio_user0 goes to whichever driver registered it first. */
	if (rte_eth_dev_info_get(PORT, &info) != 0) {
		printf("error dev_info\n");
		rte_eal_cleanup();
		return 1;
	}
	printf("ready driver=%s\n", info.driver_name);
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[16];
		int ms = 0;

		if (sscanf(line, "%15s %d", cmd, &ms) < 1)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "link") == 0) {
			struct rte_eth_link link = { 0 };
			int64_t end = now_ms() + ms;

			do {
				rte_eth_link_get_nowait(PORT, &link);
				if (!link.link_status)
					usleep(10000);
			} while (!link.link_status && now_ms() < end);
			printf("link %s\n", link.link_status ? "up" : "timeout");
		} else if (strcmp(cmd, "quiet") == 0 || strcmp(cmd, "wait") == 0) {
			int64_t slept;
			unsigned int got;

			drain();
			slept = sleep_on_rx(ms);
			if (slept < -1)
				continue;
			/* Whatever came: the rest of a burst may still be on its way. */
			if (slept >= 0)
				usleep(100000);
			got = drain();
			if (cmd[0] == 'q' && slept < 0)
				printf("quiet timeout\n");
			else if (cmd[0] == 'q')
				printf("quiet woke %u\n", got);
			else if (slept < 0)
				printf("wait timeout\n");
			else
				printf("wake %" PRId64 " %u\n", slept, got);
		} else if (strcmp(cmd, "stats") == 0) {
			struct rte_eth_stats st;

			rte_eth_stats_get(PORT, &st);
			printf("stats ipackets=%" PRIu64 " ierrors=%" PRIu64 " rx_nombuf=%" PRIu64
			       "\n",
			       st.ipackets, st.ierrors, st.rx_nombuf);
		} else {
			printf("error unknown command %s\n", cmd);
		}
	}
	rte_eth_dev_stop(PORT);
	rte_eth_dev_close(PORT);
	rte_eal_cleanup();
	printf("bye\n");
	return 0;
}
