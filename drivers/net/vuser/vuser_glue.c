/* SPDX-License-Identifier: BSD-3-Clause */
/* The one place where the ethdev view (features, status, queues, notify) meets the device API. */
#include <string.h>

#include <rte_mempool.h>
#include <rte_memory.h>

#include "vu_log.h"
#include "vuser.h"

/* The devargs are parsed without the device's headers: their limits must be the device's. */
_Static_assert(VUSER_MAX_QUEUE_PAIRS == VU_MAX_QUEUE_PAIRS &&
		       VUSER_MAX_QUEUE_SIZE == VU_QUEUE_SIZE_MAX,
	       "devargs limits differ from the device's");

void
vuser_glue_install_log(void)
{
	vu_log_set_handler(vuser_log_sink);
}

static struct vuser_memory_want
vuser_memory_want(const struct vuser_port *port, bool locked)
{
	return (struct vuser_memory_want){
		.need_fds = vu_device_needs_memory_fds(port->dev),
		.locked = locked,
		.max = vu_device_max_mem_regions(port->dev),
		.slots = vu_device_mem_slots(port->dev),
	};
}

/* EAL grew its memory (dynamic hugepage allocation): the backend must be able to reach
 * the new pages before any descriptor points there. EAL is about to give memory back
 * (FREE comes before the pages go): a backend that takes regions one by one unmaps the
 * regions left with nothing in them; a whole table is not sent again for it. */
static void
vuser_memory_event(enum rte_mem_event type, const void *addr, size_t len, void *arg)
{
	struct vuser_port *port = arg;
	struct vuser_memory_want want;
	struct vu_mem_table mem;
	int rc;

	if (!port->started)
		return;
	want = vuser_memory_want(port, true);
	if (type == RTE_MEM_EVENT_FREE) {
		if (!want.slots)
			return;
		want.skip = (uintptr_t)addr;
		want.skip_len = len;
	}
	rc = vuser_memory_table(port, &want, &mem);
	if (rc == 0) {
		vuser_lock(port);
		rc = vu_device_set_memory(port->dev, &mem);
		vuser_unlock(port);
	}
	if (rc == 0)
		VUSER_LOG(INFO, port, "memory table updated (%s): %u regions",
			  type == RTE_MEM_EVENT_FREE ? "memory freed" : "memory added",
			  mem.nregions);
}

static int
vuser_memory_watch(struct vuser_port *port)
{
	int rc = rte_mem_event_callback_register(port->name, vuser_memory_event, port);

	/* ENOTSUP: EAL memory is static (legacy mode, --no-huge): nothing to watch. */
	if (rc < 0 && rte_errno != ENOTSUP) {
		VUSER_LOG(ERR, port, "cannot watch EAL memory events: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

int
vuser_glue_create(struct vuser_port *port)
{
	struct vu_device_params params = {
		.name = port->name,
		.path = port->args.path,
		.queue_pairs = port->args.queues,
		.ctrl_queue = port->args.cq,
		.mac_set = port->args.mac_set,
		.ifname = port->args.iface[0] ? port->args.iface : NULL,
		.server = port->args.server,
		.iotlb = port->args.iotlb,
	};

	int rc;

	memcpy(params.mac, port->args.mac, sizeof(params.mac));
	rc = vu_device_create(&params, &port->dev);
	if (rc == 0) {
		port->offered = vu_device_get_features(port->dev);
		port->max_mtu = vu_device_max_mtu(port->dev);
		rc = vuser_memory_watch(port);
	}
	return rc;
}

/* A backend (re)connecting may offer other features: keep the port's copies current. A
 * stopped port's link is down whatever the device says: no change to report. */
int
vuser_glue_handle_event(struct vuser_port *port, bool *link_changed)
{
	bool changed = false;
	int rc;

	vuser_lock(port);
	rc = vu_device_handle_event(port->dev, &changed);
	port->offered = vu_device_get_features(port->dev);
	port->max_mtu = vu_device_max_mtu(port->dev);
	*link_changed = changed && port->started;
	vuser_unlock(port);
	return rc;
}

int
vuser_glue_event_fd(const struct vuser_port *port)
{
	return vu_device_event_fd(port->dev);
}

void
vuser_glue_destroy(struct vuser_port *port)
{
	if (port->dev)
		rte_mem_event_callback_unregister(port->name, port);
	vu_device_destroy(port->dev);
	port->dev = NULL;
}

uint64_t
vuser_glue_iotlb_refused(const struct vuser_port *port)
{
	return port->dev ? vu_device_iotlb_refused(port->dev) : 0;
}

void
vuser_glue_get_mac(const struct vuser_port *port, struct rte_ether_addr *mac)
{
	vu_device_read_config(port->dev, 0, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
}

bool
vuser_glue_link_up(struct vuser_port *port)
{
	bool up;

	vuser_lock(port);
	up = port->started && vu_device_link_up(port->dev);
	vuser_unlock(port);
	return up;
}

/* The feature bits behind the ethdev offloads an application enables. */
static uint64_t
vuser_offload_features(uint64_t rx, uint64_t tx)
{
	uint64_t f = 0;

	if (tx & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM))
		f |= VU_BIT(VU_NET_F_CSUM);
	if (tx & RTE_ETH_TX_OFFLOAD_TCP_TSO)
		f |= VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_HOST_TSO4) |
			VU_BIT(VU_NET_F_HOST_TSO6);
	if (rx & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM))
		f |= VU_BIT(VU_NET_F_GUEST_CSUM);
	if (rx & RTE_ETH_RX_OFFLOAD_TCP_LRO)
		f |= VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) |
			VU_BIT(VU_NET_F_GUEST_TSO6);
	return f;
}

