/* SPDX-License-Identifier: BSD-3-Clause */
/* Private state of the virtio-net device emulation, shared by the vu_device*.c files. */
#ifndef VU_DEVICE_PRIV_H
#define VU_DEVICE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_device.h"

/* Data-path features the device passes through from the backend: the backend's rings
 * implement them, the device has nothing to emulate. */
#define VU_DEVICE_DATA_PATH_FEATURES                                                             \
	(VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) |     \
	 VU_BIT(VU_NET_F_GUEST_TSO6) | VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6) | \
	 VU_BIT(VU_NET_F_MRG_RXBUF) | VU_BIT(VU_F_RING_INDIRECT_DESC) |                          \
	 VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_RING_PACKED) |       \
	 VU_BIT(VU_F_IN_ORDER))

/* Features the device emulates itself (config space), never sent to the backend. */
#define VU_DEVICE_EMULATED_FEATURES (VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS))

/* The control queue and what it carries, emulated in-process (vu_device_ctrl.c). */
#define VU_DEVICE_CTRL_FEATURES                                                             \
	(VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) | VU_BIT(VU_NET_F_CTRL_VLAN) | \
	 VU_BIT(VU_NET_F_CTRL_MAC_ADDR))

/* Everything the backend never sees. */
#define VU_DEVICE_INPROCESS_FEATURES \
	(VU_DEVICE_EMULATED_FEATURES | VU_DEVICE_CTRL_FEATURES | VU_BIT(VU_NET_F_MQ))

/* Offered when the backend offers it, and then always negotiated with the backend,
 * whatever the driver took: the device tells it the driver's MTU, which
 * VHOST_USER_NET_SET_MTU allows only with the feature negotiated. */
#define VU_DEVICE_MTU_FEATURE VU_BIT(VU_NET_F_MTU)

struct vu_queue {
	uint32_t size;
	struct vu_vring_addr addr;
	int kick_fd;
	int call_fd;
	bool ready;   /* set up by the driver */
	bool started; /* handed to the backend */
	bool enabled; /* SET_VRING_ENABLE 1 sent and not undone: rings a backend gets start
		       * disabled, so only changes are sent (as DPDK's virtio_user does) */
	bool ran;     /* handed to a backend since set up: a new backend resumes where the
		       * ring is instead of at its start (vu_device_conn.c) */
};

struct vu_device {
	char name[64];
	const struct vu_backend_ops *ops;
	struct vu_backend *backend;
	uint64_t device_features;
	uint64_t backend_features; /* what the backend offers (vu_device_take_backend_features) */
	uint64_t driver_features;
	uint8_t status;
	struct vu_net_config config;
	uint32_t nqueues;
	struct vu_queue *queues;
	struct vu_mem_table mem;
	uint16_t active_pairs; /* pairs enabled in the backend once DRIVER_OK */
	uint32_t mtu;	       /* the driver's, told to the backend (vu_device_set_mtu) */
	struct vu_rx_filter filter;
	char path[256];		    /* the backend's path, for log lines */
	bool mac_set;		    /* the driver's MAC came from the user (devargs): it wins */
	bool status_told;	    /* the backend takes SET_STATUS (answered the last one) */
	bool features_told;	    /* SET_FEATURES went at FEATURES_OK, not again at DRIVER_OK */
	bool backend_link_down;	    /* the backend's config space status says link down */
	uint16_t backend_max_pairs; /* its config space max_virtqueue_pairs, 0: not said */
	/* The backend connection (vu_device_conn.c). */
	bool connected;	     /* a backend is there (always, without connection ops) */
	bool server;	     /* server mode: backends come and go */
	int epfd;	     /* vu_device_event_fd: epoll over the backend's fd */
	int watched_fd;	     /* the backend fd in epfd, -1 none */
	int watched_channel; /* the backend channel's fd in epfd, -1 none */
};

/* The driver's features the backend implements, plus VIRTIO_NET_F_MTU when it offers it. */
static inline uint64_t
vu_device_features_for_backend(const struct vu_device *dev)
{
	uint64_t f = dev->driver_features & ~(VU_DEVICE_INPROCESS_FEATURES | VU_DEVICE_MTU_FEATURE);

	return f | (dev->backend_features & VU_DEVICE_MTU_FEATURE);
}

/* Back to the device's reset state: promiscuous, no tables, one pair (vu_device_ctrl.c). */
void vu_device_ctrl_reset(struct vu_device *dev);

/* vu_device_conn.c: connection state after open, and its end before close. */
int vu_device_conn_init(struct vu_device *dev);
void vu_device_conn_fini(struct vu_device *dev);
/* After a backend op failed: true if the backend dropped the connection over it (a request
 * that timed out leaves the stream out of step); the rings are then forgotten, the link is
 * down and the device watches for the next backend, as on a hang-up. */
bool vu_device_conn_lost(struct vu_device *dev);
/* SET_VRING_BASE for a ring a previous backend ran: where its ring state in memory says
 * the device is. */
uint32_t vu_device_resume_base(const struct vu_device *dev, uint32_t idx);
/* A backend's features read (at create, or when one connects before FEATURES_OK): offer
 * what the device passes through of them, and set the config space that goes with it. */
void vu_device_take_backend_features(struct vu_device *dev, uint64_t offered);
/* Hand the memory table and the rings to the backend (DRIVER_OK, or a backend that
 * connected after it), and take them back (reset). */
int vu_device_start_backend(struct vu_device *dev, uint8_t status);
void vu_device_stop_backend(struct vu_device *dev);
/* Enable queue pairs [0, pairs) in the backend and disable the others. */
int vu_device_enable_pairs(struct vu_device *dev, uint16_t pairs);
/* Tell the backend the driver's MTU: 0, or -errno (logged by the backend's op). */
int vu_device_tell_mtu(struct vu_device *dev, uint32_t mtu);

/* vu_device_status.c: the device status and config space as the backend sees them. */
/* Tell the backend the status the driver set; one that takes none is not an error. */
int vu_device_tell_status(struct vu_device *dev, uint8_t status);
/* FEATURES_OK with a backend that takes the status: the features, the status, and the
 * status read back; -ENOTSUP (logged, naming the backend) when it cleared FEATURES_OK. */
int vu_device_tell_features_ok(struct vu_device *dev, uint8_t status);
/* A backend that connected after the driver began: the status steps it missed, up to
 * FEATURES_OK (DRIVER_OK comes with the rings). */
int vu_device_replay_status(struct vu_device *dev);
/* Read the backend's config space (F_CONFIG) over the defaults; the devargs stay. */
void vu_device_read_backend_config(struct vu_device *dev);
/* The backend said its config changed: its link status and device status again. */
void vu_device_backend_config_changed(struct vu_device *dev);
/* Up while a backend runs the rings, its config says up and it needs no reset. */
void vu_device_update_link(struct vu_device *dev);

#endif /* VU_DEVICE_PRIV_H */
