/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend ethdev: a vhost-user backend port over libvub; probe/remove and ethdev ops. */
#include <bus_vdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_malloc.h>

#include "vu_log.h"
#include "vu_rte_log.h"
#include "vub_transport.h"
#include "vubackend.h"

RTE_LOG_REGISTER(vubackend_logtype, pmd.net.vubackend, NOTICE);

/* A frame of any size the frontend's buffers hold: one mbuf chain. */
#define VUBACKEND_MAX_RX_PKTLEN UINT32_MAX
/* 56:55:42 is "VUB", a locally administered unicast prefix; the port id follows. */
#define VUBACKEND_MAC_0 0x56
#define VUBACKEND_MAC_1 0x55
#define VUBACKEND_MAC_2 0x42

static struct vubackend_port *
vubackend_port_of(struct rte_eth_dev *eth_dev)
{
	return eth_dev->data->dev_private;
}

static void
vubackend_log_sink(enum vu_log_level level, const char *fmt, va_list ap)
{
	vu_rte_log_line(vubackend_logtype, level, fmt, ap);
}

static int
vubackend_link_update(struct rte_eth_dev *eth_dev, int wait_to_complete __rte_unused)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_UNKNOWN,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
	};

	/* Up while the port runs and a frontend runs queue pair 0. */
	pthread_mutex_lock(&port->lock);
	link.link_status = port->started && vub_dev_ready(port->dev) && vub_dev_link_up(port->dev) ?
		RTE_ETH_LINK_UP :
		RTE_ETH_LINK_DOWN;
	pthread_mutex_unlock(&port->lock);
	return rte_eth_linkstatus_set(eth_dev, &link);
}

/* EAL's interrupt thread: the device's event fd is readable (a frontend connecting, a
 * message, a disconnect). The link change is reported after the lock is released. */
static void
vubackend_intr_handler(void *arg)
{
	struct rte_eth_dev *eth_dev = arg;
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	int before, after;

	before = eth_dev->data->dev_link.link_status;
	pthread_mutex_lock(&port->lock);
	vub_dev_process(port->dev);
	pthread_mutex_unlock(&port->lock);
	vubackend_link_update(eth_dev, 0);
	after = eth_dev->data->dev_link.link_status;
	if (before == after)
		return;
	VUBACKEND_LOG(INFO, port, "link %s", after == RTE_ETH_LINK_UP ? "up" : "down");
	if (eth_dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(eth_dev, RTE_ETH_EVENT_INTR_LSC, NULL);
}

static int
vubackend_intr_init(struct rte_eth_dev *eth_dev)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	int rc;

	port->intr = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (!port->intr) {
		VUBACKEND_LOG(ERR, port, "cannot allocate an interrupt handle: %s",
			      rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (rte_intr_type_set(port->intr, RTE_INTR_HANDLE_EXT) < 0 ||
	    rte_intr_fd_set(port->intr, vub_dev_event_fd(port->dev)) < 0) {
		rc = -rte_errno;
		goto fail;
	}
	rc = rte_intr_callback_register(port->intr, vubackend_intr_handler, eth_dev);
	if (rc < 0)
		goto fail;
	eth_dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	return 0;
fail:
	VUBACKEND_LOG(ERR, port, "cannot watch the vhost-user socket in EAL's interrupt thread: %s",
		      rte_strerror(-rc));
	rte_intr_instance_free(port->intr);
	port->intr = NULL;
	return rc;
}

static void
vubackend_intr_fini(struct rte_eth_dev *eth_dev)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	int rc;

	if (!port->intr)
		return;
	/* From an LSC callback the handler is running: remove it once it returns; from
	 * anywhere else wait until it is not running. */
	if (rte_thread_is_intr())
		rc = rte_intr_callback_unregister_pending(port->intr, vubackend_intr_handler,
							  eth_dev, NULL);
	else
		rc = rte_intr_callback_unregister_sync(port->intr, vubackend_intr_handler, eth_dev);
	if (rc < 0)
		VUBACKEND_LOG(ERR, port, "unregistering the socket's interrupt: %s",
			      rte_strerror(-rc));
	rte_intr_instance_free(port->intr);
	port->intr = NULL;
}

static int
vubackend_dev_configure(struct rte_eth_dev *eth_dev)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	struct rte_eth_dev_data *data = eth_dev->data;

	if (data->nb_rx_queues > port->args.queues || data->nb_tx_queues > port->args.queues) {
		VUBACKEND_LOG(ERR, port, "%u rx / %u tx queues asked, the port has queues=%u",
			      data->nb_rx_queues, data->nb_tx_queues, port->args.queues);
		return -EINVAL;
	}
	port->rx_l4_csum = data->dev_conf.rxmode.offloads &
		(RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	return 0;
}

static int
vubackend_dev_infos_get(struct rte_eth_dev *eth_dev, struct rte_eth_dev_info *info)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);

	info->max_rx_queues = port->args.queues;
	info->max_tx_queues = port->args.queues;
	info->max_mac_addrs = 1;
	info->max_rx_pktlen = VUBACKEND_MAX_RX_PKTLEN;
	info->min_rx_bufsize = 0;
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
		RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if (port->args.tso)
		info->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
		RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->speed_capa = RTE_ETH_LINK_SPEED_FIXED;
	return 0;
}

