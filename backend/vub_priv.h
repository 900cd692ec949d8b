/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub internals, the bottom of the core: device, ring and memory table structs. */
#ifndef VUB_PRIV_H
#define VUB_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_iotlb.h"
#include "vu_log.h"
#include "vu_ring.h"
#include "vu_ring_packed.h"
#include "vu_virtio.h"
#include "vu_vhost_user_msg.h"
#include "vub.h"
#include "vub_transport.h"

#define VUB_MAX_VRINGS (2 * VUB_MAX_QUEUE_PAIRS)
/* "The maximum Queue Size value is 32768" (virtio 1.2, 2.7). */
#define VUB_MAX_QUEUE_SIZE 32768u
#define VUB_NAME_MAX 64
#define VUB_STR_(x) #x
#define VUB_STR(x) VUB_STR_(x)

/* "If VHOST_USER_PROTOCOL_F_REPLY_ACK is negotiated ... The payload should be set to
 * zero on success or non-zero on failure". */
#define VUB_ACK_OK 0u

/* The virtio-net config space the device shows: mac, status, max_virtqueue_pairs, mtu
 * (the fields up to VIRTIO_NET_F_MTU's; none after them is offered). */
#define VUB_NET_CONFIG_LEN 12
_Static_assert(VUB_NET_CONFIG_LEN == sizeof(struct vu_net_config), "config space length");

/* Memory slots offered with CONFIGURE_MEM_SLOTS: QEMU's and rust-vmm's backends say 509,
 * "the KVM limit" that vhost in the kernel also keeps. */
#define VUB_MAX_MEM_SLOTS 509u

struct vub_mem {
	uint32_t nregions;
	/* The region the last translation hit: bursts of one ring mostly stay in one
	 * mempool. A hint only, read and written relaxed by any burst. */
	uint32_t last_hit;
	struct vub_region regions[VUB_MAX_MEM_SLOTS];
};

/* One virtqueue, device side. The data path reads the fields above `ctl` with `busy`
 * held; the control path changes them only while holding it too. */
struct vub_vq {
	uint32_t busy; /* taken by a burst (try) or by the control path (spin) */
	bool started;  /* SET_VRING_KICK seen and the ring translated */
	bool enabled;  /* SET_VRING_ENABLE 1, or no protocol features */
	bool broken;   /* the frontend broke the ring: stopped until set up again */
	bool packed;   /* VIRTIO_F_RING_PACKED: the fields marked packed apply */
	uint16_t size;
	uint16_t last_avail; /* next avail slot (split) or descriptor (packed) to read */
	uint16_t used_idx;   /* next used slot (split) or descriptor (packed) to write */
	uint16_t published;  /* split: used idx last made visible to the frontend */
	uint16_t avail_idx;  /* split: the avail idx last read (last_avail when started) */
	bool avail_wrap;     /* packed: the wrap counters (spec 2.8.1) */
	bool used_wrap;
	uint32_t unflushed; /* packed: descriptors marked used since the last flush */
	bool used_held;	    /* packed: the flags of held_pos wait for the flush */
	uint16_t held_pos;
	uint16_t held_flags;
	uint32_t hdr_len;
	bool mrg;
	bool indirect;
	bool event_idx;		      /* VIRTIO_RING_F_EVENT_IDX */
	bool hdr_warned;	      /* a bad offload request was logged */
	uint64_t offloads;	      /* negotiated bits of VUB_OFFLOAD_FEATURES */
	enum vub_kick_mode kick_mode; /* the application's; survives resets */
	struct vu_desc *desc;
	struct vu_avail *avail;
	struct vu_used *used;
	struct vu_packed_desc *pdesc; /* packed: descriptor ring and event suppression */
	struct vu_packed_event *driver_event;
	struct vu_packed_event *device_event;
	int call_fd; /* -1: none */
	int err_fd;
	struct vub_dev *dev;
	uint16_t index;

	/* ctl: touched by the control path only. */
	bool addr_set;
	uint64_t desc_uaddr;
	uint64_t avail_uaddr;
	uint64_t used_uaddr;
	int kick_fd;

