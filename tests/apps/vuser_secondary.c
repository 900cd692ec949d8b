/* SPDX-License-Identifier: BSD-3-Clause */
/* A DPDK secondary process on one port of a running primary; commands from stdin. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

/*
 * Usage: vuser_secondary <EAL args, --proc-type=secondary> -- <port name>
 *
 * Commands, one per line on stdin, each answered on stdout by "ok <command> ..." or
 * "err <command>: <why>" (tests/lib/lineproc.py); "event: ready port=<id>" comes first.
 *   info            "ok info port=<id> driver=<name> link=<up|down>"
 *   tx <n> <len>    send n frames of len bytes on queue 0 (ethertype 0x88b5, payload
 *                   byte i is i & 0xff, as tests/lib/evil_backend.py's frames):
 *                   "ok tx <frames accepted>"
 *   rx <n> <ms>     poll queue 0 until n frames came or ms passed:
 *                   "ok rx <frames> <bytes> <frames whose payload is not the tx pattern>"
 *   stats           "ok stats ipackets=<n> opackets=<n> ibytes=<n> obytes=<n>"
 *   xstat <name>    "ok xstat <name> <value>"
 *   refuse          the control operations of cmd_refuse, in order:
 *                   "ok refuse <operation>=<return code> ..."
 *   quit
 */

#define BURST 32
#define NB_MBUFS 1023
#define MBUF_CACHE 32
#define TX_RETRY_MS 2000
#define ETHERTYPE_TEST 0x88b5

