/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub, the device side of vhost-user for virtio-net in plain C: what a PMD or program calls. */
#ifndef VUB_H
#define VUB_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_virtio.h"

/* The virtio-net header offloads a device may offer (vub_dev_params.offloads): checksums
 * and TCP segmentation each way. TSO needs the checksum of its direction (spec 5.1.3.1). */
#define VUB_OFFLOAD_FEATURES                                                                \
	(VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_HOST_TSO4) | \
	 VU_BIT(VU_NET_F_HOST_TSO6) | VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_GUEST_TSO6))

/* Kick/call/err carry the ring index in 8 bits: 256 rings, 128 pairs. */
#define VUB_MAX_QUEUE_PAIRS 128
/* The most buffer pieces one packet may occupy (spec 2.7.4.1: "The device MAY have a
 * reasonable limit of descriptors it will allow in a chain"). */
#define VUB_PKT_MAX_IOV 64

struct vub_dev;
struct vub_transport;
struct vub_vq;

/* Called from vub_dev_process() when the device becomes ready (a frontend is connected
 * and queue pair 0 is started and enabled) or stops being ready. Over VDUSE the kernel's
 * virtio_net waits for the answer holding the RTNL lock: take no netlink or TUN ioctl
 * here. */
typedef void (*vub_ready_fn)(void *arg, bool ready);

struct vub_dev_params {
	const char *name;     /* for log lines */
	uint16_t queue_pairs; /* offered to the frontend: 1 to VUB_MAX_QUEUE_PAIRS */
	uint64_t offloads;    /* bits of VUB_OFFLOAD_FEATURES the application handles */
	vub_ready_fn on_ready;
	void *arg;
	/* The virtio-net config space (GET_CONFIG): mac with VIRTIO_NET_F_MAC offered when
	 * has_mac, mtu (VU_NET_MIN_MTU..VU_NET_MAX_MTU) with VIRTIO_NET_F_MTU when not 0.
	 * The link starts up (vub_dev_set_link_up changes it). */
	uint8_t mac[6];
	bool has_mac;
	uint16_t mtu;
	/* IOTLB mode: offer VIRTIO_F_ACCESS_PLATFORM; once negotiated the device reaches
	 * only what the frontend's IOTLB updates describe (docs/backend.md). */
	bool iommu;
	/* Offer INFLIGHT_SHMFD (over a transport passing fds): for an application that may
	 * complete buffers out of order, or to resume a region another backend left. One
	 * completing in order resumes at the used index without it, and saves its stores. */
	bool inflight;
};

/* A device over a transport (vub_transport.h); the device owns the transport from then
 * on, also on failure. Returns 0 or -errno. */
int vub_dev_create(const struct vub_dev_params *params, struct vub_transport *t,
		   struct vub_dev **out);
/* Listen (server) or connect (client); the frontend is served from vub_dev_process. */
int vub_dev_start(struct vub_dev *dev);
void vub_dev_destroy(struct vub_dev *dev);
/* An fd that becomes readable when vub_dev_process has work (a connection, a message). */
int vub_dev_event_fd(const struct vub_dev *dev);
/* Handle what is ready without blocking on an idle peer. Returns 0 or -errno. */
int vub_dev_process(struct vub_dev *dev);
bool vub_dev_ready(const struct vub_dev *dev);
bool vub_dev_connected(const struct vub_dev *dev);
/* The virtio features the frontend set (SET_FEATURES), 0 before. */
uint64_t vub_dev_features(const struct vub_dev *dev);
/* The device status byte (virtio 1.2, 2.1: VU_STATUS_*) as the frontend last set it with
 * SET_STATUS (FEATURES_OK cleared when the device refused the features), 0 after a reset. */
uint8_t vub_dev_status(const struct vub_dev *dev);
/* Link up or down in the config space's status field (VIRTIO_NET_S_LINK_UP). When the
 * frontend negotiated CONFIG and BACKEND_REQ, the change is announced with
 * CONFIG_CHANGE_MSG on the backend channel (waiting a bounded time for its ack with
 * REPLY_ACK). Call it where vub_dev_process runs (the control path). Returns 0 (also when
 * there is no channel to announce on), or -errno when the announcement failed. */
