/* SPDX-License-Identifier: BSD-3-Clause */
/* Devargs of the net_vuser PMD: parsing and validation, plain C so unit tests run without EAL. */
#ifndef VUSER_DEVARGS_H
#define VUSER_DEVARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUSER_DEFAULT_QUEUE_SIZE 256
#define VUSER_MAX_QUEUE_SIZE 32768
#define VUSER_MAX_QUEUE_PAIRS 128
#define VUSER_IFNAMSIZ 16 /* IFNAMSIZ of <net/if.h>: 15 bytes and the NUL */

struct vuser_devargs {
	char path[PATH_MAX];
	uint16_t queues;
	uint16_t queue_size;
	uint8_t mac[6];
	bool mac_set;
	uint32_t speed; /* Mbps; 0: unknown */
	char iface
		[VUSER_IFNAMSIZ]; /* vhost-kernel TAP name (iface= or interface_name=); "": default */
	bool mrg_rxbuf;		  /* VIRTIO_NET_F_MRG_RXBUF */
	bool in_order;		  /* VIRTIO_F_IN_ORDER */
	bool packed_vq;		  /* VIRTIO_F_RING_PACKED */
	bool vectorized;	  /* ask for a SIMD data path */
	bool cq;		  /* emulate a control queue (on by default when queues > 1) */
	bool server;		  /* vhost-user server mode: listen on path, the backend connects */
	bool iotlb; /* vhost-user IOTLB mode: the backend sees rings and mempools only */
};

/*
 * Parse "key=value,key=value" as given after the vdev name. Fills defaults first.
 * Returns 0, or -EINVAL with a one-line reason in err (which names the key).
 */
int vuser_devargs_parse(const char *args, struct vuser_devargs *out, char *err, size_t errlen);

#endif /* VUSER_DEVARGS_H */
