/* SPDX-License-Identifier: BSD-3-Clause */
/* Private state of the virtio-net device emulation, shared by the vu_device*.c files. */
#ifndef VU_DEVICE_PRIV_H
#define VU_DEVICE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_device.h"

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
	/* The backend connection (vu_device_conn.c). */
	bool connected; /* a backend is there (always, without connection ops) */
	bool server;	/* server mode: backends come and go */
	int epfd;	/* vu_device_event_fd: epoll over the backend's fd */
	int watched_fd; /* the backend fd in epfd, -1 none */
};

/* Enable queue pairs [0, pairs) in the backend and disable the others (vu_device_ctrl.c). */
int vu_device_enable_pairs(struct vu_device *dev, uint16_t pairs);
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
/* vu_device.c */
int vu_device_start_backend(struct vu_device *dev);
/* The features the device passes through from a backend that offers them. */
uint64_t vu_device_data_path_features(void);
/* A backend's features read (at create, or when one connects before FEATURES_OK): offer
 * what the device passes through of them, and set the config space that goes with it. */
void vu_device_take_backend_features(struct vu_device *dev, uint64_t offered);

#endif /* VU_DEVICE_PRIV_H */
