/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the PMD's Rx/Tx bursts consuming used entries a hostile device wrote (with DPDK's EAL). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_cpuflags.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "vuser_queue.h"

/*
 * The fuzzer is the device. Byte 0 picks the ring (split or packed, mergeable buffers,
 * IN_ORDER, size 8/16/32/64, posted buffers, and for the line bursts of packed in-order
 * rings the plain-C or the AVX2 line check); then each 8-byte record is one action:
 *
 *   op 0-3  write a used entry (split: used->ring[used->idx] and bump used->idx by 1..4;
 *           packed: the descriptor at the device's position with the fuzzer's flags)
 *           with the record's id, len and num_buffers (written into the buffer's header
 *           when the id is a posted buffer)
 *   op 4    set used->idx (split) / any descriptor's flags (packed) to a raw value
 *   op 5    an Rx burst
 *   op 6    a Tx burst of 1..8 packets
 *   op 7    write a used entry on the Tx ring
 *
 * After every Rx burst, whatever the device wrote (fuzz_check_rx):
 *   - the driver consumed no used entry the device had not published (split: its index
 *     moved forward by at most used->idx - last_used_idx; packed: by at most the run of
 *     slots marked used for the lap, the wrap counter flipping as it passes the end), and
 *     one per segment delivered, faulty entry counted or packet the receive filter
 *     dropped (the port is not promiscuous): exactly that, except that a dropped packet
 *     of several mergeable buffers took more (fuzz_check_rx_entries);
 *   - every mbuf delivered is sound (rte_mbuf_check: pkt_len is the sum of data_len,
 *     nb_segs the chain's length, data within each buffer), one segment without mergeable
 *     buffers, the port and the queue's counters right, and no segment is delivered twice
 *     or still posted in the ring (the next bursts would deliver it again).
 * After every Tx burst no more descriptors are free than the ring has. The mbufs the
 * application got are freed; at the end the queues are stopped and every mbuf must be back
 * in the pool: none lost, none freed twice (the mempool's count would be off, or ASan would
 * see it).
 */

/* The Rx burst vuser_pick_bursts gives the ring: with simd (vectorized=1) the AVX2 burst
 * where the CPU has it, on a packed ring the AVX-512 one for odd burst sizes where the CPU
 * has that too; else the plain-C line burst (packed) or the general one (split). */
static uint16_t
fuzz_recv(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t n, bool packed, bool mrg,
	  bool simd)
{
#if defined(RTE_ARCH_X86_64)
	if (simd && packed && n % 2 && rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0)
		return mrg ? vuser_packed_recv_avx512_mrg(rxq, pkts, n) :
			     vuser_packed_recv_avx512(rxq, pkts, n);
	if (simd && packed && rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) > 0)
		return mrg ? vuser_packed_recv_vec_mrg(rxq, pkts, n) :
			     vuser_packed_recv_vec(rxq, pkts, n);
	if (simd && rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) > 0)
		return mrg ? vuser_split_recv_vec_mrg(rxq, pkts, n) :
			     vuser_split_recv_vec(rxq, pkts, n);
#endif
	(void)simd;
	if (packed)
		return mrg ? vuser_packed_recv_lines_mrg(rxq, pkts, n) :
			     vuser_packed_recv_lines(rxq, pkts, n);
	return mrg ? vuser_split_recv_mrg(rxq, pkts, n) : vuser_split_recv(rxq, pkts, n);
}

#define FUZZ_FAIL(...)                                         \
	do {                                                   \
		fprintf(stderr, "fuzz_rx_ring: " __VA_ARGS__); \
		fprintf(stderr, "\n");                         \
		abort();                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* What the rest of the PMD provides; the bursts need these few. */
int vuser_logtype;

void
vuser_glue_notify(struct vuser_port *port, uint32_t vq_index)
{
	(void)port;
	(void)vq_index;
}

/* vuser_queue.c asks it for the descriptor limits at set-up: no device here, the ring's
 * layout is the target's input. */
bool
vuser_glue_offers(const struct vuser_port *port, unsigned int feature)
{
	(void)port;
	(void)feature;
	return false;
}

/* vuser_txq_start asks it for the largest frame Tx takes: the device's whole range here. */
uint32_t
vuser_glue_max_mtu(const struct vuser_port *port)
{
	(void)port;
	return VU_NET_MAX_MTU;
}

static struct rte_mempool *mp;
static struct rte_eth_dev_data fake_data;
static struct vuser_port port;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];
	char *eal[] = { "fuzz_rx_ring",
			"--no-huge",
			"-m",
			"64",
			"--no-pci",
			"--no-telemetry",
			"--file-prefix",
			prefix,
			"--log-level",
			"lib.eal:error",
			"--no-shconf",
			"-l",
			"0",
			NULL };

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "fuzz_rx_ring%d", (int)getpid());
	if (rte_eal_init(13, eal) < 0) {
		fprintf(stderr, "fuzz_rx_ring: EAL init failed\n");
		exit(1);
	}
	vuser_logtype = rte_log_register("pmd.net.vuser");
	rte_log_set_level(vuser_logtype, RTE_LOG_EMERG);
	mp = rte_pktmbuf_pool_create("fuzz_mp", 1024, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, 0);
	if (!mp) {
		fprintf(stderr, "fuzz_rx_ring: no mempool\n");
		exit(1);
	}
	fake_data.port_id = RTE_MAX_ETHPORTS - 1;
	port.data = &fake_data;
	snprintf(port.name, sizeof(port.name), "fuzz");
	return 0;
}