/* Offload capabilities: those whose feature bits the device offers. */
void
vuser_glue_offload_capa(const struct vuser_port *port, uint64_t *rx, uint64_t *tx)
{
	uint64_t offered = port->offered;
	uint64_t tso = VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6);
	uint64_t lro = VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_GUEST_TSO6);

	*rx = 0;
	*tx = 0;
	if (offered & VU_BIT(VU_NET_F_CSUM))
		*tx |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if ((offered & VU_BIT(VU_NET_F_CSUM)) && (offered & tso) == tso)
		*tx |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	if (offered & VU_BIT(VU_NET_F_GUEST_CSUM))
		*rx |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	/* Offered whatever mrg_rxbuf says, as DPDK's virtio does; without mergeable buffers
	 * the port runs without it (vuser_glue_lro_refusal). */
	if ((offered & VU_BIT(VU_NET_F_GUEST_CSUM)) && (offered & lro) == lro)
		*rx |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
	if (offered & VU_BIT(VU_NET_F_CTRL_VLAN))
		*rx |= RTE_ETH_RX_OFFLOAD_VLAN_FILTER;
	/* Frames larger than one mbuf arrive as chains with mergeable buffers. */
	if (port->args.mrg_rxbuf && (offered & VU_BIT(VU_NET_F_MRG_RXBUF)))
		*rx |= RTE_ETH_RX_OFFLOAD_SCATTER;
	/* Done in software on the Rx and Tx paths. */
	*rx |= RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
	*tx |= RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
}

uint32_t
vuser_glue_max_mtu(const struct vuser_port *port)
{
	return port->max_mtu;
}

int
vuser_glue_set_mtu(struct vuser_port *port, uint16_t mtu)
{
	int rc;

	vuser_lock(port);
	rc = vu_device_set_mtu(port->dev, mtu);
	vuser_unlock(port);
	return rc;
}

bool
vuser_glue_offers(const struct vuser_port *port, unsigned int feature)
{
	return port->offered & VU_BIT(feature);
}

bool
vuser_glue_has(const struct vuser_port *port, unsigned int feature)
{
	return port->features & VU_BIT(feature);
}

