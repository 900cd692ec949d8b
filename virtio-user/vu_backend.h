/* SPDX-License-Identifier: BSD-3-Clause */
/* The backend ops interface: one ops table per vhost frontend (vhost-user, -kernel, -vdpa). */
#ifndef VU_BACKEND_H
#define VU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "vu_mem.h"

/* Ring addresses as the driver sees them (process virtual addresses). */
struct vu_vring_addr {
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
};

/* What a backend needs to open its connection. */
struct vu_backend_params {
	const char *name;	 /* device name, for log lines */
	const char *path;	 /* socket or device node */
	unsigned int timeout_ms; /* bound on connecting and on every reply */
	uint32_t queue_pairs;	 /* pairs the device will use (vhost-kernel opens one each) */
	/* vhost-user only: listen on path and let the backend connect (open returns at once,
	 * without a connection; see the connection ops below) */
	bool server;
	/* vhost-user only: IOTLB mode (ACCESS_PLATFORM): the backend reaches only what
	 * iotlb_map allowed; open fails (-ENOTSUP) with a backend that cannot do it */
	bool iotlb;
	/* vhost-kernel only */
	const char *ifname;   /* TAP name or template with %d; NULL: the default */
	const uint8_t *mac;   /* the port's MAC, also given to the TAP; NULL: kernel's */
	const char *tun_path; /* TAP clone device; NULL: /dev/net/tun (tests substitute it) */
};

/* Opaque per-backend state; each frontend defines its own. */
struct vu_backend;

/*
 * Every op returns 0 or a negative errno and logs its own failure with the
 * device name and the request that failed. Queue indexes are virtqueue
 * indexes (rx0 = 0, tx0 = 1, ...).
 */
struct vu_backend_ops {
	const char *name;
	/* The backend maps memory through the regions' fds (vhost-user); vhost-kernel works
	 * in our address space and needs none. */
	bool maps_memory_by_fd;
	/* open creates a network interface named params->ifname (vhost-kernel's TAP); the
	 * device refuses an ifname for a backend without one. */
	bool takes_ifname;
	int (*open)(const struct vu_backend_params *params, struct vu_backend **out);
	void (*close)(struct vu_backend *b);
	/* Virtio feature bits the backend's data path offers. */
	int (*get_features)(struct vu_backend *b, uint64_t *features);
	/* Queue pairs the backend can serve (1 without multi-queue support). */
	int (*get_max_queue_pairs)(struct vu_backend *b, uint32_t *pairs);
	int (*set_features)(struct vu_backend *b, uint64_t features);
	/* The whole table; a backend that takes regions one by one (mem_slots) is sent only
	 * what changed since the last call. */
	int (*set_mem_table)(struct vu_backend *b, const struct vu_mem_table *mem);
	/* Regions the backend takes one by one (vhost-user's CONFIGURE_MEM_SLOTS: its
	 * GET_MAX_MEM_SLOTS, at most VU_MEM_MAX_SLOTS), or 0: whole tables of at most
	 * VU_MEM_MAX_REGIONS. NULL: 0. */
	uint32_t (*mem_slots)(struct vu_backend *b);
	int (*set_vring_num)(struct vu_backend *b, uint32_t idx, uint32_t num);
	int (*set_vring_base)(struct vu_backend *b, uint32_t idx, uint32_t base);
	/* Stops the ring in the backend and returns where it stopped. */
	int (*get_vring_base)(struct vu_backend *b, uint32_t idx, uint32_t *base);
	int (*set_vring_addr)(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *addr);
	int (*set_vring_kick)(struct vu_backend *b, uint32_t idx, int fd);
	int (*set_vring_call)(struct vu_backend *b, uint32_t idx, int fd);
	int (*set_vring_enable)(struct vu_backend *b, uint32_t idx, bool enable);
	/* Returns the backend to the state right after open (rings forgotten). */
	int (*reset)(struct vu_backend *b);
	/*
	 * The MTU the driver uses, for the backend's end of the link: the TAP's MTU
	 * (vhost-kernel), VHOST_USER_NET_SET_MTU (vhost-user). Called after set_features.
	 * -EOPNOTSUPP, nothing logged: this backend cannot be told (the MTU stays the
	 * driver's own). NULL: the same.
	 */
	int (*set_mtu)(struct vu_backend *b, uint32_t mtu);
	/*
	 * The device status as the driver sets it (vhost-user: SET_STATUS and GET_STATUS with
	 * VHOST_USER_PROTOCOL_F_STATUS), and the backend's config space, len bytes from
	 * offset (GET_CONFIG with F_CONFIG; -EIO, logged, when the backend refuses or answers
	 * short). -EOPNOTSUPP, nothing sent or logged: this backend does not take it. NULL:
	 * the same.
	 */
	int (*set_status)(struct vu_backend *b, uint8_t status);
	int (*get_status)(struct vu_backend *b, uint8_t *status);
	int (*get_config)(struct vu_backend *b, uint32_t offset, void *buf, uint32_t len);
	/*
	 * Before the rings: share the inflight region (vhost-user's INFLIGHT_SHMFD) of
	 * nqueues rings of queue_size entries. fresh (rings no backend has run): ask this
	 * backend for a new region (GET_INFLIGHT_FD). Otherwise hand it the region kept from
	 * the previous backend (SET_INFLIGHT_FD), so that it resubmits what that one left in
	 * flight. The region outlives connections until close or the next fresh call.
	 * -EOPNOTSUPP, nothing sent or logged: not negotiated. NULL: the same.
	 */
	int (*share_inflight)(struct vu_backend *b, uint32_t nqueues, uint32_t queue_size,
			      bool fresh);
	/*
	 * IOTLB mode (params->iotlb): allow the backend [iova, iova + len) of our memory
	 * (iova is our address) with VU_IOTLB_PERM_* perm, told at once when the backend
	 * has the memory table, else with the rings; unmap takes back every allowed range
	 * overlapping its range. refused counts the backend's misses outside them.
	 * -EOPNOTSUPP without IOTLB mode; NULL: no IOTLB mode at all.
	 */
	int (*iotlb_map)(struct vu_backend *b, uint64_t iova, uint64_t len, uint8_t perm);
	int (*iotlb_unmap)(struct vu_backend *b, uint64_t iova, uint64_t len);
	uint64_t (*iotlb_refused)(struct vu_backend *b);