/* Ring sizes belong to the frontend: nb_desc has no meaning here (as in net_vhost). */
static int
vubackend_queue_alloc(struct rte_eth_dev *eth_dev, uint16_t queue_id, unsigned int socket,
		      struct rte_mempool *mp, void **slot)
{
	struct vubackend_queue *q;

	rte_free(*slot);
	*slot = NULL;
	q = rte_zmalloc_socket("vubackend_queue", sizeof(*q), RTE_CACHE_LINE_SIZE, (int)socket);
	if (!q)
		return -ENOMEM;
	q->port = vubackend_port_of(eth_dev);
	q->pair = queue_id;
	q->mp = mp;
	*slot = q;
	return 0;
}

static int
vubackend_rx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t queue_id,
			 uint16_t nb_desc __rte_unused, unsigned int socket,
			 const struct rte_eth_rxconf *conf __rte_unused, struct rte_mempool *mp)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);

	if (rte_pktmbuf_data_room_size(mp) <= RTE_PKTMBUF_HEADROOM) {
		VUBACKEND_LOG(ERR, port,
			      "rx queue %u: mbufs of mempool %s have no room past "
			      "their headroom",
			      queue_id, mp->name);
		return -EINVAL;
	}
	return vubackend_queue_alloc(eth_dev, queue_id, socket, mp,
				     &eth_dev->data->rx_queues[queue_id]);
}

static int
vubackend_tx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t queue_id,
			 uint16_t nb_desc __rte_unused, unsigned int socket,
			 const struct rte_eth_txconf *conf __rte_unused)
{
	return vubackend_queue_alloc(eth_dev, queue_id, socket, NULL,
				     &eth_dev->data->tx_queues[queue_id]);
}

static void
vubackend_rx_queue_release(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	rte_free(eth_dev->data->rx_queues[queue_id]);
	eth_dev->data->rx_queues[queue_id] = NULL;
}

static void
vubackend_tx_queue_release(struct rte_eth_dev *eth_dev, uint16_t queue_id)
{
	rte_free(eth_dev->data->tx_queues[queue_id]);
	eth_dev->data->tx_queues[queue_id] = NULL;
}

static void
vubackend_set_started(struct rte_eth_dev *eth_dev, bool started)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	struct rte_eth_dev_data *data = eth_dev->data;
	uint8_t state = started ? RTE_ETH_QUEUE_STATE_STARTED : RTE_ETH_QUEUE_STATE_STOPPED;

	pthread_mutex_lock(&port->lock);
	port->started = started;
	pthread_mutex_unlock(&port->lock);
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		data->rx_queue_state[i] = state;
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		data->tx_queue_state[i] = state;
	vubackend_link_update(eth_dev, 0);
}

static int
vubackend_dev_start(struct rte_eth_dev *eth_dev)
{
	vubackend_set_started(eth_dev, true);
	return 0;
}

static int
vubackend_dev_stop(struct rte_eth_dev *eth_dev)
{
	vubackend_set_started(eth_dev, false);
	return 0;
}

/* "set link-down/up" (rte_eth_dev_set_link_down/up): the link the frontend reads in its
 * config space, announced with CONFIG_CHANGE_MSG where it negotiated that. The link
 * changes either way; an error says the frontend was not told. */
static int
vubackend_set_link(struct rte_eth_dev *eth_dev, bool up)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);
	int rc;

	pthread_mutex_lock(&port->lock);
	rc = vub_dev_set_link_up(port->dev, up);
	pthread_mutex_unlock(&port->lock);
	vubackend_link_update(eth_dev, 0);
	if (rc < 0)
		VUBACKEND_LOG(ERR, port, "link %s: the frontend was not told: %s",
			      up ? "up" : "down", strerror(-rc));
	return rc;
}

