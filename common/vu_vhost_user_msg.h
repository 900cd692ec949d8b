/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user protocol messages: definitions, framing with SCM_RIGHTS fds, and validation.
 * Independent of any frontend state so that a backend side can reuse it. */
#ifndef VU_VHOST_USER_MSG_H
#define VU_VHOST_USER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Front-end message types (vhost-user spec, "Front-end message types"). */
enum vu_vhost_request {
	VU_VHOST_USER_NONE = 0,
	VU_VHOST_USER_GET_FEATURES = 1,
	VU_VHOST_USER_SET_FEATURES = 2,
	VU_VHOST_USER_SET_OWNER = 3,
	VU_VHOST_USER_RESET_OWNER = 4,
	VU_VHOST_USER_SET_MEM_TABLE = 5,
	VU_VHOST_USER_SET_LOG_BASE = 6,
	VU_VHOST_USER_SET_LOG_FD = 7,
	VU_VHOST_USER_SET_VRING_NUM = 8,
	VU_VHOST_USER_SET_VRING_ADDR = 9,
	VU_VHOST_USER_SET_VRING_BASE = 10,
	VU_VHOST_USER_GET_VRING_BASE = 11,
	VU_VHOST_USER_SET_VRING_KICK = 12,
	VU_VHOST_USER_SET_VRING_CALL = 13,
	VU_VHOST_USER_SET_VRING_ERR = 14,
	VU_VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VU_VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VU_VHOST_USER_GET_QUEUE_NUM = 17,
	VU_VHOST_USER_SET_VRING_ENABLE = 18,
	VU_VHOST_USER_SEND_RARP = 19,
	VU_VHOST_USER_NET_SET_MTU = 20,
	VU_VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VU_VHOST_USER_IOTLB_MSG = 22,
	VU_VHOST_USER_GET_CONFIG = 24,
	VU_VHOST_USER_SET_CONFIG = 25,
	VU_VHOST_USER_GET_INFLIGHT_FD = 31,
	VU_VHOST_USER_SET_INFLIGHT_FD = 32,
	VU_VHOST_USER_RESET_DEVICE = 34,
	VU_VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VU_VHOST_USER_ADD_MEM_REG = 37,
	VU_VHOST_USER_REM_MEM_REG = 38,
	VU_VHOST_USER_SET_STATUS = 39,
	VU_VHOST_USER_GET_STATUS = 40,
	VU_VHOST_USER_REQUEST_MAX
};

/* Back-end message types (spec, "Back-end message types"): requests the backend sends
 * on the channel the frontend gave it with SET_BACKEND_REQ_FD. */
enum vu_vhost_backend_request {
	VU_VHOST_USER_BACKEND_NONE = 0,
	VU_VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VU_VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VU_VHOST_USER_BACKEND_REQUEST_MAX
};

/* Protocol feature bits. */
#define VU_VHOST_USER_PROTOCOL_F_MQ 0
#define VU_VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VU_VHOST_USER_PROTOCOL_F_NET_MTU 4
#define VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ 5
#define VU_VHOST_USER_PROTOCOL_F_CONFIG 9
#define VU_VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD 10
#define VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE 13
#define VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VU_VHOST_USER_PROTOCOL_F_STATUS 16

/* "VHOST_USER_F_PROTOCOL_FEATURES" in GET_FEATURES: bit 30. */
#define VU_VHOST_USER_F_PROTOCOL_FEATURES 30

/* Header flags: "Lower 2 bits are the version (currently 0x01)", bit 2 reply, bit 3 need_reply. */
#define VU_VHOST_USER_VERSION 0x1u
#define VU_VHOST_USER_VERSION_MASK 0x3u
#define VU_VHOST_USER_FLAG_REPLY (1u << 2)
#define VU_VHOST_USER_FLAG_NEED_REPLY (1u << 3)

