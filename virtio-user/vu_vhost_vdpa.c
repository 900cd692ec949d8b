/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-vdpa frontend: the backend ops over a /dev/vhost-vdpa-N character device. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vu_backend.h"
#include "vu_log.h"
#include "vu_vdpa_cvq.h"
#include "vu_virtio.h"

/* virtio device ID of a network card (spec 5: "Device Types"). */
#define VU_VIRTIO_ID_NET 1

/* Memory reaches a vDPA device as IOTLB updates written to the fd (vhost_vdpa.c
 * vhost_vdpa_chr_write_iter): V2 messages, batched where the device takes batches. */
#define VU_VDPA_NEEDED_BACKEND_FEATURES (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2)
#define VU_VDPA_BATCH_FEATURE (1ull << VHOST_BACKEND_F_IOTLB_BATCH)

/*
 * Bits the frontend negotiates with the device itself, whatever the driver took:
 * ACCESS_PLATFORM because every address the device sees is an IOVA we mapped (VDUSE
 * refuses a device without it); MAC, STATUS and MTU because the device layer reads the
 * config space fields those make exist (spec 5.1.4).
 */
#define VU_VDPA_FRONTEND_FEATURES                                                        \
	(VU_BIT(VU_F_ACCESS_PLATFORM) | VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS) | \
	 VU_BIT(VU_NET_F_MTU))

/* The device layer emulates its own control queue in-process and never sees the
 * device's; the frontend drives that one itself for multi-queue (VU_VDPA_MQ_FEATURES). */
#define VU_VDPA_CTRL_FEATURES                                                               \
	(VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) | VU_BIT(VU_NET_F_CTRL_VLAN) | \
	 VU_BIT(VU_NET_F_CTRL_MAC_ADDR) | VU_BIT(VU_NET_F_MQ))
/* "VIRTIO_NET_F_MQ Requires VIRTIO_NET_F_CTRL_VQ" (spec 5.1.3.1). */
#define VU_VDPA_MQ_FEATURES (VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_MQ))
/* Entries of the control queue's ring: one command is in flight at a time. */
#define VU_VDPA_CVQ_SIZE 64
/* Offset of max_virtqueue_pairs in the net config space (spec 5.1.4). */
#define VU_VDPA_CONFIG_MAX_PAIRS 8
/* Rings the frontend tracks; virtqueue indexes of the data rings stay below it. */
#define VU_VDPA_MAX_RINGS (2 * 128)

struct vu_backend {
	char name[64];
	char path[PATH_MAX];
	int fd;
	uint64_t device_features;   /* VHOST_GET_FEATURES */
	uint64_t backend_features;  /* VHOST_SET_BACKEND_FEATURES */
	uint16_t max_ring;	    /* VHOST_VDPA_GET_VRING_NUM */
	struct vu_mem_table mapped; /* what the device's IOTLB holds now */
	unsigned int timeout_ms;
	/* multi-queue: the device's control queue at virtqueue 2 * max_pairs */
	struct vu_vdpa_cvq *cvq;
	uint32_t max_pairs;    /* config space max_virtqueue_pairs; 1 without a cvq */
	uint32_t active_pairs; /* what the device was told (VQ_PAIRS_SET); 1 after a reset */
	uint8_t status;	       /* last VHOST_VDPA_SET_STATUS */
	bool cvq_mapped;
	bool enabled[VU_VDPA_MAX_RINGS];
};

static int vu_vdpa_get_config(struct vu_backend *b, uint32_t offset, void *buf, uint32_t len);

/* Every ioctl here is made again when a signal interrupts it (EINTR): it did nothing. */
static int
vu_vdpa_ioctl(struct vu_backend *b, const char *what, unsigned long request, void *arg)
{
	if (TEMP_FAILURE_RETRY(ioctl(b->fd, request, arg)) < 0) {
		int err = errno;

		VU_ERR("%s: %s on %s: %s%s", b->name, what, b->path, strerror(err),
		       err == ENOTTY ? " (not a vhost-vdpa device)" : "");
		return -err;
	}
	return 0;
}