static uint16_t port_id;
static struct rte_mempool *mp;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct rte_mbuf *
make_frame(uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct rte_ether_hdr *eh;
	uint8_t *p;

	if (!m)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (!p) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	eh = (struct rte_ether_hdr *)p;
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	rte_eth_macaddr_get(port_id, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(ETHERTYPE_TEST);
	for (uint16_t i = sizeof(*eh); i < len; i++)
		p[i] = (uint8_t)((i - sizeof(*eh)) & 0xff);
	return m;
}

static void
cmd_tx(unsigned int n, uint16_t len)
{
	unsigned int sent = 0;
	int64_t deadline = now_ms() + TX_RETRY_MS;

	while (sent < n && now_ms() < deadline) {
		struct rte_mbuf *pkts[BURST];
		uint16_t want = (uint16_t)RTE_MIN((unsigned int)BURST, n - sent), k, done;

		for (k = 0; k < want; k++) {
			pkts[k] = make_frame(len);
			if (!pkts[k])
				break;
		}
		done = rte_eth_tx_burst(port_id, 0, pkts, k);
		rte_pktmbuf_free_bulk(pkts + done, k - done);
		sent += done;
	}
	printf("ok tx %u\n", sent);
}

static int
payload_ok(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	if (m->nb_segs != 1 || m->pkt_len <= sizeof(struct rte_ether_hdr))
		return 0;
	for (uint32_t i = sizeof(struct rte_ether_hdr); i < m->pkt_len; i++)
		if (p[i] != (uint8_t)((i - sizeof(struct rte_ether_hdr)) & 0xff))
			return 0;
	return 1;
}

static void
cmd_rx(unsigned int n, int ms)
{
	unsigned int got = 0, bad = 0;
	uint64_t bytes = 0;
	int64_t deadline = now_ms() + ms;

	while (got < n && now_ms() < deadline) {
		struct rte_mbuf *pkts[BURST];
		uint16_t k = rte_eth_rx_burst(port_id, 0, pkts, BURST);

		for (uint16_t i = 0; i < k; i++) {
			bytes += pkts[i]->pkt_len;
			bad += !payload_ok(pkts[i]);
		}
		rte_pktmbuf_free_bulk(pkts, k);
		got += k;
	}
	printf("ok rx %u %" PRIu64 " %u\n", got, bytes, bad);
}

static void
cmd_xstat(const char *name)
{
	uint64_t id, value;

	if (rte_eth_xstats_get_id_by_name(port_id, name, &id) != 0 ||
	    rte_eth_xstats_get_by_id(port_id, &id, &value, 1) != 1)
		printf("err xstat: no xstat %s\n", name);
	else
		printf("ok xstat %s %" PRIu64 "\n", name, value);
}

struct op_report {
	char text[512];
	size_t len;
};

/* Collected, then printed as one line: the driver logs (to stdout too) as each one runs. */
static void
report_op(struct op_report *r, const char *name, int rc)
{
	int n = snprintf(r->text + r->len, sizeof(r->text) - r->len, " %s=%d", name, rc);

	if (n > 0 && (size_t)n < sizeof(r->text) - r->len)
		r->len += (size_t)n;
}

/* Control operations a secondary must not perform on the primary's port, in this order. */
static void
cmd_refuse(void)
{
	struct rte_ether_addr mac = { .addr_bytes = { 0x02, 0, 0, 0, 0x5e, 0x01 } };
	struct op_report r = { .len = 0 };
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	report_op(&r, "configure", rte_eth_dev_configure(port_id, 1, 1, &conf));
	report_op(&r, "stop", rte_eth_dev_stop(port_id));
	report_op(&r, "set_mtu", rte_eth_dev_set_mtu(port_id, 1400));
	report_op(&r, "promiscuous_disable", rte_eth_promiscuous_disable(port_id));
	report_op(&r, "allmulticast_enable", rte_eth_allmulticast_enable(port_id));
	report_op(&r, "mac_addr_add", rte_eth_dev_mac_addr_add(port_id, &mac, 0));
	printf("ok refuse%s\n", r.text);
}

static void
cmd_stats(void)
{
	struct rte_eth_stats st;

	if (rte_eth_stats_get(port_id, &st) != 0) {
		printf("err stats: %s\n", rte_strerror(rte_errno));
		return;
	}
	printf("ok stats ipackets=%" PRIu64 " opackets=%" PRIu64 " ibytes=%" PRIu64
	       " obytes=%" PRIu64 "\n",
	       st.ipackets, st.opackets, st.ibytes, st.obytes);
}

static void
cmd_info(void)
{
	struct rte_eth_dev_info info;
	struct rte_eth_link link;

	if (rte_eth_dev_info_get(port_id, &info) != 0 ||
	    rte_eth_link_get_nowait(port_id, &link) != 0) {
		printf("err info: %s\n", rte_strerror(rte_errno));
		return;
	}
	printf("ok info port=%u driver=%s link=%s\n", port_id, info.driver_name,
	       link.link_status ? "up" : "down");
}

static int
run(void)
{
	char line[256], arg[128];
	unsigned int n, len;
	int ms;

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "tx %u %u", &n, &len) == 2)
			cmd_tx(n, (uint16_t)len);
		else if (sscanf(line, "rx %u %d", &n, &ms) == 2)
			cmd_rx(n, ms);
		else if (sscanf(line, "xstat %127s", arg) == 1)
			cmd_xstat(arg);
		else if (strncmp(line, "stats", 5) == 0)
			cmd_stats();
		else if (strncmp(line, "info", 4) == 0)
			cmd_info();
		else if (strncmp(line, "refuse", 6) == 0)
			cmd_refuse();
		else if (strncmp(line, "quit", 4) == 0)
			return 0;
		else
			printf("err %s: unknown command\n", strtok(line, " \n"));
		fflush(stdout);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char pool[RTE_MEMPOOL_NAMESIZE];
	int n = rte_eal_init(argc, argv);

	if (n < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (rte_eal_process_type() != RTE_PROC_SECONDARY || argc - n < 2) {
		fprintf(stderr, "usage: %s <EAL args> --proc-type=secondary -- <port name>\n",
			argv[0]);
		return 1;
	}
	if (rte_eth_dev_get_port_by_name(argv[n + 1], &port_id) != 0) {
		fprintf(stderr, "no port %s in this secondary\n", argv[n + 1]);
		return 1;
	}
	/* Its own pool, never freed: the primary may still hold some of its mbufs in the
	 * Tx ring when this process has gone. */
	snprintf(pool, sizeof(pool), "vusec_%d", (int)getpid());
	mp = rte_pktmbuf_pool_create(pool, NB_MBUFS, MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (!mp) {
		fprintf(stderr, "mempool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("event: ready port=%u\n", port_id);
	fflush(stdout);
	return run();
}
