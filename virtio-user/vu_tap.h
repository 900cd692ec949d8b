/* SPDX-License-Identifier: BSD-3-Clause */
/* TAP devices for the vhost-kernel frontend: one /dev/net/tun queue fd per queue pair. */
#ifndef VU_TAP_H
#define VU_TAP_H

#include <stdbool.h>
#include <stdint.h>

/* The kernel's limit on queues of one multi-queue TAP (MAX_TAP_QUEUES in tun.c). */
#define VU_TAP_MAX_QUEUES 256
/* Name used when the caller gives none; the kernel replaces %d with a free number. */
#define VU_TAP_DEFAULT_NAME "vutap%d"

struct vu_tap_params {
	const char *name;     /* device name, for log lines */
	const char *ifname;   /* interface name or template with %d; NULL: VU_TAP_DEFAULT_NAME */
	const char *tun_path; /* clone device; NULL: /dev/net/tun */
	uint32_t queues;      /* 1: a plain TAP; more: IFF_MULTI_QUEUE, one fd each */
	const uint8_t *mac;   /* MAC of the interface; NULL: the kernel's random one */
	bool up;	      /* bring the link up once created */
};

struct vu_tap;

/*
 * Create a new TAP (never attach to an existing interface: a name in use fails with
 * -EEXIST) with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, open its queues, set a large send
 * buffer, then set the MAC and bring it up over rtnetlink. The TAP is not persistent:
 * it disappears with the last fd, so a failure (or vu_tap_close) leaves nothing behind.
 * Returns 0 or a negative errno, logged in one line naming the cause.
 */
int vu_tap_open(const struct vu_tap_params *params, struct vu_tap **out);
void vu_tap_close(struct vu_tap *tap);

const char *vu_tap_ifname(const struct vu_tap *tap);
uint32_t vu_tap_num_queues(const struct vu_tap *tap);
int vu_tap_queue_fd(const struct vu_tap *tap, uint32_t queue);

/* TUN_F_* offload flags the TAP accepted when probed at open. */
unsigned int vu_tap_supported_offloads(const struct vu_tap *tap);

/* Size of the virtio-net header in front of every packet (TUNSETVNETHDRSZ): 10 or 12. */
int vu_tap_set_vnet_hdr_size(struct vu_tap *tap, uint32_t size);
/* What the reader of the TAP (the driver's Rx) accepts: TUN_F_CSUM, TUN_F_TSO4, ... */
int vu_tap_set_offload(struct vu_tap *tap, unsigned int tun_flags);
/* The interface's MTU, over rtnetlink; the kernel refuses one outside its range. */
int vu_tap_set_mtu(struct vu_tap *tap, uint32_t mtu);

#endif /* VU_TAP_H */
