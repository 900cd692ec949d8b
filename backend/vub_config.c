/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub device status, the virtio-net config space and the backend channel's requests. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vub_priv.h"

/* "When the VHOST_USER_PROTOCOL_F_STATUS protocol feature has been successfully
 * negotiated, this message is submitted by the front-end to notify the back-end with
 * updated device status as defined in the Virtio specification." */
int
vub_msg_set_status(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	uint64_t v = msg->payload.u64;
	uint8_t st;

	(void)reply;
	if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_STATUS)) {
		VU_ERR("%s: SET_STATUS without VHOST_USER_PROTOCOL_F_STATUS negotiated: refused",
		       dev->name);
		return -ENOTSUP;
	}
	if (v > UINT8_MAX) {
		VU_ERR("%s: SET_STATUS 0x%llx: the device status is 8 bits: refused", dev->name,
		       (unsigned long long)v);
		return -EINVAL;
	}
	st = (uint8_t)v;
	/* "Writing 0 into this field resets the device" (virtio 1.2, 2.1): the device, not
	 * the frontend's memory. Its table and IOTLB stay, as frontends expect after a device
	 * stop (QEMU's and ours add only the memory slots the backend lacks). */
	if (st == 0) {
		vub_dev_reset(dev, false);
		return 0;
	}
	/* "otherwise it MUST fail to set the FEATURES_OK device status bit when the driver
	 * writes it" (2.2.2): the driver reads it back and gives up. */
	if ((st & VU_STATUS_FEATURES_OK) && dev->features_refused) {
		VU_ERR("%s: SET_STATUS 0x%02x: FEATURES_OK refused: the device refused the last "
		       "SET_FEATURES",
		       dev->name, st);
		st &= (uint8_t)~VU_STATUS_FEATURES_OK;
	}
	/* DEVICE_NEEDS_RESET is the device's to set, and stays until a reset. */
	vub_status_set(dev, st | (dev->status & VU_STATUS_DEVICE_NEEDS_RESET));
	return 0;
}

int
vub_msg_get_status(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_STATUS)) {
		VU_ERR("%s: GET_STATUS without VHOST_USER_PROTOCOL_F_STATUS negotiated", dev->name);
		return -ENOTSUP;
	}
	reply->hdr.size = sizeof(uint64_t);
	reply->payload.u64 = dev->status;
	return 0;
}

/* The config space as the frontend reads it: "little-endian" fields (virtio 1.2, 5.1.4). */
static void
vub_config_fill(const struct vub_dev *dev, struct vu_net_config *c)
{
	memset(c, 0, sizeof(*c));
	if (dev->has_mac)
		memcpy(c->mac, dev->mac, sizeof(c->mac));
	c->status = htole16(dev->link_up ? VU_NET_S_LINK_UP : 0);
	c->max_virtqueue_pairs = htole16(dev->queue_pairs);
	c->mtu = htole16(dev->mtu);
}

/* What is wrong with a GET/SET_CONFIG window, or NULL. */
static const char *
vub_config_window(const struct vub_dev *dev, const struct vu_vhost_msg *msg)
{
	const struct vu_vhost_config *c = &msg->payload.config;

	if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_CONFIG))
		return "VHOST_USER_PROTOCOL_F_CONFIG is not negotiated";
	if (msg->hdr.size < VU_VHOST_USER_CONFIG_HDR_SIZE)
		return "the payload is shorter than offset, size and flags";
	if (c->size == 0 || c->size > VU_VHOST_USER_MAX_CONFIG_SIZE)
		return "size is not 1 to " VUB_STR(VU_VHOST_USER_MAX_CONFIG_SIZE);
	if (msg->hdr.size != VU_VHOST_USER_CONFIG_HDR_SIZE + c->size)
		return "the payload size does not match size";
	if (c->offset > VUB_NET_CONFIG_LEN || c->size > VUB_NET_CONFIG_LEN - c->offset)
		return "the window is not inside the " VUB_STR(
			VUB_NET_CONFIG_LEN) " bytes of "
					    "the virtio-net config space";
	return NULL;
}

/* "vhost-user back-end's payload size MUST match the front-end's request, vhost-user
 * back-end uses zero length of payload to indicate an error to the vhost-user front-end." */
int
vub_msg_get_config(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_config *in = &msg->payload.config;
	struct vu_vhost_config *out = &reply->payload.config;
	const char *why = vub_config_window(dev, msg);
	struct vu_net_config c;

	reply->hdr.size = 0;
	if (why) {
		VU_ERR("%s: GET_CONFIG offset %u size %u: %s: replied with no payload", dev->name,
		       in->offset, in->size, why);
		return 0;
	}
	vub_config_fill(dev, &c);
	out->offset = in->offset;
	out->size = in->size;
	out->flags = in->flags;
	memcpy(out->region, (const uint8_t *)&c + in->offset, in->size);
	reply->hdr.size = VU_VHOST_USER_CONFIG_HDR_SIZE + in->size;
	return 0;
}

/* "back-ends MUST NOT accept SET_CONFIG for read-only configuration space fields unless
 * the live migration bit is set": every virtio-net field is the device's (5.1.4), and
 * this device does not migrate (no dirty log), so every write is refused. */