struct fuzz_dev {
	uint16_t split_used; /* the device's next split used index */
	uint16_t slot;	     /* packed: next used slot */
	bool wrap;
};

static void
fuzz_write_hdr(struct vuser_rxq *rxq, uint32_t id, uint16_t nbufs)
{
	struct rte_mbuf *m;

	if (id >= rxq->size || !(m = rxq->sw_ring[id]))
		return;
	((struct vu_net_hdr *)(uintptr_t)vuser_rx_buf_addr(rxq, m))->num_buffers = nbufs;
}

static void
fuzz_used(struct fuzz_dev *d, bool packed, struct vu_split_ring *s, struct vu_packed_ring *p,
	  uint32_t id, uint32_t len, uint8_t op, uint16_t flags)
{
	if (!packed) {
		struct vu_used_elem *e = &s->used->ring[d->split_used & s->mask];

		e->id = id;
		e->len = len;
		(void)op;
		d->split_used = (uint16_t)(d->split_used + 1);
		__atomic_store_n(&s->used->idx, d->split_used, __ATOMIC_RELEASE);
		return;
	}
	struct vu_packed_desc *pd = &p->desc[d->slot];

	pd->id = (uint16_t)id;
	pd->len = len;
	/* op 0-2: a proper used mark; 3: the fuzzer's own flags (wrong wrap bits too) */
	if ((op & 3) != 3)
		flags = d->wrap ? (VU_PACKED_DESC_F_AVAIL | VU_PACKED_DESC_F_USED) : 0;
	__atomic_store_n(&pd->flags, flags, __ATOMIC_RELEASE);
	if (++d->slot == p->size) {
		d->slot = 0;
		d->wrap = !d->wrap;
	}
}

/* Used entries the device has published for the driver to take (see the header). */
static uint32_t
fuzz_rx_published(const struct vuser_rxq *rxq, bool packed)
{
	const struct vu_packed_ring *r = &rxq->packed;
	uint16_t idx = r->used_idx;
	bool wrap = r->used_wrap;
	uint32_t n = 0;

	if (!packed)
		return (uint16_t)(__atomic_load_n(&rxq->split.used->idx, __ATOMIC_RELAXED) -
				  rxq->split.last_used_idx);
	while (n < r->size &&
	       (r->desc[idx].flags & VU_PACKED_DESC_F_AVAIL_USED) == vu_packed_used_bits(wrap)) {
		n++;
		if (++idx == r->size) {
			idx = 0;
			wrap = !wrap;
		}
	}
	return n;
}

/* The driver's used position, in entries from an origin (packed: slot + lap). */
static uint32_t
fuzz_rx_position(const struct vuser_rxq *rxq, bool packed)
{
	if (!packed)
		return rxq->split.last_used_idx;
	return rxq->packed.used_idx + (rxq->packed.used_wrap ? 0u : rxq->packed.size);
}

static uint32_t
fuzz_rx_advance(const struct vuser_rxq *rxq, bool packed, uint32_t before)
{
	uint32_t now = fuzz_rx_position(rxq, packed);

	if (!packed)
		return (uint16_t)(now - before);
	return (now + 2u * rxq->packed.size - before) % (2u * rxq->packed.size);
}

/* Is m one of the buffers the ring still has posted? */
static bool
fuzz_rx_posted(const struct vuser_rxq *rxq, const struct rte_mbuf *m)
{
	for (uint16_t id = 0; id < rxq->size; id++)
		if (rxq->sw_ring[id] == m)
			return true;
	return false;
}

