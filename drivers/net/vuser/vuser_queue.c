/* SPDX-License-Identifier: BSD-3-Clause */
/* Rx/Tx queue memory and lifecycle, for split and packed rings; burst selection and stats. */
#if defined(RTE_ARCH_X86_64)
#include <cpuid.h>
#endif

#include <rte_cpuflags.h>
#include <rte_malloc.h>
#include <rte_vect.h>

#include "vuser_queue.h"

/* Ring memory fits either layout: the layout is known only once features are negotiated. */
static size_t
vuser_ring_bytes(uint16_t size)
{
	return RTE_MAX(vu_split_ring_mem_size(size), vu_packed_ring_mem_size(size));
}

static const struct rte_memzone *
vuser_ring_zone(struct vuser_port *port, const char *kind, uint16_t queue_id, size_t len,
		int socket)
{
	char zname[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	snprintf(zname, sizeof(zname), "vuser_%u_%s%u", port->data->port_id, kind, queue_id);
	mz = rte_memzone_reserve_aligned(zname, len, socket, 0, VU_RING_ALIGN);
	if (!mz && socket != SOCKET_ID_ANY)
		mz = rte_memzone_reserve_aligned(zname, len, SOCKET_ID_ANY, 0, VU_RING_ALIGN);
	if (!mz)
		VUSER_LOG(ERR, port, "%s queue %u: no memory for a ring of %zu bytes: %s", kind,
			  queue_id, len, rte_strerror(rte_errno));
	return mz;
}

/* The queue's own state (the ring's memzone says for itself, vuser_ring_zone). */
static int
vuser_no_memory(const struct vuser_port *port, const char *kind, uint16_t queue_id)
{
	VUSER_LOG(ERR, port, "%s queue %u: no memory for the queue's state (rte_zmalloc)", kind,
		  queue_id);
	return -ENOMEM;
}

/* Descriptors a queue uses: what it asked for, within the ring (0: the whole ring). The
 * ring size is queue_size whatever the request; said once per port. */
static uint16_t
vuser_usable_desc(struct vuser_port *port, const char *kind, uint16_t queue_id, uint16_t nb_desc)
{
	uint16_t size = vuser_queue_ring_size(port);
	uint16_t usable = nb_desc == 0 || nb_desc > size ? size : nb_desc;

	if (!port->ring_size_logged)
		VUSER_LOG(
			INFO, port,
			"ring size %u (queue_size): %s queue %u asked for %u descriptors, uses %u%s",
			size, kind, queue_id, nb_desc, usable,
			nb_desc > size ? "; the queue_size devarg sets a larger ring" : "");
	port->ring_size_logged = true;
	return usable;
}

uint16_t
vuser_queue_ring_size(const struct vuser_port *port)
{
	return port->args.queue_size;
}

/* The largest nb_desc offered in dev_info: DPDK virtio's limits (the largest ring of the
 * layout, spec 2.6 "The maximum Queue Size value is 32768"; packed rings need no power of
 * two), so that the same counts are accepted. */
uint16_t
vuser_queue_desc_max(const struct vuser_port *port)
{
	if (port->args.packed_vq && vuser_glue_offers(port, VU_F_RING_PACKED))
		return UINT16_MAX;
	return VUSER_MAX_QUEUE_SIZE;
}

int
vuser_rxq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		struct rte_mempool *mp, struct vuser_rxq **out)
{
	uint16_t size = vuser_queue_ring_size(port);
	struct vuser_rxq *rxq;

	rxq = rte_zmalloc_socket("vuser_rxq", sizeof(*rxq), RTE_CACHE_LINE_SIZE, socket);
	if (!rxq)
		return vuser_no_memory(port, "rx", queue_id);
	rxq->sw_ring = rte_zmalloc_socket(
		"vuser_rx_sw", (sizeof(*rxq->sw_ring) + sizeof(*rxq->posted_epoch)) * size,
		RTE_CACHE_LINE_SIZE, socket);
	rxq->mz = vuser_ring_zone(port, "rx", queue_id, vuser_ring_bytes(size), socket);
	if (!rxq->sw_ring || !rxq->mz) {
		if (!rxq->sw_ring)
			vuser_no_memory(port, "rx", queue_id);
		vuser_rxq_free(rxq);
		return -ENOMEM;
	}
	rxq->posted_epoch = (uint32_t *)(rxq->sw_ring + size);
	rxq->mp = mp;
	rxq->port = port;
	rxq->size = size;
	rxq->nb_desc = vuser_usable_desc(port, "rx", queue_id, nb_desc);
	rxq->port_id = port->data->port_id;
	rxq->queue_id = queue_id;
	*out = rxq;
	return 0;
}