/* Publish the device's receive filter to the Rx queues (seqlock writer side). */
static void
vuser_publish_filter(struct vuser_port *port)
{
	struct vuser_filter_pub *pub = &port->filter;
	uint32_t seq = pub->seq;

	__atomic_store_n(&pub->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vu_device_get_rx_filter(port->dev, &pub->filter);
	__atomic_store_n(&pub->seq, seq + 2, __ATOMIC_RELEASE);
}

/* The caller holds the port's lock. */
static int
vuser_ctrl(struct vuser_port *port, unsigned int feature, uint8_t cls, uint8_t cmd,
	   const void *data, uint32_t len)
{
	if (!port->started || !vuser_glue_has(port, feature))
		return -ENOTSUP;
	if (vu_device_ctrl(port->dev, cls, cmd, data, len) != VU_NET_OK)
		return -EIO;
	vuser_publish_filter(port);
	return 0;
}

int
vuser_glue_ctrl(struct vuser_port *port, unsigned int feature, uint8_t cls, uint8_t cmd,
		const void *data, uint32_t len)
{
	int rc;

	vuser_lock(port);
	rc = vuser_ctrl(port, feature, cls, cmd, data, len);
	vuser_unlock(port);
	return rc;
}

/* MAC_TABLE_SET from the ethdev's address list (entry 0 is the port's own address). The
 * caller holds the port's lock. */
static int
vuser_set_mac_table(struct vuser_port *port)
{
	uint8_t buf[2 * sizeof(uint32_t) + 2 * VU_MAC_TABLE_MAX * RTE_ETHER_ADDR_LEN];
	uint8_t uc[VU_MAC_TABLE_MAX][RTE_ETHER_ADDR_LEN], mc[VU_MAC_TABLE_MAX][RTE_ETHER_ADDR_LEN];
	uint32_t nuc = 0, nmc = 0, off = 0;

	for (uint32_t i = 1; i < VUSER_MAX_MAC_ADDRS; i++) {
		const struct rte_ether_addr *a = &port->data->mac_addrs[i];

		if (rte_is_zero_ether_addr(a))
			continue;
		if (rte_is_multicast_ether_addr(a))
			memcpy(mc[nmc++], a->addr_bytes, RTE_ETHER_ADDR_LEN);
		else
			memcpy(uc[nuc++], a->addr_bytes, RTE_ETHER_ADDR_LEN);
	}
	memcpy(buf + off, &nuc, sizeof(nuc));
	off += sizeof(nuc);
	memcpy(buf + off, uc, nuc * RTE_ETHER_ADDR_LEN);
	off += nuc * RTE_ETHER_ADDR_LEN;
	memcpy(buf + off, &nmc, sizeof(nmc));
	off += sizeof(nmc);
	memcpy(buf + off, mc, nmc * RTE_ETHER_ADDR_LEN);
	off += nmc * RTE_ETHER_ADDR_LEN;
	return vuser_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
			  off);
}

int
vuser_glue_set_mac_table(struct vuser_port *port)
{
	int rc;

	vuser_lock(port);
	rc = vuser_set_mac_table(port);
	vuser_unlock(port);
	return rc;
}

/* Everything the application set while the port was stopped, or that a reset undid. The
 * caller holds the port's lock. */
static int
vuser_apply_rx_mode(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;
	uint8_t promisc = data->promiscuous, allmulti = data->all_multicast;
	int rc = 0;

	if (vuser_glue_has(port, VU_NET_F_CTRL_MAC_ADDR))
		rc = vuser_ctrl(port, VU_NET_F_CTRL_MAC_ADDR, VU_NET_CTRL_MAC,
				VU_NET_CTRL_MAC_ADDR_SET, data->mac_addrs[0].addr_bytes,
				RTE_ETHER_ADDR_LEN);
	if (rc == 0 && vuser_glue_has(port, VU_NET_F_CTRL_RX)) {
		rc = vuser_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC,
				&promisc, sizeof(promisc));
		if (rc == 0)
			rc = vuser_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_RX,
					VU_NET_CTRL_RX_ALLMULTI, &allmulti, sizeof(allmulti));
		if (rc == 0)
			rc = vuser_set_mac_table(port);
	}
	for (uint32_t vid = 0;
	     rc == 0 && vuser_glue_has(port, VU_NET_F_CTRL_VLAN) && vid < VU_VLAN_ID_COUNT; vid++) {
		uint16_t v = (uint16_t)vid;

		if (vu_vlan_bit(data->vlan_filter_conf.ids, v))
			rc = vuser_ctrl(port, VU_NET_F_CTRL_VLAN, VU_NET_CTRL_VLAN,
					VU_NET_CTRL_VLAN_ADD, &v, sizeof(v));
	}
	vuser_publish_filter(port);
	return rc;
}

void
vuser_glue_notify(struct vuser_port *port, uint32_t vq_index)
{
	const struct vuser_proc *proc = rte_eth_devices[port->data->port_id].process_private;

	/* The kick fd numbers in the device are the primary's: a secondary process writes
	 * its own copies of the same eventfds (vuser_secondary.c). */
	if (unlikely(proc != NULL)) {
		if (vq_index < proc->nb_kick_fds)
			vu_device_notify_fd(proc->kick_fds[vq_index]);
		return;
	}
	vu_device_notify(port->dev, vq_index);
}

int
vuser_glue_kick_fd(const struct vuser_port *port, uint32_t vq_index)
{
	return vu_device_queue_kick_fd(port->dev, vq_index);
}

int
vuser_glue_call_fd(const struct vuser_port *port, uint32_t vq_index)
{
	return vu_device_queue_call_fd(port->dev, vq_index);
}

/* Why the TCP_LRO Rx offload cannot be negotiated on this port, or NULL when it can.
 * "If VIRTIO_NET_F_MRG_RXBUF is not negotiated: If VIRTIO_NET_F_GUEST_TSO4 [or] _TSO6
 * ... are negotiated, the driver SHOULD populate the receive queue(s) with buffers of at
 * least 65562 bytes" (spec 5.1.6.3.1): more than an mbuf's data room holds. */
