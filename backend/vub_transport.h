/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub transport ops: how vhost-user messages, memory and notifications reach the core. */
#ifndef VUB_TRANSPORT_H
#define VUB_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_vhost_user_msg.h"

struct vub_dev;

/* One region of the frontend's memory as the core translates it. The core fills the
 * addresses from SET_MEM_TABLE; the transport's map_mem fills host (where guest address
 * gpa is in this process) and what it needs to undo the mapping. */
struct vub_region {
	uint64_t gpa;  /* guest physical start: what descriptors carry */
	uint64_t uva;  /* the frontend's user address: what SET_VRING_ADDR carries */
	uint64_t size; /* bytes */
	uint8_t *host;
	void *map_addr; /* transport's: the mapping to undo */
	size_t map_len;
};

struct vub_transport;

/*
 * The transport split of the DPDK virtio-vhost-user series (seed 000): the core handles
 * the protocol and the rings and never knows how messages, memory and notifications
 * travel; each transport implements this table. init is each transport's constructor
 * (its parameters differ: vub_af_unix_create); every op gets the transport it was
 * called on.
 */
struct vub_transport_ops {
	const char *name;
	/* Messages carry fds (AF_UNIX SCM_RIGHTS): the core checks their count. */
	bool passes_fds;
	/* Begin serving: listen (server) or connect (client). */
	int (*start)(struct vub_transport *t);
	/* Close everything and free t (after the core dropped its state). */
	void (*cleanup)(struct vub_transport *t);
	/* The fd to watch, and the handling of what it reports: new connections, messages
	 * (passed to vub_dev_on_message), disconnects (vub_dev_on_disconnect). */
	int (*event_fd)(const struct vub_transport *t);
	int (*process)(struct vub_transport *t);
	/* A reply to the frontend's current request. */
	int (*send_reply)(struct vub_transport *t, const struct vu_vhost_msg *msg);
	/* Make the regions of a validated SET_MEM_TABLE reachable (regions[i] filled from
	 * msg's region i), or undo one region. */
	int (*map_mem)(struct vub_transport *t, const struct vu_vhost_msg *msg,
		       struct vub_region *regions);
	void (*unmap_mem)(struct vub_transport *t, struct vub_region *region);
	/* Optional: map the frontend's region holding [addr, addr + len), which no
	 * message announced, into *region (addresses and mapping filled); 0 or -errno.
	 * Called from a burst, for a transport whose frontend maps memory silently. */
	int (*mem_miss)(struct vub_transport *t, uint64_t addr, uint64_t len,
			struct vub_region *region);
	/* Notify the frontend: used buffers on vring (call) or an error on it (err). fd is
	 * what SET_VRING_CALL/ERR passed (-1: none). */
	int (*vring_call)(struct vub_transport *t, uint16_t vring, int fd);
	int (*vring_err)(struct vub_transport *t, uint16_t vring, int fd);
	/* Send a back-end request (seed 000's "send backend request") on the channel the
	 * frontend gave with SET_BACKEND_REQ_FD (fd: what it passed). With ack, wait a
	 * bounded time for the reply the NEED_REPLY flag of msg asks and store its payload
	 * there. Called from the control path, never from a burst. Returns 0, -ETIMEDOUT
	 * (no ack in time), -EPROTO (not an ack of msg), or another -errno. */
	int (*send_backend_req)(struct vub_transport *t, int fd, const struct vu_vhost_msg *msg,
				uint64_t *ack);
	/* Optional: watch the backend channel fd (on) for the acks of requests sent without
	 * waiting (IOTLB misses); call vub_dev_on_backend when it is readable. */
	void (*watch_backend)(struct vub_transport *t, int fd, bool on);
};

struct vub_transport {
	const struct vub_transport_ops *ops;
	struct vub_dev *dev; /* set by vub_dev_create */
};

/* What a transport calls in the core (vub_dev.c; on_message is vub_msg.c's). on_message
 * handles one request (closing or keeping its fds) and returns 0, or -EPROTO when the
 * transport must drop the connection (and then call on_disconnect). */
void vub_dev_on_connect(struct vub_dev *dev);
int vub_dev_on_message(struct vub_dev *dev, struct vu_vhost_msg *msg);
void vub_dev_on_disconnect(struct vub_dev *dev);
/* An fd to watch beside the connection: readable when the core has control-path work a
 * burst left it (a ring broke); then call vub_dev_on_wake. */
int vub_dev_wake_fd(const struct vub_dev *dev);
void vub_dev_on_wake(struct vub_dev *dev);
void vub_dev_on_backend(struct vub_dev *dev);
/* A reply read on the backend channel: true when it was the ack of an IOTLB miss (taken
 * by the core), false when it is the caller's. */
bool vub_dev_backend_reply(struct vub_dev *dev, const struct vu_vhost_msg *m);
const char *vub_dev_name(const struct vub_dev *dev);

/* The AF_UNIX transport: one frontend connection at a time over a UNIX socket. */
struct vub_af_unix_params {
	const char *name; /* for log lines */
	const char *path;
	bool client; /* connect to path (retrying) instead of listening on it */
	/* >= 0: serve this connected socket (the spec's --fd=FDNUM) instead of a path; the
	 * transport owns it. When that frontend leaves, no other can come. */
	int fd;
};

int vub_af_unix_create(const struct vub_af_unix_params *params, struct vub_transport **out);

/* The virtio-vhost-user transport: the backend in a slave VM, reaching the master through
 * the VVU PCI device (qemu-vvu/) with sysfs: messages on its rxq/txq, the master's memory
 * in its shared memory BAR, calls through its doorbells. Needs root (config space,
 * /proc/self/pagemap) and one free 2 MiB huge page. */
struct vub_vvu_params {
	const char *name; /* for log lines */
	const char *pci;  /* the device's address, DDDD:BB:DD.F */
};

int vub_vvu_create(const struct vub_vvu_params *params, struct vub_transport **out);

/* The VDUSE transport (Linux 6.7 and later take net devices): start creates the VDUSE
 * device `name` through /dev/vduse/control with what the core offers (features, the net
 * config space) and serves its requests; `vdpa dev add name NAME mgmtdev vduse` then
 * gives it to vhost_vdpa or virtio_vdpa. One queue pair, split rings. */
struct vub_vduse_params {
	const char *name;     /* the VDUSE and vDPA device name, also for log lines */
	uint16_t queue_pairs; /* 1: the device has no control queue for more */
};

int vub_vduse_create(const struct vub_vduse_params *params, struct vub_transport **out);

#endif /* VUB_TRANSPORT_H */
