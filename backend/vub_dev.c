/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub device: lifecycle, ring locks, reset on disconnect and the ready state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vub_priv.h"

/* What the device side implements (virtio 1.2 feature bits): virtio 1.0 layout, packed
 * rings, mergeable receive buffers, indirect descriptors, event indexes, in-order use
 * (every ring is used in the order it was made available, so the device "MUST use
 * buffers in the same order in which they have been available" holds without a mode);
 * multi-queue when it has pairs to offer.
 * VHOST_USER_F_PROTOCOL_FEATURES: "signals back-end support for
 * VHOST_USER_GET_PROTOCOL_FEATURES and VHOST_USER_SET_PROTOCOL_FEATURES".
 * VIRTIO_NET_F_STATUS: "Configuration status field is available": the link the owner sets
 * (vub_dev_set_link_up), announced on the backend channel. */
#define VUB_FEATURES                                                                             \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_RING_PACKED) | VU_BIT(VU_NET_F_MRG_RXBUF) |        \
	 VU_BIT(VU_F_RING_INDIRECT_DESC) | VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_IN_ORDER) | \
	 VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES))
/* STATUS, CONFIG and BACKEND_REQ: vhost-user as a full virtio transport (seed 002);
 * CONFIGURE_MEM_SLOTS: more than 8 regions, added and removed one at a time. */
#define VUB_PROTOCOL_FEATURES                                                                      \
	(VU_BIT(VU_VHOST_USER_PROTOCOL_F_MQ) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) |        \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS) | \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIG) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ) |  \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
/* The inflight region travels as an fd: only over a transport that passes them. */
#define VUB_PROTOCOL_FEATURES_FDS VU_BIT(VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)

/* Spinning on a ring the data path holds: it holds it for one burst. */
static inline void
vub_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void
vub_vq_lock(struct vub_vq *vq)
{
	while (__atomic_exchange_n(&vq->busy, 1, __ATOMIC_ACQUIRE))
		vub_cpu_relax();
}

void
vub_vq_unlock(struct vub_vq *vq)
{
	__atomic_store_n(&vq->busy, 0, __ATOMIC_RELEASE);
}

uint16_t
vub_dev_nvrings(const struct vub_dev *dev)
{
	return (uint16_t)(2 * dev->queue_pairs);
}

void
vub_dev_lock_all(struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		vub_vq_lock(&dev->vqs[i]);
}

void
vub_dev_unlock_all(struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		vub_vq_unlock(&dev->vqs[i]);
}

const char *
vub_offload_deps(uint64_t f)
{
	uint64_t host_tso = VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6);
	uint64_t guest_tso = VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_GUEST_TSO6);

	if ((f & host_tso) && !(f & VU_BIT(VU_NET_F_CSUM)))
		return "VIRTIO_NET_F_HOST_TSO4/6 without VIRTIO_NET_F_CSUM";
	if ((f & guest_tso) && !(f & VU_BIT(VU_NET_F_GUEST_CSUM)))
		return "VIRTIO_NET_F_GUEST_TSO4/6 without VIRTIO_NET_F_GUEST_CSUM";
	return NULL;
}

