/* SPDX-License-Identifier: BSD-3-Clause */
/* TAP devices for the vhost-kernel frontend: /dev/net/tun queues and their ioctls. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vu_log.h"
#include "vu_netlink.h"
#include "vu_tap.h"

#define VU_TUN_PATH "/dev/net/tun"

struct vu_tap {
	char who[64];
	char ifname[IFNAMSIZ];
	uint32_t nqueues;
	unsigned int offloads; /* TUN_F_* accepted by TUNSETOFFLOAD */
	int fds[];
};

const char *
vu_tap_ifname(const struct vu_tap *tap)
{
	return tap->ifname;
}

uint32_t
vu_tap_num_queues(const struct vu_tap *tap)
{
	return tap->nqueues;
}

int
vu_tap_queue_fd(const struct vu_tap *tap, uint32_t queue)
{
	return queue < tap->nqueues ? tap->fds[queue] : -EINVAL;
}

unsigned int
vu_tap_supported_offloads(const struct vu_tap *tap)
{
	return tap->offloads;
}

void
vu_tap_close(struct vu_tap *tap)
{
	if (!tap)
		return;
	/* The TAP is not persistent: closing its last queue removes the interface. */
	for (uint32_t i = 0; i < tap->nqueues; i++)
		if (tap->fds[i] >= 0)
			close(tap->fds[i]);
	free(tap);
}

/* Every open and ioctl here is made again when a signal interrupts it (EINTR): it did
 * nothing then. */
static int
vu_tap_open_clone(const struct vu_tap *tap, const char *tun_path)
{
	int fd = TEMP_FAILURE_RETRY(open(tun_path, O_RDWR | O_CLOEXEC));
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENODEV || err == ENXIO)
		VU_ERR("%s: cannot open %s: %s (is the tun kernel module loaded? modprobe tun)",
		       tap->who, tun_path, strerror(err));
	else if (err == EACCES || err == EPERM)
		VU_ERR("%s: cannot open %s: %s (creating a TAP needs read-write access to it "
		       "and CAP_NET_ADMIN)",
		       tap->who, tun_path, strerror(err));
	else
		VU_ERR("%s: cannot open %s: %s", tap->who, tun_path, strerror(err));
	return -err;
}

/* The flags every queue is attached with (if_tun.h). IFF_VNET_HDR: each packet read or
 * written carries a virtio-net header, which is what vhost-net's rings hold. */
static short
vu_tap_flags(uint32_t queues)
{
	return (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0));
}

static int
vu_tap_check_features(const struct vu_tap *tap, int fd, const char *tun_path, uint32_t queues)
{
	unsigned int features = 0;
	/* IFF_TUN_EXCL is honoured by TUNSETIFF but never listed by TUNGETFEATURES. */
	unsigned int needed = (unsigned int)vu_tap_flags(queues);

	if (TEMP_FAILURE_RETRY(ioctl(fd, TUNGETFEATURES, &features)) < 0) {
		int err = errno;

		VU_ERR("%s: TUNGETFEATURES on %s: %s", tap->who, tun_path, strerror(err));
		return -err;
	}
	if ((features & needed) != needed) {
		VU_ERR("%s: the kernel's TAP driver lacks%s%s (TUNGETFEATURES 0x%x)", tap->who,
		       (features & IFF_VNET_HDR) ? "" : " IFF_VNET_HDR",
		       (needed & ~features & IFF_MULTI_QUEUE) ? " IFF_MULTI_QUEUE (queues > 1)" :
								"",
		       features);
		return -ENOTSUP;
	}
	return 0;
}

/* TUNSETIFF: the first queue creates the interface (IFF_TUN_EXCL: never take over one
 * that exists), the others attach to it by the name the kernel chose. */
static int
vu_tap_attach(struct vu_tap *tap, int fd, const char *ifname, uint32_t queues, bool create)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = vu_tap_flags(queues);
	if (create)
		ifr.ifr_flags |= IFF_TUN_EXCL;
	if (TEMP_FAILURE_RETRY(ioctl(fd, TUNSETIFF, &ifr)) < 0) {
		int err = errno;

		if (create && (err == EBUSY || err == EEXIST)) {
			VU_ERR("%s: interface %s already exists: iface= must name a new interface",
			       tap->who, ifname);
			return -EEXIST;
		}
		if (err == EPERM)
			VU_ERR("%s: creating TAP %s: %s (needs CAP_NET_ADMIN)", tap->who, ifname,
			       strerror(err));
		else if (err == EINVAL)
			VU_ERR("%s: creating TAP %s: %s (not a valid interface name?)", tap->who,
			       ifname, strerror(err));
		else
			VU_ERR("%s: TUNSETIFF %s (queue %u): %s", tap->who, ifname, tap->nqueues,
			       strerror(err));
		return -err;
	}
	if (create)
		memcpy(tap->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	return 0;
}