int vub_dev_set_link_up(struct vub_dev *dev, bool up);
bool vub_dev_link_up(const struct vub_dev *dev);
/* IOTLB mode's counters of vring: misses asked of the frontend, and accesses denied
 * (outside the IOTLB, lacking its permission, or a miss the frontend refused). */
void vub_dev_iotlb_stats(const struct vub_dev *dev, uint16_t vring, uint64_t *misses,
			 uint64_t *denied);

/* One packet's place in the frontend's memory, translated and bounds-checked: the
 * virtio-net header (hdr_len bytes) followed by len bytes of frame. */
struct vub_iov {
	uint8_t *base;
	uint32_t len;
};

struct vub_chain {
	uint16_t head;	/* id returned in the used ring */
	uint16_t ndesc; /* ring entries the chain takes (what a packed ring advances by) */
	uint32_t cap;	/* bytes of buffer the chain holds */
	uint16_t slot;	/* packed, tracked: its head entry in the inflight region */
};

struct vub_pkt {
	uint32_t len;	  /* frame bytes, without the virtio-net header */
	uint32_t hdr_len; /* virtio-net header bytes in front of the frame */
	uint16_t niov;
	uint16_t nchains;	  /* more than one only with mergeable Rx buffers */
	uint16_t avail_before;	  /* where the ring stood before begin (for abort), */
	bool wrap_before;	  /* with its packed-ring wrap counter */
	uint16_t resubmit_before; /* and its resubmission list (inflight tracking) */
	/* Offloads: dequeue, what the frontend's header asks (checked against the features:
	 * anything not negotiated or out of the frame is cleared, logged once per ring);
	 * enqueue, what vub_enqueue_end writes (zero unless vub_enqueue_offload set it). */
	struct vu_net_hdr hdr;
	struct vub_iov iov[VUB_PKT_MAX_IOV];
	struct vub_chain chains[VUB_PKT_MAX_IOV];
};

/*
 * The data path. A burst on a queue pair takes the ring with *_enter (NULL: not running,
 * or the control path is changing it; try again at the next burst), handles packets,
 * publishes with vub_vq_flush and gives the ring back with vub_vq_leave. One thread per
 * ring at a time, as ethdev queues are.
 *
 * Dequeue: the frontend's Tx ring (vring 2 * pair + 1). begin returns 1 with a packet,
 * 0 when none is available, or -EIO when the ring is broken (stopped, logged once).
 * end returns the buffer to the frontend; abort puts it back to be taken again (only
 * right after its begin).
 *
 * Enqueue: the frontend's Rx ring (vring 2 * pair). begin reserves room for len frame
 * bytes and returns 1, 0 when the frontend has not posted enough buffers, -EMSGSIZE
 * when the frame cannot fit its buffers (drop it), or -EIO. Write the frame with
 * vub_pkt_write, then end (fills the header) or abort (the buffers stay available).
 */
struct vub_vq *vub_dequeue_enter(struct vub_dev *dev, uint16_t pair);
struct vub_vq *vub_enqueue_enter(struct vub_dev *dev, uint16_t pair);
void vub_vq_leave(struct vub_vq *vq);
/* Publishes the used buffers; true when the frontend was sent a used buffer notification
 * (it did not suppress it and the ring has a call fd), as lib/vhost's guest_notifications
 * counts them. */
bool vub_vq_flush(struct vub_vq *vq);

int vub_dequeue_begin(struct vub_vq *vq, struct vub_pkt *pkt);
void vub_dequeue_end(struct vub_vq *vq, const struct vub_pkt *pkt);
void vub_dequeue_abort(struct vub_vq *vq, const struct vub_pkt *pkt);

int vub_enqueue_begin(struct vub_vq *vq, uint32_t len, struct vub_pkt *pkt);
void vub_enqueue_end(struct vub_vq *vq, const struct vub_pkt *pkt);
void vub_enqueue_abort(struct vub_vq *vq, const struct vub_pkt *pkt);

