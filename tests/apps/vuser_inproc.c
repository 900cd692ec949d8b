/* SPDX-License-Identifier: BSD-3-Clause */
/* In-process checks of net_vuser against net_vhost in one EAL app: payloads both ways,
 * offloads carried in the virtio-net header, the receive filter of the control queue,
 * multi-queue steering, and power management's monitor mode. One thread polls both ports,
 * so the results do not depend on CPU scheduling (the power management flow alone sends
 * from a second lcore). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_power_pmd_mgmt.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "app_port.h"

#define NB_MBUF 8191
#define WAIT_US (10 * 1000 * 1000)

static struct rte_mempool *mp;
static uint16_t vhost_port = UINT16_MAX, vuser_port = UINT16_MAX;
static unsigned int passed, failed, skipped;
static char skip_why[256]; /* set by a check that could not run here (it then returns true) */
static bool large_rx;	   /* mrg_rxbuf=1: a frame may take several Rx buffers */

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			printf("  FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                          \
			printf("\n");                                 \
			return false;                                 \
		}                                                     \
	} while (0)

static const struct rte_ether_addr other_mac = { { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } };
static const struct rte_ether_addr mcast_mac = { { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 } };

/* An Ethernet/IPv4/{UDP,TCP} frame of `payload` bytes, spread over segments of seg bytes. */
static struct rte_mbuf *
make_packet(const struct rte_ether_addr *dst, uint8_t proto, uint32_t payload, uint32_t seg)
{
	uint32_t l4_len =
		proto == IPPROTO_UDP ? sizeof(struct rte_udp_hdr) : sizeof(struct rte_tcp_hdr);
	uint32_t hdrs = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + l4_len;
	uint32_t total = hdrs + payload, off = 0;
	struct rte_mbuf *head = NULL, *last = NULL;
	uint8_t frame[16384];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

	memset(frame, 0, sizeof(frame));
	eth->dst_addr = *dst;
	rte_eth_macaddr_get(vhost_port, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(total - sizeof(*eth)));
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (proto == IPPROTO_UDP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

		udp->src_port = rte_cpu_to_be_16(1234);
		udp->dst_port = rte_cpu_to_be_16(5678);
		udp->dgram_len = rte_cpu_to_be_16((uint16_t)(payload + l4_len));
	} else {
		struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(ip + 1);

		tcp->src_port = rte_cpu_to_be_16(1234);
		tcp->dst_port = rte_cpu_to_be_16(5678);
		tcp->data_off = (uint8_t)((sizeof(*tcp) / 4) << 4);
		tcp->tcp_flags = RTE_TCP_ACK_FLAG;
	}
	for (uint32_t i = hdrs; i < total; i++)
		frame[i] = (uint8_t)(i * 7);
	while (off < total) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t n = RTE_MIN(seg, total - off);

		if (!m)
			return NULL;
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), frame + off, n);
		off += n;
		if (!head) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		last = m;
	}
	head->l2_len = sizeof(struct rte_ether_hdr);
	head->l3_len = sizeof(struct rte_ipv4_hdr);
	head->l4_len = (uint8_t)l4_len;
	return head;
}

static bool
send_one(uint16_t port, uint16_t queue, struct rte_mbuf *m)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz();

	if (rte_eth_tx_prepare(port, queue, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return false;
	}
	while (rte_eth_tx_burst(port, queue, &m, 1) == 0)
		if (rte_get_timer_cycles() > deadline) {
			rte_pktmbuf_free(m);
			return false;
		}
	return true;
}

/* Poll both ports (the vhost PMD needs its Tx completions polled too) until one packet
 * arrives on port/queue or the time is up. */
static struct rte_mbuf *
recv_one(uint16_t port, uint16_t queue, uint64_t wait_us)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * wait_us / 1000000;
	struct rte_mbuf *m = NULL;

	while (rte_get_timer_cycles() < deadline) {
		if (rte_eth_rx_burst(port, queue, &m, 1) == 1)
			return m;
		rte_pause();
	}
	return NULL;
}

static bool
payload_intact(const struct rte_mbuf *m, uint32_t from)
{
	for (uint32_t i = from; i < m->pkt_len; i++) {
		uint8_t b = *rte_pktmbuf_mtod_offset(m, const uint8_t *, 0);

		(void)b;
		if (*(const uint8_t *)rte_pktmbuf_read(m, i, 1, &b) != (uint8_t)(i * 7))
			return false;
	}
	return true;
}

