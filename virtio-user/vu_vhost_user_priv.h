/* SPDX-License-Identifier: BSD-3-Clause */
/* Private state of the vhost-user frontend, shared by the vu_vhost_user*.c files. */
#ifndef VU_VHOST_USER_PRIV_H
#define VU_VHOST_USER_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vu_backend.h"
#include "vu_iotlb.h"
#include "vu_vhost_user_msg.h"

/* REPLY_ACK status the frontend answers a backend request it does not take with. */
#define VU_VHOST_USER_REFUSED 1u

struct vu_backend {
	int sock;      /* the connection, -1 while there is none */
	int listen_fd; /* server mode: the listening socket */
	bool server;
	dev_t sock_dev; /* server mode: the socket file we created, so that */
	ino_t sock_ino; /* close removes it only if it is still ours */
	unsigned int timeout_ms;
	uint64_t features;	    /* as offered by GET_FEATURES */
	uint64_t acked_features;    /* as sent by SET_FEATURES */
	uint64_t protocol_features; /* negotiated */
	uint32_t max_queue_pairs;
	/* Our end of the backend channel (SET_BACKEND_REQ_FD), -1 without one. */
	int channel;
	/* Backend request types already logged as refused: each is said once. */
	uint64_t refused_logged;
	bool config_changed; /* a CONFIG_CHANGE_MSG came since handle_event last said so */
	/* The inflight region a backend gave (GET_INFLIGHT_FD): kept across connections so
	 * that the next backend gets it (SET_INFLIGHT_FD). fd -1: none. */
	struct {
		int fd;
		void *addr;
		uint64_t size;
		uint64_t offset;
		uint16_t num_queues;
		uint16_t queue_size;
		bool shared; /* the current connection has it */
	} inflight;
	/* CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS capped at what a table holds (0 without),
	 * and the regions the backend has mapped, from ADD_MEM_REG less REM_MEM_REG. */
	uint32_t mem_slots;
	struct vu_mem_table sent;
	/* IOTLB mode: the ranges the device may touch (iova == our address), kept across
	 * connections; sent once the backend has a memory table to resolve them in. */
	bool iotlb;
	bool mem_sent;
	uint64_t iotlb_refused; /* misses the table did not cover */
	struct vu_iotlb allowed;
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static inline bool
vu_has_protocol_feature(const struct vu_backend *b, unsigned int bit)
{
	return b->protocol_features & (1ull << bit);
}

/* vu_vhost_user_req.c: requests and their replies, the bottom of the frontend. A failed
 * exchange drops the connection (the stream is out of step). */
int vu_vhost_request(struct vu_backend *b, struct vu_vhost_msg *msg, bool has_reply);
int vu_vhost_reply(struct vu_backend *b, uint32_t request, uint32_t size,
		   struct vu_vhost_msg *reply);
int vu_vhost_get_u64(struct vu_backend *b, uint32_t request, uint64_t *value);
int vu_vhost_set_u64(struct vu_backend *b, uint32_t request, uint64_t value);
int vu_vhost_set_state(struct vu_backend *b, uint32_t request, uint32_t idx, uint32_t num);
int vu_vhost_no_payload(struct vu_backend *b, uint32_t request);
void vu_vhost_close_channel(struct vu_backend *b);
void vu_vhost_drop(struct vu_backend *b);

/* vu_vhost_user_mem.c: the memory table, whole (SET_MEM_TABLE) or by slots
 * (CONFIGURE_MEM_SLOTS). */
int vu_vhost_get_mem_slots(struct vu_backend *b);
uint32_t vu_vhost_mem_slots(struct vu_backend *b);
int vu_vhost_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem);

/* vu_vhost_user_iotlb.c: IOTLB mode (iotlb=1): the ranges the backend may reach. */
int vu_vhost_check_iotlb(struct vu_backend *b);
int vu_vhost_iotlb_flush(struct vu_backend *b, uint32_t idx);
int vu_vhost_iotlb_map(struct vu_backend *b, uint64_t iova, uint64_t len, uint8_t perm);
int vu_vhost_iotlb_unmap(struct vu_backend *b, uint64_t iova, uint64_t len);
uint64_t vu_vhost_iotlb_refused(struct vu_backend *b);
uint64_t vu_vhost_iotlb_miss(struct vu_backend *b, const struct vu_vhost_msg *msg);

/* vu_vhost_user_inflight.c: the inflight region (INFLIGHT_SHMFD), kept across backends. */
void vu_vhost_inflight_release(struct vu_backend *b);
int vu_vhost_share_inflight(struct vu_backend *b, uint32_t nqueues, uint32_t queue_size,
			    bool fresh);

#endif /* VU_VHOST_USER_PRIV_H */