/* Kick/call/err payload: bits 0-7 queue index, bit 8 "no file descriptor". */
#define VU_VHOST_USER_VRING_IDX_MASK 0xffu
#define VU_VHOST_USER_VRING_NOFD (1u << 8)

#define VU_VHOST_USER_MAX_FDS 8
#define VU_VHOST_USER_MAX_REGIONS 8
/* "Device configuration space ... payload: up to 256 bytes" (GET_CONFIG/SET_CONFIG). */
#define VU_VHOST_USER_MAX_CONFIG_SIZE 256
/* SET_CONFIG flags: "0: Vhost front-end messages used for writable fields". */
#define VU_VHOST_USER_CONFIG_FLAG_FRONTEND 0u

struct vu_vhost_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vhost_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

/* Note the order on the wire: desc, used, avail. */
struct vu_vhost_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_vhost_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_vhost_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_vhost_mem_region regions[VU_VHOST_USER_MAX_REGIONS];
} __attribute__((packed));

/* ADD_MEM_REG/REM_MEM_REG: "single memory region description", a u64 of padding then
 * one region as SET_MEM_TABLE describes it. */
struct vu_vhost_mem_reg {
	uint64_t padding;
	struct vu_vhost_mem_region region;
} __attribute__((packed));

/* GET_CONFIG/SET_CONFIG: offset and size of the window into the config space. */
struct vu_vhost_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_VHOST_USER_MAX_CONFIG_SIZE];
} __attribute__((packed));

/* IOTLB_MSG and the backend channel's IOTLB_MSG: "a 64-bit I/O virtual address, 64-bit
 * size, 64-bit user address, 8-bit permissions, 8-bit type", padded as the kernel's
 * struct vhost_iotlb_msg is (QEMU and DPDK send its sizeof, 32 bytes). */
struct vu_vhost_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t padding[6];
} __attribute__((packed));

/* Its types (the kernel's VHOST_IOTLB_*); permissions are vu_iotlb.h's VU_IOTLB_PERM_*. */
#define VU_VHOST_IOTLB_MISS 1
#define VU_VHOST_IOTLB_UPDATE 2
#define VU_VHOST_IOTLB_INVALIDATE 3
#define VU_VHOST_IOTLB_ACCESS_FAIL 4

/* Header bytes of a config message before its window. */
#define VU_VHOST_USER_CONFIG_HDR_SIZE (offsetof(struct vu_vhost_config, region))

/* GET_INFLIGHT_FD/SET_INFLIGHT_FD: "mmap size, mmap offset, num queues, queue size". QEMU
 * and DPDK declare it unpacked, so it travels as 24 bytes, the last 4 padding. */
struct vu_vhost_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
} __attribute__((packed));

/*
 * The split ring's inflight region, one per queue (spec, "Inflight I/O tracking"):
 * "inflight: whether the buffer is inflight or not; next: a link to the next free entry;
 * counter: preserved for resubmission order" per descriptor head, after a header.
 */
struct vu_inflight_desc_split {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
} __attribute__((packed));

struct vu_inflight_split {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vu_inflight_desc_split desc[];
} __attribute__((packed));

/*
 * The packed ring's inflight region (same section): entries form a free list; a chain
 * taken fills one entry per descriptor ("id", "flags", "len", "addr" of each), its head
 * entry saying "inflight", its "last" entry, "num" descriptors and its "counter". The
 * header keeps the free list's head, the used index and wrap counter, and their "old"
 * values from before the batch being published. Not packed: QEMU and DPDK lay desc[]
 * out at offset 32, after 7 bytes of padding and 3 of alignment.
 */
struct vu_inflight_desc_packed {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

struct vu_inflight_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vu_inflight_desc_packed desc[];
};

_Static_assert(sizeof(struct vu_inflight_desc_packed) == 32, "DescStatePacked is 32 bytes");
_Static_assert(offsetof(struct vu_inflight_packed, desc) == 32, "QueueRegionPacked's desc[]");