/* Which guest offloads the TAP takes: try them all, then TUN_F_CSUM alone (if_tun.h:
 * TSO needs CSUM), and leave the TAP with none until features are negotiated. */
static void
vu_tap_probe_offloads(struct vu_tap *tap)
{
	static const unsigned int tries[] = { TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM };
	int fd = tap->fds[0];

	tap->offloads = 0;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (TEMP_FAILURE_RETRY(ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i])) == 0) {
			tap->offloads = tries[i];
			break;
		}
	}
	if (TEMP_FAILURE_RETRY(ioctl(fd, TUNSETOFFLOAD, 0ul)) < 0)
		VU_WARN("%s: TUNSETOFFLOAD 0 on %s: %s", tap->who, tap->ifname, strerror(errno));
}

int
vu_tap_open(const struct vu_tap_params *params, struct vu_tap **out)
{
	const char *tun_path = params->tun_path ? params->tun_path : VU_TUN_PATH;
	const char *ifname = params->ifname ? params->ifname : VU_TAP_DEFAULT_NAME;
	/* "Unlimited" as QEMU's tap does by default: a small send buffer makes the
	 * kernel throttle vhost-net's transmissions into the TAP. */
	int sndbuf = INT_MAX;
	struct vu_tap *tap;
	int rc;

	if (params->queues == 0 || params->queues > VU_TAP_MAX_QUEUES) {
		VU_ERR("%s: %u TAP queues asked, the kernel takes 1 to %u", params->name,
		       params->queues, VU_TAP_MAX_QUEUES);
		return -EINVAL;
	}
	if (ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ) {
		VU_ERR("%s: interface name '%s' must be 1 to %d bytes", params->name, ifname,
		       IFNAMSIZ - 1);
		return -EINVAL;
	}
	tap = calloc(1, sizeof(*tap) + params->queues * sizeof(tap->fds[0]));
	if (!tap)
		return -ENOMEM;
	snprintf(tap->who, sizeof(tap->who), "%s", params->name);
	for (uint32_t i = 0; i < params->queues; i++)
		tap->fds[i] = -1;

	for (uint32_t i = 0; i < params->queues; i++) {
		int fd = vu_tap_open_clone(tap, tun_path);

		if (fd < 0) {
			rc = fd;
			goto fail;
		}
		tap->fds[i] = fd;
		tap->nqueues = i + 1;
		rc = i == 0 ? vu_tap_check_features(tap, fd, tun_path, params->queues) : 0;
		if (rc == 0)
			rc = vu_tap_attach(tap, fd, i == 0 ? ifname : tap->ifname, params->queues,
					   i == 0);
		if (rc < 0)
			goto fail;
	}
	if (TEMP_FAILURE_RETRY(ioctl(tap->fds[0], TUNSETSNDBUF, &sndbuf)) < 0) {
		rc = -errno;
		VU_ERR("%s: TUNSETSNDBUF %s: %s", tap->who, tap->ifname, strerror(-rc));
		goto fail;
	}
	vu_tap_probe_offloads(tap);
	if (params->mac) {
		rc = vu_link_set_mac(tap->who, tap->ifname, params->mac);
		if (rc < 0)
			goto fail;
	}
	if (params->up) {
		rc = vu_link_set_up(tap->who, tap->ifname, true);
		if (rc < 0)
			goto fail;
	}
	VU_INFO("%s: TAP %s: %u queue(s), offloads 0x%x", tap->who, tap->ifname, tap->nqueues,
		tap->offloads);
	*out = tap;
	return 0;
fail:
	vu_tap_close(tap);
	return rc;
}

int
vu_tap_set_vnet_hdr_size(struct vu_tap *tap, uint32_t size)
{
	int sz = (int)size;

	/* The header size belongs to the interface, not to a queue (tun.c). */
	if (TEMP_FAILURE_RETRY(ioctl(tap->fds[0], TUNSETVNETHDRSZ, &sz)) < 0) {
		int err = errno;

		VU_ERR("%s: TUNSETVNETHDRSZ %d on %s: %s", tap->who, sz, tap->ifname,
		       strerror(err));
		return -err;
	}
	return 0;
}

int
vu_tap_set_mtu(struct vu_tap *tap, uint32_t mtu)
{
	return vu_link_set_mtu(tap->who, tap->ifname, mtu);
}

int
vu_tap_set_offload(struct vu_tap *tap, unsigned int tun_flags)
{
	if (TEMP_FAILURE_RETRY(ioctl(tap->fds[0], TUNSETOFFLOAD, (unsigned long)tun_flags)) < 0) {
		int err = errno;

		VU_ERR("%s: TUNSETOFFLOAD 0x%x on %s: the kernel refused: %s", tap->who, tun_flags,
		       tap->ifname, strerror(err));
		return -err;
	}
	return 0;
}