/* What the checks compare a burst's outcome with, taken before it. */
struct fuzz_rx_snap {
	uint32_t published; /* used entries the device had published */
	uint32_t position;  /* the driver's used position */
	uint64_t filtered;  /* packets the receive filter had dropped */
	struct vuser_queue_stats stats;
};

static void
fuzz_rx_snap(const struct vuser_rxq *rxq, bool packed, struct fuzz_rx_snap *snap)
{
	snap->published = fuzz_rx_published(rxq, packed);
	snap->position = fuzz_rx_position(rxq, packed);
	snap->filtered = rxq->filtered;
	snap->stats = rxq->stats;
}

/*
 * Used entries taken against what became of them. Each delivered segment took one; so did
 * each entry counted as faulty and each packet the receive filter dropped (a dropped
 * packet of several buffers took more, and so may one a fault broke off): without
 * mergeable buffers the sum is exact, with them it is exact when nothing was dropped.
 */
static void
fuzz_check_rx_entries(const struct vuser_rxq *rxq, bool packed, bool mrg, uint32_t segs,
		      const struct fuzz_rx_snap *snap)
{
	uint32_t advance = fuzz_rx_advance(rxq, packed, snap->position);
	uint32_t dropped = (uint32_t)(rxq->filtered - snap->filtered);

	/* the faults of one used entry each (vuser_fault.h) */
	for (unsigned int k = VUSER_FAULT_BAD_ID; k <= VUSER_FAULT_BAD_NUM_BUFFERS; k++)
		dropped += (uint32_t)(rxq->stats.faults[k] - snap->stats.faults[k]);
	if (advance > snap->published)
		FUZZ_FAIL("the driver took %u used entries, the device published %u", advance,
			  snap->published);
	if (segs + dropped > advance || ((!mrg || dropped == 0) && segs + dropped != advance))
		FUZZ_FAIL("%u used entries taken for %u segments delivered and %u entries dropped",
			  advance, segs, dropped);
}

/* The checks of the header on the n packets one Rx burst delivered. */
static void
fuzz_check_rx(const struct vuser_rxq *rxq, bool packed, bool mrg, struct rte_mbuf **pkts,
	      uint16_t n, const struct fuzz_rx_snap *snap)
{
	const struct rte_mbuf *seen[VUSER_BURST_MAX];
	uint32_t segs = 0;
	uint64_t bytes = 0;
	const char *why;

	for (uint16_t i = 0; i < n; i++) {
		if (rte_mbuf_check(pkts[i], 1, &why) != 0)
			FUZZ_FAIL("packet %u of %u: %s", i, n, why);
		if (pkts[i]->port != rxq->port_id || (!mrg && pkts[i]->nb_segs != 1))
			FUZZ_FAIL("packet %u: port %u, %u segments", i, pkts[i]->port,
				  pkts[i]->nb_segs);
		bytes += pkts[i]->pkt_len;
		for (const struct rte_mbuf *m = pkts[i]; m; m = m->next) {
			/* a burst takes at most VUSER_BURST_MAX used entries, one per segment */
			if (segs == VUSER_BURST_MAX)
				FUZZ_FAIL("more than %u segments in one burst", VUSER_BURST_MAX);
			for (uint32_t k = 0; k < segs; k++)
				if (seen[k] == m)
					FUZZ_FAIL("an mbuf delivered twice in one burst");
			if (fuzz_rx_posted(rxq, m))
				FUZZ_FAIL("packet %u: a segment is delivered and still posted", i);
			seen[segs++] = m;
		}
	}
	fuzz_check_rx_entries(rxq, packed, mrg, segs, snap);
	if (rxq->stats.packets - snap->stats.packets != n ||
	    rxq->stats.bytes - snap->stats.bytes != bytes)
		FUZZ_FAIL("the counters say %" PRIu64 " packets of %" PRIu64
			  " bytes, the burst gave %u of %" PRIu64,
			  rxq->stats.packets - snap->stats.packets,
			  rxq->stats.bytes - snap->stats.bytes, n, bytes);
}

