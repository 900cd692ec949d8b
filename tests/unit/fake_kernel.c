/* SPDX-License-Identifier: BSD-3-Clause */
/* Fake vhost-net, vhost-vdpa and TAP kernel for unit tests: ioctls recorded and answered. */
#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_kernel.h"

struct fake_kernel fk;
const uint8_t fk_test_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6]);
int __wrap_vu_link_set_up(const char *who, const char *ifname, bool up);
int __wrap_vu_link_set_mtu(const char *who, const char *ifname, uint32_t mtu);

void
fk_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.vhost_features = FK_KERNEL_FEATURES;
	/* As the kernel answers: IFF_TUN_EXCL works but is not listed. */
	fk.tun_features = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	fk.tun_offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO;
}

void
fk_reset_vdpa(void)
{
	struct vu_net_config cfg = { .status = htole16(VU_NET_S_LINK_UP),
				     .max_virtqueue_pairs = htole16(2),
				     .mtu = htole16(1500) };

	fk_reset();
	fk.vhost_features = FK_VDPA_FEATURES;
	fk.vdpa.device_id = 1;
	fk.vdpa.backend_features = (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
		(1ull << VHOST_BACKEND_F_IOTLB_BATCH) | (1ull << VHOST_BACKEND_F_SUSPEND);
	fk.vdpa.vring_num = 256;
	memcpy(cfg.mac, fk_test_mac, sizeof(cfg.mac));
	fk.vdpa.config_size = sizeof(cfg);
	fk.vdpa.cvq_index = 4; /* 2 * max_virtqueue_pairs */
	memcpy(fk.vdpa.config, &cfg, sizeof(cfg));
}

/* The vhost-vdpa requests (vhost_vdpa.c vhost_vdpa_unlocked_ioctl). */
static int
fake_vdpa_ioctl(struct fk_rec *r, void *arg)
{
	switch (r->request) {
	case VHOST_VDPA_GET_DEVICE_ID:
		*(uint32_t *)arg = fk.vdpa.device_id;
		return 0;
	case VHOST_GET_BACKEND_FEATURES:
		*(uint64_t *)arg = fk.vdpa.backend_features;
		return 0;
	case VHOST_SET_BACKEND_FEATURES:
		r->u64 = *(uint64_t *)arg;
		if (r->u64 & ~fk.vdpa.backend_features) {
			errno = EOPNOTSUPP;
			return -1;
		}
		return 0;
	case VHOST_VDPA_GET_STATUS:
		*(uint8_t *)arg = fk.vdpa.status;
		return 0;
	case VHOST_VDPA_SET_STATUS:
		r->u64 = *(uint8_t *)arg;
		fk.vdpa.status = (uint8_t)(r->u64 & ~fk.vdpa.status_refused);
		if (r->u64 == 0)
			fk.vdpa.cvq_last_avail = 0; /* a reset empties every ring */
		return 0;
	case VHOST_VDPA_GET_VRING_NUM:
		*(uint16_t *)arg = fk.vdpa.vring_num;
		return 0;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		*(uint32_t *)arg = fk.vdpa.config_size;
		return 0;
	case VHOST_VDPA_GET_CONFIG: {
		struct vhost_vdpa_config *c = arg;

		r->state.index = c->off;
		r->state.num = c->len;
		if (c->len == 0 || c->off > fk.vdpa.config_size ||
		    c->len > fk.vdpa.config_size - c->off) {
			errno = E2BIG;
			return -1;
		}
		memcpy(c->buf, fk.vdpa.config + c->off, c->len);
		return 0;
	}
	case VHOST_VDPA_SET_VRING_ENABLE:
		r->state = *(struct vhost_vring_state *)arg;
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

static bool
is_vhost_or_tun(unsigned long request)
{
	return _IOC_TYPE(request) == VHOST_VIRTIO || _IOC_TYPE(request) == 'T';
}

static int
fake_ioctl(struct fk_rec *r, void *arg)
{
	if (fk.fail_request == r->request) {
		errno = fk.fail_errno;
		return -1;
	}
	switch (r->request) {
	case VHOST_SET_OWNER:
	case VHOST_RESET_OWNER:
		return 0;
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = fk.vhost_features;
		return 0;
	case VHOST_SET_FEATURES:
		r->u64 = *(uint64_t *)arg;
		if (r->u64 & ~fk.vhost_features) {
			errno = EOPNOTSUPP;
			return -1;
		}
		return 0;
	case VHOST_SET_MEM_TABLE: {
		const struct vhost_memory *m = arg;

		r->nregions = m->nregions;
		for (uint32_t i = 0; i < m->nregions && i < 4; i++)
			r->regions[i] = m->regions[i];
		return 0;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
		r->state = *(struct vhost_vring_state *)arg;
		return 0;
	case VHOST_GET_VRING_BASE:
		r->state = *(struct vhost_vring_state *)arg;
		((struct vhost_vring_state *)arg)->num = 7;
		return 0;
	case VHOST_SET_VRING_ADDR:
		r->addr = *(struct vhost_vring_addr *)arg;
		return 0;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_NET_SET_BACKEND:
		r->file = *(struct vhost_vring_file *)arg;
		return 0;
	case TUNGETFEATURES:
		*(unsigned int *)arg = fk.tun_features;
		return 0;
	case TUNSETIFF: {
		struct ifreq *ifr = arg;
		char *pct;

		r->ifr = *ifr;
		if (fk.existing && strcmp(ifr->ifr_name, fk.existing) == 0 &&
		    (ifr->ifr_flags & IFF_TUN_EXCL)) {
			errno = EBUSY;
			return -1;
		}
		/* The kernel's dev_alloc_name(): %d becomes the first free number. */
		pct = strstr(ifr->ifr_name, "%d");
		if (pct)
			memcpy(pct, "0", 2);
		snprintf(fk.created, sizeof(fk.created), "%s", ifr->ifr_name);
		return 0;
	}
	case TUNSETSNDBUF:
	case TUNSETVNETHDRSZ:
		r->u64 = (uint64_t) * (int *)arg;
		return 0;
	case TUNSETOFFLOAD:
		r->u64 = (uint64_t)(uintptr_t)arg;
		if (r->u64 & ~(uint64_t)fk.tun_offloads) {
			errno = EINVAL;
			return -1;
		}
		return 0;
	default:
		return fake_vdpa_ioctl(r, arg);
	}
}

int
fk_ioctl(int fd, unsigned long request, void *arg)
{
	struct fk_rec *r;

	if (!is_vhost_or_tun(request) || (fk.real_tun && _IOC_TYPE(request) == 'T'))
		return __real_ioctl(fd, request, arg);
	assert_true(fk.nrecs < FK_MAX_RECS);
	r = &fk.recs[fk.nrecs++];
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->request = request;
	return fake_ioctl(r, arg);
}

static int
link_call(const char *what, const char *ifname, const uint8_t *mac, bool up, uint32_t mtu)
{
	if (fk.nlink < FK_MAX_LINK_CALLS) {
		snprintf(fk.link[fk.nlink].what, sizeof(fk.link[0].what), "%s", what);
		snprintf(fk.link[fk.nlink].ifname, IFNAMSIZ, "%s", ifname);
		if (mac)
			memcpy(fk.link[fk.nlink].mac, mac, 6);
		fk.link[fk.nlink].up = up;
		fk.link[fk.nlink].mtu = mtu;
		fk.nlink++;
	}
	if (fk.link_fail && strcmp(fk.link_fail, what) != 0)
		return 0;
	return fk.link_rc;
}

int
__wrap_vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6])
{
	(void)who;
	return link_call("mac", ifname, mac, false, 0);
}

int
__wrap_vu_link_set_up(const char *who, const char *ifname, bool up)
{
	(void)who;
	return link_call("up", ifname, NULL, up, 0);
}

int
__wrap_vu_link_set_mtu(const char *who, const char *ifname, uint32_t mtu)
{
	(void)who;
	return link_call("mtu", ifname, NULL, false, mtu);
}

struct vu_device_params
fk_params(uint16_t pairs, const char *ifname)
{
	struct vu_device_params p = {
		.name = "vk0",
		.path = FK_NODE,
		.tun_path = FK_NODE,
		.ifname = ifname,
		.queue_pairs = pairs,
		.mac_set = true,
	};

	memcpy(p.mac, fk_test_mac, sizeof(p.mac));
	return p;
}

int
fk_start_device(struct vu_device *dev, uint64_t features, int memfd, void *mem, size_t len)
{
	uint8_t st = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;
	struct vu_mem_table table = {
		.nregions = 1,
		.regions = { { .addr = (uint64_t)(uintptr_t)mem, .len = len, .fd = memfd } },
	};

	assert_int_equal(vu_device_set_status(dev, 0), 0);
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(vu_device_set_driver_features(dev, features), 0);
	st |= VU_STATUS_FEATURES_OK;
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(vu_device_set_memory(dev, &table), 0);
	for (uint32_t i = 0; i < vu_device_num_queues(dev); i++) {
		uint64_t base = (uint64_t)(uintptr_t)mem + i * 0x4000;
		struct vu_vring_addr a = { base, base + 0x1000, base + 0x2000 };

		assert_int_equal(vu_device_setup_queue(dev, i, 256, &a), 0);
	}
	return vu_device_set_status(dev, st | VU_STATUS_DRIVER_OK);
}