	/* IOTLB mode (VIRTIO_F_ACCESS_PLATFORM): ring and buffer addresses are IOVAs. The
	 * data path keeps the last entry it hit (host: where its iova lies here; size 0:
	 * none) and counts; the control path empties the hit when the IOTLB changes. */
	bool iotlb;
	struct {
		uint64_t iova;
		uint64_t size;
		uint8_t *host;
		uint8_t perm;
	} iotlb_hit;
	uint64_t iotlb_misses; /* MISS requests asked for */
	uint64_t iotlb_denied; /* accesses refused: outside the IOTLB or lacking permission */
	/* The one miss of this ring at a time: asked by a burst or a start (WANTED), sent on
	 * the backend channel by the control path (SENT), answered by an update or an ack. */
	uint32_t miss_state; /* VUB_MISS_* */
	uint64_t miss_iova;
	uint8_t miss_perm;
	bool iotlb_wait; /* SET_VRING_KICK came, the ring waits for its addresses' update */

	/* INFLIGHT_SHMFD: this ring's part of the region by layout, NULL untracked; the
	 * buffers to resubmit first (split: heads, packed: head entries; ctl allocates them
	 * at start, the data path reads); the used chains not yet published, linked through
	 * the region's next fields (packed: those of each chain's last entry). */
	struct vu_inflight_split *inflight;
	struct vu_inflight_packed *pinflight;
	uint64_t inflight_counter;
	uint16_t *resubmit;
	uint16_t nresubmit;
	uint16_t resubmit_pos;
	uint16_t batch_head;
	uint16_t batch_tail;
	uint16_t batch_len;
};

struct vub_dev {
	char name[VUB_NAME_MAX];
	uint16_t queue_pairs;
	vub_ready_fn on_ready;
	void *arg;
	struct vub_transport *t;
	bool connected;
	bool ready;
	bool owner;
	uint64_t offered;  /* virtio features */
	uint64_t features; /* set by the frontend */
	uint64_t offered_protocol;
	uint64_t protocol;     /* set by the frontend */
	bool features_refused; /* the last SET_FEATURES was: FEATURES_OK is not set */
	uint8_t status;	       /* SET_STATUS (virtio 1.2, 2.1) */
	int backend_fd;	       /* SET_BACKEND_REQ_FD, -1: none */
	/* A ring broke (set by any thread, taken by the control path through wake_fd). */
	uint32_t ring_broke;
	int wake_fd;
	/* The config space's values, the owner's (vub_dev_params, vub_dev_set_link_up). */
	bool link_up;
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu;
	struct vub_mem mem;
	uint32_t miss_lock; /* held while a translation miss appends to mem */
	/* IOTLB mode: iova -> the frontend's user address (resolved in mem at each use).
	 * Changed by the control path with every ring locked. The rings whose MISS awaits
	 * its ack, in the order they were sent (acks come in order). */
	struct vu_iotlb iotlb;
	uint16_t miss_acks[VUB_MAX_VRINGS];
	uint16_t miss_ack_head;
	uint16_t miss_ack_count;
	/* GET_INFLIGHT_FD's or SET_INFLIGHT_FD's region, fd -1: none. */
	struct {
		int fd;
		void *addr;
		uint64_t size;
		uint16_t num_queues;
		uint16_t queue_size;
	} inflight;
	struct vub_vq vqs[VUB_MAX_VRINGS];
};

/* vub_dev.c */
void vub_vq_lock(struct vub_vq *vq);
void vub_vq_unlock(struct vub_vq *vq);
void vub_dev_lock_all(struct vub_dev *dev);
void vub_dev_unlock_all(struct vub_dev *dev);
void vub_vq_close_fds(struct vub_vq *vq);
void vub_vq_reset(struct vub_vq *vq);
void vub_dev_reset(struct vub_dev *dev, bool memory);
/* The status byte, its change logged; the backend channel closed. */
void vub_status_set(struct vub_dev *dev, uint8_t status);
void vub_backend_close(struct vub_dev *dev);
void vub_dev_update_ready(struct vub_dev *dev);
uint16_t vub_dev_nvrings(const struct vub_dev *dev);
/* What an offload feature set lacks (a TSO without its checksum), or NULL. */
const char *vub_offload_deps(uint64_t features);

static inline bool
vub_has_protocol(const struct vub_dev *dev, unsigned int bit)
{
	return dev->protocol & VU_BIT(bit);
}

static inline bool
vub_packed_negotiated(const struct vub_dev *dev)
{
	return dev->features & VU_BIT(VU_F_RING_PACKED);
}

