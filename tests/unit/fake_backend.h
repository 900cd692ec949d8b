/* SPDX-License-Identifier: BSD-3-Clause */
/* Scripted fake vhost-user backend for unit tests: a thread serving one connection. */
#ifndef FAKE_BACKEND_H
#define FAKE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_vhost_user_msg.h"

/*
 * The test writes a script (what the frontend must send, what to answer), starts the
 * thread, drives the frontend, and then calls fb_finish(), which joins the thread and
 * returns how many script steps went wrong (each one printed to stderr). The backend
 * decodes what it receives by hand, independently of vu_vhost_user_msg.c, and keeps
 * every message for inspection. After the last step it waits for the frontend to close
 * the connection; any message arriving then is an error. Every wait is bounded.
 */

#define FB_MAX_PAYLOAD 512
#define FB_MAX_FDS 16
#define FB_MAX_RX 64

/* The flags the frontend must set: version 1, and NEED_REPLY when acks are negotiated. */
#define FB_FLAGS VU_VHOST_USER_VERSION
#define FB_FLAGS_ACK (VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY)
#define FB_FLAGS_REPLY (VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_REPLY)

/* One message as the backend received it. */
struct fb_rx {
	struct vu_vhost_hdr hdr;
	uint8_t payload[FB_MAX_PAYLOAD];
	unsigned int nfds;
	uint64_t fd_dev[FB_MAX_FDS];
	uint64_t fd_ino[FB_MAX_FDS];
};

struct fake_backend;

/* A listening socket in a private directory; NULL on failure. */
struct fake_backend *fb_create(void);
/* A backend that connects to path when started (to a frontend in server mode). */
struct fake_backend *fb_create_client(const char *path);
const char *fb_path(const struct fake_backend *fb);

/* Script: the frontend must send `request` with exactly `flags` (any payload). */
void fb_expect(struct fake_backend *fb, uint32_t request, uint32_t flags);
/* ... with exactly this payload. */
void fb_expect_payload(struct fake_backend *fb, uint32_t request, uint32_t flags,
		       const void *payload, uint32_t size);
void fb_expect_u64(struct fake_backend *fb, uint32_t request, uint32_t flags, uint64_t value);
void fb_expect_state(struct fake_backend *fb, uint32_t request, uint32_t flags, uint32_t index,
		     uint32_t num);

/* Script: send a message; `len` bytes of header + payload (SIZE_MAX: all of it) with
 * `nfds` fresh eventfds attached. The header carries `size` even when len cuts it short. */
void fb_send_raw(struct fake_backend *fb, uint32_t request, uint32_t flags, const void *payload,
		 uint32_t size, size_t len, unsigned int nfds);
/* A well-formed reply carrying a u64. */
void fb_reply_u64(struct fake_backend *fb, uint32_t request, uint64_t value);
void fb_reply_state(struct fake_backend *fb, uint32_t request, uint32_t index, uint32_t num);
/* A reply carrying a memfd of memfd_size bytes (an inflight region). Returns the memfd,
 * which the backend keeps open until fb_destroy, or -1. */
int fb_reply_memfd(struct fake_backend *fb, uint32_t request, const void *payload, uint32_t size,
		   uint64_t memfd_size);
/* A REPLY_ACK answer: u64 status, 0 for success. */
void fb_ack(struct fake_backend *fb, uint32_t request, uint64_t status);

/* Script, the backend channel (the socket SET_BACKEND_REQ_FD passed, which the backend
 * keeps): send a request there (`size` payload bytes), and expect the frontend's answer
 * to one, a REPLY_ACK of `request` with u64 `status`. */
void fb_channel_send(struct fake_backend *fb, uint32_t request, uint32_t flags, const void *payload,
		     uint32_t size);
void fb_channel_expect_ack(struct fake_backend *fb, uint32_t request, uint64_t status);
/* ... and expect nothing on it for `ms` (a request without NEED_REPLY gets no answer). */
void fb_channel_expect_silence(struct fake_backend *fb, int ms);

/* Script: pause, or close the connection (ends the script). */
void fb_sleep(struct fake_backend *fb, int ms);
void fb_close(struct fake_backend *fb);

/* The usual connection set-up: SET_OWNER, GET_FEATURES and, when `features` has
 * PROTOCOL_FEATURES, GET/SET_PROTOCOL_FEATURES (SET checked to be offered & FB_WANTED_PF),
 * GET_QUEUE_NUM when MQ is in the set, and SET_BACKEND_REQ_FD (acked with REPLY_ACK) when
 * BACKEND_REQ is. */
#define FB_WANTED_PF                                                                            \
	((1ull << VU_VHOST_USER_PROTOCOL_F_MQ) | (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_NET_MTU) |                                           \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ) |                                       \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIG) |                                            \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |                                    \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                                      \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                               \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_STATUS))
/* GET_MAX_MEM_SLOTS' answer in fb_script_handshake when CONFIGURE_MEM_SLOTS is offered. */
#define FB_MEM_SLOTS 16
void fb_script_handshake(struct fake_backend *fb, uint64_t features, uint64_t protocol_features,
			 uint64_t queue_num);
/* The same with GET_MAX_MEM_SLOTS answered with mem_slots. */
void fb_script_handshake_slots(struct fake_backend *fb, uint64_t features,
			       uint64_t protocol_features, uint64_t queue_num, uint64_t mem_slots);

/* Start serving the script. */
int fb_start(struct fake_backend *fb);
/* Join the thread (idempotent); returns the number of errors. */
int fb_finish(struct fake_backend *fb);
/* Messages received so far (valid after fb_finish). */
unsigned int fb_nrx(const struct fake_backend *fb);
const struct fb_rx *fb_rx(const struct fake_backend *fb, unsigned int i);
/* Join, remove the socket and its directory, free. */
void fb_destroy(struct fake_backend *fb);

#endif /* FAKE_BACKEND_H */
