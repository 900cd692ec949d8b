/* SPDX-License-Identifier: BSD-3-Clause */
/* Virtio-net device emulation over a vhost backend: the virtio side of a virtio-user port. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "vu_device.h"
#include "vu_device_priv.h"
#include "vu_log.h"

#define VU_DEFAULT_TIMEOUT_MS 5000

const char *
vu_device_name(const struct vu_device *dev)
{
	return dev->name;
}

uint64_t
vu_device_get_features(const struct vu_device *dev)
{
	return dev->device_features;
}

uint64_t
vu_device_get_driver_features(const struct vu_device *dev)
{
	return dev->driver_features;
}

uint8_t
vu_device_get_status(const struct vu_device *dev)
{
	return dev->status;
}

uint32_t
vu_device_num_queues(const struct vu_device *dev)
{
	return dev->nqueues;
}

bool
vu_device_needs_memory_fds(const struct vu_device *dev)
{
	return dev->ops->maps_memory_by_fd;
}

bool
vu_device_mem_slots(const struct vu_device *dev)
{
	return dev->connected && dev->ops->mem_slots && dev->ops->mem_slots(dev->backend) > 0;
}

/* Without a backend yet (server mode) the table waits for one, which checks it. */
uint32_t
vu_device_max_mem_regions(const struct vu_device *dev)
{
	if (!dev->connected)
		return VU_MEM_MAX_SLOTS;
	return vu_device_mem_slots(dev) ? dev->ops->mem_slots(dev->backend) : VU_MEM_MAX_REGIONS;
}

static void
vu_make_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		/* No entropy: still a valid locally administered address. */
		memset(mac, 0, 6);
		mac[5] = 1;
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

static void
vu_queue_close_fds(struct vu_queue *q)
{
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->kick_fd = -1;
	q->call_fd = -1;
}

static int
vu_device_alloc_queues(struct vu_device *dev)
{
	dev->queues = calloc(dev->nqueues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];

		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kick_fd < 0 || q->call_fd < 0) {
			int err = errno;

			VU_ERR("%s: eventfd for queue %u: %s", dev->name, i, strerror(err));
			return -err;
		}
	}
	return 0;
}