int
vuser_txq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		struct vuser_txq **out)
{
	uint16_t size = vuser_queue_ring_size(port);
	size_t ring_len = vuser_ring_bytes(size);
	struct vuser_txq *txq;

	txq = rte_zmalloc_socket("vuser_txq", sizeof(*txq), RTE_CACHE_LINE_SIZE, socket);
	if (!txq)
		return vuser_no_memory(port, "tx", queue_id);
	txq->bufs = rte_zmalloc_socket("vuser_tx_bufs",
				       (sizeof(*txq->bufs) + 3 * sizeof(uint16_t)) * size,
				       RTE_CACHE_LINE_SIZE, socket);
	/* The header slots live after the ring so the backend can read them. */
	txq->mz = vuser_ring_zone(port, "tx", queue_id, ring_len + sizeof(struct vu_net_hdr) * size,
				  socket);
	if (!txq->bufs || !txq->mz) {
		if (!txq->bufs)
			vuser_no_memory(port, "tx", queue_id);
		vuser_txq_free(txq);
		return -ENOMEM;
	}
	txq->ids = (uint16_t *)(txq->bufs + size);
	txq->order = txq->ids + size;
	txq->next = txq->order + size;
	txq->hdrs = (struct vu_net_hdr *)((uint8_t *)txq->mz->addr + ring_len);
	txq->port = port;
	txq->size = size;
	txq->nb_desc = vuser_usable_desc(port, "tx", queue_id, nb_desc);
	txq->queue_id = queue_id;
	txq->max_frame = UINT32_MAX; /* until the start says whether the device has an MTU */
	*out = txq;
	return 0;
}

void
vuser_rxq_free(struct vuser_rxq *rxq)
{
	if (!rxq)
		return;
	vuser_rxq_stop(rxq);
	rte_memzone_free(rxq->mz);
	rte_free(rxq->sw_ring);
	rte_free(rxq);
}

void
vuser_txq_free(struct vuser_txq *txq)
{
	if (!txq)
		return;
	vuser_txq_stop(txq);
	rte_memzone_free(txq->mz);
	rte_free(txq->bufs);
	rte_free(txq);
}

