/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vuser ethdev: probe/remove on the vdev bus and the ethdev ops. */
#include <bus_vdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_malloc.h>

#include "vuser_queue.h"

#define VUSER_MAX_RX_PKTLEN 9728u
/* What DPDK's virtio driver reports between max_rx_pktlen and max_mtu (Ethernet header, a
 * VLAN tag, the virtio-net header): ethdev turns a frame length into an MTU with it, so
 * the same --max-pkt-len gives the same MTU on both drivers. */
#define VUSER_MTU_OVERHEAD (RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + (uint32_t)sizeof(struct vu_net_hdr))

static int
vuser_dev_configure(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct rte_eth_dev_data *data = eth_dev->data;
	const struct rte_eth_conf *conf = &data->dev_conf;
	const char *lro_refusal = vuser_glue_lro_refusal(port);

	/* RSS is taken without hash types (ethdev refuses those this port does not offer):
	 * the backend spreads the packets. Other modes are not virtio's. */
	if (conf->rxmode.mq_mode != RTE_ETH_MQ_RX_NONE &&
	    conf->rxmode.mq_mode != RTE_ETH_MQ_RX_RSS) {
		VUSER_LOG(ERR, port, "Rx multi-queue mode %d is not supported (only none or RSS)",
			  conf->rxmode.mq_mode);
		return -EINVAL;
	}
	if (conf->txmode.mq_mode != RTE_ETH_MQ_TX_NONE) {
		VUSER_LOG(ERR, port, "Tx multi-queue mode %d is not supported (only none)",
			  conf->txmode.mq_mode);
		return -EINVAL;
	}
	if ((conf->rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_LRO) && lro_refusal)
		VUSER_LOG(NOTICE, port,
			  "Rx offload TCP_LRO: %s, so GUEST_TSO4/6 are not negotiated and the port "
			  "runs without LRO (without mergeable Rx buffers a coalesced packet needs "
			  "buffers of 65562 bytes, virtio 1.1 5.1.6.3.1)",
			  lro_refusal);
	if (data->nb_rx_queues > port->args.queues || data->nb_tx_queues > port->args.queues) {
		VUSER_LOG(ERR, port, "%u rx / %u tx queues asked, the port has queues=%u",
			  data->nb_rx_queues, data->nb_tx_queues, port->args.queues);
		return -EINVAL;
	}
	if (data->nb_rx_queues != data->nb_tx_queues) {
		VUSER_LOG(ERR, port, "virtio queues come in pairs: %u rx and %u tx queues asked",
			  data->nb_rx_queues, data->nb_tx_queues);
		return -EINVAL;
	}
	return 0;
}

static int
vuser_dev_infos_get(struct rte_eth_dev *eth_dev, struct rte_eth_dev_info *info)
{
	struct vuser_port *port = vuser_port_of(eth_dev);

	info->max_rx_queues = port->args.queues;
	info->max_tx_queues = port->args.queues;
	info->max_mac_addrs = port->args.cq ? VUSER_MAX_MAC_ADDRS : 1;
	info->min_rx_bufsize = RTE_ETHER_MIN_LEN;
	/* The device's limit (VIRTIO_NET_F_MTU) below the PMD's own; max_rx_pktlen moves
	 * with max_mtu, so the overhead stays DPDK's virtio driver's. */
	info->max_mtu = (uint16_t)RTE_MIN(VUSER_MAX_RX_PKTLEN - VUSER_MTU_OVERHEAD,
					  vuser_glue_max_mtu(port));
	info->max_rx_pktlen = info->max_mtu + VUSER_MTU_OVERHEAD;
	info->min_mtu = VU_NET_MIN_MTU;
	/* The ring is queue_size; a queue asking for more uses the ring it has (as DPDK's
	 * virtio does), so any count up to the largest ring of the layout is taken. */
	info->rx_desc_lim = (struct rte_eth_desc_lim){
		.nb_max = vuser_queue_desc_max(port),
		.nb_min = 1,
		.nb_align = 1,
	};
	info->tx_desc_lim = info->rx_desc_lim;
	info->default_rxportconf.ring_size = port->args.queue_size;
	info->default_txportconf.ring_size = port->args.queue_size;
	vuser_glue_offload_capa(port, &info->rx_offload_capa, &info->tx_offload_capa);
	info->tx_offload_capa |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	/* The one speed of the `speed` devarg, none when it is not given (as DPDK's virtio). */
	info->speed_capa = 0;
	if (port->args.speed)
		info->speed_capa =
			rte_eth_speed_bitflag(port->args.speed, RTE_ETH_LINK_FULL_DUPLEX);
	return 0;
}