static bool
test_tx_udp_checksum(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 200, 4096), *r;
	struct rte_ipv4_hdr *ip;

	CHECK(m, "no mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	CHECK(send_one(vuser_port, 0, m), "tx refused");
	r = recv_one(vhost_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the backend");
	/* The vhost PMD completes a NEEDS_CSUM header in software: the sum must be right. */
	ip = rte_pktmbuf_mtod_offset(r, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	CHECK(rte_ipv4_udptcp_cksum_verify(ip, ip + 1) == 0, "UDP checksum wrong at the backend");
	CHECK(r->pkt_len == 14 + 20 + 8 + 200, "length %u", r->pkt_len);
	CHECK(payload_intact(r, 42), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_tx_tcp_checksum_multiseg(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_TCP, 1200, 300), *r;
	struct rte_ipv4_hdr *ip;

	CHECK(m && m->nb_segs > 1, "no chained mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
	CHECK(send_one(vuser_port, 0, m), "tx refused");
	r = recv_one(vhost_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the backend");
	CHECK(r->pkt_len == 14 + 20 + 20 + 1200, "length %u", r->pkt_len);
	CHECK(rte_pktmbuf_linearize(r) == 0, "linearize");
	ip = rte_pktmbuf_mtod_offset(r, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	CHECK(rte_ipv4_udptcp_cksum_verify(ip, ip + 1) == 0, "TCP checksum wrong at the backend");
	CHECK(payload_intact(r, 54), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_tx_tso(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_TCP, 8000, 2000), *r;

	CHECK(m, "no mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG;
	m->tso_segsz = 1000;
	CHECK(send_one(vuser_port, 0, m), "tx refused");
	r = recv_one(vhost_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the backend");
	/* vhost turns the GSO header into LRO flags for its application. */
	CHECK(r->ol_flags & RTE_MBUF_F_RX_LRO, "no GSO request seen (ol_flags 0x%" PRIx64 ")",
	      r->ol_flags);
	CHECK(r->tso_segsz == 1000, "gso_size %u", r->tso_segsz);
	CHECK(r->pkt_len == 14 + 20 + 20 + 8000, "length %u", r->pkt_len);
	CHECK(payload_intact(r, 54), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_rx_checksum_partial(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 100, 4096), *r;

	CHECK(m, "no mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	CHECK(send_one(vhost_port, 0, m), "backend tx refused");
	r = recv_one(vuser_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the frontend");
	CHECK((r->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE,
	      "partial checksum not flagged (ol_flags 0x%" PRIx64 ")", r->ol_flags);
	CHECK(payload_intact(r, 42), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_rx_lro(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_TCP, 6000, 1500), *r;

	CHECK(m, "no mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG;
	m->tso_segsz = 1448;
	CHECK(send_one(vhost_port, 0, m), "backend tx refused");
	r = recv_one(vuser_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the frontend");
	CHECK(r->ol_flags & RTE_MBUF_F_RX_LRO, "no LRO flag (ol_flags 0x%" PRIx64 ")", r->ol_flags);
	CHECK(r->tso_segsz == 1448, "tso_segsz %u", r->tso_segsz);
	CHECK(r->pkt_len == 14 + 20 + 20 + 6000 && r->nb_segs > 1, "length %u in %u segments",
	      r->pkt_len, r->nb_segs);
	CHECK(payload_intact(r, 54), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

/* Send a frame to dst from the backend; true when the frontend delivers it. */
static bool
delivered(const struct rte_ether_addr *dst)
{
	struct rte_mbuf *m = make_packet(dst, IPPROTO_UDP, 50, 4096), *r;

	if (!m || !send_one(vhost_port, 0, m))
		return false;
	r = recv_one(vuser_port, 0, 300 * 1000);
	rte_pktmbuf_free(r);
	return r != NULL;
}

static bool
test_rx_filter(void)
{
	struct rte_ether_addr own, bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	rte_eth_macaddr_get(vuser_port, &own);
	CHECK(rte_eth_promiscuous_disable(vuser_port) == 0, "promiscuous off refused");
	CHECK(rte_eth_allmulticast_disable(vuser_port) == 0, "all-multicast off refused");
	CHECK(delivered(&own), "own address dropped");
	CHECK(delivered(&bcast), "broadcast dropped");
	CHECK(!delivered(&other_mac), "other unicast delivered with promiscuous off");
	CHECK(!delivered(&mcast_mac), "unlisted multicast delivered");
	CHECK(rte_eth_allmulticast_enable(vuser_port) == 0, "all-multicast on refused");
	CHECK(delivered(&mcast_mac), "multicast dropped in all-multicast mode");
	CHECK(rte_eth_allmulticast_disable(vuser_port) == 0, "all-multicast off refused");
	CHECK(rte_eth_dev_mac_addr_add(vuser_port, (struct rte_ether_addr *)&other_mac, 0) == 0,
	      "mac_addr_add refused");
	CHECK(delivered(&other_mac), "added unicast address dropped");
	CHECK(rte_eth_dev_mac_addr_remove(vuser_port, (struct rte_ether_addr *)&other_mac) == 0,
	      "mac_addr_remove refused");
	CHECK(!delivered(&other_mac), "removed address still delivered");
	CHECK(rte_eth_promiscuous_enable(vuser_port) == 0, "promiscuous on refused");
	CHECK(delivered(&other_mac), "other unicast dropped in promiscuous mode");
	return true;
}

static bool
test_tx_vlan_insert(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 80, 4096), *r;
	const struct rte_ether_hdr *eth;
	const struct rte_vlan_hdr *vh;

	CHECK(m, "no mbuf");
	m->ol_flags |= RTE_MBUF_F_TX_VLAN;
	m->vlan_tci = 100;
	CHECK(send_one(vuser_port, 0, m), "tx refused");
	r = recv_one(vhost_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the backend");
	CHECK(r->pkt_len == 14 + 4 + 20 + 8 + 80, "length %u", r->pkt_len);
	eth = rte_pktmbuf_mtod(r, const struct rte_ether_hdr *);
	vh = (const struct rte_vlan_hdr *)(eth + 1);
	CHECK(eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN), "no 802.1Q tag");
	CHECK((rte_be_to_cpu_16(vh->vlan_tci) & 0xfff) == 100, "tag %u",
	      rte_be_to_cpu_16(vh->vlan_tci) & 0xfff);
	CHECK(vh->eth_proto == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4), "inner type lost");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_rx_vlan_strip(void)
{
	struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 80, 4096), *r;

	CHECK(m, "no mbuf");
	/* The backend sends a tagged frame; ours hands it over untagged, tag in the mbuf. */
	m->vlan_tci = 200;
	CHECK(rte_vlan_insert(&m) == 0, "tagging the test frame failed");
	CHECK(send_one(vhost_port, 0, m), "backend tx refused");
	r = recv_one(vuser_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the frontend");
	CHECK(r->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED, "not stripped (ol_flags 0x%" PRIx64 ")",
	      r->ol_flags);
	CHECK(r->vlan_tci == 200, "vlan_tci %u", r->vlan_tci);
	CHECK(r->pkt_len == 14 + 20 + 8 + 80, "length %u", r->pkt_len);
	CHECK(payload_intact(r, 42), "payload changed");
	rte_pktmbuf_free(r);
	return true;
}

static bool
test_multiqueue(void)
{
	struct rte_eth_dev_info info;

	rte_eth_dev_info_get(vuser_port, &info);
	for (uint16_t q = 0; q < info.nb_rx_queues; q++) {
		struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 60, 4096), *r;

		CHECK(m && send_one(vhost_port, q, m), "backend tx on queue %u refused", q);
		/* The backend's Tx queue q is the frontend's Rx queue q. */
		r = recv_one(vuser_port, q, WAIT_US);
		CHECK(r, "nothing arrived on frontend rx queue %u", q);
		rte_pktmbuf_free(r);
		m = make_packet(&other_mac, IPPROTO_UDP, 60, 4096);
		CHECK(m && send_one(vuser_port, q, m), "tx on queue %u refused", q);
		r = recv_one(vhost_port, q, WAIT_US);
		CHECK(r, "nothing arrived on backend rx queue %u", q);
		rte_pktmbuf_free(r);
	}
	return true;
}

/*
 * The payload check: numbered frames whose every byte is known, of many lengths and split
 * into segments of several sizes, through enough bursts of changing sizes to take the
 * ring indexes round several times; each frame must arrive once, in order, intact.
 */
#define PAYLOAD_FRAMES (3 * APP_RING + 37)
#define PAYLOAD_ETHERTYPE 0x88b5 /* IEEE 802 local experimental */
#define PAYLOAD_IN_FLIGHT (APP_RING / 2)
#define PAYLOAD_MAX_LEN 9000

/* Frame lengths (no CRC); the first PAYLOAD_ONE_BUFFER fit one Rx buffer each. */
static const uint16_t payload_lens[] = { 60,   64,   65,   127,	 128,
					 255,  256,  511,  512,	 1000,
					 1023, 1024, 1513, 1514, 2000,
					 2048, 2100, 4000, 6000, PAYLOAD_MAX_LEN };
#define PAYLOAD_ONE_BUFFER 14
static const uint16_t payload_segs[] = { 2048, 1000, 700, 500 };
static const uint16_t payload_tx_bursts[] = { 32, 1, 7, 16, 3, 32, 5, 4 };
static const uint16_t payload_rx_bursts[] = { 32, 4, 1, 32, 13 };

static uint32_t
payload_len(uint32_t seq)
{
	uint32_t n = large_rx ? RTE_DIM(payload_lens) : PAYLOAD_ONE_BUFFER;

	return payload_lens[(seq * 7) % n];
}

/* Byte i of frame seq past the Ethernet header: the number, then a pattern of both. */
static uint8_t
payload_byte(uint32_t seq, uint32_t i)
{
	if (i < sizeof(seq))
		return (uint8_t)(seq >> (8 * (sizeof(seq) - 1 - i)));
	return (uint8_t)(seq * 31 + i * 13 + (i >> 8));
}

static struct rte_mbuf *
payload_frame(uint16_t to, uint32_t seq)
{
	uint32_t len = payload_len(seq), seg = payload_segs[seq % RTE_DIM(payload_segs)];
	uint8_t frame[PAYLOAD_MAX_LEN];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	struct rte_mbuf *head = NULL, *last = NULL;

	rte_eth_macaddr_get(to, &eth->dst_addr);
	rte_eth_macaddr_get(to == vuser_port ? vhost_port : vuser_port, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(PAYLOAD_ETHERTYPE);
	for (uint32_t i = sizeof(*eth); i < len; i++)
		frame[i] = payload_byte(seq, i - (uint32_t)sizeof(*eth));
	for (uint32_t off = 0; off < len; off += seg) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint16_t n = (uint16_t)RTE_MIN(seg, len - off);

		if (!m) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		memcpy(rte_pktmbuf_append(m, n), frame + off, n);
		if (!head) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		last = m;
	}
	return head;
}

/* Is m frame seq, whole, with consistent mbuf fields? Says why not. */
static bool
payload_intact_frame(const struct rte_mbuf *m, uint16_t port, uint32_t seq)
{
	uint32_t len = payload_len(seq), got;
	const char *why = NULL;
	uint8_t frame[PAYLOAD_MAX_LEN];
	const uint8_t *p;

	CHECK(rte_mbuf_check(m, 1, &why) == 0, "frame %u: bad mbuf: %s", seq, why);
	CHECK(m->port == port, "frame %u: mbuf port %u, expected %u", seq, m->port, port);
	CHECK(m->pkt_len >= sizeof(struct rte_ether_hdr) + sizeof(seq) &&
		      m->pkt_len <= sizeof(frame),
	      "frame %u: %u bytes, expected %u", seq, m->pkt_len, len);
	p = rte_pktmbuf_read(m, 0, m->pkt_len, frame);
	p += sizeof(struct rte_ether_hdr);
	got = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	CHECK(got == seq, "frame %u arrived where frame %u was due", got, seq);
	CHECK(m->pkt_len == len, "frame %u: %u bytes, expected %u", seq, m->pkt_len, len);
	for (uint32_t i = 0; i < len - sizeof(struct rte_ether_hdr); i++)
		CHECK(p[i] == payload_byte(seq, i),
		      "frame %u (%u bytes in %u segments): byte %zu is 0x%02x, expected 0x%02x",
		      seq, len, m->nb_segs, i + sizeof(struct rte_ether_hdr), p[i],
		      payload_byte(seq, i));
	return true;
}

/* Frames 0..PAYLOAD_FRAMES-1 from port `from` to port `to` (queue 0), sent and taken in
 * turn by this one thread, so that the frames sent are on the ring before the poll. */
static bool
payload_one_way(uint16_t from, uint16_t to)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * WAIT_US / 1000000;
	uint32_t sent = 0, got = 0, b = 0;
	struct rte_mbuf *pkts[32];

	while (got < PAYLOAD_FRAMES) {
		uint16_t want = payload_tx_bursts[b % RTE_DIM(payload_tx_bursts)], n;

		want = (uint16_t)RTE_MIN(want, PAYLOAD_FRAMES - sent);
		if (sent - got + want > PAYLOAD_IN_FLIGHT)
			want = 0;
		for (uint16_t k = 0; k < want; k++)
			CHECK((pkts[k] = payload_frame(to, sent + k)), "no mbuf for frame %u",
			      sent + k);
		n = rte_eth_tx_burst(from, 0, pkts, want);
		rte_pktmbuf_free_bulk(pkts + n, want - n); /* made again for the next try */
		sent += n;
		n = rte_eth_rx_burst(to, 0, pkts,
				     payload_rx_bursts[b++ % RTE_DIM(payload_rx_bursts)]);
		for (uint16_t k = 0; k < n; k++) {
			bool ok = payload_intact_frame(pkts[k], to, got++);

			rte_pktmbuf_free(pkts[k]);
			if (!ok) {
				rte_pktmbuf_free_bulk(pkts + k + 1, n - k - 1);
				return false;
			}
		}
		CHECK(rte_get_timer_cycles() < deadline, "%u of %u frames arrived, %u sent", got,
		      PAYLOAD_FRAMES, sent);
	}
	/* Everything sent was on the ring before this poll: a frame taken twice shows here. */
	CHECK(rte_eth_rx_burst(to, 0, pkts, 1) == 0, "a frame after the last one");
	return true;
}

static bool
test_payload(void)
{
	CHECK(payload_one_way(vhost_port, vuser_port), "backend -> frontend (our Rx)");
	CHECK(payload_one_way(vuser_port, vhost_port), "frontend -> backend (our Tx)");
	printf("  payload: %u frames each way, %u to %u bytes\n", PAYLOAD_FRAMES, payload_lens[0],
	       large_rx ? PAYLOAD_MAX_LEN : payload_lens[PAYLOAD_ONE_BUFFER - 1]);
	return true;
}

static int
setup_port(uint16_t port, uint16_t queues, uint64_t rx_off, uint64_t tx_off)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.offloads = rx_off;
	conf.txmode.offloads = tx_off;
	rc = rte_eth_dev_configure(port, queues, queues, &conf);
	for (uint16_t q = 0; rc == 0 && q < queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, APP_RING, rte_socket_id(), NULL, mp);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(port, q, APP_RING, rte_socket_id(), NULL);
	}
	return rc ? rc : rte_eth_dev_start(port);
}

/* The last check of every run: both ports stop and close without an error. */
static bool
test_close(void)
{
	int rc;

	CHECK((rc = rte_eth_dev_stop(vuser_port)) == 0, "stop: %s", rte_strerror(-rc));
	CHECK((rc = rte_eth_dev_close(vuser_port)) == 0, "close: %s", rte_strerror(-rc));
	CHECK((rc = rte_eth_dev_stop(vhost_port)) == 0, "backend stop: %s", rte_strerror(-rc));
	CHECK((rc = rte_eth_dev_close(vhost_port)) == 0, "backend close: %s", rte_strerror(-rc));
	return true;
}

/*
 * MTU: dev_info's range; a 9000-byte frame goes out whole; and with VIRTIO_NET_F_MTU
 * (net_vhost offers it, and the PMD takes it with mergeable buffers) rte_eth_tx_prepare
 * stops a frame longer than the device's mtu (65535 over vhost-user) plus an Ethernet
 * header and two VLAN tags, with EINVAL (spec 5.1.4.2).
 */
static bool
test_tx_mtu(void)
{
	const uint32_t max_frame = 65535 + RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN;
	struct rte_eth_dev_info info;
	struct rte_mbuf *m, *r;
	uint16_t n;

	CHECK(rte_eth_dev_info_get(vuser_port, &info) == 0, "no dev_info");
	/* DPDK's virtio driver's numbers: 9728-byte frames, 30 bytes of overhead. */
	CHECK(info.min_mtu == 68 && info.max_mtu == 9698, "MTU range %u..%u, expected 68..9698",
	      info.min_mtu, info.max_mtu);
	CHECK(info.max_rx_pktlen == 9728, "max_rx_pktlen %u", info.max_rx_pktlen);
	m = make_packet(&other_mac, IPPROTO_UDP, 9000 - 42, 2048);
	CHECK(m, "no mbuf");
	CHECK(send_one(vuser_port, 0, m), "a 9000-byte frame was refused");
	r = recv_one(vhost_port, 0, WAIT_US);
	CHECK(r, "nothing arrived at the backend");
	CHECK(r->pkt_len == 9000, "length %u at the backend", r->pkt_len);
	CHECK(payload_intact(r, 42), "payload changed");
	rte_pktmbuf_free(r);

	m = rte_pktmbuf_alloc(mp);
	CHECK(m && rte_pktmbuf_append(m, 2048), "no mbuf");
	while (m->pkt_len <= max_frame) {
		struct rte_mbuf *seg = rte_pktmbuf_alloc(mp);

		if (!seg || !rte_pktmbuf_append(seg, 2048) || rte_pktmbuf_chain(m, seg) != 0) {
			rte_pktmbuf_free(seg);
			rte_pktmbuf_free(m);
			CHECK(false, "cannot build a %u-byte chain", max_frame + 1);
		}
	}
	rte_errno = 0;
	n = rte_eth_tx_prepare(vuser_port, 0, &m, 1);
	rte_pktmbuf_free(m);
	CHECK(n == 0 && rte_errno == EINVAL,
	      "a frame over %u bytes: tx_prepare took %u (rte_errno %d)", max_frame, n, rte_errno);
	return true;
}

/* The word rte_power_monitor would sleep on, read as it reads it, and the driver's
 * answer: true when the callback says "abort the sleep" (a packet is pending). */
static bool
monitor_says_pending(const struct rte_power_monitor_cond *pmc)
{
	uint64_t v;

	switch (pmc->size) {
	case 1:
		v = *(const volatile uint8_t *)pmc->addr;
		break;
	case 2:
		v = *(const volatile uint16_t *)pmc->addr;
		break;
	case 4:
		v = *(const volatile uint32_t *)pmc->addr;
		break;
	default:
		v = *(const volatile uint64_t *)pmc->addr;
		break;
	}
	return pmc->fn(v, pmc->opaque) != 0;
}

/* Packets sent in a batch of `batch` on queue q: taken before any is sent, the monitor
 * condition must turn "pending" by the backend's writes alone, stay so while any is in the
 * ring, and say "sleep" once all are received. */
static bool
monitor_batch(uint16_t q, unsigned int batch)
{
	struct rte_power_monitor_cond before, now;
	unsigned int got = 0;
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz();

	CHECK(rte_eth_get_monitor_addr(vuser_port, q, &before) == 0, "get_monitor_addr failed");
	CHECK(before.fn && before.addr &&
		      (before.size == 1 || before.size == 2 || before.size == 4 ||
		       before.size == 8),
	      "monitor condition: fn %p addr %p size %u", (void *)before.fn,
	      (void *)(uintptr_t)before.addr, before.size);
	CHECK(!monitor_says_pending(&before), "queue %u: pending with nothing sent", q);
	for (unsigned int i = 0; i < batch; i++) {
		struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 40, 4096);

		CHECK(m && send_one(vhost_port, q, m), "backend tx on queue %u refused", q);
	}
	/* net_vhost's Tx writes the ring before it returns: no wait. */
	CHECK(monitor_says_pending(&before),
	      "queue %u: %u packets sent, the condition taken "
	      "before still says sleep",
	      q, batch);
	while (got < batch) {
		struct rte_mbuf *pkts[32];
		uint16_t n;

		CHECK(rte_eth_get_monitor_addr(vuser_port, q, &now) == 0,
		      "get_monitor_addr failed");
		CHECK(monitor_says_pending(&now),
		      "queue %u: %u of %u packets in the ring, the "
		      "condition says sleep",
		      q, batch - got, batch);
		n = rte_eth_rx_burst(vuser_port, q, pkts, RTE_DIM(pkts));
		got += n;
		rte_pktmbuf_free_bulk(pkts, n);
		CHECK(rte_get_timer_cycles() < deadline, "queue %u: %u of %u received", q, got,
		      batch);
	}
	CHECK(got == batch, "queue %u: %u received, %u sent", q, got, batch);
	CHECK(rte_eth_get_monitor_addr(vuser_port, q, &now) == 0, "get_monitor_addr failed");
	CHECK(!monitor_says_pending(&now),
	      "queue %u: all received, the condition says a "
	      "packet is pending",
	      q);
	return true;
}

/* eth_dev_ops.get_monitor_addr, checked without sleeping (any CPU): over more than two
 * laps of the ring, batches of 1 to 5 packets. */
static bool
test_power_monitor(void)
{
	struct rte_eth_dev_info info;
	unsigned int sent = 0;

	rte_eth_dev_info_get(vuser_port, &info);
	for (uint16_t q = 0; q < info.nb_rx_queues; q++)
		for (unsigned int b = 0; sent < (q + 1u) * APP_RING * 5 / 2; b++) {
			if (!monitor_batch(q, b % 5 + 1))
				return false;
			sent += b % 5 + 1;
		}
	return true;
}

#define PMGMT_PACKETS 200
#define PMGMT_GAP_US 200

/* The worker lcore of the power management flow: packets spaced out, so that the polling
 * lcore runs out of work and sleeps between them. */
static int
pmgmt_sender(void *arg)
{
	uint16_t queues = *(const uint16_t *)arg;

	for (unsigned int i = 0; i < PMGMT_PACKETS; i++)
		for (uint16_t q = 0; q < queues; q++) {
			struct rte_mbuf *m = make_packet(&other_mac, IPPROTO_UDP, 40, 4096);

			if (!m || !send_one(vhost_port, q, m))
				return -1;
			rte_delay_us_block(PMGMT_GAP_US);
		}
	return 0;
}

/* Receive on every queue until each has PMGMT_PACKETS or the time is up. */
static bool
pmgmt_receive(uint16_t queues, unsigned int *got)
{
	uint64_t deadline = rte_get_timer_cycles() + 20 * rte_get_timer_hz();
	bool done = false;

	while (!done && rte_get_timer_cycles() < deadline) {
		done = true;
		for (uint16_t q = 0; q < queues; q++) {
			struct rte_mbuf *pkts[32];
			uint16_t n = rte_eth_rx_burst(vuser_port, q, pkts, RTE_DIM(pkts));

			got[q] += n;
			rte_pktmbuf_free_bulk(pkts, n);
			done &= got[q] >= PMGMT_PACKETS;
		}
	}
	return done;
}

/* The port runs with power management on its queues: start it, send from the worker
 * lcore, receive on this one, stop it again. */
static bool
pmgmt_run(unsigned int worker, uint16_t queues, const char *mode_name)
{
	unsigned int got[RTE_MAX_QUEUES_PER_PORT] = { 0 };
	bool all;

	CHECK(rte_eth_dev_start(vuser_port) == 0 && app_link_up(vuser_port), "port start");
	CHECK(rte_eal_remote_launch(pmgmt_sender, &queues, worker) == 0, "launch");
	all = pmgmt_receive(queues, got);
	CHECK(rte_eal_wait_lcore(worker) == 0, "the sender failed");
	/* Whatever came late, and nothing more than was sent. */
	all &= pmgmt_receive(queues, got);
	CHECK(rte_eth_dev_stop(vuser_port) == 0, "port stop");
	for (uint16_t q = 0; q < queues; q++)
		CHECK(got[q] == PMGMT_PACKETS, "%s: queue %u received %u of %u", mode_name, q,
		      got[q], PMGMT_PACKETS);
	CHECK(all, "%s: not every packet arrived", mode_name);
	return true;
}

/*
 * rte_power_ethdev_pmgmt_queue_enable on every Rx queue of the port (stopped, as the
 * library requires), packets from a second lcore with gaps, exactly PMGMT_PACKETS per
 * queue received by the polling lcore; then the port as it was.
 */
static bool
pmgmt_flow(enum rte_power_pmd_mgmt_type mode, const char *mode_name)
{
	unsigned int lcore = rte_lcore_id(), worker = rte_get_next_lcore(lcore, 1, 0);
	struct rte_eth_dev_info info;
	uint16_t queues, enabled = 0;
	bool ok = true;
	int rc = 0;

	CHECK(worker < RTE_MAX_LCORE, "needs a second lcore (-l 0,1)");
	rte_eth_dev_info_get(vuser_port, &info);
	queues = info.nb_rx_queues;
	CHECK(rte_eth_dev_stop(vuser_port) == 0, "port stop");
	for (; enabled < queues; enabled++) {
		rc = rte_power_ethdev_pmgmt_queue_enable(lcore, vuser_port, enabled, mode);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		ok = pmgmt_run(worker, queues, mode_name);
	while (enabled > 0)
		rte_power_ethdev_pmgmt_queue_disable(lcore, vuser_port, --enabled);
	CHECK(rte_eth_dev_start(vuser_port) == 0 && app_link_up(vuser_port), "port start");
	if (rc == -ENOTSUP) {
		struct rte_cpu_intrinsics cpu;

		rte_cpu_get_intrinsics_support(&cpu);
		snprintf(skip_why, sizeof(skip_why),
			 "rte_power_ethdev_pmgmt_queue_enable(%s) on queue %u: -ENOTSUP, this CPU "
			 "has power_monitor %u (UMWAIT or MONITORX), power_monitor_multi %u, "
			 "power_pause %u",
			 mode_name, enabled, cpu.power_monitor, cpu.power_monitor_multi,
			 cpu.power_pause);
		return true;
	}
	CHECK(rc == 0, "rte_power_ethdev_pmgmt_queue_enable(%s) on queue %u: %d", mode_name,
	      enabled, rc);
	return ok;
}

static bool
test_power_pmgmt_monitor(void)
{
	return pmgmt_flow(RTE_POWER_MGMT_TYPE_MONITOR, "MONITOR");
}

/* The same flow where every CPU can run it: it checks the harness of the one above. */
static bool
test_power_pmgmt_pause(void)
{
	return pmgmt_flow(RTE_POWER_MGMT_TYPE_PAUSE, "PAUSE");
}

static void
run(const char *name, bool (*fn)(void))
{
	bool ok;

	skip_why[0] = '\0';
	ok = fn();
	if (ok && skip_why[0]) {
		printf("SKIP %s: %s\n", name, skip_why);
		skipped++;
		return;
	}
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	if (ok)
		passed++;
	else
		failed++;
}

static const struct {
	const char *name;
	bool (*fn)(void);
} tests[] = {
	{ "tx_udp_checksum", test_tx_udp_checksum },
	{ "tx_tcp_checksum_multiseg", test_tx_tcp_checksum_multiseg },
	{ "tx_tso", test_tx_tso },
	{ "rx_checksum_partial", test_rx_checksum_partial },
	{ "rx_lro", test_rx_lro },
	{ "rx_filter", test_rx_filter },
	{ "multiqueue", test_multiqueue },
	{ "tx_vlan_insert", test_tx_vlan_insert },
	{ "rx_vlan_strip", test_rx_vlan_strip },
	{ "power_monitor", test_power_monitor },
	{ "power_pmgmt_monitor", test_power_pmgmt_monitor },
	{ "power_pmgmt_pause", test_power_pmgmt_pause },
	{ "payload", test_payload },
	{ "tx_mtu", test_tx_mtu },
};

/* Find the ports by driver; the vuser port is hot-plugged once the backend listens. */
static int
find_ports(const char *vuser_devargs)
{
	struct rte_eth_dev_info info;
	uint16_t port;

	if (vuser_devargs && rte_eal_hotplug_add("vdev", "net_vuser0", vuser_devargs) != 0) {
		fprintf(stderr, "probing net_vuser0,%s failed\n", vuser_devargs);
		return -1;
	}
	RTE_ETH_FOREACH_DEV (port) {
		rte_eth_dev_info_get(port, &info);
		if (strcmp(info.driver_name, "net_vhost") == 0)
			vhost_port = port;
		else if (strcmp(info.driver_name, "net_vuser") == 0)
			vuser_port = port;
	}
	return 0;
}

/* usage: vuser_inproc <EAL args with a net_vhost vdev and -d the plugin> -- QUEUES
 *        VUSER_DEVARGS [--no-offloads] TEST...
 * --no-offloads: the port asks for no offload, as testpmd's defaults do (the Rx bursts
 * that take whole ring lines run only then); multi-segment Tx only. */
int
main(int argc, char **argv)
{
	uint64_t tx_off = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
		RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	uint64_t rx_off = RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
		RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_VLAN_STRIP |
		RTE_ETH_RX_OFFLOAD_SCATTER;
	struct rte_eth_dev_info info;
	uint16_t queues;
	int n, first_test = 3;

	/* Line by line: the verdicts printed so far survive a crash at close. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = rte_eal_init(argc, argv);

	if (n < 0 || argc - n < 4) {
		fprintf(stderr,
			"usage: %s EAL-ARGS -- QUEUES VUSER_DEVARGS [--no-offloads] TEST...\n",
			argv[0]);
		return 2;
	}
	argc -= n;
	argv += n;
	queues = (uint16_t)atoi(argv[1]);
	large_rx = strstr(argv[2], "mrg_rxbuf=1") != NULL;
	if (strcmp(argv[3], "--no-offloads") == 0) {
		rx_off = 0;
		tx_off = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		first_test++;
	}
	mp = rte_pktmbuf_pool_create("inproc", NB_MBUF, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (!mp || find_ports(NULL) < 0 || vhost_port == UINT16_MAX ||
	    rte_eth_dev_info_get(vhost_port, &info) != 0 ||
	    setup_port(vhost_port, queues, 0, tx_off & info.tx_offload_capa) != 0 ||
	    find_ports(argv[2]) < 0 || vuser_port == UINT16_MAX) {
		fprintf(stderr, "need a mempool, a net_vhost port and a net_vuser port\n");
		return 2;
	}
	/* Ask only for what the device offers: the offload tests check what was granted. */
	rte_eth_dev_info_get(vuser_port, &info);
	if (setup_port(vuser_port, queues, rx_off & info.rx_offload_capa,
		       tx_off & info.tx_offload_capa) != 0 ||
	    !app_link_up(vuser_port) || !app_link_up(vhost_port)) {
		fprintf(stderr, "ports did not come up\n");
		return 2;
	}
	rte_eth_promiscuous_enable(vuser_port);
	for (int a = first_test; a < argc; a++)
		for (size_t t = 0; t < RTE_DIM(tests); t++)
			if (strcmp(argv[a], tests[t].name) == 0)
				run(tests[t].name, tests[t].fn);
	run("close", test_close);
	rte_eal_cleanup();
	printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