static int
vu_vdpa_ring_ioctl(struct vu_backend *b, uint32_t idx, const char *what, unsigned long request,
		   void *arg)
{
	if (TEMP_FAILURE_RETRY(ioctl(b->fd, request, arg)) < 0) {
		int err = errno;

		VU_ERR("%s: %s on %s (queue %u): %s", b->name, what, b->path, idx, strerror(err));
		return -err;
	}
	return 0;
}

/* One IOTLB message (struct vhost_msg_v2) written to the device fd. */
static int
vu_vdpa_iotlb(struct vu_backend *b, uint8_t type, uint64_t iova, uint64_t size)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = { .iova = iova,
			   .size = size,
			   .uaddr = iova,
			   .perm = VHOST_ACCESS_RW,
			   .type = type },
	};
	ssize_t n = TEMP_FAILURE_RETRY(write(b->fd, &msg, sizeof(msg)));

	if (n != (ssize_t)sizeof(msg)) {
		int err = n < 0 ? errno : EIO;

		VU_ERR("%s: IOTLB message %u (iova 0x%llx, %llu bytes) to %s: %s", b->name, type,
		       (unsigned long long)iova, (unsigned long long)size, b->path, strerror(err));
		return -err;
	}
	return 0;
}

static void
vu_vdpa_close(struct vu_backend *b)
{
	if (!b)
		return;
	/* The fd first: the device may still reach the control queue's memory. */
	if (b->fd >= 0)
		close(b->fd);
	vu_vdpa_cvq_destroy(b->cvq);
	free(b);
}

static int
vu_vdpa_open_device(struct vu_backend *b)
{
	int fd = TEMP_FAILURE_RETRY(open(b->path, O_RDWR | O_CLOEXEC));
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == EACCES || err == EPERM)
		VU_ERR("%s: cannot open %s: %s (needs read-write access to it)", b->name, b->path,
		       strerror(err));
	else if (err == EBUSY)
		VU_ERR("%s: cannot open %s: %s (another process has the vDPA device open)", b->name,
		       b->path, strerror(err));
	else
		VU_ERR("%s: cannot open %s: %s", b->name, b->path, strerror(err));
	return -err;
}

/* Ownership, the device type, and the IOTLB dialect: V2 messages, batches if taken. */
static int
vu_vdpa_handshake(struct vu_backend *b)
{
	uint64_t offered = 0, want;
	uint32_t id = 0;
	int rc;

	rc = vu_vdpa_ioctl(b, "VHOST_SET_OWNER", VHOST_SET_OWNER, NULL);
	if (rc == 0)
		rc = vu_vdpa_ioctl(b, "VHOST_VDPA_GET_DEVICE_ID", VHOST_VDPA_GET_DEVICE_ID, &id);
	if (rc < 0)
		return rc;
	if (id != VU_VIRTIO_ID_NET) {
		VU_ERR("%s: %s is a vDPA device of virtio type %u, not a network device (%u)",
		       b->name, b->path, id, VU_VIRTIO_ID_NET);
		return -ENODEV;
	}
	rc = vu_vdpa_ioctl(b, "VHOST_GET_BACKEND_FEATURES", VHOST_GET_BACKEND_FEATURES, &offered);
	if (rc < 0)
		return rc;
	if ((offered & VU_VDPA_NEEDED_BACKEND_FEATURES) != VU_VDPA_NEEDED_BACKEND_FEATURES) {
		VU_ERR("%s: %s offers backend features 0x%llx, without VHOST_BACKEND_F_IOTLB_MSG_V2",
		       b->name, b->path, (unsigned long long)offered);
		return -ENOTSUP;
	}
	want = offered & (VU_VDPA_NEEDED_BACKEND_FEATURES | VU_VDPA_BATCH_FEATURE);
	rc = vu_vdpa_ioctl(b, "VHOST_SET_BACKEND_FEATURES", VHOST_SET_BACKEND_FEATURES, &want);
	if (rc == 0)
		b->backend_features = want;
	return rc;
}