/* Without mergeable buffers a frame must fit in one Rx mbuf. */
static int
vuser_check_frame_fits(struct vuser_port *port, struct rte_mempool *mp, uint16_t queue_id,
		       uint16_t mtu)
{
	uint32_t room = rte_pktmbuf_data_room_size(mp);
	uint32_t frame = mtu + VUSER_ETH_OVERHEAD;

	if ((vuser_glue_features(port) & VU_BIT(VU_NET_F_MRG_RXBUF)) ||
	    room >= RTE_PKTMBUF_HEADROOM + frame)
		return 0;
	VUSER_LOG(ERR, port,
		  "rx queue %u: mbufs of mempool %s hold %u bytes, frames of MTU %u need %u "
		  "(or mergeable buffers: mrg_rxbuf=1)",
		  queue_id, mp->name, room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0,
		  mtu, frame);
	return -EINVAL;
}

static int
vuser_mtu_set(struct rte_eth_dev *eth_dev, uint16_t mtu)
{
	struct vuser_port *port = vuser_port_of(eth_dev);

	/* ethdev has checked min_mtu..max_mtu; the buffers and the device can still refuse. */
	for (uint16_t i = 0; i < eth_dev->data->nb_rx_queues; i++) {
		struct rte_mempool *mp = vuser_rxq_mempool(eth_dev->data->rx_queues[i]);

		if (mp && vuser_check_frame_fits(port, mp, i, mtu))
			return -EINVAL;
	}
	/* Running: the backend takes it now; stopped: at the next start. */
	return vuser_glue_set_mtu(port, mtu);
}

/* Queues start with the port: a deferred start would wait for a queue start op this
 * driver does not have (DPDK's virtio refuses it too). */
static int
vuser_check_deferred_start(struct vuser_port *port, const char *kind, uint16_t queue_id,
			   bool deferred)
{
	if (!deferred)
		return 0;
	VUSER_LOG(ERR, port, "%s queue %u: deferred start is not supported", kind, queue_id);
	return -EINVAL;
}

static int
vuser_rx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t queue_id, uint16_t nb_desc,
		     unsigned int socket, const struct rte_eth_rxconf *conf, struct rte_mempool *mp)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct vuser_rxq *rxq;
	int rc;

	rc = vuser_check_deferred_start(port, "rx", queue_id, conf->rx_deferred_start);
	if (rc == 0)
		rc = vuser_check_frame_fits(port, mp, queue_id, eth_dev->data->mtu);
	if (rc < 0)
		return rc;
	if (eth_dev->data->rx_queues[queue_id]) {
		vuser_rxq_free(eth_dev->data->rx_queues[queue_id]);
		eth_dev->data->rx_queues[queue_id] = NULL;
	}
	rc = vuser_rxq_alloc(port, queue_id, nb_desc, (int)socket, mp, &rxq);
	if (rc < 0)
		return rc;
	eth_dev->data->rx_queues[queue_id] = rxq;
	return 0;
}

static int
vuser_tx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t queue_id, uint16_t nb_desc,
		     unsigned int socket, const struct rte_eth_txconf *conf)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	uint64_t offloads = eth_dev->data->dev_conf.txmode.offloads | conf->offloads;
	struct vuser_txq *txq;
	int rc;

	rc = vuser_check_deferred_start(port, "tx", queue_id, conf->tx_deferred_start);
	if (rc < 0)
		return rc;
	if (eth_dev->data->tx_queues[queue_id]) {
		vuser_txq_free(eth_dev->data->tx_queues[queue_id]);
		eth_dev->data->tx_queues[queue_id] = NULL;
	}
	rc = vuser_txq_alloc(port, queue_id, nb_desc, (int)socket, &txq);
	if (rc < 0)
		return rc;
	vuser_txq_set_fast_free(txq, offloads & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE);
	eth_dev->data->tx_queues[queue_id] = txq;
	return 0;
}

static void
vuser_rx_queue_release(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	vuser_rxq_free(eth_dev->data->rx_queues[queue_id]);
	eth_dev->data->rx_queues[queue_id] = NULL;
}

static void
vuser_tx_queue_release(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	vuser_txq_free(eth_dev->data->tx_queues[queue_id]);
	eth_dev->data->tx_queues[queue_id] = NULL;
}

