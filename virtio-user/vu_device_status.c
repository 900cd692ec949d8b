/* SPDX-License-Identifier: BSD-3-Clause */
/* The device status and config space as the backend sees them (vhost-user STATUS, CONFIG). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vu_device_priv.h"
#include "vu_log.h"

int
vu_device_tell_status(struct vu_device *dev, uint8_t status)
{
	int rc = dev->ops->set_status ? dev->ops->set_status(dev->backend, status) : -EOPNOTSUPP;

	dev->status_told = rc != -EOPNOTSUPP;
	return rc == -EOPNOTSUPP ? 0 : rc;
}

/* Spec 3.1.1: "Set the FEATURES_OK status bit. The driver MUST NOT accept new feature bits
 * after this step. Re-read device status to ensure the FEATURES_OK bit is still set:
 * otherwise, the device does not support our subset of features". The backend gets the
 * features first, so that its FEATURES_OK can say whether it takes them. */
int
vu_device_tell_features_ok(struct vu_device *dev, uint8_t status)
{
	uint64_t features = vu_device_features_for_backend(dev);
	uint8_t back = 0;
	int rc;

	if (!dev->status_told)
		return 0;
	rc = dev->ops->set_features(dev->backend, features);
	if (rc == 0)
		rc = vu_device_tell_status(dev, status);
	if (rc == 0)
		rc = dev->ops->get_status(dev->backend, &back);
	if (rc < 0)
		return rc;
	dev->features_told = true;
	if (!(back & VU_STATUS_FEATURES_OK)) {
		VU_ERR("%s: backend %s refused the features 0x%llx: FEATURES_OK is clear in the "
		       "status it reads back (0x%x)",
		       dev->name, dev->path, (unsigned long long)features, back);
		return -ENOTSUP;
	}
	return 0;
}

int
vu_device_replay_status(struct vu_device *dev)
{
	static const uint8_t steps[] = { VU_STATUS_ACKNOWLEDGE,
					 VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER };
	uint8_t mask = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK;
	int rc = 0;

	dev->features_told = false;
	for (size_t i = 0; rc == 0 && i < sizeof(steps); i++)
		if ((dev->status & steps[i]) == steps[i])
			rc = vu_device_tell_status(dev, steps[i]);
	if (rc == 0 && (dev->status & VU_STATUS_FEATURES_OK))
		rc = vu_device_tell_features_ok(dev, dev->status & mask);
	return rc;
}

void
vu_device_update_link(struct vu_device *dev)
{
	bool running = dev->connected && (dev->status & VU_STATUS_DRIVER_OK) && dev->nqueues > 0 &&
		dev->queues[0].started;
	bool up =
		running && !dev->backend_link_down && !(dev->status & VU_STATUS_DEVICE_NEEDS_RESET);

	if (up)
		dev->config.status |= VU_NET_S_LINK_UP;
	else
		dev->config.status &= (uint16_t)~VU_NET_S_LINK_UP;
}

/* A config space field counts only when the backend offers the feature that makes the
 * field exist (spec 5.1.4: "exists only if VIRTIO_NET_F_... is set"). */
static bool
vu_backend_has(const struct vu_device *dev, unsigned int feature)
{
	return dev->backend_features & VU_BIT(feature);
}

/*
 * The net config space from the backend (GET_CONFIG, little endian, spec 5.1.4 offsets):
 * its values replace the device's defaults, except the MAC the user gave (devargs win).
 * A refusal or a short answer is logged by the backend op; the defaults stay.
 */
void
vu_device_read_backend_config(struct vu_device *dev)
{
	struct vu_net_config cfg;
	int rc = dev->ops->get_config ? dev->ops->get_config(dev->backend, 0, &cfg, sizeof(cfg)) :
					-EOPNOTSUPP;
	uint16_t mtu;

	if (rc == -EOPNOTSUPP)
		return;
	if (rc < 0) {
		VU_WARN("%s: the config space of backend %s could not be read, the device keeps "
			"its defaults",
			dev->name, dev->path);
		return;
	}
	if (vu_backend_has(dev, VU_NET_F_STATUS))
		dev->backend_link_down = !(le16toh(cfg.status) & VU_NET_S_LINK_UP);
	mtu = le16toh(cfg.mtu);
	/* What the driver negotiated with stays until a reset: only the link follows. */
	if (!(dev->status & VU_STATUS_FEATURES_OK)) {
		if (vu_backend_has(dev, VU_NET_F_MAC) && !dev->mac_set && !(cfg.mac[0] & 1) &&
		    memcmp(cfg.mac, "\0\0\0\0\0\0", sizeof(cfg.mac)) != 0)
			memcpy(dev->config.mac, cfg.mac, sizeof(cfg.mac));
		if (vu_backend_has(dev, VU_NET_F_MQ))
			dev->backend_max_pairs = le16toh(cfg.max_virtqueue_pairs);
		if ((dev->device_features & VU_BIT(VU_NET_F_MTU)) && mtu >= VU_NET_MIN_MTU)
			dev->config.mtu = mtu;
	}
	VU_INFO("%s: config space of backend %s: mac %02x:%02x:%02x:%02x:%02x:%02x status 0x%x "
		"max_virtqueue_pairs %u mtu %u",
		dev->name, dev->path, cfg.mac[0], cfg.mac[1], cfg.mac[2], cfg.mac[3], cfg.mac[4],
		cfg.mac[5], le16toh(cfg.status), le16toh(cfg.max_virtqueue_pairs), mtu);
}

/* VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: the link status may have changed, and a device
 * that "has experienced an error from which it can't recover" sets DEVICE_NEEDS_RESET
 * and notifies a configuration change (spec 2.1.2), so the status is read too. */
void
vu_device_backend_config_changed(struct vu_device *dev)
{
	bool was_down = dev->backend_link_down;
	uint8_t back = 0;

	vu_device_read_backend_config(dev);
	if (was_down != dev->backend_link_down)
		vu_log(VU_LOG_NOTICE, "%s: backend %s reports the link %s", dev->name, dev->path,
		       dev->backend_link_down ? "down" : "up");
	if (dev->status_told && dev->connected && dev->ops->get_status(dev->backend, &back) == 0 &&
	    (back & VU_STATUS_DEVICE_NEEDS_RESET) &&
	    !(dev->status & VU_STATUS_DEVICE_NEEDS_RESET)) {
		dev->status |= VU_STATUS_DEVICE_NEEDS_RESET;
		vu_log(VU_LOG_ERR,
		       "%s: backend %s needs a reset (DEVICE_NEEDS_RESET in its status 0x%x): "
		       "link down until the port is restarted",
		       dev->name, dev->path, back);
	}
	vu_device_update_link(dev);
}