const char *
vuser_glue_lro_refusal(const struct vuser_port *port)
{
	if (!port->args.mrg_rxbuf)
		return "mrg_rxbuf=0";
	if (!vuser_glue_offers(port, VU_NET_F_MRG_RXBUF))
		return "the backend does not offer mergeable Rx buffers (feature bit 15)";
	return NULL;
}

/* Features the driver will accept: what it implements, what the devargs ask for, and what
 * the device offers. A devarg asking for a feature the backend lacks falls back to the
 * path without it. */
uint64_t
vuser_glue_features(const struct vuser_port *port)
{
	uint64_t wanted = VUSER_DRIVER_FEATURES;
	uint64_t offered = port->offered;
	uint64_t rx_offloads = port->data->dev_conf.rxmode.offloads;

	if (port->args.mrg_rxbuf)
		wanted |= VU_BIT(VU_NET_F_MRG_RXBUF);
	if (port->args.in_order)
		wanted |= VU_BIT(VU_F_IN_ORDER);
	if (port->args.packed_vq)
		wanted |= VU_BIT(VU_F_RING_PACKED);
	/* Said at configure (vuser_dev_configure). */
	if (vuser_glue_lro_refusal(port))
		rx_offloads &= ~RTE_ETH_RX_OFFLOAD_TCP_LRO;
	wanted |= vuser_offload_features(rx_offloads, port->data->dev_conf.txmode.offloads);
	/* VLAN filtering only when the application asks for it. */
	if (!(rx_offloads & RTE_ETH_RX_OFFLOAD_VLAN_FILTER))
		wanted &= ~VU_BIT(VU_NET_F_CTRL_VLAN);
	/* "If the driver negotiates VIRTIO_NET_F_MTU, it MUST supply enough receive buffers
	 * to receive at least one receive packet of size mtu" (spec 5.1.4.2): mergeable
	 * buffers chain as many as a frame takes. */
	if (wanted & offered & VU_BIT(VU_NET_F_MRG_RXBUF))
		wanted |= VU_BIT(VU_NET_F_MTU);
	return wanted & offered;
}

static void
vuser_report_fallbacks(const struct vuser_port *port, uint64_t features)
{
	static const struct {
		unsigned int bit;
		const char *devarg;
	} asked[] = {
		{ VU_NET_F_MRG_RXBUF, "mrg_rxbuf=1" },
		{ VU_F_IN_ORDER, "in_order=1" },
		{ VU_F_RING_PACKED, "packed_vq=1" },
	};
	bool on[] = { port->args.mrg_rxbuf, port->args.in_order, port->args.packed_vq };

	for (unsigned int i = 0; i < RTE_DIM(asked); i++)
		if (on[i] && !(features & VU_BIT(asked[i].bit)))
			VUSER_LOG(
				NOTICE, port,
				"%s: the backend does not offer feature bit %u, running without it",
				asked[i].devarg, asked[i].bit);
}

/* Driver initialization as in spec 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
static int
vuser_negotiate(struct vuser_port *port)
{
	struct vu_device *dev = port->dev;
	uint8_t status = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;
	uint64_t features;
	int rc;

	/* One step at a time: a backend that takes the status hears each (vhost-user). */
	rc = vu_device_set_status(dev, 0);
	if (rc == 0)
		rc = vu_device_set_status(dev, VU_STATUS_ACKNOWLEDGE);
	if (rc == 0)
		rc = vu_device_set_status(dev, status);
	if (rc < 0)
		return rc;
	features = vuser_glue_features(port);
	rc = vu_device_set_driver_features(dev, features);
	if (rc == 0)
		rc = vu_device_set_status(dev, status | VU_STATUS_FEATURES_OK);
	if (rc < 0 || !(vu_device_get_status(dev) & VU_STATUS_FEATURES_OK)) {
		VUSER_LOG(ERR, port, "device refused features 0x%" PRIx64, features);
		return rc < 0 ? rc : -ENOTSUP;
	}
	port->features = features;
	vuser_report_fallbacks(port, features);
	VUSER_LOG(INFO, port, "negotiated features 0x%" PRIx64 " (device offers 0x%" PRIx64 ")",
		  features, vu_device_get_features(dev));
	return 0;
}

/* "The driver enables multiqueue by sending the VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET command". */
static int
vuser_enable_pairs(struct vuser_port *port)
{
	uint16_t pairs = port->data->nb_rx_queues;

	if (!vuser_glue_has(port, VU_NET_F_MQ))
		return 0;
	return vuser_ctrl(port, VU_NET_F_MQ, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs,
			  sizeof(pairs));
}