int
vub_msg_set_config(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_config *in = &msg->payload.config;
	const char *why = vub_config_window(dev, msg);

	(void)reply;
	if (!why && in->flags != VU_VHOST_USER_CONFIG_FLAG_FRONTEND)
		why = "flags other than 0 (front-end write): live migration is not supported";
	if (!why)
		why = "the virtio-net config space has no field the driver may write";
	VU_ERR("%s: SET_CONFIG offset %u size %u flags 0x%x: %s: refused", dev->name, in->offset,
	       in->size, in->flags, why);
	return -EPERM;
}

/* "Set the socket file descriptor for back-end initiated requests. It is passed in the
 * ancillary data." A second one replaces the first. */
int
vub_msg_set_backend_req_fd(struct vub_dev *dev, struct vu_vhost_msg *msg,
			   struct vu_vhost_msg *reply)
{
	(void)reply;
	if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ)) {
		VU_ERR("%s: SET_BACKEND_REQ_FD without VHOST_USER_PROTOCOL_F_BACKEND_REQ "
		       "negotiated: refused",
		       dev->name);
		return -ENOTSUP;
	}
	if (msg->nfds != 1 || msg->fds[0] < 0) {
		VU_ERR("%s: SET_BACKEND_REQ_FD without a file descriptor: refused", dev->name);
		return -EINVAL;
	}
	vub_backend_close(dev);
	dev->backend_fd = msg->fds[0];
	msg->fds[0] = -1;
	/* The acks of IOTLB misses come while this thread serves the main socket. */
	if (dev->t->ops->watch_backend)
		dev->t->ops->watch_backend(dev->t, dev->backend_fd, true);
	VU_INFO("%s: backend channel set", dev->name);
	return 0;
}

/* One request on the backend channel, acked when REPLY_ACK is negotiated. A channel that
 * broke is closed: the frontend has to give another. */
static int
vub_backend_req(struct vub_dev *dev, uint32_t request)
{
	bool ack_wanted = vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK);
	const char *name = vu_vhost_backend_request_name(request);
	struct vu_vhost_msg msg;
	uint64_t ack = VUB_ACK_OK;
	int rc;

	if (!dev->t->ops->send_backend_req) {
		VU_ERR("%s: %s: the %s transport has no backend channel", dev->name, name,
		       dev->t->ops->name);
		return -ENOTSUP;
	}
	vu_vhost_msg_init(&msg, request, 0);
	if (ack_wanted)
		msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	rc = dev->t->ops->send_backend_req(dev->t, dev->backend_fd, &msg, ack_wanted ? &ack : NULL);
	if (rc < 0) {
		VU_ERR("%s: %s on the backend channel: %s", dev->name, name, strerror(-rc));
		if (rc != -ETIMEDOUT)
			vub_backend_close(dev);
		return rc;
	}
	if (ack != VUB_ACK_OK) {
		VU_ERR("%s: the frontend answered %s with %llu (failure)", dev->name, name,
		       (unsigned long long)ack);
		return -EIO;
	}
	VU_DEBUG("%s: %s sent%s", dev->name, name, ack_wanted ? " and acked" : "");
	return 0;
}

/* "When VHOST_USER_PROTOCOL_F_CONFIG is negotiated, this message is submitted by the
 * back-end to notify the front-end that the device configuration space has changed." */
static int
vub_config_changed(struct vub_dev *dev)
{
	if (!dev->connected || dev->backend_fd < 0 ||
	    !vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_CONFIG)) {
		VU_DEBUG("%s: config changed, no backend channel with CONFIG to say so", dev->name);
		return 0;
	}
	return vub_backend_req(dev, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
}

/* "The device SHOULD set DEVICE_NEEDS_RESET when it enters an error state that a reset
 * is needed. If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the device MUST send
 * a device configuration change notification to the driver." (virtio 1.2, 2.1.2) */
void
vub_dev_on_wake(struct vub_dev *dev)
{
	uint64_t n;

	if (read(dev->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		VU_ERR("%s: reading the wake eventfd: %s", dev->name, strerror(errno));
	vub_iotlb_send_misses(dev);
	if (!__atomic_exchange_n(&dev->ring_broke, 0, __ATOMIC_ACQ_REL) || !dev->connected ||
	    !vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_STATUS) ||
	    (dev->status & VU_STATUS_DEVICE_NEEDS_RESET))
		return;
	vub_status_set(dev, dev->status | VU_STATUS_DEVICE_NEEDS_RESET);
	if (dev->status & VU_STATUS_DRIVER_OK)
		vub_config_changed(dev);
}

int
vub_dev_set_link_up(struct vub_dev *dev, bool up)
{
	if (dev->link_up == up)
		return 0;
	dev->link_up = up;
	VU_INFO("%s: link %s in the config space", dev->name, up ? "up" : "down");
	return vub_config_changed(dev);
}

bool
vub_dev_link_up(const struct vub_dev *dev)
{
	return dev->link_up;
}

uint8_t
vub_dev_status(const struct vub_dev *dev)
{
	return dev->status;
}
