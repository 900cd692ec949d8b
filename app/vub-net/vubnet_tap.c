/* SPDX-License-Identifier: BSD-3-Clause */
/* vub-net's TAP: open through /dev/net/tun, carrier following the frontend. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vu_log.h"
#include "vubnet_tap.h"

#define VUBNET_TUN_DEV "/dev/net/tun"

int
vubnet_tap_open(const char *name, struct vubnet_tap *tap)
{
	struct ifreq ifr;
	int on = 0;

	memset(tap, 0, sizeof(*tap));
	tap->fd = open(VUBNET_TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tap->fd < 0) {
		int err = errno;

		VU_ERR("tap %s: open %s: %s", name, VUBNET_TUN_DEV, strerror(err));
		return -err;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* Frames without the packet-information prefix or a virtio-net header: libvub
	 * offers no offload, so a header would carry nothing. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		VU_ERR("tap %s: TUNSETIFF: %s%s", name, strerror(err),
		       err == EPERM ? " (creating a TAP needs CAP_NET_ADMIN)" : "");
		close(tap->fd);
		tap->fd = -1;
		return -err;
	}
	snprintf(tap->name, sizeof(tap->name), "%s", ifr.ifr_name);
	/* TUNSETCARRIER (Linux 5.0): no carrier until a frontend runs the port, so the host
	 * does not send into a port nobody reads. Older kernels keep the carrier on. */
	tap->has_carrier_ioctl = ioctl(tap->fd, TUNSETCARRIER, &on) == 0;
	if (!tap->has_carrier_ioctl)
		VU_WARN("tap %s: TUNSETCARRIER: %s: the carrier stays on without a frontend",
			tap->name, strerror(errno));
	VU_INFO("tap %s: open", tap->name);
	return 0;
}

void
vubnet_tap_set_carrier(struct vubnet_tap *tap, bool on)
{
	int v = on;

	if (!tap->has_carrier_ioctl)
		return;
	if (ioctl(tap->fd, TUNSETCARRIER, &v) < 0)
		VU_ERR("tap %s: TUNSETCARRIER %d: %s", tap->name, v, strerror(errno));
	else
		VU_INFO("tap %s: carrier %s", tap->name, on ? "on" : "off");
}

void
vubnet_tap_close(struct vubnet_tap *tap)
{
	if (tap->fd >= 0)
		close(tap->fd);
	tap->fd = -1;
}
