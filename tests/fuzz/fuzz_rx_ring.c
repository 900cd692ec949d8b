/* libFuzzer target: the PMD's Rx/Tx bursts consuming used entries a hostile device wrote (with DPDK's EAL). */
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
 * After every burst the mbufs the application got are freed; at the end the queues are
 * stopped and every mbuf must be back in the pool: none lost, none freed twice (the
 * mempool's count would be off, or ASan would see it), whatever the device wrote.
 */

/* The line burst of a packed ring: the AVX2 check (vectorized=1) when asked for and the
 * CPU has it, else the plain-C one. */
static uint16_t
fuzz_recv_lines(struct vuser_rxq *rxq, struct rte_mbuf **pkts, uint16_t n, bool mrg, bool simd)
{
#if defined(RTE_ARCH_X86_64)
	if (simd && rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) > 0)
		return mrg ? vuser_packed_recv_vec_mrg(rxq, pkts, n)
			   : vuser_packed_recv_vec(rxq, pkts, n);
#endif
	(void)simd;
	return mrg ? vuser_packed_recv_lines_mrg(rxq, pkts, n) : vuser_packed_recv_lines(rxq, pkts, n);
}

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

static struct rte_mempool *mp;
static struct rte_eth_dev_data fake_data;
static struct vuser_port port;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];
	char *eal[] = { "fuzz_rx_ring", "--no-huge", "-m", "64", "--no-pci", "--no-telemetry",
			"--file-prefix", prefix, "--log-level", "lib.eal:error", "--no-shconf",
			"-l", "0", NULL };

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
	uint16_t slot;       /* packed: next used slot */
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
		uint16_t n;

		/* ids near the real ones most of the time */
		if (!(r[2] & 0x80))
			id %= (uint32_t)port.args.queue_size + 2;
		switch (op) {
		case 0: case 1: case 2: case 3:
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
		case 5: {
			/* the burst function vuser_select_bursts would pick */
			bool mrg = features & VU_BIT(VU_NET_F_MRG_RXBUF);
			uint16_t want = (uint16_t)(aux % (VUSER_BURST_MAX + 1));

			if (packed)
				n = fuzz_recv_lines(rxq, pkts, want, mrg, cfg & 0x80);
			else
				n = mrg ? vuser_split_recv_mrg(rxq, pkts, want)
					: vuser_split_recv(rxq, pkts, want);
			rte_pktmbuf_free_bulk(pkts, n);
			break;
		}
		case 6: {
			uint16_t k = (uint16_t)(1 + (aux & 7)), sent;

			if (rte_pktmbuf_alloc_bulk(mp, pkts, k) != 0)
				break;
			for (uint16_t i = 0; i < k; i++)
				rte_pktmbuf_append(pkts[i], (uint16_t)(60 + (len & 0x3ff)));
			sent = packed ? vuser_packed_xmit(txq, pkts, k) : vuser_split_xmit(txq, pkts, k);
			rte_pktmbuf_free_bulk(pkts + sent, k - sent);
			break;
		}
		case 7:
			fuzz_used(&txd, packed, &txq->split, &txq->packed, id, len, (uint8_t)(aux & 3),
				  aux);
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
