/* SPDX-License-Identifier: BSD-3-Clause */
/* vub-net's TAP: the kernel side of the port, through the TUN/TAP driver's API. */
#ifndef VUBNET_TAP_H
#define VUBNET_TAP_H

#include <net/if.h>
#include <stdbool.h>

struct vubnet_tap {
	int fd;
	char name[IFNAMSIZ]; /* what the kernel named it */
	bool has_carrier_ioctl;
};

/* Create the TAP, or attach to a persistent one of that name (ip tuntap add ... mode
 * tap), non-blocking, carrier off. Returns 0 or -errno with a log line. */
int vubnet_tap_open(const char *name, struct vubnet_tap *tap);
void vubnet_tap_close(struct vubnet_tap *tap);
/* Link carrier follows the frontend: on while it runs queue pair 0. */
void vubnet_tap_set_carrier(struct vubnet_tap *tap, bool on);

#endif /* VUBNET_TAP_H */
