/* The one place where the ethdev view (features, status, queues, notify) meets the device API. */
#include <stdio.h>

#include "vu_log.h"
#include "vuser.h"

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
		.queue_size = port->args.queue_size,
		.mac_set = port->args.mac_set,
		.ifname = port->args.iface[0] ? port->args.iface : NULL,
	};

	int rc;

	memcpy(params.mac, port->args.mac, sizeof(params.mac));
	rc = vu_device_create(&params, &port->dev);
	if (rc == 0)
		rc = vuser_memory_watch(port);
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
	return port->started && vu_device_link_up(port->dev);
}

void
vuser_glue_notify(struct vuser_port *port, uint32_t vq_index)
{
	vu_device_notify(port->dev, vq_index);
}

/* Features the driver will accept: what it implements, what the devargs ask for, and what
 * the device offers. A devarg asking for a feature the backend lacks falls back to the
 * path without it. */
uint64_t
vuser_glue_features(const struct vuser_port *port)
{
	uint64_t wanted = VUSER_DRIVER_FEATURES;
	uint64_t offered = vu_device_get_features(port->dev);

	if (port->args.mrg_rxbuf)
		wanted |= VU_BIT(VU_NET_F_MRG_RXBUF);
	if (port->args.in_order)
		wanted |= VU_BIT(VU_F_IN_ORDER);
	if (port->args.packed_vq)
		wanted |= VU_BIT(VU_F_RING_PACKED);
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
			VUSER_LOG(NOTICE, port, "%s: the backend does not offer feature bit %u, running without it",
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

int
vuser_glue_start(struct vuser_port *port)
{
	struct vu_mem_table mem;
	int rc;

	rc = vuser_memory_table(port, &mem);
	if (rc == 0)
		rc = vu_device_set_memory(port->dev, &mem);
	if (rc == 0)
		rc = vuser_negotiate(port);
	if (rc == 0)
		rc = vuser_setup_queues(port);
	if (rc == 0)
		rc = vu_device_set_status(port->dev, vu_device_get_status(port->dev) |
							     VU_STATUS_DRIVER_OK);
	if (rc < 0) {
		vuser_glue_stop(port);
		return rc;
	}
	port->started = true;
	return 0;
}

void
vuser_glue_stop(struct vuser_port *port)
{
	struct rte_eth_dev_data *data = port->data;

	/* Reset first: the backend must stop touching the rings before buffers go back. */
	vu_device_set_status(port->dev, 0);
	port->started = false;
	for (uint16_t i = 0; i < data->nb_rx_queues; i++)
		if (data->rx_queues[i])
			vuser_rxq_stop(data->rx_queues[i]);
	for (uint16_t i = 0; i < data->nb_tx_queues; i++)
		if (data->tx_queues[i])
			vuser_txq_stop(data->tx_queues[i]);
}
