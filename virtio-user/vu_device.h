/* SPDX-License-Identifier: BSD-3-Clause */
/* Virtio-net device emulation: features, status machine, config space, queues, memory. */
#ifndef VU_DEVICE_H
#define VU_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_backend.h"
#include "vu_iotlb.h"
#include "vu_mem.h"
#include "vu_virtio.h"

#define VU_MAX_QUEUE_PAIRS 128

struct vu_device_params {
	const char *name;		  /* for log lines, e.g. "virtio_user0" */
	const char *path;		  /* vhost-user socket, or /dev/vhost-net (vhost-kernel) */
	const struct vu_backend_ops *ops; /* NULL: chosen from the path */
	const char *ifname;   /* vhost-kernel: TAP name (NULL: a free vutapN); else must be NULL */
	const char *tun_path; /* vhost-kernel: TAP clone device; NULL: /dev/net/tun */
	uint16_t queue_pairs;
	bool ctrl_queue; /* emulate a control queue (forced on by queue_pairs > 1) */
	uint8_t mac[6];
	bool mac_set;		 /* false: the device makes up a locally administered one */
	unsigned int timeout_ms; /* 0: default */
	/* vhost-user server mode: listen on path; create returns before any backend
	 * connects, and backends may come and go (see vu_device_handle_event) */
	bool server;
	/* vhost-user IOTLB mode (VIRTIO_F_ACCESS_PLATFORM): the backend reaches only the
	 * ranges given to vu_device_iotlb_map; create fails (-ENOTSUP, logged, naming the
	 * missing bit) when the backend cannot do it */
	bool iotlb;
};

struct vu_device;

/* Connect to the backend and read what it offers. Returns 0 or -errno (logged). */
int vu_device_create(const struct vu_device_params *params, struct vu_device **out);
void vu_device_destroy(struct vu_device *dev);

/* Features the device offers to the driver. */
uint64_t vu_device_get_features(const struct vu_device *dev);
/* Allowed while DRIVER is set and FEATURES_OK is not (spec 3.1.1). */
int vu_device_set_driver_features(struct vu_device *dev, uint64_t features);
uint64_t vu_device_get_driver_features(const struct vu_device *dev);

/*
 * Driver writes the status register. Writing 0 resets the device (stopping the backend's
 * rings). Bits can only be added, in the spec's order. FEATURES_OK is refused (-ENOTSUP,
 * and the bit stays clear) when the driver's features are not a subset of the device's.
 * DRIVER_OK starts the backend with the memory table and the queues set up so far; on
 * failure the device sets DEVICE_NEEDS_RESET and returns the error.
 */
int vu_device_set_status(struct vu_device *dev, uint8_t status);
uint8_t vu_device_get_status(const struct vu_device *dev);

/* Read the virtio-net config space (struct vu_net_config layout). */
int vu_device_read_config(const struct vu_device *dev, uint32_t offset, void *buf, uint32_t len);

/* Memory the backend may access; regions are copied, fds must stay open while in use.
 * Backends that work in our address space (vhost-kernel) take regions without fds. */
bool vu_device_needs_memory_fds(const struct vu_device *dev);
/* The most regions the connected backend takes: its memory slots when it takes regions
 * one by one (then a new table costs only what changed), else VU_MEM_MAX_REGIONS;
 * VU_MEM_MAX_SLOTS while no backend is connected. */
uint32_t vu_device_max_mem_regions(const struct vu_device *dev);
bool vu_device_mem_slots(const struct vu_device *dev);
int vu_device_set_memory(struct vu_device *dev, const struct vu_mem_table *mem);

/* Queue set-up between FEATURES_OK and DRIVER_OK; idx is the virtqueue index. A packed
 * ring's memory is laid out by vu_packed_ring_init: a backend reconnect reads the driver's
 * used position from it (vu_packed_ring_used_pos_offset). */
uint32_t vu_device_num_queues(const struct vu_device *dev);
int vu_device_setup_queue(struct vu_device *dev, uint32_t idx, uint32_t size,
			  const struct vu_vring_addr *addr);
/* Driver -> device notification fd (eventfd, write 8 bytes) and device -> driver. */
int vu_device_queue_kick_fd(const struct vu_device *dev, uint32_t idx);
int vu_device_queue_call_fd(const struct vu_device *dev, uint32_t idx);
/* Notify the device that queue idx has new buffers. */
int vu_device_notify(struct vu_device *dev, uint32_t idx);
/* The same through a kick fd of vu_device_queue_kick_fd, or a copy of it that another
 * process received over a UNIX socket (a DPDK secondary process has no device). */
int vu_device_notify_fd(int kick_fd);