/* What create refuses before it opens anything. */
static int
vu_device_check_params(const struct vu_device_params *params, const struct vu_backend_ops *ops)
{
	if (params->queue_pairs == 0 || params->queue_pairs > VU_MAX_QUEUE_PAIRS) {
		VU_ERR("%s: %u queue pairs requested, the device supports 1 to %u", params->name,
		       params->queue_pairs, VU_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	if (params->ifname && !ops->takes_ifname) {
		VU_ERR("%s: iface=%s names a TAP, which only the vhost-kernel backend creates, on "
		       "a vhost-net character device (/dev/vhost-net: modprobe vhost_net); %s is "
		       "not one",
		       params->name, params->ifname, params->path);
		return -EINVAL;
	}
	if (params->iotlb && !ops->iotlb_map) {
		VU_ERR("%s: iotlb=1 needs a vhost-user backend (IOTLB messages); %s is served by "
		       "the %s backend",
		       params->name, params->path, ops->name);
		return -EINVAL;
	}
	if (params->server && !ops->handle_event) {
		VU_ERR("%s: server=1 makes vhost-user listen on a socket; %s is served by the %s "
		       "backend, which has no server mode",
		       params->name, params->path, ops->name);
		return -EINVAL;
	}
	return 0;
}

/* The features and queue pairs the device offers, from the backend that is there. Server
 * mode before the first connection: what the device passes through; a backend that
 * connects must provide what the driver accepted (vu_device_conn.c). */
static int
vu_device_offer(struct vu_device *dev, const struct vu_device_params *params)
{
	uint64_t backend_features = VU_DEVICE_DATA_PATH_FEATURES;
	uint32_t max_pairs = params->queue_pairs;
	int rc = 0;

	if (dev->connected)
		rc = dev->ops->get_features(dev->backend, &backend_features);
	if (rc == 0 && dev->connected)
		rc = dev->ops->get_max_queue_pairs(dev->backend, &max_pairs);
	if (rc < 0)
		return rc;
	dev->device_features = VU_DEVICE_EMULATED_FEATURES;
	vu_device_take_backend_features(dev, backend_features);
	if (dev->connected)
		vu_device_read_backend_config(dev);
	/* Its config space may serve fewer pairs than GET_QUEUE_NUM said. */
	if (dev->backend_max_pairs && dev->backend_max_pairs < max_pairs)
		max_pairs = dev->backend_max_pairs;
	if (params->queue_pairs > max_pairs) {
		VU_ERR("%s: %u queue pairs requested, backend %s serves %u", dev->name,
		       params->queue_pairs, params->path, max_pairs);
		return -EINVAL;
	}
	if (params->ctrl_queue || params->queue_pairs > 1)
		dev->device_features |= VU_DEVICE_CTRL_FEATURES;
	/* "VIRTIO_NET_F_MQ Requires VIRTIO_NET_F_CTRL_VQ." */
	if (params->queue_pairs > 1)
		dev->device_features |= VU_BIT(VU_NET_F_MQ);
	dev->config.max_virtqueue_pairs = params->queue_pairs;
	return 0;
}

int
vu_device_create(const struct vu_device_params *params, struct vu_device **out)
{
	const struct vu_backend_ops *ops =
		params->ops ? params->ops : vu_backend_ops_for_path(params->path, params->server);
	struct vu_backend_params bp = {
		.name = params->name,
		.path = params->path,
		.timeout_ms = params->timeout_ms ? params->timeout_ms : VU_DEFAULT_TIMEOUT_MS,
		.queue_pairs = params->queue_pairs,
		.ifname = params->ifname,
		.tun_path = params->tun_path,
		.server = params->server,
		.iotlb = params->iotlb,
	};
	struct vu_device *dev;
	int rc;

	rc = vu_device_check_params(params, ops);
	if (rc < 0)
		return rc;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->epfd = -1;
	dev->watched_fd = -1;
	dev->watched_channel = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", params->name);
	snprintf(dev->path, sizeof(dev->path), "%s", params->path);
	dev->mac_set = params->mac_set;
	dev->ops = ops;
	dev->nqueues = 2u * params->queue_pairs;
	dev->server = params->server;
	dev->mtu = VU_NET_DEFAULT_MTU;
	/* Before open: vhost-kernel gives the port's MAC to its TAP. */
	if (params->mac_set)
		memcpy(dev->config.mac, params->mac, sizeof(dev->config.mac));
	else
		vu_make_mac(dev->config.mac);
	bp.mac = dev->config.mac;

	rc = vu_device_alloc_queues(dev);
	if (rc == 0)
		rc = dev->ops->open(&bp, &dev->backend);
	if (rc == 0)
		rc = vu_device_conn_init(dev);
	if (rc == 0)
		rc = vu_device_offer(dev, params);
	if (rc < 0) {
		vu_device_destroy(dev);
		return rc;
	}
	vu_device_ctrl_reset(dev);
	*out = dev;
	return 0;
}

static void
vu_device_reset(struct vu_device *dev)
{
	if (dev->backend)
		vu_device_stop_backend(dev);
	/* The backend's status follows the driver's reset; a failure is its op's line. */
	if (dev->backend && dev->connected && vu_device_tell_status(dev, 0) < 0)
		vu_device_conn_lost(dev);
	dev->features_told = false;
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		dev->queues[i].ready = false;
		dev->queues[i].ran = false;
		dev->queues[i].size = 0;
	}
	dev->driver_features = 0;
	dev->status = 0;
	vu_device_ctrl_reset(dev);
}

void
vu_device_destroy(struct vu_device *dev)
{
	if (!dev)
		return;
	if (dev->backend) {
		vu_device_reset(dev);
		if (dev->connected)
			dev->ops->reset(dev->backend);
		dev->ops->close(dev->backend);
	}
	vu_device_conn_fini(dev);
	for (uint32_t i = 0; dev->queues && i < dev->nqueues; i++)
		vu_queue_close_fds(&dev->queues[i]);
	free(dev->queues);
	free(dev);
}

int
vu_device_set_driver_features(struct vu_device *dev, uint64_t features)
{
	if (!(dev->status & VU_STATUS_DRIVER) || (dev->status & VU_STATUS_FEATURES_OK)) {
		VU_ERR("%s: driver features written in status 0x%x", dev->name, dev->status);
		return -EPERM;
	}
	dev->driver_features = features;
	return 0;
}

uint32_t
vu_device_max_mtu(const struct vu_device *dev)
{
	return dev->device_features & VU_DEVICE_MTU_FEATURE ? dev->config.mtu : VU_NET_MAX_MTU;
}

uint32_t
vu_device_mtu(const struct vu_device *dev)
{
	return dev->mtu;
}

int
vu_device_set_mtu(struct vu_device *dev, uint32_t mtu)
{
	uint32_t max = vu_device_max_mtu(dev);
	int rc;

	if (mtu < VU_NET_MIN_MTU || mtu > max) {
		VU_ERR("%s: MTU %u is out of range: the device takes %u to %u%s", dev->name, mtu,
		       VU_NET_MIN_MTU, max,
		       dev->device_features & VU_DEVICE_MTU_FEATURE ? " (config space mtu)" : "");
		return -EINVAL;
	}
	/* Stopped: the backend is told at DRIVER_OK (vu_device_start_backend). */
	if ((dev->status & VU_STATUS_DRIVER_OK) && dev->connected) {
		rc = vu_device_tell_mtu(dev, mtu);
		if (rc < 0)
			return rc;
	}
	dev->mtu = mtu;
	return 0;
}

/* The backend's side of ACKNOWLEDGE, DRIVER and FEATURES_OK (DRIVER_OK comes with the
 * rings, vu_device_start_backend). In server mode a backend lost on the way is one gone:
 * the next one gets the status it missed (vu_device_replay_status). */
static int
vu_device_tell_backend_status(struct vu_device *dev, uint8_t status, uint8_t added)
{
	uint8_t told = status & (uint8_t)~VU_STATUS_DRIVER_OK;
	int rc;

	if (!dev->connected)
		return 0;
	if (added & VU_STATUS_FEATURES_OK)
		rc = vu_device_tell_features_ok(dev, told);
	else
		rc = vu_device_tell_status(dev, told);
	if (rc < 0 && rc != -ENOTSUP && vu_device_conn_lost(dev) && dev->server)
		rc = 0;
	return rc;
}

int
vu_device_set_status(struct vu_device *dev, uint8_t status)
{
	uint8_t added = status & (uint8_t)~dev->status;
	int rc;

	if (status == 0) {
		vu_device_reset(dev);
		return 0;
	}
	if (dev->status & ~status) {
		/* "The driver MUST NOT clear a device status bit." (spec 2.1.1) */
		VU_ERR("%s: status 0x%x clears bits of 0x%x", dev->name, status, dev->status);
		return -EINVAL;
	}
	if (added & VU_STATUS_FAILED) {
		dev->status |= VU_STATUS_FAILED;
		if (dev->connected && vu_device_tell_status(dev, dev->status) < 0)
			vu_device_conn_lost(dev);
		return 0;
	}
	if (((status & VU_STATUS_DRIVER) && !(status & VU_STATUS_ACKNOWLEDGE)) ||
	    ((status & VU_STATUS_FEATURES_OK) && !(status & VU_STATUS_DRIVER)) ||
	    ((status & VU_STATUS_DRIVER_OK) && !(status & VU_STATUS_FEATURES_OK))) {
		VU_ERR("%s: status 0x%x skips a step of device initialization", dev->name, status);
		return -EINVAL;
	}
	if (added & VU_STATUS_FEATURES_OK) {
		uint64_t extra = dev->driver_features & ~dev->device_features;

		rc = extra ? -ENOTSUP : 0;
		if (extra)
			VU_ERR("%s: driver accepted features 0x%llx the device does not offer",
			       dev->name, (unsigned long long)extra);
		else
			rc = vu_device_tell_backend_status(dev, status, added);
		if (rc < 0) {
			dev->status =
				status & (uint8_t) ~(VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK);
			return rc;
		}
	} else if (added & (VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER)) {
		rc = vu_device_tell_backend_status(dev, status, added);
		if (rc < 0)
			return rc;
	}
	/* Without a backend (server mode) the rings wait for one (vu_device_conn.c). */
	if ((added & VU_STATUS_DRIVER_OK) && dev->connected) {
		rc = vu_device_start_backend(dev, status);
		/* In server mode a backend dropped mid-start is one gone: wait for the next. */
		if (rc < 0 && dev->server && !dev->connected)
			rc = 0;
		if (rc < 0) {
			VU_ERR("%s: starting the backend failed: %s", dev->name, strerror(-rc));
			vu_device_stop_backend(dev);
			dev->status = (status & (uint8_t)~VU_STATUS_DRIVER_OK) |
				VU_STATUS_DEVICE_NEEDS_RESET;
			return rc;
		}
	}
	dev->status = status;
	return 0;
}

int
vu_device_read_config(const struct vu_device *dev, uint32_t offset, void *buf, uint32_t len)
{
	if (offset > sizeof(dev->config) || len > sizeof(dev->config) - offset)
		return -EINVAL;
	memcpy(buf, (const uint8_t *)&dev->config + offset, len);
	return 0;
}

int
vu_device_set_memory(struct vu_device *dev, const struct vu_mem_table *mem)
{
	uint32_t max = vu_device_max_mem_regions(dev);

	if (mem->nregions == 0 || mem->nregions > max) {
		VU_ERR("%s: %u memory regions, the backend takes 1 to %u%s", dev->name,
		       mem->nregions, max,
		       vu_device_mem_slots(dev) ? "" : " (it does not offer CONFIGURE_MEM_SLOTS)");
		return -E2BIG;
	}
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->regions[i];

		if (r->len == 0 || (r->fd < 0 && dev->ops->maps_memory_by_fd) ||
		    r->addr + r->len < r->addr) {
			VU_ERR("%s: memory region %u is invalid (addr 0x%llx len %llu fd %d)",
			       dev->name, i, (unsigned long long)r->addr,
			       (unsigned long long)r->len, r->fd);
			return -EINVAL;
		}
	}
	dev->mem = *mem;
	if ((dev->status & VU_STATUS_DRIVER_OK) && dev->connected)
		return dev->ops->set_mem_table(dev->backend, &dev->mem);
	return 0;
}