/* One Rx burst by the function vuser_select_bursts would pick, checked, its mbufs freed. */
static void
fuzz_rx_burst(struct vuser_rxq *rxq, uint64_t features, uint8_t cfg, uint16_t want)
{
	bool packed = features & VU_BIT(VU_F_RING_PACKED);
	bool mrg = features & VU_BIT(VU_NET_F_MRG_RXBUF);
	struct rte_mbuf *pkts[VUSER_BURST_MAX];
	struct fuzz_rx_snap snap;
	uint16_t n;

	fuzz_rx_snap(rxq, packed, &snap);
	n = fuzz_recv(rxq, pkts, want, packed, mrg, cfg & 0x80);
	if (n > want)
		FUZZ_FAIL("%u packets for a burst of %u", n, want);
	fuzz_check_rx(rxq, packed, mrg, pkts, n, &snap);
	rte_pktmbuf_free_bulk(pkts, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t sizes[] = { 8, 16, 32, 64 };
	struct vuser_rxq *rxq = NULL;
	struct vuser_txq *txq = NULL;
	struct fuzz_dev rxd = { .wrap = true }, txd = { .wrap = true };
	struct rte_mbuf *pkts[VUSER_BURST_MAX];
	uint64_t features = VU_BIT(VU_F_VERSION_1);
	unsigned int before = rte_mempool_avail_count(mp);
	bool packed;
	uint8_t cfg;

	if (size < 1)
		return 0;
	cfg = data[0];
	packed = cfg & 1;
	if (packed)
		features |= VU_BIT(VU_F_RING_PACKED);
	if (cfg & 2)
		features |= VU_BIT(VU_NET_F_MRG_RXBUF);
	if (cfg & 4)
		features |= VU_BIT(VU_F_IN_ORDER);
	port.features = features;
	port.args.queue_size = sizes[(cfg >> 3) & 3];
	if (vuser_rxq_alloc(&port, 0, (uint16_t)(cfg & 0x20 ? port.args.queue_size / 2 : 0),
			    SOCKET_ID_ANY, mp, &rxq) < 0 ||
	    vuser_txq_alloc(&port, 0, (uint16_t)(cfg & 0x40 ? port.args.queue_size / 2 : 0),
			    SOCKET_ID_ANY, &txq) < 0)
		abort();
	if (vuser_rxq_start(rxq, features) < 0)
		abort();
	vuser_txq_start(txq, features);

	for (size_t off = 1; off + 8 <= size; off += 8) {
		const uint8_t *r = data + off;
		uint8_t op = r[0] & 7;
		uint32_t id = r[1] | (uint32_t)(r[2] & 0x7f) << 8;
		uint32_t len = r[3] | (uint32_t)r[4] << 8 | (uint32_t)(r[5] & 0x0f) << 16;
		uint16_t aux = (uint16_t)(r[6] | r[7] << 8);

		/* ids near the real ones most of the time */
		if (!(r[2] & 0x80))
			id %= (uint32_t)port.args.queue_size + 2;
		switch (op) {
		case 0:
		case 1:
		case 2:
		case 3:
			fuzz_write_hdr(rxq, id, (uint16_t)(aux & 0x7f));
			fuzz_used(&rxd, packed, &rxq->split, &rxq->packed, id, len, op, aux);
			break;
		case 4:
			if (packed)
				__atomic_store_n(&rxq->packed.desc[aux % rxq->size].flags,
						 (uint16_t)(len & 0xffff), __ATOMIC_RELEASE);
			else
				__atomic_store_n(&rxq->split.used->idx, aux, __ATOMIC_RELEASE);
			break;
		case 5:
			fuzz_rx_burst(rxq, features, cfg, (uint16_t)(aux % (VUSER_BURST_MAX + 1)));
			break;
		case 6: {
			uint16_t k = (uint16_t)(1 + (aux & 7)), sent;

			if (rte_pktmbuf_alloc_bulk(mp, pkts, k) != 0)
				break;
			for (uint16_t i = 0; i < k; i++)
				rte_pktmbuf_append(pkts[i], (uint16_t)(60 + (len & 0x3ff)));
			sent = packed ? vuser_packed_xmit(txq, pkts, k) :
					vuser_split_xmit(txq, pkts, k);
			if (sent > k || txq->num_free > txq->size)
				FUZZ_FAIL("tx: %u of %u sent, %u descriptors free of %u", sent, k,
					  txq->num_free, txq->size);
			rte_pktmbuf_free_bulk(pkts + sent, k - sent);
			break;
		}
		case 7:
			fuzz_used(&txd, packed, &txq->split, &txq->packed, id, len,
				  (uint8_t)(aux & 3), aux);
			break;
		}
	}
	vuser_rxq_free(rxq);
	vuser_txq_free(txq);
	if (rte_mempool_avail_count(mp) != before) {
		fprintf(stderr, "fuzz_rx_ring: %u mbufs in the pool after the run, %u before\n",
			rte_mempool_avail_count(mp), before);
		abort();
	}
	return 0;
}