/* vub_config.c: the status, config and backend channel requests (vub_msg.c's table). */
int vub_msg_set_status(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply);
int vub_msg_get_status(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply);
int vub_msg_get_config(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply);
int vub_msg_set_config(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply);
int vub_msg_set_backend_req_fd(struct vub_dev *dev, struct vu_vhost_msg *msg,
			       struct vu_vhost_msg *reply);

/* vub_inflight.c: the inflight region (INFLIGHT_SHMFD) and a ring's restart on it. */
int vub_msg_get_inflight_fd(struct vub_dev *dev, struct vu_vhost_msg *msg,
			    struct vu_vhost_msg *reply);
int vub_msg_set_inflight_fd(struct vub_dev *dev, struct vu_vhost_msg *msg,
			    struct vu_vhost_msg *reply);
void vub_inflight_unmap(struct vub_dev *dev);
int vub_inflight_resume(struct vub_vq *vq);

/* vub_iotlb.c: IOTLB mode (VIRTIO_F_ACCESS_PLATFORM). */
enum vub_miss_state {
	VUB_MISS_NONE,
	VUB_MISS_WANTED,
	VUB_MISS_SENT,
};
/* vub_iotlb_msg.c: IOTLB_MSG (vub_msg.c's table). */
int vub_msg_iotlb(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply);
/* vub_iotlb.c: the translations, data path and ring starts. */
/* A ring part (what: for the log) at IOVA iova, wholly inside one IOTLB entry with perm;
 * NULL when it is not (a miss is asked for, or the access is denied: logged). */
void *vub_iotlb_ring_part(struct vub_vq *vq, const char *what, uint64_t iova, uint64_t len,
			  uint8_t perm);
/* vub_pkt_add in IOTLB mode: -EAGAIN on a miss (asked for; take the packet again later),
 * -EACCES (no permission) or -ENXIO (the entry left the memory table) when denied
 * (counted). */
int vub_iotlb_pkt_add(struct vub_vq *vq, struct vub_pkt *pkt, uint64_t iova, uint32_t len,
		      uint32_t *cap, bool writable);
/* The burst fast path's lookup (vub_burst.h): [iova, iova + len) wholly inside one entry
 * granting perm, where it lies here; else NULL, nothing asked or counted. */
void *vub_iotlb_fast(struct vub_vq *vq, uint64_t iova, uint64_t len, uint8_t perm);
/* An indirect table at iova, read in place: NULL with *rc -EAGAIN (miss asked for) or
 * -EACCES/-EFAULT (denied, counted). */
void *vub_iotlb_table(struct vub_vq *vq, uint64_t iova, uint32_t len, int *rc);
/* Forget the rings' last hits (every ring locked); "read", "write" or "read-write". */
void vub_iotlb_forget_hits(struct vub_dev *dev);
const char *vub_iotlb_perm_name(uint8_t perm);
/* vub_iotlb_msg.c, the control path's part: send the misses bursts asked for. */
void vub_iotlb_send_misses(struct vub_dev *dev);

/* A ring's IOTLB counter: one writer (the ring's holder), xstats read it from another
 * thread. */
static inline void
vub_iotlb_count(uint64_t *counter)
{
	__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}
/* vub_vq_start.c: start a ring whose kick came (also again once its addresses are in
 * the IOTLB). Called with the ring locked. */
int vub_vq_start(struct vub_dev *dev, struct vub_vq *vq);

/* vub_mem.c: maps and translates; swapping a table in is the message handler's. */
int vub_mem_map(struct vub_dev *dev, const struct vu_vhost_msg *msg, struct vub_mem *mem);
void vub_mem_unmap(struct vub_dev *dev, struct vub_mem *mem);
void vub_mem_unmap_all(struct vub_dev *dev);
/* CONFIGURE_MEM_SLOTS: ADD_MEM_REG's region checked like SET_MEM_TABLE's and mapped; the
 * index of REM_MEM_REG's region or -1; either logs a refusal. */
int vub_mem_map_slot(struct vub_dev *dev, const struct vu_vhost_msg *msg, struct vub_region *slot);
int vub_mem_find_slot(const struct vub_dev *dev, const struct vu_vhost_mem_region *r);
void vub_mem_slot_refused(const struct vub_dev *dev, const char *req,
			  const struct vu_vhost_mem_region *r, const char *why);