int
vu_device_setup_queue(struct vu_device *dev, uint32_t idx, uint32_t size,
		      const struct vu_vring_addr *addr)
{
	if (idx >= dev->nqueues) {
		VU_ERR("%s: queue %u does not exist (%u queues)", dev->name, idx, dev->nqueues);
		return -EINVAL;
	}
	if (!(dev->status & VU_STATUS_FEATURES_OK) || (dev->status & VU_STATUS_DRIVER_OK)) {
		VU_ERR("%s: queue %u set up in status 0x%x", dev->name, idx, dev->status);
		return -EPERM;
	}
	if (size == 0 || size > VU_QUEUE_SIZE_MAX ||
	    (!vu_ring_is_packed(dev->driver_features) && (size & (size - 1)))) {
		VU_ERR("%s: queue %u size %u is invalid", dev->name, idx, size);
		return -EINVAL;
	}
	dev->queues[idx].size = size;
	dev->queues[idx].addr = *addr;
	dev->queues[idx].ready = true;
	return 0;
}

int
vu_device_queue_kick_fd(const struct vu_device *dev, uint32_t idx)
{
	return idx < dev->nqueues ? dev->queues[idx].kick_fd : -EINVAL;
}

int
vu_device_queue_call_fd(const struct vu_device *dev, uint32_t idx)
{
	return idx < dev->nqueues ? dev->queues[idx].call_fd : -EINVAL;
}

int
vu_device_iotlb_map(struct vu_device *dev, uint64_t addr, uint64_t len, uint8_t perm)
{
	int rc = dev->ops->iotlb_map ? dev->ops->iotlb_map(dev->backend, addr, len, perm) :
				       -EOPNOTSUPP;

	if (rc < 0 && rc != -EOPNOTSUPP && vu_device_conn_lost(dev) && dev->server)
		rc = 0;
	return rc;
}

int
vu_device_iotlb_unmap(struct vu_device *dev, uint64_t addr, uint64_t len)
{
	int rc = dev->ops->iotlb_unmap ? dev->ops->iotlb_unmap(dev->backend, addr, len) :
					 -EOPNOTSUPP;

	if (rc < 0 && rc != -EOPNOTSUPP && vu_device_conn_lost(dev) && dev->server)
		rc = 0;
	return rc;
}

uint64_t
vu_device_iotlb_refused(const struct vu_device *dev)
{
	return dev->ops->iotlb_refused ? dev->ops->iotlb_refused(dev->backend) : 0;
}