static void
vub_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Every status bit with its name, for the transition log lines (virtio 1.2, 2.1). */
static const struct {
	uint8_t bit;
	const char *name;
} vub_status_bits[] = {
	{ VU_STATUS_ACKNOWLEDGE, "ACKNOWLEDGE" },
	{ VU_STATUS_DRIVER, "DRIVER" },
	{ VU_STATUS_FEATURES_OK, "FEATURES_OK" },
	{ VU_STATUS_DRIVER_OK, "DRIVER_OK" },
	{ VU_STATUS_DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET" },
	{ VU_STATUS_FAILED, "FAILED" },
};

#define VUB_NSTATUS_BITS (sizeof(vub_status_bits) / sizeof(vub_status_bits[0]))
#define VUB_STATUS_STR_MAX 96

static const char *
vub_status_str(uint8_t st, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (st == 0)
		return "reset";
	for (size_t i = 0; i < VUB_NSTATUS_BITS && n < len; i++)
		if (st & vub_status_bits[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "",
					      vub_status_bits[i].name);
	return buf;
}

void
vub_status_set(struct vub_dev *dev, uint8_t st)
{
	char now[VUB_STATUS_STR_MAX];

	if (st == dev->status)
		return;
	VU_INFO("%s: device status 0x%02x -> 0x%02x (%s)", dev->name, dev->status, st,
		vub_status_str(st, now, sizeof(now)));
	dev->status = st;
}

void
vub_dev_wake(struct vub_dev *dev)
{
	uint64_t one = 1;

	if (write(dev->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		VU_ERR("%s: waking the control path: %s", dev->name, strerror(errno));
}

void
vub_backend_close(struct vub_dev *dev)
{
	if (dev->backend_fd >= 0 && dev->t->ops->watch_backend)
		dev->t->ops->watch_backend(dev->t, dev->backend_fd, false);
	vub_close_fd(&dev->backend_fd);
	/* No ack can come on a closed channel: the misses it carried are asked again. */
	dev->miss_ack_count = 0;
	for (uint16_t i = 0; i < VUB_MAX_VRINGS; i++)
		if (dev->vqs[i].miss_state == VUB_MISS_SENT)
			__atomic_store_n(&dev->vqs[i].miss_state, VUB_MISS_NONE, __ATOMIC_RELEASE);
}

void
vub_vq_close_fds(struct vub_vq *vq)
{
	vub_close_fd(&vq->kick_fd);
	vub_close_fd(&vq->call_fd);
	vub_close_fd(&vq->err_fd);
}

/* Back to the state of a fresh connection: "Each ring is initialized in a stopped state",
 * and disabled (enabled by SET_VRING_ENABLE or SET_FEATURES without protocol features).
 * Called with the ring locked. */
void
vub_vq_reset(struct vub_vq *vq)
{
	vub_vq_close_fds(vq);
	vq->started = false;
	vq->enabled = false;
	vq->broken = false;
	vq->packed = false;
	vq->size = 0;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->published = 0;
	/* "a single-bit ring wrap counter initialized to 1" */
	vq->avail_wrap = true;
	vq->used_wrap = true;
	vq->unflushed = 0;
	vq->used_held = false;
	vq->event_idx = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->pdesc = NULL;
	vq->driver_event = NULL;
	vq->device_event = NULL;
	vq->addr_set = false;
	vq->inflight = NULL;
	vq->pinflight = NULL;
	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->nresubmit = 0;
	vq->resubmit_pos = 0;
	vq->batch_len = 0;
	vq->iotlb = false;
	vq->iotlb_hit.size = 0;
	vq->iotlb_wait = false;
	vq->miss_state = VUB_MISS_NONE;
}

/* Rings, features and status back to their initial state, and with memory the memory
 * table and the IOTLB; the connection, the negotiated protocol features and the backend
 * channel stay (frontends send those once per connection). */
void
vub_dev_reset(struct vub_dev *dev, bool memory)
{
	vub_dev_lock_all(dev);
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		vub_vq_reset(&dev->vqs[i]);
	vub_inflight_unmap(dev);
	if (memory) {
		vub_mem_unmap_all(dev);
		vu_iotlb_init(&dev->iotlb);
	}
	dev->features = 0;
	dev->features_refused = false;
	__atomic_store_n(&dev->ring_broke, 0, __ATOMIC_RELEASE);
	vub_dev_unlock_all(dev);
	vub_status_set(dev, 0);
}

static bool
vub_vq_running(const struct vub_vq *vq)
{
	return vq->started && vq->enabled;
}

void
vub_dev_update_ready(struct vub_dev *dev)
{
	bool ready = dev->connected && vub_vq_running(&dev->vqs[0]) && vub_vq_running(&dev->vqs[1]);

	if (ready == dev->ready)
		return;
	dev->ready = ready;
	VU_INFO("%s: %s", dev->name, ready ? "ready: queue pair 0 is running" : "not ready");
	if (dev->on_ready)
		dev->on_ready(dev->arg, ready);
}

int
vub_dev_create(const struct vub_dev_params *params, struct vub_transport *t, struct vub_dev **out)
{
	struct vub_dev *dev;
	const char *why;

	if (params->queue_pairs == 0 || params->queue_pairs > VUB_MAX_QUEUE_PAIRS) {
		VU_ERR("%s: %u queue pairs asked, the device serves 1 to %u", params->name,
		       params->queue_pairs, VUB_MAX_QUEUE_PAIRS);
		t->ops->cleanup(t);
		return -EINVAL;
	}
	if (params->mtu && params->mtu < VU_NET_MIN_MTU) {
		VU_ERR("%s: MTU %u is below the least of %u", params->name, params->mtu,
		       VU_NET_MIN_MTU);
		t->ops->cleanup(t);
		return -EINVAL;
	}
	why = vub_offload_deps(params->offloads);
	if (params->offloads & ~VUB_OFFLOAD_FEATURES)
		why = "bits beyond the virtio-net header offloads";
	if (why) {
		VU_ERR("%s: offloads 0x%llx: %s", params->name,
		       (unsigned long long)params->offloads, why);
		t->ops->cleanup(t);
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		t->ops->cleanup(t);
		return -ENOMEM;
	}
	dev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->wake_fd < 0) {
		int err = errno;

		VU_ERR("%s: eventfd: %s", params->name, strerror(err));
		t->ops->cleanup(t);
		free(dev);
		return -err;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", params->name);
	dev->queue_pairs = params->queue_pairs;
	dev->on_ready = params->on_ready;
	dev->arg = params->arg;
	dev->offered = VUB_FEATURES | params->offloads;
	/* VIRTIO_NET_F_MQ: "Device supports multiqueue with automatic receive steering". */
	if (dev->queue_pairs > 1)
		dev->offered |= VU_BIT(VU_NET_F_MQ);
	dev->offered_protocol = VUB_PROTOCOL_FEATURES;
	if (t->ops->passes_fds && params->inflight)
		dev->offered_protocol |= VUB_PROTOCOL_FEATURES_FDS;
	dev->backend_fd = -1;
	dev->inflight.fd = -1;
	dev->link_up = true;
	dev->has_mac = params->has_mac;
	memcpy(dev->mac, params->mac, sizeof(dev->mac));
	dev->mtu = params->mtu;
	/* VIRTIO_NET_F_MAC: "Device has given MAC address"; VIRTIO_NET_F_MTU: "Device
	 * maximum MTU reporting is supported". */
	if (dev->has_mac)
		dev->offered |= VU_BIT(VU_NET_F_MAC);
	if (dev->mtu)
		dev->offered |= VU_BIT(VU_NET_F_MTU);
	/* VIRTIO_F_ACCESS_PLATFORM: "the device can be used on a platform where device
	 * access to data in memory is limited and/or translated" (an IOMMU, here the
	 * frontend's IOTLB); with BACKEND_REQ and REPLY_ACK, which are always offered. */
	if (params->iommu)
		dev->offered |= VU_BIT(VU_F_ACCESS_PLATFORM);
	vu_iotlb_init(&dev->iotlb);
	for (uint16_t i = 0; i < VUB_MAX_VRINGS; i++) {
		dev->vqs[i].dev = dev;
		dev->vqs[i].index = i;
		dev->vqs[i].kick_fd = dev->vqs[i].call_fd = dev->vqs[i].err_fd = -1;
		dev->vqs[i].avail_wrap = dev->vqs[i].used_wrap = true;
	}
	dev->t = t;
	t->dev = dev;
	*out = dev;
	return 0;
}

int
vub_dev_start(struct vub_dev *dev)
{
	return dev->t->ops->start(dev->t);
}

void
vub_dev_destroy(struct vub_dev *dev)
{
	if (!dev)
		return;
	vub_dev_reset(dev, true);
	vub_backend_close(dev);
	dev->t->ops->cleanup(dev->t);
	close(dev->wake_fd);
	free(dev);
}

int
vub_dev_event_fd(const struct vub_dev *dev)
{
	return dev->t->ops->event_fd(dev->t);
}

int
vub_dev_process(struct vub_dev *dev)
{
	return dev->t->ops->process(dev->t);
}

bool
vub_dev_ready(const struct vub_dev *dev)
{
	return dev->ready;
}

bool
vub_dev_connected(const struct vub_dev *dev)
{
	return dev->connected;
}

uint64_t
vub_dev_features(const struct vub_dev *dev)
{
	return dev->features;
}

int
vub_dev_kick_fd(const struct vub_dev *dev, uint16_t vring)
{
	return vring < vub_dev_nvrings(dev) ? dev->vqs[vring].kick_fd : -1;
}

int
vub_dev_wake_fd(const struct vub_dev *dev)
{
	return dev->wake_fd;
}

const char *
vub_dev_name(const struct vub_dev *dev)
{
	return dev->name;
}

void
vub_dev_on_connect(struct vub_dev *dev)
{
	dev->connected = true;
	VU_INFO("%s: frontend connected", dev->name);
}

/* The frontend is gone: nothing of its session survives (rings, fds, memory, features),
 * and the device waits for the next one. */
void
vub_dev_on_disconnect(struct vub_dev *dev)
{
	vub_dev_reset(dev, true);
	vub_backend_close(dev);
	dev->protocol = 0;
	dev->owner = false;
	dev->connected = false;
	VU_INFO("%s: frontend disconnected", dev->name);
	vub_dev_update_ready(dev);
}