/* [addr, addr + len) lies wholly in r, by guest or by user address (nothing wraps). */
bool vub_region_holds(const struct vub_region *r, uint64_t addr, uint64_t len, bool by_gpa);
/* The host address of [addr, addr + len) in one region, asking the transport on a miss
 * (vub_transport_ops.mem_miss); NULL when nothing maps it. */
void *vub_mem_gpa(struct vub_dev *dev, uint64_t gpa, uint64_t len);
void *vub_mem_uva(struct vub_dev *dev, uint64_t uva, uint64_t len);

/* vub_ring.c: what both ring layouts share. */
void *vub_ring_part(struct vub_vq *vq, const char *what, uint64_t uaddr, uint64_t len,
		    uint32_t align, uint8_t perm);
/* Have the control path run vub_dev_on_wake (from any thread). */
void vub_dev_wake(struct vub_dev *dev);
void vub_vq_break(struct vub_vq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vub_pkt_add(struct vub_vq *vq, struct vub_pkt *pkt, uint64_t addr, uint32_t len, uint32_t *cap,
		bool writable);
const char *vub_pkt_add_error(int rc);
bool vub_vq_call(struct vub_vq *vq);

/* vub_split.c and vub_packed.c: each layout's device side, one contract (reached through
 * vub_vq.h's dispatch). translate finds the ring's parts in the memory table. pop takes
 * the next available chain into pkt (appending): 1, 0 when none is available, -E2BIG when
 * it does not fit pkt, -EIO when the ring is broken. used marks every chain of pkt used,
 * `total` bytes written into them in order; flush makes that visible and calls the
 * frontend unless it suppressed the notification (true when a call went out). kicks asks for kicks or not
 * (vub_vq_kick_mode) and is true when a buffer is available already. */
int vub_split_translate(struct vub_vq *vq);
int vub_split_pop(struct vub_vq *vq, bool writable, struct vub_pkt *pkt);
void vub_split_used(struct vub_vq *vq, const struct vub_pkt *pkt, uint32_t total);
bool vub_split_flush(struct vub_vq *vq);
bool vub_split_kicks(struct vub_vq *vq, bool on);
void vub_split_resume(struct vub_vq *vq);
void vub_split_inflight_rewind(struct vub_vq *vq, const struct vub_pkt *pkt);

/* The burst fast path (vub.h): reserve takes up to n single-descriptor buffers
 * (vub_fast_desc) from last_avail on and stops before the first other one; used_bufs marks
 * n reserved buffers used, each with its header and frame written or nothing. */
uint16_t vub_split_reserve(struct vub_vq *vq, bool writable, uint32_t max_len, struct vub_buf *bufs,
			   uint16_t n);
void vub_split_used_bufs(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n, bool written);

int vub_packed_translate(struct vub_vq *vq);
int vub_packed_pop(struct vub_vq *vq, bool writable, struct vub_pkt *pkt);
void vub_packed_used(struct vub_vq *vq, const struct vub_pkt *pkt, uint32_t total);
bool vub_packed_flush(struct vub_vq *vq);
bool vub_packed_kicks(struct vub_vq *vq, bool on);
uint16_t vub_packed_reserve(struct vub_vq *vq, bool writable, uint32_t max_len,
			    struct vub_buf *bufs, uint16_t n);
void vub_packed_used_bufs(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n, bool written);
void vub_packed_inflight_rewind(struct vub_vq *vq, const struct vub_pkt *pkt);

/* Receive buffers must all be device-writable: "A device MUST NOT write to a
 * device-readable buffer". A transmit buffer marked device-writable is read anyway ("a
 * device SHOULD NOT read a device-writable buffer", not MUST NOT): DPDK 22.11's virtio
 * driver marks the header entry of its packed indirect Tx tables so. */
static inline bool
vub_direction_ok(uint16_t flags, bool writable)
{
	return !writable || (flags & VU_DESC_F_WRITE);
}

/* The bytes of chain i when total bytes fill the chains in order. */
static inline uint32_t
vub_chain_used(const struct vub_chain *c, uint32_t *left)
{
	uint32_t n = c->cap < *left ? c->cap : *left;

	*left -= n;
	return n;
}

#endif /* VUB_PRIV_H */
