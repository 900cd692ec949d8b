/* SPDX-License-Identifier: BSD-3-Clause */
/* ethdev ops for the receive mode: promiscuous, all-multicast, MAC addresses, VLAN filter.
 * Each maps to a control queue command; while the port is stopped ethdev only records the
 * setting and the glue applies it at start. */
#include "vuser.h"

/* Without VIRTIO_NET_F_CTRL_RX the device delivers every frame: it is promiscuous and
 * all-multicast, and cannot be anything else. */
static int
vuser_rx_flag(struct rte_eth_dev *eth_dev, uint8_t cmd, uint8_t on, const char *what)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	int rc;

	if (!port->started) {
		if (!on && !(vuser_glue_features(port) & VU_BIT(VU_NET_F_CTRL_RX)))
			goto unsupported;
		return 0;
	}
	rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_RX, VU_NET_CTRL_RX, cmd, &on, sizeof(on));
	if (rc == -ENOTSUP && on)
		return 0;
	if (rc == -ENOTSUP)
		goto unsupported;
	return rc;
unsupported:
	VUSER_LOG(ERR, port, "turning %s off needs the control queue (devarg cq=1)", what);
	return -ENOTSUP;
}

static int
vuser_promiscuous_enable(struct rte_eth_dev *eth_dev)
{
	return vuser_rx_flag(eth_dev, VU_NET_CTRL_RX_PROMISC, 1, "promiscuous mode");
}

static int
vuser_promiscuous_disable(struct rte_eth_dev *eth_dev)
{
	return vuser_rx_flag(eth_dev, VU_NET_CTRL_RX_PROMISC, 0, "promiscuous mode");
}

static int
vuser_allmulticast_enable(struct rte_eth_dev *eth_dev)
{
	return vuser_rx_flag(eth_dev, VU_NET_CTRL_RX_ALLMULTI, 1, "all-multicast mode");
}

static int
vuser_allmulticast_disable(struct rte_eth_dev *eth_dev)
{
	return vuser_rx_flag(eth_dev, VU_NET_CTRL_RX_ALLMULTI, 0, "all-multicast mode");
}

static int
vuser_mac_addr_set(struct rte_eth_dev *eth_dev, struct rte_ether_addr *mac)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	int rc;

	if (!port->started)
		return 0;
	rc = vuser_glue_ctrl(port, VU_NET_F_CTRL_MAC_ADDR, VU_NET_CTRL_MAC,
			     VU_NET_CTRL_MAC_ADDR_SET, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	if (rc == -ENOTSUP)
		VUSER_LOG(ERR, port,
			  "changing the MAC of a running port needs the control queue "
			  "(devarg cq=1); stop the port or give mac= at probe");
	return rc;
}

/* ethdev stores the address only after the op succeeds: build the table with it. */
static int
vuser_mac_table_change(struct rte_eth_dev *eth_dev, uint32_t index,
		       const struct rte_ether_addr *addr)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	struct rte_ether_addr saved = eth_dev->data->mac_addrs[index];
	int rc;

	if (!(vuser_glue_features(port) & VU_BIT(VU_NET_F_CTRL_RX))) {
		VUSER_LOG(ERR, port, "a MAC address table needs the control queue (devarg cq=1)");
		return -ENOTSUP;
	}
	if (!port->started)
		return 0;
	eth_dev->data->mac_addrs[index] = *addr;
	rc = vuser_glue_set_mac_table(port);
	eth_dev->data->mac_addrs[index] = saved;
	return rc;
}

static int
vuser_mac_addr_add(struct rte_eth_dev *eth_dev, struct rte_ether_addr *mac, uint32_t index,
		   uint32_t vmdq __rte_unused)
{
	return vuser_mac_table_change(eth_dev, index, mac);
}

static void
vuser_mac_addr_remove(struct rte_eth_dev *eth_dev, uint32_t index)
{
	struct rte_ether_addr zero = { 0 };

	vuser_mac_table_change(eth_dev, index, &zero);
}

static int
vuser_vlan_filter_set(struct rte_eth_dev *eth_dev, uint16_t vlan_id, int on)
{
	struct vuser_port *port = vuser_port_of(eth_dev);

	if (!port->started)
		return 0;
	return vuser_glue_ctrl(port, VU_NET_F_CTRL_VLAN, VU_NET_CTRL_VLAN,
			       on ? VU_NET_CTRL_VLAN_ADD : VU_NET_CTRL_VLAN_DEL, &vlan_id,
			       sizeof(vlan_id));
}

/* ethdev has already updated dev_conf.rxmode.offloads when this runs. */
static int
vuser_vlan_offload_set(struct rte_eth_dev *eth_dev, int mask)
{
	struct vuser_port *port = vuser_port_of(eth_dev);
	uint64_t rx = eth_dev->data->dev_conf.rxmode.offloads;

	if ((mask & RTE_ETH_VLAN_FILTER_MASK) && port->started &&
	    !!(rx & RTE_ETH_RX_OFFLOAD_VLAN_FILTER) != vuser_glue_has(port, VU_NET_F_CTRL_VLAN)) {
		VUSER_LOG(ERR, port,
			  "the VLAN filter is negotiated at start (VIRTIO_NET_F_CTRL_VLAN): "
			  "stop the port, change it, start again");
		return -ENOTSUP;
	}
	if (mask & RTE_ETH_VLAN_STRIP_MASK)
		for (uint16_t i = 0; i < eth_dev->data->nb_rx_queues; i++)
			vuser_rxq_set_vlan_strip(eth_dev->data->rx_queues[i],
						 rx & RTE_ETH_RX_OFFLOAD_VLAN_STRIP);
	return 0;
}

void
vuser_rxmode_ops(struct eth_dev_ops *ops)
{
	ops->promiscuous_enable = vuser_promiscuous_enable;
	ops->promiscuous_disable = vuser_promiscuous_disable;
	ops->allmulticast_enable = vuser_allmulticast_enable;
	ops->allmulticast_disable = vuser_allmulticast_disable;
	ops->mac_addr_set = vuser_mac_addr_set;
	ops->mac_addr_add = vuser_mac_addr_add;
	ops->mac_addr_remove = vuser_mac_addr_remove;
	ops->vlan_filter_set = vuser_vlan_filter_set;
	ops->vlan_offload_set = vuser_vlan_offload_set;
}