static int
vubackend_dev_set_link_up(struct rte_eth_dev *eth_dev)
{
	return vubackend_set_link(eth_dev, true);
}

static int
vubackend_dev_set_link_down(struct rte_eth_dev *eth_dev)
{
	return vubackend_set_link(eth_dev, false);
}

static int
vubackend_dev_close(struct rte_eth_dev *eth_dev)
{
	struct vubackend_port *port = vubackend_port_of(eth_dev);

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	/* First: no message may be handled while the port goes away. */
	vubackend_intr_fini(eth_dev);
	vub_dev_destroy(port->dev);
	port->dev = NULL;
	for (uint16_t i = 0; i < eth_dev->data->nb_rx_queues; i++)
		vubackend_rx_queue_release(eth_dev, i);
	for (uint16_t i = 0; i < eth_dev->data->nb_tx_queues; i++)
		vubackend_tx_queue_release(eth_dev, i);
	pthread_mutex_destroy(&port->lock);
	return 0;
}

static void
vubackend_add_stats(const struct vubackend_queue *q, uint16_t i, uint64_t *packets, uint64_t *bytes,
		    uint64_t *q_packets, uint64_t *q_bytes)
{
	if (!q)
		return;
	*packets += q->stats.packets;
	*bytes += q->stats.bytes;
	if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
		q_packets[i] = q->stats.packets;
		q_bytes[i] = q->stats.bytes;
	}
}

static int
vubackend_stats_get(struct rte_eth_dev *eth_dev, struct rte_eth_stats *stats)
{
	struct rte_eth_dev_data *data = eth_dev->data;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		vubackend_add_stats(data->rx_queues[i], i, &stats->ipackets, &stats->ibytes,
				    stats->q_ipackets, stats->q_ibytes);
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		const struct vubackend_queue *q = data->tx_queues[i];

		vubackend_add_stats(q, i, &stats->opackets, &stats->obytes, stats->q_opackets,
				    stats->q_obytes);
		if (q)
			stats->oerrors += q->stats.errors;
	}
	return 0;
}

static int
vubackend_stats_reset(struct rte_eth_dev *eth_dev)
{
	struct rte_eth_dev_data *data = eth_dev->data;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		if (data->rx_queues[i])
			memset(&((struct vubackend_queue *)data->rx_queues[i])->stats, 0,
			       sizeof(struct vubackend_stats));
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		if (data->tx_queues[i])
			memset(&((struct vubackend_queue *)data->tx_queues[i])->stats, 0,
			       sizeof(struct vubackend_stats));
	return 0;
}

static const struct eth_dev_ops vubackend_ops = {
	.dev_configure = vubackend_dev_configure,
	.dev_start = vubackend_dev_start,
	.dev_stop = vubackend_dev_stop,
	.dev_close = vubackend_dev_close,
	.dev_set_link_up = vubackend_dev_set_link_up,
	.dev_set_link_down = vubackend_dev_set_link_down,
	.dev_infos_get = vubackend_dev_infos_get,
	.link_update = vubackend_link_update,
	.stats_get = vubackend_stats_get,
	.stats_reset = vubackend_stats_reset,
	.xstats_get = vubackend_xstats_get,
	.xstats_get_names = vubackend_xstats_get_names,
	.rx_queue_setup = vubackend_rx_queue_setup,
	.tx_queue_setup = vubackend_tx_queue_setup,
	.rx_queue_release = vubackend_rx_queue_release,
	.tx_queue_release = vubackend_tx_queue_release,
};

/* The libvub device over AF_UNIX, the virtio-vhost-user device or VDUSE (vduse=), serving
 * from the start (as net_vhost does once its port is configured: frontends may connect as
 * soon as the port exists). */
