/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-kernel frontend: the backend ops over /dev/vhost-net ioctls, with a TAP as the net backend. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vu_backend.h"
#include "vu_log.h"
#include "vu_tap.h"
#include "vu_virtio.h"

/* vhost's default when /sys/module/vhost/parameters/max_mem_regions is absent (vhost.c). */
#define VU_VHOST_KERNEL_DEFAULT_MAX_REGIONS 64
#define VU_VHOST_KERNEL_MAX_REGIONS_PARAM "/sys/module/vhost/parameters/max_mem_regions"

/*
 * What vhost-net's rings implement and this frontend passes on from VHOST_GET_FEATURES.
 * Left out: VHOST_NET_F_VIRTIO_NET_HDR (the TAP handles the header, IFF_VNET_HDR),
 * VHOST_F_LOG_ALL (no dirty logging), ACCESS_PLATFORM (no IOTLB). vhost-net has neither
 * a packed ring nor IN_ORDER, so those are never offered.
 */
#define VU_VHOST_KERNEL_RING_FEATURES                                                             \
	(VU_BIT(VU_F_RING_INDIRECT_DESC) | VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_VERSION_1) | \
	 VU_BIT(VU_NET_F_MRG_RXBUF))

/* Offloads of packets the driver sends: the TAP takes any header once IFF_VNET_HDR is on. */
#define VU_VHOST_KERNEL_HOST_OFFLOADS \
	(VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6))

/* vhost-net's two rings per device (VHOST_NET_VQ_RX, VHOST_NET_VQ_TX in drivers/vhost/net.c),
 * which are virtio-net's rx and tx queues of one pair: virtqueue 2n is rx, 2n+1 is tx. */
#define VU_VHOST_NET_RINGS 2

struct vu_backend {
	char name[64];
	char path[PATH_MAX];
	uint32_t npairs;
	uint64_t kernel_features; /* VHOST_GET_FEATURES */
	uint64_t features;	  /* offered to the device */
	uint32_t max_regions;
	struct vu_tap *tap;
	int vhost_fds[]; /* one vhost-net device per queue pair */
};

/* Every ioctl and open here is made again when a signal interrupts it (EINTR): it did
 * nothing then. */
static int
vu_vk_ioctl(struct vu_backend *b, uint32_t pair, const char *what, unsigned long request, void *arg)
{
	if (TEMP_FAILURE_RETRY(ioctl(b->vhost_fds[pair], request, arg)) < 0) {
		int err = errno;

		if (err == ENOTTY)
			VU_ERR("%s: %s on %s: %s (not a vhost-net device)", b->name, what, b->path,
			       strerror(err));
		else
			VU_ERR("%s: %s on %s (queue pair %u): %s", b->name, what, b->path, pair,
			       strerror(err));
		return -err;
	}
	return 0;
}

static int
vu_vk_ring_ioctl(struct vu_backend *b, uint32_t idx, const char *what, unsigned long request,
		 void *arg)
{
	uint32_t pair = idx / VU_VHOST_NET_RINGS;

	if (pair >= b->npairs) {
		VU_ERR("%s: %s: queue %u does not exist (%u queue pairs)", b->name, what, idx,
		       b->npairs);
		return -EINVAL;
	}
	if (TEMP_FAILURE_RETRY(ioctl(b->vhost_fds[pair], request, arg)) < 0) {
		int err = errno;

		VU_ERR("%s: %s on %s (queue %u): %s", b->name, what, b->path, idx, strerror(err));
		return -err;
	}
	return 0;
}

static uint32_t
vu_vk_max_regions(void)
{
	FILE *f = fopen(VU_VHOST_KERNEL_MAX_REGIONS_PARAM, "re");
	unsigned int n = 0;

	if (!f)
		return VU_VHOST_KERNEL_DEFAULT_MAX_REGIONS;
	if (fscanf(f, "%u", &n) != 1 || n == 0)
		n = VU_VHOST_KERNEL_DEFAULT_MAX_REGIONS;
	fclose(f);
	return n;
}

