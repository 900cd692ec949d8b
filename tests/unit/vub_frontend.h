/* SPDX-License-Identifier: BSD-3-Clause */
/* A scripted vhost-user frontend for libvub's unit tests: messages, memfd memory, rings. */
#ifndef VUB_FRONTEND_H
#define VUB_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_ring.h"
#include "vu_ring_packed.h"
#include "vu_virtio.h"
#include "vu_vhost_user_msg.h"
#include "vub.h"

#define VF_MEM_SIZE (1u << 20)
#define VF_RING_SIZE 8u
#define VF_RING_STRIDE (64u << 10) /* ring i lives at i * VF_RING_STRIDE in memory */
#define VF_BUF_BASE (256u << 10)   /* then the buffers: ring i, slot s */
#define VF_BUF_SIZE 4096u
#define VF_SLOTS_PER_RING 64u /* buffer slots per ring: rings of up to 64 entries */
#define VF_HDR_LEN 12u	      /* virtio-net header with VERSION_1 */
#define VF_NRINGS 2u	      /* one queue pair: 0 the frontend's Rx, 1 its Tx */
#define VF_RX 0u
#define VF_TX 1u
#define VF_NO_ACK (-1)

/* The features a frontend takes in these tests (what libvub offers for one pair). */
#define VF_FEATURES                                                                              \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) | VU_BIT(VU_F_RING_INDIRECT_DESC) | \
	 VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES))
#define VF_PROTOCOL \
	(VU_BIT(VU_VHOST_USER_PROTOCOL_F_MQ) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))

struct vf {
	struct vub_dev *dev;
	int sock; /* the frontend's end of the socketpair */
	int memfd;
	uint8_t *mem; /* the "guest" memory: guest address == this process's address */
	bool packed;  /* VIRTIO_F_RING_PACKED in the features of vf_handshake */
	struct vu_split_ring ring[VF_NRINGS];
	struct vu_packed_ring pring[VF_NRINGS];
	uint16_t ndesc[VF_NRINGS][VF_SLOTS_PER_RING]; /* packed: descriptors of buffer id */
	int call[VF_NRINGS];
	int err[VF_NRINGS];
	int kick[VF_NRINGS]; /* the frontend's end of each ring's kick eventfd */
	uint16_t split_base; /* split rings start at this index (SET_VRING_BASE) */
	bool acks;	     /* REPLY_ACK negotiated: every request waits for its ack */
	unsigned int ready_events;
	bool ready;
	int backend; /* the frontend's end of the backend channel, -1: none */
};

/* A device of `pairs` queue pairs served over a socketpair, and its frontend. */
void vf_open(struct vf *f, uint16_t pairs);
/* The same, the device offering these header offloads (vub_dev_params.offloads). */
void vf_open_offloads(struct vf *f, uint16_t pairs, uint64_t offloads);
/* The same with every parameter given (name, on_ready and arg are the frontend's). */
void vf_open_params(struct vf *f, const struct vub_dev_params *params);
void vf_close(struct vf *f);
uint64_t vf_addr(const struct vf *f, size_t off);

/* Send one request, let the device handle it; return the REPLY_ACK value, or VF_NO_ACK
 * when no ack was asked. */
int64_t vf_request(struct vf *f, uint32_t request, const void *payload, uint32_t size,
		   const int *fds, unsigned int nfds);
/* Send, process, and read the reply of a GET request. */
uint64_t vf_get_u64(struct vf *f, uint32_t request);
int64_t vf_set_u64(struct vf *f, uint32_t request, uint64_t v);
int64_t vf_set_state(struct vf *f, uint32_t request, uint32_t index, uint32_t num);
int vf_recv(struct vf *f, struct vu_vhost_msg *reply);
/* GET_VRING_BASE (stops the ring): the index the device returns. */
uint32_t vf_get_vring_base(struct vf *f, uint32_t index);
/* The whole memfd as one region. */
int64_t vf_set_mem_table(struct vf *f);
/* NUM, BASE 0, ADDR, CALL, ERR, KICK for ring index; returns the KICK's ack. */
int64_t vf_setup_ring(struct vf *f, uint32_t index, uint16_t size);
/* Features, protocol features (with REPLY_ACK), owner, memory, both rings, enable. */
void vf_handshake(struct vf *f, uint64_t features);

/* Driver side of the rings. */
uint8_t *vf_buf(const struct vf *f, uint32_t ring, uint16_t slot);
/* A frame for the device to take: header + data in one descriptor. */
void vf_post_tx(struct vf *f, const void *data, uint32_t len);
/* n device-writable buffers of len bytes each. */
void vf_post_rx(struct vf *f, unsigned int n, uint32_t len);
/* Packed: write descriptor `slot` with the current lap's available bits plus flags, and
 * move the fill position on by n (the head of a chain is written last by the caller). */
void vf_put_pdesc(struct vf *f, uint32_t ring, uint16_t slot, uint64_t addr, uint32_t len,
		  uint16_t id, uint16_t flags);
void vf_pavail_advance(struct vf *f, uint32_t ring, uint16_t n);
/* Put descriptor d in slot `slot` of ring's table and make `head` available. */
void vf_put_desc(struct vf *f, uint32_t ring, uint16_t slot, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);
void vf_avail(struct vf *f, uint32_t ring, uint16_t head);
/* The next used entry of ring: true and its id and len, or false. */
bool vf_used(struct vf *f, uint32_t ring, uint32_t *id, uint32_t *len);
/* Reads of a notification eventfd: its counter (0 when not signalled). */
uint64_t vf_eventfd_count(int fd);

/* Drain the device's data path in one call, as a PMD burst would. */
int vf_dequeue(struct vf *f, struct vub_pkt *pkt, void *frame, uint32_t cap, uint32_t *len);
int vf_enqueue(struct vf *f, const void *frame, uint32_t len);

/* SET_BACKEND_REQ_FD with a new socketpair (f->backend is the frontend's end): the ack. */
int64_t vf_backend_channel(struct vf *f);
/* GET_CONFIG of [offset, offset + size) in a message of msg_size payload bytes: the
 * reply's window size (0: refused), its bytes in out. */
uint32_t vf_get_config(struct vf *f, uint32_t offset, uint32_t size, uint32_t msg_size,
		       uint8_t *out);

/* Fill len bytes with a pattern that depends on seed and position (checked by value). */
void vf_fill(uint8_t *p, uint32_t len, uint8_t seed);
/* cmocka setup: capture libvub's log lines (the test opens its own frontend). */
int vf_log_setup(void **state);
/* Fail unless the last error line logged contains needle; forget the lines. */
void vf_assert_error_logged(const char *needle);

#endif /* VUB_FRONTEND_H */