/* The device's features and ring limit, then a reset so it starts from a known state. */
static int
vu_vdpa_probe(struct vu_backend *b)
{
	uint8_t zero = 0;
	int rc;

	rc = vu_vdpa_ioctl(b, "VHOST_GET_FEATURES", VHOST_GET_FEATURES, &b->device_features);
	if (rc == 0)
		rc = vu_vdpa_ioctl(b, "VHOST_VDPA_GET_VRING_NUM", VHOST_VDPA_GET_VRING_NUM,
				   &b->max_ring);
	if (rc == 0)
		rc = vu_vdpa_ioctl(b, "VHOST_VDPA_SET_STATUS 0", VHOST_VDPA_SET_STATUS, &zero);
	if (rc < 0)
		return rc;
	/* A vDPA device is a modern one (vhost_vdpa.c refuses a device without it). */
	if (!(b->device_features & VU_BIT(VU_F_VERSION_1))) {
		VU_ERR("%s: %s offers features 0x%llx without VIRTIO_F_VERSION_1", b->name, b->path,
		       (unsigned long long)b->device_features);
		return -ENOTSUP;
	}
	return 0;
}

/* queues > 1: the device must offer MQ and its control queue, and enough pairs. */
static int
vu_vdpa_mq_open(struct vu_backend *b, uint32_t pairs)
{
	uint16_t max = 0;
	int rc;

	if ((b->device_features & VU_VDPA_MQ_FEATURES) != VU_VDPA_MQ_FEATURES) {
		VU_ERR("%s: queues=%u: vhost-vdpa %s offers no multi-queue (VIRTIO_NET_F_MQ with "
		       "VIRTIO_NET_F_CTRL_VQ; features 0x%llx)",
		       b->name, pairs, b->path, (unsigned long long)b->device_features);
		return -ENOTSUP;
	}
	rc = vu_vdpa_get_config(b, VU_VDPA_CONFIG_MAX_PAIRS, &max, sizeof(max));
	if (rc < 0)
		return rc;
	b->max_pairs = le16toh(max);
	if (b->max_pairs < pairs || b->max_pairs > VU_VDPA_MAX_RINGS / 2) {
		VU_ERR("%s: queues=%u: vhost-vdpa %s serves %u queue pairs (max_virtqueue_pairs)",
		       b->name, pairs, b->path, b->max_pairs);
		return -EINVAL;
	}
	return vu_vdpa_cvq_create(
		b->name, b->max_ring < VU_VDPA_CVQ_SIZE ? b->max_ring : VU_VDPA_CVQ_SIZE, &b->cvq);
}