/* Each queue's region starts on a 64-byte boundary (QEMU's and DPDK's INFLIGHT_ALIGNMENT). */
#define VU_INFLIGHT_ALIGNMENT 64u
/* The layout's version, written by the backend that first uses a region. */
#define VU_INFLIGHT_VERSION 1u

/* Bytes of one split queue's inflight region for a ring of queue_size entries. */
static inline uint64_t
vu_inflight_split_queue_size(uint16_t queue_size)
{
	uint64_t n = sizeof(struct vu_inflight_split) +
		(uint64_t)queue_size * sizeof(struct vu_inflight_desc_split);

	return (n + VU_INFLIGHT_ALIGNMENT - 1) / VU_INFLIGHT_ALIGNMENT * VU_INFLIGHT_ALIGNMENT;
}

/* Bytes of one packed queue's inflight region for a ring of queue_size entries. */
static inline uint64_t
vu_inflight_packed_queue_size(uint16_t queue_size)
{
	uint64_t n = sizeof(struct vu_inflight_packed) +
		(uint64_t)queue_size * sizeof(struct vu_inflight_desc_packed);

	return (n + VU_INFLIGHT_ALIGNMENT - 1) / VU_INFLIGHT_ALIGNMENT * VU_INFLIGHT_ALIGNMENT;
}

union vu_vhost_payload {
	uint64_t u64;
	struct vu_vhost_vring_state state;
	struct vu_vhost_vring_addr addr;
	struct vu_vhost_memory memory;
	struct vu_vhost_mem_reg mem_reg;
	struct vu_vhost_config config;
	struct vu_vhost_inflight inflight;
	struct vu_vhost_iotlb_msg iotlb;
};

/* One message with the fds that travel with it (ancillary data). */
struct vu_vhost_msg {
	struct vu_vhost_hdr hdr;
	union vu_vhost_payload payload;
	int fds[VU_VHOST_USER_MAX_FDS];
	unsigned int nfds;
};

const char *vu_vhost_request_name(uint32_t request);

/* Name of a back-end request (the backend channel's message types). */
const char *vu_vhost_backend_request_name(uint32_t request);

/* Start a message: header with version 1, payload zeroed, no fds. */
void vu_vhost_msg_init(struct vu_vhost_msg *msg, uint32_t request, uint32_t size);

/* Payload size a request must carry, or -1 when it varies or is unknown.
 * SET_MEM_TABLE is checked by vu_vhost_msg_check_mem_table instead. */
int vu_vhost_request_payload_size(uint32_t request);

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline here (and of the
 * frontend's own bounded waits). */
int64_t vu_now_ms(void);

/* Send header + payload + fds. Returns 0 or -errno (-EPIPE when the peer went away). */
int vu_vhost_msg_send(int sock, const struct vu_vhost_msg *msg, int timeout_ms);

/* Receive one message within timeout_ms. Validates the version bits and that
 * size fits the payload; received fds are stored in msg->fds (caller closes them).
 * Returns 0, -ETIMEDOUT, -ECONNRESET when the peer closed, -EPROTO on a malformed
 * message (fds already closed), or another -errno. */
int vu_vhost_msg_recv(int sock, struct vu_vhost_msg *msg, int timeout_ms);

/* Check that msg is a reply to `request` with exactly `size` payload bytes and
 * no fds. Returns 0 or -EPROTO; *why names the problem for the log line. */
int vu_vhost_msg_check_reply(const struct vu_vhost_msg *msg, uint32_t request, uint32_t size,
			     const char **why);

/* Check a SET_MEM_TABLE payload: region count within limits and matching size. */
int vu_vhost_msg_check_mem_table(const struct vu_vhost_msg *msg, const char **why);

/* Close every fd held by msg and forget them. */
void vu_vhost_msg_close_fds(struct vu_vhost_msg *msg);

#endif /* VU_VHOST_USER_MSG_H */
