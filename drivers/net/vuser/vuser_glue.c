/* SPDX-License-Identifier: BSD-3-Clause */
/* The one place where the ethdev view (features, status, queues, notify) meets the device API. */
#include <stdio.h>
#include <string.h>

#include "vu_log.h"
#include "vuser.h"
#include "vuser_fault.h"

static void
vuser_log_sink(enum vu_log_level level, const char *fmt, va_list ap)
{
	static const uint32_t rte_levels[] = {
		[VU_LOG_ERR] = RTE_LOG_ERR,	  [VU_LOG_WARNING] = RTE_LOG_WARNING,
		[VU_LOG_NOTICE] = RTE_LOG_NOTICE, [VU_LOG_INFO] = RTE_LOG_INFO,
		[VU_LOG_DEBUG] = RTE_LOG_DEBUG,
	};
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	rte_log(rte_levels[level], vuser_logtype, "VUSER: %s\n", line);
}

void
vuser_glue_install_log(void)
{
	vu_log_set_handler(vuser_log_sink);
}

int
vuser_glue_create(struct vuser_port *port)
{
	struct vu_device_params params = {
		.name = port->name,
		.path = port->args.path,
		.queue_pairs = port->args.queues,
		.ctrl_queue = port->args.cq,
		.queue_size = port->args.queue_size,
		.mac_set = port->args.mac_set,
		.ifname = port->args.iface[0] ? port->args.iface : NULL,
		.server = port->args.server,
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

/* A backend (re)connecting may offer other features: keep the port's copies current. */
int
vuser_glue_handle_event(struct vuser_port *port, bool *link_changed)
{
	int rc;

	vuser_lock(port);
	rc = vu_device_handle_event(port->dev, link_changed);
	port->offered = vu_device_get_features(port->dev);
	port->max_mtu = vu_device_max_mtu(port->dev);
	vuser_unlock(port);
	return rc;
}

void
vuser_glue_destroy(struct vuser_port *port)
{
	if (port->dev)
		vuser_memory_unwatch(port);
	vu_device_destroy(port->dev);
	port->dev = NULL;
}

void
vuser_glue_get_mac(const struct vuser_port *port, struct rte_ether_addr *mac)
{
	vu_device_read_config(port->dev, 0, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
}

bool
vuser_glue_link_up(const struct vuser_port *port)
{
	bool up;

	vuser_lock(port);
	/* A queue stopped on a corrupt ring (vuser_fault.h) takes the link down with it. */
	up = port->started && vu_device_link_up(port->dev) && !vuser_port_queue_stopped(port);
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

bool
vuser_glue_needs_memory_fds(const struct vuser_port *port)
{
	return vu_device_needs_memory_fds(port->dev);
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

int
vuser_glue_ctrl(struct vuser_port *port, unsigned int feature, uint8_t cls, uint8_t cmd,
		const void *data, uint32_t len)
{
	int rc = 0;

	if (!port->started || !vuser_glue_has(port, feature))
		return -ENOTSUP;
	vuser_lock(port);
	if (vu_device_ctrl(port->dev, cls, cmd, data, len) != VU_NET_OK)
		rc = -EIO;
	else
		vuser_publish_filter(port);
	vuser_unlock(port);
	return rc;
}

/* MAC_TABLE_SET from the ethdev's address list (entry 0 is the port's own address). */
int
vuser_glue_set_mac_table(struct vuser_port *port)
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
	return vuser_glue_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET,
			       buf, off);
}

/* Everything the application set while the port was stopped, or that a reset undid. */
int
vuser_glue_apply_rx_mode(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;
	uint8_t promisc = data->promiscuous, allmulti = data->all_multicast;
	int rc = 0;

	if (vuser_glue_has(port, VU_NET_F_CTRL_MAC_ADDR))
		rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_MAC_ADDR, VU_NET_CTRL_MAC,
				     VU_NET_CTRL_MAC_ADDR_SET, data->mac_addrs[0].addr_bytes,
				     RTE_ETHER_ADDR_LEN);
	if (rc == 0 && vuser_glue_has(port, VU_NET_F_CTRL_RX)) {
		rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC,
				     &promisc, sizeof(promisc));
		if (rc == 0)
			rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_RX,
					     VU_NET_CTRL_RX_ALLMULTI, &allmulti, sizeof(allmulti));
		if (rc == 0)
			rc = vuser_glue_set_mac_table(port);
	}
	for (uint32_t vid = 0; rc == 0 && vuser_glue_has(port, VU_NET_F_CTRL_VLAN) && vid < 4096;
	     vid++) {
		uint16_t v = (uint16_t)vid;

		if (data->vlan_filter_conf.ids[vid / 64] & (1ull << (vid % 64)))
			rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_VLAN, VU_NET_CTRL_VLAN,
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

	rc = vu_device_set_status(dev, 0);
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

static int
vuser_setup_queues(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;
	uint16_t size = vuser_queue_ring_size(port);
	int rc;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++) {
		struct vuser_rxq *rxq = data->rx_queues[i];
		struct vu_vring_addr addr = vuser_rxq_ring_addr(rxq);

		rc = vuser_rxq_start(rxq, port->features);
		if (rc == 0)
			rc = vu_device_setup_queue(port->dev, vuser_rxq_vq_index(rxq), size, &addr);
		if (rc < 0)
			return rc;
	}
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		struct vuser_txq *txq = data->tx_queues[i];
		struct vu_vring_addr addr = vuser_txq_ring_addr(txq);

		vuser_txq_start(txq, port->features);
		rc = vu_device_setup_queue(port->dev, vuser_txq_vq_index(txq), size, &addr);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* "The driver enables multiqueue by sending the VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET command". */
static int
vuser_enable_pairs(struct vuser_port *port)
{
	uint16_t pairs = port->data->nb_rx_queues;

	if (!vuser_glue_has(port, VU_NET_F_MQ))
		return 0;
	return vuser_glue_ctrl(port, VU_NET_F_MQ, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET,
			       &pairs, sizeof(pairs));
}

/* Every failed start says at which step, with the port's name; the step's own line, if
 * any, says more. */
int
vuser_glue_start(struct vuser_port *port)
{
	struct vu_mem_table mem;
	const char *step = "describing EAL memory";
	int rc;

	vuser_lock(port);
	rc = vuser_memory_table(port, &mem);
	if (rc == 0) {
		step = "handing the memory table to the device";
		rc = vu_device_set_memory(port->dev, &mem);
	}
	if (rc == 0) {
		step = "negotiating features";
		rc = vuser_negotiate(port);
	}
	if (rc == 0) {
		step = "setting up the rings";
		rc = vuser_setup_queues(port);
	}
	/* The MTU the application configured, told to the backend at DRIVER_OK. */
	if (rc == 0) {
		step = "handing the MTU to the device";
		rc = vu_device_set_mtu(port->dev, port->data->mtu);
	}
	if (rc == 0) {
		step = "setting DRIVER_OK (the backend takes the rings)";
		rc = vu_device_set_status(port->dev,
					  vu_device_get_status(port->dev) | VU_STATUS_DRIVER_OK);
	}
	if (rc == 0) {
		port->started = true;
		step = "enabling the queue pairs (VIRTIO_NET_CTRL_MQ)";
		rc = vuser_enable_pairs(port);
	}
	if (rc == 0) {
		step = "applying the receive mode and filters";
		rc = vuser_glue_apply_rx_mode(port);
	}
	if (rc < 0) {
		VUSER_LOG(ERR, port, "port start failed while %s: %s", step, strerror(-rc));
		vuser_glue_stop(port);
	}
	vuser_unlock(port);
	return rc;
}

void
vuser_glue_stop(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;

	vuser_lock(port);
	/* Reset first: the backend must stop touching the rings before buffers go back. */
	vu_device_set_status(port->dev, 0);
	port->started = false;
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		if (data->rx_queues[i])
			vuser_rxq_stop(data->rx_queues[i]);
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		if (data->tx_queues[i])
			vuser_txq_stop(data->tx_queues[i]);
	vuser_unlock(port);
}