/* VLAN IDs are 12 bits: the receive filter keeps one bit for each, 64 to a word. */
#define VU_VLAN_ID_COUNT 4096u
#define VU_VLAN_BITMAP_WORDS (VU_VLAN_ID_COUNT / 64)

static inline bool
vu_vlan_bit(const uint64_t *bitmap, uint16_t vid)
{
	return (bitmap[vid / 64] >> (vid % 64)) & 1;
}

static inline void
vu_vlan_bit_set(uint64_t *bitmap, uint16_t vid, bool on)
{
	if (on)
		bitmap[vid / 64] |= 1ull << (vid % 64);
	else
		bitmap[vid / 64] &= ~(1ull << (vid % 64));
}

/* Receive filter as the driver set it through the control queue (spec 5.1.6.5.1-3).
 * The backend delivers every frame, so the driver's Rx path applies it. */
#define VU_MAC_TABLE_MAX 32
struct vu_rx_filter {
	bool promisc;
	bool allmulti;
	bool vlan_filter; /* VIRTIO_NET_F_CTRL_VLAN negotiated: only listed VLANs pass */
	/* 2-aligned, as struct rte_ether_addr is: the Rx filter compares it as one */
	uint8_t mac[6] __attribute__((aligned(2)));
	uint32_t n_unicast;
	uint32_t n_multicast;
	uint8_t unicast[VU_MAC_TABLE_MAX][6];
	uint8_t multicast[VU_MAC_TABLE_MAX][6];
	uint64_t vlans[VU_VLAN_BITMAP_WORDS];
};

/*
 * One control queue command (class, command, command-specific data), executed by the
 * device as the control virtqueue would (spec 5.1.6.5). Returns VU_NET_OK or VU_NET_ERR,
 * the ack the device would write; an error is logged with the command.
 */
uint8_t vu_device_ctrl(struct vu_device *dev, uint8_t cls, uint8_t cmd, const void *data,
		       uint32_t len);
void vu_device_get_rx_filter(const struct vu_device *dev, struct vu_rx_filter *filter);
/* Queue pairs the backend processes now (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET). */
uint16_t vu_device_active_pairs(const struct vu_device *dev);

/*
 * MTU (VIRTIO_NET_F_MTU, spec 5.1.4). The device offers the feature when the backend does;
 * its config space mtu then holds the largest MTU the device takes, which max_mtu returns
 * (VU_NET_MAX_MTU without the feature). set_mtu takes the MTU the driver uses:
 * VU_NET_MIN_MTU..max_mtu, else -EINVAL (logged). The backend is told at DRIVER_OK and at
 * once while the device runs (a TAP's MTU, VHOST_USER_NET_SET_MTU); an error there is
 * returned and the MTU stays what it was. A reset keeps it.
 */
uint32_t vu_device_max_mtu(const struct vu_device *dev);
int vu_device_set_mtu(struct vu_device *dev, uint32_t mtu);
uint32_t vu_device_mtu(const struct vu_device *dev);

/*
 * IOTLB mode (params.iotlb): let the backend reach [addr, addr + len) of our memory
 * (I/O virtual address == our address) with VU_IOTLB_PERM_* perm, or take back every
 * range overlapping [addr, addr + len). The ranges outlive a backend connection; a backend
 * that has the memory table hears of a change at once. Returns 0 or -errno (logged);
 * -EOPNOTSUPP without IOTLB mode. iotlb_refused counts misses the backend asked outside
 * them, which the device refused.
 */
int vu_device_iotlb_map(struct vu_device *dev, uint64_t addr, uint64_t len, uint8_t perm);
int vu_device_iotlb_unmap(struct vu_device *dev, uint64_t addr, uint64_t len);
uint64_t vu_device_iotlb_refused(const struct vu_device *dev);

/* Link as the config space reports it. */
bool vu_device_link_up(const struct vu_device *dev);
const char *vu_device_name(const struct vu_device *dev);

/*
 * The backend connection (vu_device_conn.c). The event fd stays the same from create to
 * destroy (-1 when the backend has no connection to watch, like vhost-kernel); when it is
 * readable, call vu_device_handle_event, which accepts a backend (server mode), notices
 * one going away, and when one (re)connects after DRIVER_OK resumes the rings where they
 * are in memory. *link_changed tells whether the config space link status changed.
 * Returns 0 or -errno (logged); calling it when nothing is pending is harmless.
 */
int vu_device_event_fd(const struct vu_device *dev);
int vu_device_handle_event(struct vu_device *dev, bool *link_changed);
bool vu_device_connected(const struct vu_device *dev);

#endif /* VU_DEVICE_H */
