/* SPDX-License-Identifier: BSD-3-Clause */
/* The control virtqueue of the virtio-net device, emulated in-process (spec 5.1.6.5). */
#include <string.h>

#include "vu_device_priv.h"
#include "vu_log.h"

void
vu_device_ctrl_reset(struct vu_device *dev)
{
	memset(&dev->filter, 0, sizeof(dev->filter));
	/* Like a device without VIRTIO_NET_F_CTRL_RX, deliver everything until told. */
	dev->filter.promisc = true;
	memcpy(dev->filter.mac, dev->config.mac, sizeof(dev->filter.mac));
	/* "Multiqueue is disabled by default": only the first pair until VQ_PAIRS_SET. */
	dev->active_pairs = 1;
}

void
vu_device_get_rx_filter(const struct vu_device *dev, struct vu_rx_filter *filter)
{
	*filter = dev->filter;
	filter->vlan_filter = dev->driver_features & VU_BIT(VU_NET_F_CTRL_VLAN);
}

uint16_t
vu_device_active_pairs(const struct vu_device *dev)
{
	return dev->active_pairs;
}

static bool
vu_ctrl_negotiated(const struct vu_device *dev, unsigned int bit)
{
	return dev->driver_features & VU_BIT(bit);
}

static uint8_t
vu_ctrl_mq(struct vu_device *dev, uint8_t cmd, const void *data, uint32_t len)
{
	uint16_t pairs;

	if (!vu_ctrl_negotiated(dev, VU_NET_F_MQ) || cmd != VU_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    len != sizeof(pairs))
		return VU_NET_ERR;
	memcpy(&pairs, data, sizeof(pairs));
	/* "The device MUST NOT queue packets on receive queues greater than
	 * virtqueue_pairs once it has placed the VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
	 * command in the used ring." */
	if (pairs < VU_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > dev->config.max_virtqueue_pairs) {
		VU_ERR("%s: MQ_VQ_PAIRS_SET %u: the device has 1 to %u pairs", dev->name, pairs,
		       dev->config.max_virtqueue_pairs);
		return VU_NET_ERR;
	}
	for (uint16_t i = 0; i < 2u * pairs; i++)
		if (!dev->queues[i].ready) {
			VU_ERR("%s: MQ_VQ_PAIRS_SET %u: queue %u is not set up", dev->name, pairs,
			       i);
			return VU_NET_ERR;
		}
	return vu_device_enable_pairs(dev, pairs) == 0 ? VU_NET_OK : VU_NET_ERR;
}

static uint8_t
vu_ctrl_rx(struct vu_device *dev, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t on;

	if (!vu_ctrl_negotiated(dev, VU_NET_F_CTRL_RX) || len != sizeof(on))
		return VU_NET_ERR;
	memcpy(&on, data, sizeof(on));
	if (cmd == VU_NET_CTRL_RX_PROMISC)
		dev->filter.promisc = on;
	else if (cmd == VU_NET_CTRL_RX_ALLMULTI)
		dev->filter.allmulti = on;
	else
		return VU_NET_ERR;
	return VU_NET_OK;
}

/* One table of the MAC_TABLE_SET payload: le32 entries, then entries * 6 bytes. */
static bool
vu_ctrl_mac_table(const uint8_t **p, uint32_t *left, uint32_t *n, uint8_t table[][6])
{
	uint32_t entries;

	if (*left < sizeof(entries))
		return false;
	memcpy(&entries, *p, sizeof(entries));
	*p += sizeof(entries);
	*left -= sizeof(entries);
	if (entries > VU_MAC_TABLE_MAX || *left < entries * 6u)
		return false;
	memcpy(table, *p, entries * 6u);
	*n = entries;
	*p += entries * 6u;
	*left -= entries * 6u;
	return true;
}

static uint8_t
vu_ctrl_mac(struct vu_device *dev, uint8_t cmd, const void *data, uint32_t len)
{
	if (cmd == VU_NET_CTRL_MAC_ADDR_SET) {
		if (!vu_ctrl_negotiated(dev, VU_NET_F_CTRL_MAC_ADDR) || len != 6)
			return VU_NET_ERR;
		memcpy(dev->config.mac, data, 6);
		memcpy(dev->filter.mac, data, 6);
		return VU_NET_OK;
	}
	if (cmd == VU_NET_CTRL_MAC_TABLE_SET && vu_ctrl_negotiated(dev, VU_NET_F_CTRL_RX)) {
		struct vu_rx_filter f = dev->filter;
		const uint8_t *p = data;
		uint32_t left = len;

		if (!vu_ctrl_mac_table(&p, &left, &f.n_unicast, f.unicast) ||
		    !vu_ctrl_mac_table(&p, &left, &f.n_multicast, f.multicast) || left != 0) {
			VU_ERR("%s: MAC_TABLE_SET: malformed tables (%u bytes, at most %u entries each)",
			       dev->name, len, VU_MAC_TABLE_MAX);
			return VU_NET_ERR;
		}
		dev->filter = f;
		return VU_NET_OK;
	}
	return VU_NET_ERR;
}

static uint8_t
vu_ctrl_vlan(struct vu_device *dev, uint8_t cmd, const void *data, uint32_t len)
{
	uint16_t vid;

	if (!vu_ctrl_negotiated(dev, VU_NET_F_CTRL_VLAN) || len != sizeof(vid))
		return VU_NET_ERR;
	memcpy(&vid, data, sizeof(vid));
	if (vid >= VU_VLAN_ID_COUNT || (cmd != VU_NET_CTRL_VLAN_ADD && cmd != VU_NET_CTRL_VLAN_DEL))
		return VU_NET_ERR;
	vu_vlan_bit_set(dev->filter.vlans, vid, cmd == VU_NET_CTRL_VLAN_ADD);
	return VU_NET_OK;
}

uint8_t
vu_device_ctrl(struct vu_device *dev, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t ack;

	if (!vu_ctrl_negotiated(dev, VU_NET_F_CTRL_VQ) || !(dev->status & VU_STATUS_DRIVER_OK)) {
		VU_ERR("%s: control command %u.%u without a running control queue", dev->name, cls,
		       cmd);
		return VU_NET_ERR;
	}
	switch (cls) {
	case VU_NET_CTRL_MQ:
		ack = vu_ctrl_mq(dev, cmd, data, len);
		break;
	case VU_NET_CTRL_RX:
		ack = vu_ctrl_rx(dev, cmd, data, len);
		break;
	case VU_NET_CTRL_MAC:
		ack = vu_ctrl_mac(dev, cmd, data, len);
		break;
	case VU_NET_CTRL_VLAN:
		ack = vu_ctrl_vlan(dev, cmd, data, len);
		break;
	default:
		ack = VU_NET_ERR;
		break;
	}
	if (ack != VU_NET_OK)
		VU_ERR("%s: control command class %u command %u (%u bytes) failed", dev->name, cls,
		       cmd, len);
	return ack;
}