static int
vuser_link_update(struct rte_eth_dev *eth_dev, int wait_to_complete __rte_unused)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	/* A queue stopped on a corrupt ring (vuser_fault.h) takes the link down with it. */
	bool up = vuser_glue_link_up(port) && !vuser_port_queue_stopped(port);
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_UNKNOWN,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN,
	};

	/* A link that is down has no speed (RTE_ETH_SPEED_NUM_NONE, as DPDK's virtio). */
	if (!up)
		link.link_speed = RTE_ETH_SPEED_NUM_NONE;
	else if (port->args.speed)
		link.link_speed = port->args.speed;

	return rte_eth_linkstatus_set(eth_dev, &link);
}

/* The rings, between FEATURES_OK and DRIVER_OK: each laid out for the negotiated
 * features, its Rx buffers posted, then described to the device. */
static int
vuser_start_queues(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;
	uint16_t size = vuser_queue_ring_size(port);
	int rc;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++) {
		struct vuser_rxq *rxq = data->rx_queues[i];
		struct vu_vring_addr addr = vuser_rxq_ring_addr(rxq);

		rc = vuser_rxq_start(rxq, port->features);
		if (rc == 0)
			rc = vuser_glue_setup_queue(port, vuser_rxq_vq_index(rxq), size, rxq->mz,
						    &addr);
		if (rc < 0)
			return rc;
	}
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		struct vuser_txq *txq = data->tx_queues[i];
		struct vu_vring_addr addr = vuser_txq_ring_addr(txq);

		vuser_txq_start(txq, port->features);
		rc = vuser_glue_setup_queue(port, vuser_txq_vq_index(txq), size, txq->mz, &addr);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
vuser_port_stop(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;

	vuser_glue_stop(port);
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		if (data->rx_queues[i])
			vuser_rxq_stop(data->rx_queues[i]);
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		if (data->tx_queues[i])
			vuser_txq_stop(data->tx_queues[i]);
}

/* Every failed start says at which step, with the port's name; the step's own line, if
 * any, says more. */
static int
vuser_port_start(struct vuser_port *port)
{
	const char *step;
	int rc;

	rc = vuser_glue_negotiate(port, &step);
	if (rc == 0) {
		step = "setting up the rings";
		rc = vuser_start_queues(port);
	}
	if (rc == 0)
		rc = vuser_glue_driver_ok(port, &step);
	if (rc < 0) {
		VUSER_LOG(ERR, port, "port start failed while %s: %s", step, strerror(-rc));
		vuser_port_stop(port);
	}
	return rc;
}

static int
vuser_dev_start(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct rte_eth_dev_data *data = eth_dev->data;
	int rc;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		if (!data->rx_queues[i] || !data->tx_queues[i]) {
			VUSER_LOG(ERR, port, "queue pair %u is not set up", i);
			return -EINVAL;
		}
	rc = vuser_port_start(port);
	if (rc < 0)
		return rc;
	rc = vuser_intr_rxq_setup(eth_dev);
	if (rc < 0) {
		vuser_port_stop(port);
		return rc;
	}
	vuser_select_bursts(eth_dev);
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	vuser_link_update(eth_dev, 0);
	return 0;
}

static int
vuser_dev_stop(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct rte_eth_dev_data *data = eth_dev->data;

	vuser_port_stop(port);
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	vuser_link_update(eth_dev, 0);
	return 0;
}

static int
vuser_dev_close(struct rte_eth_dev *eth_dev)
{
	struct vuser_port *port = vuser_port_of(eth_dev);

	/* First: no connection event or fault notification may run while the port goes away. */
	vuser_intr_fini(eth_dev);
	vuser_fault_cancel(port);
	if (port->started)
		vuser_dev_stop(eth_dev);
	for (uint16_t i = 0; i < eth_dev->data->nb_rx_queues; i++)
		vuser_rx_queue_release(eth_dev, i);
	for (uint16_t i = 0; i < eth_dev->data->nb_tx_queues; i++)
		vuser_tx_queue_release(eth_dev, i);
	vuser_glue_destroy(port);
	vuser_secondary_unserve();
	return 0;
}

static int
vuser_stats_get(struct rte_eth_dev *eth_dev, struct rte_eth_stats *stats)
{
	vuser_queue_stats(eth_dev->data, stats);
	return 0;
}

static int
vuser_stats_reset(struct rte_eth_dev *eth_dev)
{
	vuser_queue_stats_reset(eth_dev->data);
	return 0;
}