static int
vu_vdpa_open(const struct vu_backend_params *params, struct vu_backend **out)
{
	struct vu_backend *b;
	int rc;

	if (strlen(params->path) >= sizeof(b->path)) {
		VU_ERR("%s: vhost-vdpa device path is too long: %s", params->name, params->path);
		return -ENAMETOOLONG;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	snprintf(b->name, sizeof(b->name), "%s", params->name);
	memcpy(b->path, params->path, strlen(params->path) + 1);
	b->fd = vu_vdpa_open_device(b);
	if (b->fd < 0) {
		rc = b->fd;
		goto fail;
	}
	b->timeout_ms = params->timeout_ms;
	b->max_pairs = 1;
	b->active_pairs = 1;
	rc = vu_vdpa_handshake(b);
	if (rc == 0)
		rc = vu_vdpa_probe(b);
	if (rc == 0 && params->queue_pairs > 1)
		rc = vu_vdpa_mq_open(b, params->queue_pairs);
	if (rc < 0)
		goto fail;
	vu_log(VU_LOG_NOTICE, "%s: vhost-vdpa %s: features 0x%llx, rings up to %u entries%s",
	       b->name, b->path, (unsigned long long)b->device_features, b->max_ring,
	       b->backend_features & VU_VDPA_BATCH_FEATURE ? ", IOTLB batches" : "");
	*out = b;
	return 0;
fail:
	vu_vdpa_close(b);
	return rc;
}

/* What the device offers, less its control queue and ACCESS_PLATFORM, which only the
 * frontend uses; MAC, STATUS and MTU stay: the device layer reads their config fields. */
static int
vu_vdpa_get_features(struct vu_backend *b, uint64_t *features)
{
	*features = b->device_features & ~(VU_VDPA_CTRL_FEATURES | VU_BIT(VU_F_ACCESS_PLATFORM));
	return 0;
}

static int
vu_vdpa_get_max_queue_pairs(struct vu_backend *b, uint32_t *pairs)
{
	*pairs = b->cvq ? b->max_pairs : 1;
	return 0;
}

static int
vu_vdpa_set_features(struct vu_backend *b, uint64_t features)
{
	uint64_t f = features | (b->device_features & VU_VDPA_FRONTEND_FEATURES);

	if (b->cvq && (features & VU_BIT(VU_F_RING_PACKED))) {
		VU_ERR("%s: packed_vq=1 with queues>1 on vhost-vdpa %s: the device's control "
		       "queue is driven as a split ring only",
		       b->name, b->path);
		return -ENOTSUP;
	}
	if (b->cvq)
		f |= VU_VDPA_MQ_FEATURES;
	if (f & ~b->device_features) {
		VU_ERR("%s: features 0x%llx were not offered by vhost-vdpa %s", b->name,
		       (unsigned long long)(f & ~b->device_features), b->path);
		return -EINVAL;
	}
	return vu_vdpa_ioctl(b, "VHOST_SET_FEATURES", VHOST_SET_FEATURES, &f);
}

/*
 * Descriptors carry process addresses, so each region is mapped with iova == uaddr. The
 * previous regions are invalidated first: the kernel refuses an update that overlaps a
 * mapping it holds (vhost_iotlb_add_range_ctx).
 */
static int
vu_vdpa_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	bool batch = b->backend_features & VU_VDPA_BATCH_FEATURE;
	int rc = 0;

	if (batch)
		rc = vu_vdpa_iotlb(b, VHOST_IOTLB_BATCH_BEGIN, 0, 0);
	for (uint32_t i = 0; rc == 0 && i < b->mapped.nregions; i++)
		rc = vu_vdpa_iotlb(b, VHOST_IOTLB_INVALIDATE, b->mapped.regions[i].addr,
				   b->mapped.regions[i].len);
	if (rc == 0)
		b->mapped.nregions = 0;
	for (uint32_t i = 0; rc == 0 && i < mem->nregions; i++)
		rc = vu_vdpa_iotlb(b, VHOST_IOTLB_UPDATE, mem->regions[i].addr,
				   mem->regions[i].len);
	if (rc == 0)
		b->mapped = *mem;
	/* The control queue's own memory, mapped once for the fd's life. */
	if (rc == 0 && b->cvq && !b->cvq_mapped) {
		uint64_t addr, len;

		vu_vdpa_cvq_region(b->cvq, &addr, &len);
		rc = vu_vdpa_iotlb(b, VHOST_IOTLB_UPDATE, addr, len);
		b->cvq_mapped = rc == 0;
	}
	if (batch && rc == 0)
		rc = vu_vdpa_iotlb(b, VHOST_IOTLB_BATCH_END, 0, 0);
	return rc;
}

static int
vu_vdpa_set_vring_num(struct vu_backend *b, uint32_t idx, uint32_t num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	if (num > b->max_ring) {
		VU_ERR("%s: queue %u: %u entries, vhost-vdpa %s takes at most %u", b->name, idx,
		       num, b->path, b->max_ring);
		return -EINVAL;
	}
	return vu_vdpa_ring_ioctl(b, idx, "VHOST_SET_VRING_NUM", VHOST_SET_VRING_NUM, &s);
}