/*
 * Port start, the device's side (spec 3.1.1), in two halves around the queues' own start
 * (vuser_ethdev.c): up to FEATURES_OK here, then the rings (vuser_glue_setup_queue), then
 * DRIVER_OK and what the driver sends on the control queue. Each half runs under the
 * port's lock; *step names what failed.
 */
struct vuser_iotlb_walk {
	struct vuser_port *port;
	int rc;
};

static void
vuser_iotlb_chunk(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *memhdr,
		  unsigned int idx __rte_unused)
{
	struct vuser_iotlb_walk *w = arg;

	if (w->rc == 0)
		w->rc = vu_device_iotlb_map(w->port->dev, (uintptr_t)memhdr->addr, memhdr->len,
					    VU_IOTLB_PERM_RW);
	if (w->rc < 0)
		VUSER_LOG(ERR, w->port, "IOTLB: mempool %s: cannot allow its memory at %p",
			  mp->name, memhdr->addr);
}

static void
vuser_iotlb_pool(struct rte_mempool *mp, void *arg)
{
	rte_mempool_mem_iter(mp, vuser_iotlb_chunk, arg);
}

/* IOTLB mode: the buffers the backend may touch are the mempools' memory, Rx and Tx both
 * (the application sends mbufs of any pool), so every pool there is at start; the rings
 * come with vuser_glue_setup_queue. */
static int
vuser_iotlb_allow_pools(struct vuser_port *port)
{
	struct vuser_iotlb_walk w = { .port = port, .rc = 0 };

	if (!port->args.iotlb)
		return 0;
	rte_mempool_walk(vuser_iotlb_pool, &w);
	return w.rc;
}

int
vuser_glue_negotiate(struct vuser_port *port, const char **step)
{
	struct vuser_memory_want want;
	struct vu_mem_table mem;
	int rc;

	vuser_lock(port);
	want = vuser_memory_want(port, false);
	*step = "describing EAL memory";
	rc = vuser_memory_table(port, &want, &mem);
	if (rc == 0) {
		*step = "handing the memory table to the device";
		rc = vu_device_set_memory(port->dev, &mem);
	}
	if (rc == 0) {
		*step = "describing the mempools to the IOTLB";
		rc = vuser_iotlb_allow_pools(port);
	}
	if (rc == 0) {
		*step = "negotiating features";
		rc = vuser_negotiate(port);
	}
	vuser_unlock(port);
	return rc;
}

int
vuser_glue_setup_queue(struct vuser_port *port, uint32_t vq_index, uint16_t size,
		       const struct rte_memzone *zone, const struct vu_vring_addr *addr)
{
	int rc = 0;

	vuser_lock(port);
	/* The zone holds the ring and, for Tx, the headers its descriptors point at. */
	if (port->args.iotlb)
		rc = vu_device_iotlb_map(port->dev, (uintptr_t)zone->addr, zone->len,
					 VU_IOTLB_PERM_RW);
	if (rc == 0)
		rc = vu_device_setup_queue(port->dev, vq_index, size, addr);
	vuser_unlock(port);
	return rc;
}

int
vuser_glue_driver_ok(struct vuser_port *port, const char **step)
{
	int rc;

	vuser_lock(port);
	/* The MTU the application configured, told to the backend at DRIVER_OK. */
	*step = "handing the MTU to the device";
	rc = vu_device_set_mtu(port->dev, port->data->mtu);
	if (rc == 0) {
		*step = "setting DRIVER_OK (the backend takes the rings)";
		rc = vu_device_set_status(port->dev,
					  vu_device_get_status(port->dev) | VU_STATUS_DRIVER_OK);
	}
	if (rc == 0) {
		port->started = true;
		*step = "enabling the queue pairs (VIRTIO_NET_CTRL_MQ)";
		rc = vuser_enable_pairs(port);
	}
	if (rc == 0) {
		*step = "applying the receive mode and filters";
		rc = vuser_apply_rx_mode(port);
	}
	vuser_unlock(port);
	return rc;
}

/* Reset first: the backend must stop touching the rings before their buffers go back. */
void
vuser_glue_stop(struct vuser_port *port)
{
	vuser_lock(port);
	/* IOTLB mode: the rings and pools go back to the application (queues released,
	 * pools freed): the backend drops its translations first. */
	if (port->args.iotlb)
		vu_device_iotlb_unmap(port->dev, 0, UINT64_MAX);
	vu_device_set_status(port->dev, 0);
	port->started = false;
	vuser_unlock(port);
}