static struct eth_dev_ops vuser_ops = {
	.dev_configure = vuser_dev_configure,
	.dev_start = vuser_dev_start,
	.dev_stop = vuser_dev_stop,
	.dev_close = vuser_dev_close,
	.dev_infos_get = vuser_dev_infos_get,
	.link_update = vuser_link_update,
	.stats_get = vuser_stats_get,
	.stats_reset = vuser_stats_reset,
	.xstats_get = vuser_xstats_get,
	.xstats_get_names = vuser_xstats_get_names,
	.xstats_reset = vuser_xstats_reset,
	.mtu_set = vuser_mtu_set,
	.rx_queue_setup = vuser_rx_queue_setup,
	.tx_queue_setup = vuser_tx_queue_setup,
	.rx_queue_release = vuser_rx_queue_release,
	.tx_queue_release = vuser_tx_queue_release,
	.rx_queue_intr_enable = vuser_rx_queue_intr_enable,
	.rx_queue_intr_disable = vuser_rx_queue_intr_disable,
	.get_monitor_addr = vuser_rx_monitor_addr,
};

RTE_INIT(vuser_ops_init)
{
	vuser_rxmode_ops(&vuser_ops);
	vuser_secondary_ops_init(&vuser_ops);
}

static int
vuser_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct vuser_devargs args;
	struct rte_eth_dev *eth_dev;
	struct vuser_port *port;
	char err[512];
	int rc;

	vuser_glue_install_log();
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return vuser_secondary_probe(vdev);
	if (vuser_devargs_parse(rte_vdev_device_args(vdev), &args, err, sizeof(err)) < 0) {
		rte_log(RTE_LOG_ERR, vuser_logtype, "VUSER: %s: invalid devargs: %s\n", name, err);
		return -EINVAL;
	}
	eth_dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	if (!eth_dev) {
		rte_log(RTE_LOG_ERR, vuser_logtype, "VUSER: %s: cannot allocate an ethdev\n", name);
		return -ENOMEM;
	}
	port = eth_dev->data->dev_private;
	snprintf(port->name, sizeof(port->name), "%s", name);
	port->args = args;
	port->data = eth_dev->data;
	pthread_mutex_init(&port->lock, NULL);

	rc = vuser_glue_create(port);
	if (rc < 0)
		goto fail;
	eth_dev->data->mac_addrs =
		rte_zmalloc("vuser_mac", RTE_ETHER_ADDR_LEN * VUSER_MAX_MAC_ADDRS, 0);
	if (!eth_dev->data->mac_addrs) {
		rc = -ENOMEM;
		goto fail;
	}
	vuser_glue_get_mac(port, eth_dev->data->mac_addrs);
	eth_dev->dev_ops = &vuser_ops;
	vuser_select_bursts(eth_dev);
	eth_dev->tx_pkt_prepare = vuser_tx_prepare;
	rc = vuser_intr_init(eth_dev);
	if (rc < 0)
		goto fail;
	rc = vuser_secondary_serve();
	if (rc < 0)
		goto fail;
	rte_eth_dev_probing_finish(eth_dev);
	VUSER_LOG(INFO, port, "port %u on %s", eth_dev->data->port_id, args.path);
	return 0;
fail:
	vuser_intr_fini(eth_dev);
	vuser_glue_destroy(port);
	rte_eth_dev_release_port(eth_dev);
	return rc;
}

static int
vuser_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *eth_dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	/* Closed already: a secondary process still finds it, by the primary's data. */
	if (!eth_dev || eth_dev->state == RTE_ETH_DEV_UNUSED)
		return 0;
	return rte_eth_dev_close(eth_dev->data->port_id);
}

static struct rte_vdev_driver vuser_driver = {
	.probe = vuser_probe,
	.remove = vuser_remove,
};

RTE_PMD_REGISTER_VDEV(net_vuser, vuser_driver);
RTE_PMD_REGISTER_ALIAS(net_vuser, virtio_user);
/* The devargs' limits as the parser checks them (vuser_devargs.h). */
#define VUSER_PARAM_QUEUES "queues=<1.." RTE_STR(VUSER_MAX_QUEUE_PAIRS) "> "
#define VUSER_PARAM_QUEUE_SIZE "queue_size=<1.." RTE_STR(VUSER_MAX_QUEUE_SIZE) "> "
RTE_PMD_REGISTER_PARAM_STRING(
	net_vuser,
	"path=<path> " VUSER_PARAM_QUEUES "cq=<0|1> " VUSER_PARAM_QUEUE_SIZE
	"mac=<xx:xx:xx:xx:xx:xx> speed=<Mbps> mrg_rxbuf=<0|1> in_order=<0|1> packed_vq=<0|1> "
	"vectorized=<0|1> server=<0|1> iface=<name> interface_name=<name>");