/*
 * The burst fast path, for the common frame: one buffer per frame (a single descriptor, no
 * indirect table), header and frame together in it, no offload asked either way. reserve
 * takes up to n such buffers in ring order and stops at the first that is anything else,
 * leaving it for the per-frame calls above (which check and refuse what is wrong with it
 * exactly as always); commit returns the n reserved buffers and must follow reserve with
 * nothing else on the ring in between. Every buffer is bounds-checked against the memory
 * table as the per-frame path checks it.
 */
struct vub_buf {
	uint8_t *frame; /* the frame's first byte, after the virtio-net header */
	uint32_t len;	/* enqueue: the caller's frame bytes; dequeue: the frame's */
	uint16_t id;	/* the buffer's id in the used ring */
	uint16_t slot;	/* libvub's own: a tracked packed ring's inflight entry */
};

/* Enqueue: bufs[i].len set by the caller; the buffers reserved (0 to n), each holding
 * hdr_len + len bytes. commit writes the headers (no offload, num_buffers 1) and the used
 * entries; the caller has copied the frames to bufs[i].frame. */
uint16_t vub_enqueue_reserve(struct vub_vq *vq, struct vub_buf *bufs, uint16_t n);
void vub_enqueue_commit(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n);

/* Dequeue: frames of at most max_len bytes whose header asks no offload (flags and
 * gso_type 0); the caller copies them out, then commits. */
uint16_t vub_dequeue_reserve(struct vub_vq *vq, uint32_t max_len, struct vub_buf *bufs, uint16_t n);
void vub_dequeue_commit(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n);

/*
 * Kicks: the frontend's "available buffer notifications" on a ring's kick eventfd. A ring
 * is polled by default (VUB_KICK_POLLED): the device asks the frontend not to kick
 * (VRING_USED_F_NO_NOTIFY, or RING_EVENT_FLAGS_DISABLE on a packed ring; with
 * VIRTIO_RING_F_EVENT_IDX a split ring cannot say never, and the frontend kicks once in
 * 65536 buffers). A program that sleeps instead sets VUB_KICK_NOTIFY on an entered ring
 * once it has taken everything: the device asks for a kick at the next available buffer
 * (the flag cleared, avail_event, or the packed ring's device event at the next
 * descriptor) and looks at the ring again after a full barrier. Returns 1 when a buffer
 * came meanwhile (take it, then call again: no kick will say so), 0 when the caller may
 * sleep until vub_dev_kick_fd is readable (read the eventfd, then enter the ring), or the
 * ring is broken (it runs again once the frontend sets it up again), or its next buffer
 * waits for an IOTLB update (IOTLB mode: the update comes as a message). The
 * mode stays with the ring (also across its restarts and reconnects) until changed.
 */
enum vub_kick_mode {
	VUB_KICK_POLLED,
	VUB_KICK_NOTIFY,
};

int vub_vq_kick_mode(struct vub_vq *vq, enum vub_kick_mode mode);

/* The kick eventfd of vring (2 * pair: the frontend's Rx ring, 2 * pair + 1 its Tx), or
 * -1 when it has none (not set, or "invalid FD": the frontend never kicks, poll it). Call
 * it from the thread running vub_dev_process: the fd changes with SET_VRING_KICK, so look
 * again after each vub_dev_process; a ring that (re)started has no kick for the buffers
 * made available before, so run each ring once then. */
int vub_dev_kick_fd(const struct vub_dev *dev, uint16_t vring);

/* Offloads for a frame being enqueued (after begin, before end): flags, gso_type,
 * hdr_len, gso_size, csum_start and csum_offset of hdr. Returns 0, -ENOTSUP when the
 * frontend did not negotiate them (VIRTIO_NET_F_GUEST_CSUM, _GUEST_TSO4/6: complete the
 * checksum or drop the frame), or -EINVAL when they do not fit the frame. */
int vub_enqueue_offload(struct vub_vq *vq, struct vub_pkt *pkt, const struct vu_net_hdr *hdr);

/* Copy frame bytes [off, off + len) of pkt out or in; returns the bytes copied (fewer
 * only past the end of the frame or of the buffers). */
uint32_t vub_pkt_read(const struct vub_pkt *pkt, uint32_t off, void *dst, uint32_t len);
uint32_t vub_pkt_write(const struct vub_pkt *pkt, uint32_t off, const void *src, uint32_t len);

#endif /* VUB_H */
