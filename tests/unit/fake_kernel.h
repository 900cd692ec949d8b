/* SPDX-License-Identifier: BSD-3-Clause */
/* Fake vhost-net, vhost-vdpa and TAP kernel for unit tests: ioctls recorded and answered. */
#ifndef FAKE_KERNEL_H
#define FAKE_KERNEL_H

#include <linux/vhost.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "vu_device.h"
#include "vu_virtio.h"

/*
 * The test binary is linked with -Wl,--wrap=ioctl,--wrap=vu_link_set_mac,--wrap=vu_link_set_up,
 * --wrap=vu_link_set_mtu. This file defines the three link wrappers; fake_kernel_ioctl.c's
 * __wrap_ioctl (or the binary's own, which may inject a fault first) hands every call to
 * fk_ioctl(), which answers vhost and TUN requests as the kernel would (recording each one in
 * fk.recs) and passes any other request to the real ioctl(). The device nodes are substituted
 * by FK_NODE, so open() and close() are real.
 */

#define FK_NODE "/dev/null" /* a character device that stands for /dev/vhost-net and /dev/net/tun */

/* What vhost-net offers: ring features, and bits the frontend must not pass on. */
#define FK_KERNEL_FEATURES                                                                        \
	(VU_BIT(VU_F_RING_INDIRECT_DESC) | VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_VERSION_1) | \
	 VU_BIT(VU_NET_F_MRG_RXBUF) | (1ull << VHOST_NET_F_VIRTIO_NET_HDR) |                      \
	 (1ull << VHOST_F_LOG_ALL) | VU_BIT(VU_F_ACCESS_PLATFORM))

/* One vhost or TUN ioctl as the fake kernel received it. */
struct fk_rec {
	int fd;
	unsigned long request;
	uint64_t u64; /* features, offload flags, sndbuf, hdr size */
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_vring_file file;
	uint32_t nregions;
	struct vhost_memory_region regions[4];
	struct ifreq ifr;
};

#define FK_MAX_RECS 128
#define FK_MAX_LINK_CALLS 8
#define FK_MAX_IOTLB 16
#define FK_VDPA_CONFIG_MAX 32

/* What the fake vhost-vdpa device is (fk_reset_vdpa sets a virtio-net device). */
struct fk_vdpa {
	uint32_t device_id;
	uint64_t backend_features; /* VHOST_GET_BACKEND_FEATURES */
	uint8_t status;		   /* VHOST_VDPA_SET_STATUS stores, GET_STATUS answers */
	uint8_t status_refused;	   /* bits SET_STATUS drops (a device refusing FEATURES_OK) */
	uint16_t vring_num;	   /* VHOST_VDPA_GET_VRING_NUM */
	uint32_t config_size;	   /* VHOST_VDPA_GET_CONFIG_SIZE */
	uint8_t config[FK_VDPA_CONFIG_MAX];
	/* IOTLB messages written to the device fd (fake_vdpa_write.c's write wrapper) */
	struct vhost_msg_v2 iotlb[FK_MAX_IOTLB];
	unsigned int niotlb;
	int write_errno; /* nonzero: writes of IOTLB messages fail with it */
	/* The control queue, served when its kick fd is written (fake_vdpa_write.c): each
	 * command's class, command and le16 data kept, answered with cvq_ack. */
	uint32_t cvq_index;
	uint8_t cvq_ack;
	bool cvq_silent; /* never answer: the frontend's wait must end */
	uint16_t cvq_last_avail;
	struct {
		uint8_t cls, cmd;
		uint16_t value;
	} cmds[8];
	unsigned int ncmds;
};

struct fake_kernel {
	uint64_t vhost_features;
	unsigned int tun_features;
	unsigned int tun_offloads; /* TUNSETOFFLOAD accepts subsets of these */
	const char *existing;	   /* an interface that exists already */
	char created[IFNAMSIZ];	   /* the TAP made by TUNSETIFF */
	bool real_tun; /* TUN requests go to the kernel: a real TAP behind a fake vhost-net */
	unsigned long fail_request;
	int fail_errno;
	int link_rc;
	const char *link_fail; /* only this link call ("mac", "up", "mtu") returns link_rc */
	struct fk_rec recs[FK_MAX_RECS];
	unsigned int nrecs;
	struct {
		char what[8];
		char ifname[IFNAMSIZ];
		uint8_t mac[6];
		bool up;
		uint32_t mtu;
	} link[FK_MAX_LINK_CALLS];
	unsigned int nlink;
	struct fk_vdpa vdpa;
};

extern struct fake_kernel fk;
extern const uint8_t fk_test_mac[6];

/* Forget every record and answer as a kernel with vhost-net and a multi-queue TAP. */
void fk_reset(void);

/* fk_reset, and the vhost device answers as a vhost-vdpa net device: VHOST_GET_FEATURES
 * gives FK_VDPA_FEATURES, 256-entry rings, a 12-byte config space with MAC fk_test_mac. */
void fk_reset_vdpa(void);

/* What the fake vDPA device offers: ring and offload features, its config space fields,
 * ACCESS_PLATFORM (VDUSE requires it), a control queue and MQ. */
#define FK_VDPA_FEATURES                                                                       \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_ACCESS_PLATFORM) | VU_BIT(VU_F_RING_EVENT_IDX) | \
	 VU_BIT(VU_NET_F_MRG_RXBUF) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MAC) |           \
	 VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_NET_F_MTU) | VU_BIT(VU_NET_F_CTRL_VQ) |           \
	 VU_BIT(VU_NET_F_MQ))

/* The fake kernel behind ioctl(): vhost and TUN requests answered, others passed on. */
int fk_ioctl(int fd, unsigned long request, void *arg);

/* Device parameters for vhost-kernel on FK_NODE with `pairs` queue pairs and fk_test_mac. */
struct vu_device_params fk_params(uint16_t pairs, const char *ifname);

/* Drive the device as the PMD's glue does: reset, features, memory, queues (256 entries, at
 * mem + i * 0x4000), then DRIVER_OK, whose result is returned. */
int fk_start_device(struct vu_device *dev, uint64_t features, int memfd, void *mem, size_t len);

#endif /* FAKE_KERNEL_H */