	/*
	 * Connection ops, optional (NULL: the backend is connected from open to close and
	 * has nothing to watch). A backend whose peer can come and go (vhost-user) reports
	 * an fd the owner polls for readability: the listening socket while disconnected in
	 * server mode, the connection while connected, -1 when there is nothing to wait for.
	 * When it is readable the owner calls handle_event, which accepts a pending
	 * connection (and runs the connection set-up: SET_OWNER, features, protocol
	 * features), or notices that the peer closed. It returns VU_BACKEND_EV_* or -errno;
	 * every wait in it is bounded by the timeout.
	 */
	int (*event_fd)(struct vu_backend *b);
	/* A second fd to watch the same way while connected, -1 none (vhost-user: the
	 * backend channel, whose requests handle_event answers). NULL: none. */
	int (*channel_fd)(struct vu_backend *b);
	int (*handle_event)(struct vu_backend *b);
	bool (*connected)(struct vu_backend *b);
	/* Drop the connection (server mode: back to listening). */
	void (*disconnect)(struct vu_backend *b);
};

/* What handle_event saw. */
enum vu_backend_event {
	VU_BACKEND_EV_NONE = 0,	      /* nothing changed */
	VU_BACKEND_EV_CONNECTED,      /* a backend connected and the set-up succeeded */
	VU_BACKEND_EV_DISCONNECTED,   /* the peer went away; the connection is closed */
	VU_BACKEND_EV_CONFIG_CHANGED, /* the backend said its config space changed */
};

extern const struct vu_backend_ops vu_vhost_user_ops;
extern const struct vu_backend_ops vu_vhost_kernel_ops;
extern const struct vu_backend_ops vu_vhost_vdpa_ops;

/* The frontend for a path: vhost-user in server mode; otherwise vhost-vdpa for a
 * character device of vhost-vdpa's major, vhost-kernel for any other character device
 * and vhost-user for anything else (a socket, or nothing there yet). */
const struct vu_backend_ops *vu_backend_ops_for_path(const char *path, bool server);
/* The same for what stat() said of a path, with the majors listed in proc_devices
 * (/proc/devices: tests give a file of their own). */
const struct vu_backend_ops *vu_backend_ops_for_stat(const struct stat *st,
						     const char *proc_devices, bool server);
/* The major number proc_devices lists for a character device driver, -1 if none. */
int vu_char_major(const char *proc_devices, const char *driver);

#endif /* VU_BACKEND_H */