static int
vu_vk_open_device(struct vu_backend *b)
{
	int fd = TEMP_FAILURE_RETRY(open(b->path, O_RDWR | O_CLOEXEC));
	int err = errno;

	if (fd >= 0)
		return fd;
	/* The node appears when the module loads; a static node without it gives ENODEV. */
	if (err == ENOENT || err == ENODEV || err == ENXIO)
		VU_ERR("%s: cannot open %s: %s: the vhost_net kernel module is not loaded "
		       "(modprobe vhost_net)",
		       b->name, b->path, strerror(err));
	else if (err == EACCES || err == EPERM)
		VU_ERR("%s: cannot open %s: %s (needs read-write access to it)", b->name, b->path,
		       strerror(err));
	else
		VU_ERR("%s: cannot open %s: %s", b->name, b->path, strerror(err));
	return -err;
}

static void
vu_vk_close(struct vu_backend *b)
{
	if (!b)
		return;
	/* vhost first: it holds references to the TAP queues it was given. */
	for (uint32_t i = 0; i < b->npairs; i++)
		if (b->vhost_fds[i] >= 0)
			close(b->vhost_fds[i]);
	vu_tap_close(b->tap);
	free(b);
}

/* Features offered to the device: the ring features of vhost-net, the TAP's offloads. */
static uint64_t
vu_vk_offered_features(const struct vu_backend *b)
{
	unsigned int tap_offloads = vu_tap_supported_offloads(b->tap);
	uint64_t f = (b->kernel_features & VU_VHOST_KERNEL_RING_FEATURES) |
		VU_VHOST_KERNEL_HOST_OFFLOADS;

	if (tap_offloads & TUN_F_CSUM)
		f |= VU_BIT(VU_NET_F_GUEST_CSUM);
	if (tap_offloads & TUN_F_TSO4)
		f |= VU_BIT(VU_NET_F_GUEST_TSO4);
	if (tap_offloads & TUN_F_TSO6)
		f |= VU_BIT(VU_NET_F_GUEST_TSO6);
	if (b->npairs > 1)
		f |= VU_BIT(VU_NET_F_MQ);
	return f;
}

static int
vu_vk_open(const struct vu_backend_params *params, struct vu_backend **out)
{
	uint32_t npairs = params->queue_pairs ? params->queue_pairs : 1;
	struct vu_tap_params tp = {
		.name = params->name,
		.ifname = params->ifname,
		.tun_path = params->tun_path,
		.queues = npairs,
		.mac = params->mac,
		.up = true,
	};
	struct vu_backend *b;
	int rc;

	if (strlen(params->path) >= sizeof(b->path)) {
		VU_ERR("%s: vhost-kernel device path is too long: %s", params->name, params->path);
		return -ENAMETOOLONG;
	}
	if (npairs > VU_TAP_MAX_QUEUES) {
		VU_ERR("%s: %u queue pairs asked, a TAP has at most %u queues", params->name,
		       npairs, VU_TAP_MAX_QUEUES);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b) + npairs * sizeof(b->vhost_fds[0]));
	if (!b)
		return -ENOMEM;
	snprintf(b->name, sizeof(b->name), "%s", params->name);
	memcpy(b->path, params->path, strlen(params->path) + 1);
	for (uint32_t i = 0; i < npairs; i++)
		b->vhost_fds[i] = -1;

	/* One vhost-net instance per queue pair: each serves exactly one rx and one tx ring. */
	for (uint32_t i = 0; i < npairs; i++) {
		uint64_t features;

		rc = vu_vk_open_device(b);
		if (rc < 0)
			goto fail;
		b->vhost_fds[i] = rc;
		b->npairs = i + 1;
		rc = vu_vk_ioctl(b, i, "VHOST_SET_OWNER", VHOST_SET_OWNER, NULL);
		if (rc == 0)
			rc = vu_vk_ioctl(b, i, "VHOST_GET_FEATURES", VHOST_GET_FEATURES, &features);
		if (rc < 0)
			goto fail;
		b->kernel_features = i == 0 ? features : b->kernel_features & features;
	}
	b->max_regions = vu_vk_max_regions();

	rc = vu_tap_open(&tp, &b->tap);
	if (rc < 0)
		goto fail;
	b->features = vu_vk_offered_features(b);
	vu_log(VU_LOG_NOTICE, "%s: vhost-kernel %s with TAP %s: %u queue pair(s)", b->name, b->path,
	       vu_tap_ifname(b->tap), b->npairs);
	VU_INFO("%s: vhost-net features 0x%llx, offered 0x%llx, at most %u memory regions", b->name,
		(unsigned long long)b->kernel_features, (unsigned long long)b->features,
		b->max_regions);
	*out = b;
	return 0;