/* Fresh ring with every usable buffer posted; called before DRIVER_OK. */
int
vuser_rxq_start(struct vuser_rxq *rxq, uint64_t features)
{
	bool packed = vu_ring_is_packed(features);
	struct rte_mbuf *m[VUSER_BURST_MAX];

	rxq->hdr_size = (uint16_t)vu_net_hdr_size(features);
	rxq->mrg = features & VU_BIT(VU_NET_F_MRG_RXBUF);
	/* Where rte_pktmbuf_init puts the buffer; only a prefetch hint (vuser_rx_lines.c). */
	rxq->hdr_hint = (uint32_t)(sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(rxq->mp) +
				   RTE_PKTMBUF_HEADROOM - rxq->hdr_size);
	rxq->vlan_strip = rxq->port->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
	rxq->offload = features &
		(VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) |
		 VU_BIT(VU_NET_F_GUEST_TSO6));
	/* Take the port's filter at the first burst. */
	rxq->filter_seq = rxq->port->filter.seq - 2;
	rxq->filtering = false;
	/* Checks of the backend's used entries (vuser_rx.c, vuser_fault.h). */
	rxq->in_order = features & VU_BIT(VU_F_IN_ORDER);
	rxq->halted = false;
	rxq->next_id = 0;
	rxq->epoch = 0;
	memset(rxq->posted_epoch, 0, sizeof(*rxq->posted_epoch) * rxq->size);
	memset(&rxq->fault_log, 0, sizeof(rxq->fault_log));
	memset(rxq->mz->addr, 0, vuser_ring_bytes(rxq->size));
	/* Polling driver: the backend need not signal the call eventfd. */
	if (packed) {
		vu_packed_ring_init(&rxq->packed, rxq->mz->addr, rxq->size);
		rxq->packed.driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	} else {
		vu_split_ring_init(&rxq->split, rxq->mz->addr, rxq->size);
		rxq->split.avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	}
	for (uint16_t id = 0; id < rxq->nb_desc;) {
		uint16_t n = RTE_MIN((uint16_t)VUSER_BURST_MAX, (uint16_t)(rxq->nb_desc - id));

		if (rte_pktmbuf_alloc_bulk(rxq->mp, m, n) != 0) {
			VUSER_LOG(ERR, rxq->port, "rx queue %u: mempool %s has no %u free mbufs",
				  rxq->queue_id, rxq->mp->name, rxq->nb_desc);
			vuser_rxq_stop(rxq);
			return -ENOMEM;
		}
		for (uint16_t i = 0; i < n; i++, id++) {
			if (!packed)
				rxq->split.desc[id].flags = VU_DESC_F_WRITE;
			vuser_rx_post(rxq, packed, id, m[i]);
		}
	}
	if (!packed)
		vu_split_ring_avail_publish(&rxq->split);
	return 0;
}

void
vuser_rxq_stop(struct vuser_rxq *rxq)
{
	if (!rxq->sw_ring)
		return;
	for (uint16_t id = 0; id < rxq->size; id++) {
		rte_pktmbuf_free(rxq->sw_ring[id]);
		rxq->sw_ring[id] = NULL;
	}
}

/* Does the CPU fetch a line for writing on PREFETCHW (CPUID 8000_0001h ECX bit 8,
 * PRFCHW)? Where it does not, and off x86-64, the plain prefetch stays. */
static bool
vuser_cpu_prefetchw(void)
{
#if defined(RTE_ARCH_X86_64)
	unsigned int eax, ebx, ecx, edx;

	return __get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & bit_PRFCHW);
#else
	return false;
#endif
}

void
vuser_txq_start(struct vuser_txq *txq, uint64_t features)
{
	txq->hdr_size = (uint16_t)vu_net_hdr_size(features);
	txq->in_order = features & VU_BIT(VU_F_IN_ORDER);
	txq->offload = features & VU_BIT(VU_NET_F_CSUM);
	txq->hdr_prefetchw = (features & VU_BIT(VU_NET_F_MRG_RXBUF)) && vuser_cpu_prefetchw();
	/* With VIRTIO_NET_F_MTU the device's mtu bounds what is sent; the headers around it
	 * are the PMD's frame overhead without the CRC (a virtio frame has none). */
	txq->max_frame = features & VU_BIT(VU_NET_F_MTU) ?
		vuser_glue_max_mtu(txq->port) + VUSER_ETH_OVERHEAD - RTE_ETHER_CRC_LEN :
		UINT32_MAX;
	txq->halted = false;
	memset(&txq->fault_log, 0, sizeof(txq->fault_log));
	memset(txq->mz->addr, 0,
	       vuser_ring_bytes(txq->size) + sizeof(struct vu_net_hdr) * txq->size);
	if (vu_ring_is_packed(features)) {
		vu_packed_ring_init(&txq->packed, txq->mz->addr, txq->size);
		txq->packed.driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
		/* Every id free; popped from the top, so id 0 goes first. */
		for (uint16_t i = 0; i < txq->size; i++)
			txq->ids[i] = (uint16_t)(txq->size - 1 - i);
		txq->ids_top = txq->size;
	} else {
		struct vu_split_ring *r = &txq->split;

		vu_split_ring_init(r, txq->mz->addr, txq->size);
		r->avail->flags = VU_AVAIL_F_NO_INTERRUPT;
		/* Free list in ring order; chains copy their links into desc.next as built. */
		for (uint16_t id = 0; id < txq->size; id++)
			txq->next[id] = (uint16_t)(id + 1 == txq->size ? 0 : id + 1);
		txq->free_head = 0;
		txq->free_tail = (uint16_t)(txq->size - 1);
	}
	txq->num_free = txq->nb_desc;
	txq->order_head = 0;
	txq->order_tail = 0;
	txq->order_count = 0;
}