static int
vubackend_dev_open(struct vubackend_port *port)
{
	struct vub_af_unix_params ap = {
		.name = port->name,
		.path = port->args.iface,
		.client = port->args.client,
		.fd = -1,
	};
	struct vub_vvu_params vp = { .name = port->name, .pci = port->args.pci };
	struct vub_dev_params dp = {
		.name = port->name,
		.queue_pairs = port->args.queues,
		.offloads = VUBACKEND_OFFLOADS |
			(port->args.tso ? VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6) :
					  0),
		.has_mac = port->args.has_mac,
		.mtu = port->args.mtu,
		.iommu = port->args.iommu,
		.inflight = port->args.inflight,
	};
	struct vub_transport *t;
	int rc;

	memcpy(dp.mac, port->args.mac, sizeof(dp.mac));
	if (port->args.transport == VUBACKEND_VVU) {
		rc = vub_vvu_create(&vp, &t);
	} else if (port->args.vduse[0] != '\0') {
		struct vub_vduse_params dvp = { .name = port->args.vduse,
						.queue_pairs = port->args.queues };

		rc = vub_vduse_create(&dvp, &t);
	} else {
		rc = vub_af_unix_create(&ap, &t);
	}
	if (rc == 0)
		rc = vub_dev_create(&dp, t, &port->dev);
	if (rc == 0)
		rc = vub_dev_start(port->dev);
	return rc;
}

static void
vubackend_set_mac(struct rte_eth_dev *eth_dev)
{
	struct rte_ether_addr *mac = eth_dev->data->mac_addrs;

	mac->addr_bytes[0] = VUBACKEND_MAC_0;
	mac->addr_bytes[1] = VUBACKEND_MAC_1;
	mac->addr_bytes[2] = VUBACKEND_MAC_2;
	mac->addr_bytes[5] = (uint8_t)eth_dev->data->port_id;
}

static int
vubackend_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct vubackend_devargs args;
	struct rte_eth_dev *eth_dev;
	struct vubackend_port *port;
	char err[512];
	int rc;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		rte_log(RTE_LOG_ERR, vubackend_logtype,
			"VUSER: %s: secondary processes are not supported yet\n", name);
		return -ENOTSUP;
	}
	vu_log_set_handler(vubackend_log_sink);
	if (vubackend_devargs_parse(rte_vdev_device_args(vdev), &args, err, sizeof(err)) < 0) {
		rte_log(RTE_LOG_ERR, vubackend_logtype, "VUSER: %s: invalid devargs: %s\n", name,
			err);
		return -EINVAL;
	}
	eth_dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	if (!eth_dev)
		return -ENOMEM;
	port = eth_dev->data->dev_private;
	snprintf(port->name, sizeof(port->name), "%s", name);
	port->args = args;
	port->eth_dev = eth_dev;
	pthread_mutex_init(&port->lock, NULL);
	eth_dev->data->mac_addrs = rte_zmalloc("vubackend_mac", RTE_ETHER_ADDR_LEN, 0);
	rc = eth_dev->data->mac_addrs ? vubackend_dev_open(port) : -ENOMEM;
	if (rc == 0)
		rc = vubackend_intr_init(eth_dev);
	if (rc < 0) {
		vub_dev_destroy(port->dev);
		rte_eth_dev_release_port(eth_dev);
		return rc;
	}
	vubackend_set_mac(eth_dev);
	eth_dev->dev_ops = &vubackend_ops;
	/* ethdev's rx_q<N>_packets ... before ours, as net_vhost asks for them. */
	eth_dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
	eth_dev->rx_pkt_burst = vubackend_rx;
	eth_dev->tx_pkt_burst = vubackend_tx;
	rte_eth_dev_probing_finish(eth_dev);
	if (args.transport == VUBACKEND_VVU)
		VUBACKEND_LOG(INFO, port, "port %u, virtio-vhost-user device %s, %u queue pairs",
			      eth_dev->data->port_id, args.pci, args.queues);
	else
		VUBACKEND_LOG(INFO, port, "port %u, %s %s on %s, %u queue pairs",
			      eth_dev->data->port_id, args.vduse[0] ? "VDUSE" : "vhost-user",
			      args.vduse[0]	  ? "device" :
				      args.client ? "client" :
						    "server",
			      args.vduse[0] ? args.vduse : args.iface, args.queues);
	return 0;
}

static int
vubackend_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *eth_dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	if (!eth_dev)
		return 0;
	return rte_eth_dev_close(eth_dev->data->port_id);
}

static struct rte_vdev_driver vubackend_driver = {
	.probe = vubackend_probe,
	.remove = vubackend_remove,
};

/* The vdev bus matches a device to the first driver whose name prefixes it: no other
 * driver's name is a prefix of net_vubackend, nor starts with it. */
RTE_PMD_REGISTER_VDEV(net_vubackend, vubackend_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_vubackend,
			      "iface=<path> queues=<1..128> client=<0|1> "
			      "tso=<0|1> mac=<xx:xx:xx:xx:xx:xx> mtu=<68..65535> "
			      "transport=<af_unix|vvu> pci=<DDDD:BB:DD.F> vduse=<name>");