fail:
	vu_vk_close(b);
	return rc;
}

static int
vu_vk_get_features(struct vu_backend *b, uint64_t *features)
{
	*features = b->features;
	return 0;
}

static int
vu_vk_get_max_queue_pairs(struct vu_backend *b, uint32_t *pairs)
{
	*pairs = b->npairs;
	return 0;
}

/* TUN_F_* for the guest offloads the driver accepted: what its Rx can take (if_tun.h). */
static unsigned int
vu_vk_tun_offloads(uint64_t features)
{
	unsigned int flags = 0;

	if (features & VU_BIT(VU_NET_F_GUEST_CSUM)) {
		flags |= TUN_F_CSUM;
		if (features & VU_BIT(VU_NET_F_GUEST_TSO4))
			flags |= TUN_F_TSO4;
		if (features & VU_BIT(VU_NET_F_GUEST_TSO6))
			flags |= TUN_F_TSO6;
	}
	return flags;
}

static int
vu_vk_set_features(struct vu_backend *b, uint64_t features)
{
	/* The kernel refuses bits it did not offer (EOPNOTSUPP): offloads and MQ belong
	 * to the TAP, not to vhost-net. */
	uint64_t vhost_features = features & b->kernel_features;
	uint32_t hdr_size = vu_net_hdr_size(features);
	int rc;

	if (features & ~b->features) {
		VU_ERR("%s: features 0x%llx were not offered by vhost-kernel", b->name,
		       (unsigned long long)(features & ~b->features));
		return -EINVAL;
	}
	/* vhost-net does not add the header itself (no VHOST_NET_F_VIRTIO_NET_HDR): the TAP
	 * reads and writes it, so it must know its size. */
	rc = vu_tap_set_vnet_hdr_size(b->tap, hdr_size);
	if (rc == 0)
		rc = vu_tap_set_offload(b->tap, vu_vk_tun_offloads(features));
	for (uint32_t i = 0; rc == 0 && i < b->npairs; i++)
		rc = vu_vk_ioctl(b, i, "VHOST_SET_FEATURES", VHOST_SET_FEATURES, &vhost_features);
	if (rc == 0)
		VU_INFO("%s: vhost-net features 0x%llx, TAP %s header %u bytes, offloads 0x%x",
			b->name, (unsigned long long)vhost_features, vu_tap_ifname(b->tap),
			hdr_size, vu_vk_tun_offloads(features));
	return rc;
}

static int
vu_vk_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	struct vhost_memory *vm;
	int rc = 0;

	if (mem->nregions == 0 || mem->nregions > b->max_regions) {
		VU_ERR("%s: VHOST_SET_MEM_TABLE: %u memory regions, vhost takes 1 to %u (%s)",
		       b->name, mem->nregions, b->max_regions, VU_VHOST_KERNEL_MAX_REGIONS_PARAM);
		return -E2BIG;
	}
	vm = calloc(1, sizeof(*vm) + mem->nregions * sizeof(vm->regions[0]));
	if (!vm)
		return -ENOMEM;
	vm->nregions = mem->nregions;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		/* The kernel reaches memory through the owner's address space: descriptors
		 * carry process addresses, so "guest physical" == userspace; fds are unused. */
		vm->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->regions[i].addr,
			.memory_size = mem->regions[i].len,
			.userspace_addr = mem->regions[i].addr,
		};
	}
	for (uint32_t i = 0; rc == 0 && i < b->npairs; i++)
		rc = vu_vk_ioctl(b, i, "VHOST_SET_MEM_TABLE", VHOST_SET_MEM_TABLE, vm);
	free(vm);
	return rc;
}

static int
vu_vk_set_vring_num(struct vu_backend *b, uint32_t idx, uint32_t num)
{
	struct vhost_vring_state s = { .index = idx % VU_VHOST_NET_RINGS, .num = num };

	return vu_vk_ring_ioctl(b, idx, "VHOST_SET_VRING_NUM", VHOST_SET_VRING_NUM, &s);
}