void
vuser_txq_stop(struct vuser_txq *txq)
{
	if (!txq->bufs)
		return;
	for (uint16_t id = 0; id < txq->size; id++) {
		rte_pktmbuf_free(txq->bufs[id].m);
		txq->bufs[id].m = NULL;
	}
}

static struct vu_vring_addr
vuser_ring_addr(const void *mem, uint16_t size, bool packed)
{
	uintptr_t base = (uintptr_t)mem;

	if (packed)
		return (struct vu_vring_addr){
			.desc = base,
			.avail = base + vu_packed_ring_driver_event_offset(size),
			.used = base + vu_packed_ring_device_event_offset(size),
		};
	return (struct vu_vring_addr){
		.desc = base,
		.avail = base + sizeof(struct vu_desc) * size,
		.used = base + vu_split_ring_used_offset(size),
	};
}

struct vu_vring_addr
vuser_rxq_ring_addr(const struct vuser_rxq *rxq)
{
	return vuser_ring_addr(rxq->mz->addr, rxq->size, vu_ring_is_packed(rxq->port->features));
}

struct vu_vring_addr
vuser_txq_ring_addr(const struct vuser_txq *txq)
{
	return vuser_ring_addr(txq->mz->addr, txq->size, vu_ring_is_packed(txq->port->features));
}

/* Why vectorized=1 cannot have the SIMD bursts (vuser_rx_lines.c, vuser_tx.c) here, or
 * NULL when it can. */
static const char *
vuser_vec_refusal(void)
{
#if defined(RTE_ARCH_X86_64)
	if (rte_vect_get_max_simd_bitwidth() < RTE_VECT_SIMD_256)
		return "EAL allows SIMD narrower than 256 bits (--force-max-simd-bitwidth)";
	if (rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) <= 0)
		return "the CPU has no AVX2";
	return NULL;
#else
	return "they are written for x86-64 (AVX2, AVX-512)";
#endif
}

/* The SIMD width of the packed ring's bursts (vuser_rx_lines.c, vuser_tx.c): AVX-512
 * where the CPU has it and EAL allows 512-bit SIMD, else AVX2. */
static bool
vuser_vec_512(void)
{
#if defined(RTE_ARCH_X86_64)
	return rte_vect_get_max_simd_bitwidth() >= RTE_VECT_SIMD_512 &&
		rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0;
#else
	return false;
#endif
}

/* The bursts for the features the port negotiated; *vec_refusal says why vectorized=1
 * does not get the SIMD bursts (NULL when it does, or was not asked for), *packed_isa which
 * SIMD a packed ring's Rx and Tx bursts use when it does. */
