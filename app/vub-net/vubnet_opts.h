/* SPDX-License-Identifier: BSD-3-Clause */
/* vub-net command line: the vhost-user backend program conventions plus the TAP to forward to. */
#ifndef VUBNET_OPTS_H
#define VUBNET_OPTS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define VUBNET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
/* A VDUSE device's name, also its /dev/vduse/ node's: VDUSE_NAME_MAX with the NUL. */
#define VUBNET_VDUSE_NAME_MAX 256

struct vubnet_opts {
	char socket_path[VUBNET_PATH_MAX]; /* "" with --fd */
	int fd;				   /* --fd=FDNUM, -1 without */
	char vduse[VUBNET_VDUSE_NAME_MAX]; /* --vduse=NAME: a VDUSE device, "" without */
	char tap[IFNAMSIZ];
	bool client; /* connect to socket_path instead of listening there */
	bool iommu;  /* --iommu-support: offer VIRTIO_F_ACCESS_PLATFORM (IOTLB mode) */
	/* The frontend's config space: --mac (VIRTIO_NET_F_MAC), --mtu (0: not given). */
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu;
	bool print_capabilities;
	bool help;
};

/* Parse argv (argv[0] is the program). Returns 0, or -EINVAL with a line naming the
 * offending option in err. --print-capabilities and --help end parsing successfully
 * whatever else is there: the conventions say "Other options and arguments should be
 * ignored". */
int vubnet_opts_parse(int argc, char *const argv[], struct vubnet_opts *out, char *err,
		      size_t errlen);

/* The JSON the conventions ask of --print-capabilities (vhost-user.json,
 * VHostUserBackendCapabilities), newline-terminated. */
const char *vubnet_capabilities(void);
/* The --help text. */
const char *vubnet_usage(void);

#endif /* VUBNET_OPTS_H */