static int
vu_vdpa_set_vring_base(struct vu_backend *b, uint32_t idx, uint32_t base)
{
	struct vhost_vring_state s = { .index = idx, .num = base };

	return vu_vdpa_ring_ioctl(b, idx, "VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE, &s);
}

static int
vu_vdpa_get_vring_base(struct vu_backend *b, uint32_t idx, uint32_t *base)
{
	struct vhost_vring_state s = { .index = idx };
	int rc = vu_vdpa_ring_ioctl(b, idx, "VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE, &s);

	if (rc == 0)
		*base = s.num;
	return rc;
}

static int
vu_vdpa_set_vring_addr(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *addr)
{
	struct vhost_vring_addr a = {
		.index = idx,
		.desc_user_addr = addr->desc,
		.used_user_addr = addr->used,
		.avail_user_addr = addr->avail,
	};

	return vu_vdpa_ring_ioctl(b, idx, "VHOST_SET_VRING_ADDR", VHOST_SET_VRING_ADDR, &a);
}

static int
vu_vdpa_set_vring_kick(struct vu_backend *b, uint32_t idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return vu_vdpa_ring_ioctl(b, idx, "VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK, &f);
}

static int
vu_vdpa_set_vring_call(struct vu_backend *b, uint32_t idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return vu_vdpa_ring_ioctl(b, idx, "VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL, &f);
}

/* Pairs whose two rings are both enabled, from pair 0 on. */
static uint32_t
vu_vdpa_enabled_pairs(const struct vu_backend *b)
{
	uint32_t n = 0;

	while (n < b->max_pairs && b->enabled[2 * n] && b->enabled[2 * n + 1])
		n++;
	return n;
}

/* Spec 5.1.6.5.6.1: "The driver MUST configure the virtqueues before enabling them with
 * the VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET command"; the device runs one pair until then. */
static int
vu_vdpa_set_pairs(struct vu_backend *b)
{
	uint32_t pairs = vu_vdpa_enabled_pairs(b);
	uint16_t le = htole16((uint16_t)pairs);
	uint8_t ack = VU_NET_ERR;
	int rc;

	if (!b->cvq || !(b->status & VU_STATUS_DRIVER_OK) || pairs == 0 || pairs == b->active_pairs)
		return 0;
	rc = vu_vdpa_cvq_command(b->cvq, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, &le,
				 sizeof(le), b->timeout_ms, &ack);
	if (rc == 0 && ack != VU_NET_OK) {
		VU_ERR("%s: vhost-vdpa %s refused VQ_PAIRS_SET %u (ack %u)", b->name, b->path,
		       pairs, ack);
		rc = -EIO;
	}
	if (rc == 0) {
		VU_INFO("%s: vhost-vdpa %s runs %u queue pair(s)", b->name, b->path, pairs);
		b->active_pairs = pairs;
	}
	return rc;
}

static int
vu_vdpa_set_vring_enable(struct vu_backend *b, uint32_t idx, bool enable)
{
	struct vhost_vring_state s = { .index = idx, .num = enable };
	int rc;

	if (idx / 2 >= b->max_pairs) {
		VU_ERR("%s: queue %u does not exist on vhost-vdpa %s (%u queue pairs)", b->name,
		       idx, b->path, b->max_pairs);
		return -EINVAL;
	}
	rc = vu_vdpa_ring_ioctl(
		b, idx, enable ? "VHOST_VDPA_SET_VRING_ENABLE 1" : "VHOST_VDPA_SET_VRING_ENABLE 0",
		VHOST_VDPA_SET_VRING_ENABLE, &s);
	if (rc < 0)
		return rc;
	b->enabled[idx] = enable;
	return vu_vdpa_set_pairs(b);
}

/* The device's control queue, set up like the data rings before DRIVER_OK. No call
 * fd: the frontend polls for the ack. */
static int
vu_vdpa_cvq_start(struct vu_backend *b)
{
	uint32_t idx = 2 * b->max_pairs;
	struct vu_vring_addr ring = vu_vdpa_cvq_ring(b->cvq);
	int rc;

	vu_vdpa_cvq_reset(b->cvq);
	rc = vu_vdpa_set_vring_num(b, idx, vu_vdpa_cvq_size(b->cvq));
	if (rc == 0)
		rc = vu_vdpa_set_vring_base(b, idx, 0);
	if (rc == 0)
		rc = vu_vdpa_set_vring_addr(b, idx, &ring);
	if (rc == 0)
		rc = vu_vdpa_set_vring_kick(b, idx, vu_vdpa_cvq_kick_fd(b->cvq));
	if (rc == 0)
		rc = vu_vdpa_set_vring_call(b, idx, -1);
	if (rc == 0) {
		struct vhost_vring_state s = { .index = idx, .num = 1 };

		rc = vu_vdpa_ring_ioctl(b, idx, "VHOST_VDPA_SET_VRING_ENABLE 1",
					VHOST_VDPA_SET_VRING_ENABLE, &s);
	}
	return rc;
}

/* The status register is the device's own: DRIVER_OK starts it, 0 resets it. */
static int
vu_vdpa_set_status(struct vu_backend *b, uint8_t status)
{
	bool starts = (status & VU_STATUS_DRIVER_OK) && !(b->status & VU_STATUS_DRIVER_OK);
	int rc = 0;

	if (starts && b->cvq)
		rc = vu_vdpa_cvq_start(b);
	if (rc == 0)
		rc = vu_vdpa_ioctl(b, "VHOST_VDPA_SET_STATUS", VHOST_VDPA_SET_STATUS, &status);
	if (rc < 0)
		return rc;
	b->status = status;
	if (status == 0) {
		/* a reset: one pair again, every ring disabled */
		b->active_pairs = 1;
		memset(b->enabled, 0, sizeof(b->enabled));
	}
	/* pairs the device layer enabled before DRIVER_OK */
	return starts ? vu_vdpa_set_pairs(b) : 0;
}

static int
vu_vdpa_get_status(struct vu_backend *b, uint8_t *status)
{
	return vu_vdpa_ioctl(b, "VHOST_VDPA_GET_STATUS", VHOST_VDPA_GET_STATUS, status);
}

/* Back to the state right after open: a device reset forgets the rings and features;
 * the IOTLB is the fd's and stays. */
static int
vu_vdpa_reset(struct vu_backend *b)
{
	return vu_vdpa_set_status(b, 0);
}

/* The config space, len bytes from offset; bytes past the device's config size read as
 * zero (a device without MTU has no mtu field: spec 5.1.4). */
static int
vu_vdpa_get_config(struct vu_backend *b, uint32_t offset, void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c;
	uint32_t size = 0, n = len;
	int rc;

	if (TEMP_FAILURE_RETRY(ioctl(b->fd, VHOST_VDPA_GET_CONFIG_SIZE, &size)) == 0)
		n = offset >= size ? 0 : (size - offset < len ? size - offset : len);
	memset(buf, 0, len);
	if (n == 0)
		return 0;
	c = calloc(1, sizeof(*c) + n);
	if (!c)
		return -ENOMEM;
	c->off = offset;
	c->len = n;
	rc = vu_vdpa_ioctl(b, "VHOST_VDPA_GET_CONFIG", VHOST_VDPA_GET_CONFIG, c);
	if (rc == 0)
		memcpy(buf, c->buf, n);
	free(c);
	return rc;
}

const struct vu_backend_ops vu_vhost_vdpa_ops = {
	.name = "vhost-vdpa",
	.maps_memory_by_fd = false,
	.takes_ifname = false,
	.open = vu_vdpa_open,
	.close = vu_vdpa_close,
	.get_features = vu_vdpa_get_features,
	.get_max_queue_pairs = vu_vdpa_get_max_queue_pairs,
	.set_features = vu_vdpa_set_features,
	.set_mem_table = vu_vdpa_set_mem_table,
	.set_vring_num = vu_vdpa_set_vring_num,
	.set_vring_base = vu_vdpa_set_vring_base,
	.get_vring_base = vu_vdpa_get_vring_base,
	.set_vring_addr = vu_vdpa_set_vring_addr,
	.set_vring_kick = vu_vdpa_set_vring_kick,
	.set_vring_call = vu_vdpa_set_vring_call,
	.set_vring_enable = vu_vdpa_set_vring_enable,
	.reset = vu_vdpa_reset,
	.set_status = vu_vdpa_set_status,
	.get_status = vu_vdpa_get_status,
	.get_config = vu_vdpa_get_config,
};