void
vuser_pick_bursts(const struct vuser_port *port, eth_rx_burst_t *rx, eth_tx_burst_t *tx,
		  const char **vec_refusal, const char **packed_isa)
{
	bool mrg = port->features & VU_BIT(VU_NET_F_MRG_RXBUF);

	*vec_refusal = NULL;
	*packed_isa = NULL;
	if (vu_ring_is_packed(port->features)) {
		/* Whole ring lines of one-buffer packets at a time (vuser_rx_lines.c). */
		*rx = mrg ? vuser_packed_recv_lines_mrg : vuser_packed_recv_lines;
		*tx = vuser_packed_xmit;
	} else {
		*rx = mrg ? vuser_split_recv_mrg : vuser_split_recv;
		*tx = vuser_split_xmit;
	}
	if (!port->args.vectorized || !port->features)
		return;
	*vec_refusal = vuser_vec_refusal();
#if defined(RTE_ARCH_X86_64)
	if (*vec_refusal)
		return;
	if (vu_ring_is_packed(port->features) && vuser_vec_512()) {
		*rx = mrg ? vuser_packed_recv_avx512_mrg : vuser_packed_recv_avx512;
		*tx = vuser_packed_xmit_avx512;
		*packed_isa = "AVX-512";
	} else if (vu_ring_is_packed(port->features)) {
		*rx = mrg ? vuser_packed_recv_vec_mrg : vuser_packed_recv_vec;
		*tx = vuser_packed_xmit_avx2;
		*packed_isa = "AVX2";
	} else {
		/* A split ring's Tx stays scalar (as DPDK's split vectorized path). */
		*rx = mrg ? vuser_split_recv_vec_mrg : vuser_split_recv_vec;
	}
#endif
}

void
vuser_select_bursts(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	const char *refusal, *packed_isa;

	vuser_pick_bursts(port, &eth_dev->rx_pkt_burst, &eth_dev->tx_pkt_burst, &refusal,
			  &packed_isa);
	if (!port->args.vectorized || !port->features)
		return;
	if (refusal)
		VUSER_LOG(NOTICE, port,
			  "vectorized=1: scalar %s-ring data path: the SIMD bursts "
			  "are not used, %s",
			  vu_ring_is_packed(port->features) ? "packed" : "split", refusal);
	else if (packed_isa)
		VUSER_LOG(NOTICE, port,
			  "vectorized=1: SIMD Rx burst (%s) and SIMD Tx burst (%s) on "
			  "the packed ring",
			  packed_isa, packed_isa);
	else
		VUSER_LOG(NOTICE, port,
			  "vectorized=1: SIMD Rx burst (AVX2) on the split ring, scalar "
			  "Tx (the SIMD Tx burst is written for packed rings)");
}

void
vuser_queue_stats(const struct rte_eth_dev_data *data, struct rte_eth_stats *stats)
{
	for (uint16_t i = 0; i < data->nb_rx_queues; i++) {
		const struct vuser_rxq *rxq = data->rx_queues[i];

		if (!rxq)
			continue;
		stats->ipackets += rxq->stats.packets;
		stats->ibytes += rxq->stats.bytes;
		stats->ierrors += rxq->stats.errors;
		stats->rx_nombuf += rxq->nombuf;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[i] = rxq->stats.packets;
			stats->q_ibytes[i] = rxq->stats.bytes;
			stats->q_errors[i] = rxq->stats.errors;
		}
	}
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		const struct vuser_txq *txq = data->tx_queues[i];

		if (!txq)
			continue;
		stats->opackets += txq->stats.packets;
		stats->obytes += txq->stats.bytes;
		stats->oerrors += txq->stats.errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = txq->stats.packets;
			stats->q_obytes[i] = txq->stats.bytes;
		}
	}
}

void
vuser_queue_stats_reset(struct rte_eth_dev_data *data)
{
	for (uint16_t i = 0; i < data->nb_rx_queues; i++) {
		struct vuser_rxq *rxq = data->rx_queues[i];

		if (rxq) {
			memset(&rxq->stats, 0, sizeof(rxq->stats));
			rxq->nombuf = 0;
			rxq->filtered = 0;
		}
	}
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		struct vuser_txq *txq = data->tx_queues[i];

		if (txq)
			memset(&txq->stats, 0, sizeof(txq->stats));
	}
}

struct rte_mempool *
vuser_rxq_mempool(const struct vuser_rxq *rxq)
{
	return rxq ? rxq->mp : NULL;
}

void
vuser_txq_set_fast_free(struct vuser_txq *txq, bool on)
{
	txq->fast_free = on;
}

void
vuser_rxq_set_vlan_strip(struct vuser_rxq *rxq, bool on)
{
	if (rxq)
		rxq->vlan_strip = on;
}