static int
vu_vk_set_vring_base(struct vu_backend *b, uint32_t idx, uint32_t base)
{
	struct vhost_vring_state s = { .index = idx % VU_VHOST_NET_RINGS, .num = base };

	return vu_vk_ring_ioctl(b, idx, "VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE, &s);
}

static int
vu_vk_get_vring_base(struct vu_backend *b, uint32_t idx, uint32_t *base)
{
	struct vhost_vring_state s = { .index = idx % VU_VHOST_NET_RINGS };
	int rc = vu_vk_ring_ioctl(b, idx, "VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE, &s);

	if (rc == 0)
		*base = s.num;
	return rc;
}

static int
vu_vk_set_vring_addr(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *addr)
{
	struct vhost_vring_addr a = {
		.index = idx % VU_VHOST_NET_RINGS,
		.desc_user_addr = addr->desc,
		.used_user_addr = addr->used,
		.avail_user_addr = addr->avail,
	};

	return vu_vk_ring_ioctl(b, idx, "VHOST_SET_VRING_ADDR", VHOST_SET_VRING_ADDR, &a);
}

static int
vu_vk_set_vring_kick(struct vu_backend *b, uint32_t idx, int fd)
{
	struct vhost_vring_file f = { .index = idx % VU_VHOST_NET_RINGS, .fd = fd };

	return vu_vk_ring_ioctl(b, idx, "VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK, &f);
}

static int
vu_vk_set_vring_call(struct vu_backend *b, uint32_t idx, int fd)
{
	struct vhost_vring_file f = { .index = idx % VU_VHOST_NET_RINGS, .fd = fd };

	return vu_vk_ring_ioctl(b, idx, "VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL, &f);
}

/* A vhost-net ring runs while it has a backend socket: attaching the pair's TAP queue
 * starts it, VHOST_FILE_UNBIND (-1) stops it (drivers/vhost/net.c vhost_net_set_backend). */
static int
vu_vk_set_vring_enable(struct vu_backend *b, uint32_t idx, bool enable)
{
	uint32_t pair = idx / VU_VHOST_NET_RINGS;
	struct vhost_vring_file f = { .index = idx % VU_VHOST_NET_RINGS, .fd = VHOST_FILE_UNBIND };

	if (pair < b->npairs && enable)
		f.fd = vu_tap_queue_fd(b->tap, pair);
	return vu_vk_ring_ioctl(b, idx,
				enable ? "VHOST_NET_SET_BACKEND" : "VHOST_NET_SET_BACKEND -1",
				VHOST_NET_SET_BACKEND, &f);
}

/* The TAP is the kernel's end of the port's link: with the driver's MTU the kernel sends
 * frames as large as the driver takes, and no larger. vhost-net itself has no MTU. */
static int
vu_vk_set_mtu(struct vu_backend *b, uint32_t mtu)
{
	return vu_tap_set_mtu(b->tap, mtu);
}

/* Back to the state right after open: RESET_OWNER forgets rings, memory and features,
 * and the next user must be the owner again. */
static int
vu_vk_reset(struct vu_backend *b)
{
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < b->npairs; i++) {
		rc = vu_vk_ioctl(b, i, "VHOST_RESET_OWNER", VHOST_RESET_OWNER, NULL);
		if (rc == 0)
			rc = vu_vk_ioctl(b, i, "VHOST_SET_OWNER", VHOST_SET_OWNER, NULL);
	}
	return rc;
}

const struct vu_backend_ops vu_vhost_kernel_ops = {
	.name = "vhost-kernel",
	.maps_memory_by_fd = false,
	.takes_ifname = true,
	.open = vu_vk_open,
	.close = vu_vk_close,
	.get_features = vu_vk_get_features,
	.get_max_queue_pairs = vu_vk_get_max_queue_pairs,
	.set_features = vu_vk_set_features,
	.set_mem_table = vu_vk_set_mem_table,
	.set_vring_num = vu_vk_set_vring_num,
	.set_vring_base = vu_vk_set_vring_base,
	.get_vring_base = vu_vk_get_vring_base,
	.set_vring_addr = vu_vk_set_vring_addr,
	.set_vring_kick = vu_vk_set_vring_kick,
	.set_vring_call = vu_vk_set_vring_call,
	.set_vring_enable = vu_vk_set_vring_enable,
	.reset = vu_vk_reset,
	.set_mtu = vu_vk_set_mtu,
};
