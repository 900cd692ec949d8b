/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub message handling: every front-end request a virtio-net frontend sends, from a table. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vub_vq.h"

/* Kick/call/err payload bits that are defined: the index (0-7) and "invalid FD" (8). */
#define VUB_VRING_FILE_BITS (VU_VHOST_USER_VRING_IDX_MASK | VU_VHOST_USER_VRING_NOFD)
/* SET_VRING_ADDR flags: bit 0 is VHOST_VRING_F_LOG, for dirty logging (not offered). */
#define VUB_VRING_F_LOG 1u

enum vub_fds {
	VUB_FDS_NONE,	/* no fd may ride along */
	VUB_FDS_VRING,	/* one, unless the payload says "invalid FD" */
	VUB_FDS_MEMORY, /* one per region: the transport checks */
	VUB_FDS_ONE,	/* exactly one */
	VUB_FDS_UNUSED, /* none SHOULD come; one MAY, and is closed unused */
};

typedef int (*vub_msg_fn)(struct vub_dev *dev, struct vu_vhost_msg *msg,
			  struct vu_vhost_msg *reply);

/* Request payload bytes (not the reply's) when the request has a fixed size. */
#define VUB_SIZE_NONE 0
#define VUB_SIZE_U64 ((int)sizeof(uint64_t))
#define VUB_SIZE_STATE ((int)sizeof(struct vu_vhost_vring_state))
#define VUB_SIZE_ADDR ((int)sizeof(struct vu_vhost_vring_addr))
#define VUB_SIZE_INFLIGHT ((int)sizeof(struct vu_vhost_inflight))
#define VUB_SIZE_MEM_REG ((int)sizeof(struct vu_vhost_mem_reg))
#define VUB_SIZE_IOTLB ((int)sizeof(struct vu_vhost_iotlb_msg))
#define VUB_SIZE_VARIES (-1) /* checked by the handler */

struct vub_request {
	const char *name;
	int size;
	enum vub_fds fds;
	bool replies; /* has a reply of its own (the GET requests) */
	vub_msg_fn fn;
};

static void
vub_reply_u64(struct vu_vhost_msg *reply, uint64_t v)
{
	reply->hdr.size = sizeof(uint64_t);
	reply->payload.u64 = v;
}

/* The ring a state or file payload names, or NULL (logged). */
static struct vub_vq *
vub_msg_vq(struct vub_dev *dev, const struct vu_vhost_msg *msg, uint32_t index)
{
	if (index < vub_dev_nvrings(dev))
		return &dev->vqs[index];
	VU_ERR("%s: %s names vring %u, the device has %u: refused", dev->name,
	       vu_vhost_request_name(msg->hdr.request), index, vub_dev_nvrings(dev));
	return NULL;
}

static bool
vub_any_started(const struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		if (dev->vqs[i].started)
			return true;
	return false;
}

static int
vub_get_features(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	vub_reply_u64(reply, dev->offered);
	return 0;
}

/* "The driver MUST NOT accept a feature which requires another feature which was not
 * accepted" (TSO needs the checksum of its direction, 5.1.3.1), yet DPDK's virtio driver
 * takes GUEST_TSO4/6 without GUEST_CSUM for LRO without Rx checksums: accepted, and no
 * segmented frame goes to it (that needs NEEDS_CSUM, which needs GUEST_CSUM). */
static void
vub_offload_deps_note(const struct vub_dev *dev, uint64_t f)
{
	const char *why = vub_offload_deps(f);

	if (why)
		VU_WARN("%s: SET_FEATURES 0x%llx: %s: no segmentation that way", dev->name,
			(unsigned long long)f, why);
}

static int
vub_set_features(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	uint64_t f = msg->payload.u64;

	(void)reply;
	/* Until one is accepted, FEATURES_OK is not (vub_msg_set_status). */
	dev->features_refused = true;
	if (f & ~dev->offered) {
		VU_ERR("%s: SET_FEATURES 0x%llx has bits 0x%llx the device does not offer: refused",
		       dev->name, (unsigned long long)f, (unsigned long long)(f & ~dev->offered));
		return -EINVAL;
	}
	vub_offload_deps_note(dev, f);
	/* The header size and the ring walk follow the features: not while rings run. */
	if (f != dev->features && vub_any_started(dev)) {
		VU_ERR("%s: SET_FEATURES 0x%llx while rings are started: refused", dev->name,
		       (unsigned long long)f);
		return -EBUSY;
	}
	dev->features = f;
	dev->features_refused = false;
	VU_INFO("%s: virtio features 0x%llx negotiated", dev->name, (unsigned long long)f);
	/* "If VHOST_USER_F_PROTOCOL_FEATURES has not been negotiated, the ring starts
	 * directly in the enabled state." */
	if (!(f & VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
			vub_vq_lock(&dev->vqs[i]);
			dev->vqs[i].enabled = true;
			vub_vq_unlock(&dev->vqs[i]);
		}
	return 0;
}

static int
vub_get_protocol_features(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	vub_reply_u64(reply, dev->offered_protocol);
	return 0;
}

static int
vub_set_protocol_features(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	uint64_t f = msg->payload.u64;

	(void)reply;
	if (f & ~dev->offered_protocol) {
		VU_ERR("%s: SET_PROTOCOL_FEATURES 0x%llx has bits 0x%llx the device does not "
		       "offer: refused",
		       dev->name, (unsigned long long)f,
		       (unsigned long long)(f & ~dev->offered_protocol));
		return -EINVAL;
	}
	dev->protocol = f;
	VU_INFO("%s: protocol features 0x%llx negotiated", dev->name, (unsigned long long)f);
	return 0;
}

static int
vub_set_owner(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	(void)reply;
	/* "It marks the sender as the front-end that owns of the session." */
	dev->owner = true;
	return 0;
}

/* "It is recommended that back-ends either ignore this message, or use it to disable all
 * rings": stopped and disabled; memory, features and fds stay. */
static int
vub_reset_owner(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	(void)reply;
	vub_dev_lock_all(dev);
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		dev->vqs[i].started = false;
		dev->vqs[i].enabled = false;
	}
	vub_dev_unlock_all(dev);
	return 0;
}

/* A new table replaces the old one while no burst runs; started rings are translated
 * again in the new table (a ring that no longer fits is stopped). */
static int
vub_set_mem_table(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	struct vub_mem fresh, old;
	int rc;

	(void)reply;
	rc = vub_mem_map(dev, msg, &fresh);
	if (rc < 0)
		return rc;
	vub_dev_lock_all(dev);
	old = dev->mem;
	dev->mem = fresh;
	vub_iotlb_forget_hits(dev);
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		struct vub_vq *vq = &dev->vqs[i];

		if (vq->started && vub_vq_translate(vq) < 0)
			vub_vq_break(vq, "its rings are not inside the new memory table");
	}
	vub_dev_unlock_all(dev);
	vub_mem_unmap(dev, &old);
	VU_INFO("%s: memory table of %u regions mapped", dev->name, fresh.nregions);
	return 0;
}

/* "the maximum number of memory slots" the device maps with ADD_MEM_REG. */
static int
vub_get_max_mem_slots(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)dev;
	(void)msg;
	vub_reply_u64(reply, VUB_MAX_MEM_SLOTS);
	return 0;
}

/* "When the VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS protocol feature has been
 * successfully negotiated, this message is submitted by the front-end". */
static bool
vub_mem_slots_negotiated(const struct vub_dev *dev, const struct vu_vhost_msg *msg)
{
	if (vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		return true;
	VU_ERR("%s: %s without VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS negotiated: refused",
	       dev->name, vu_vhost_request_name(msg->hdr.request));
	return false;
}

/* Appended while no burst runs: a translation sees the old count or the new one. */
static int
vub_add_mem_reg(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	struct vub_region slot;
	int rc;

	(void)reply;
	if (!vub_mem_slots_negotiated(dev, msg))
		return -EINVAL;
	rc = vub_mem_map_slot(dev, msg, &slot);
	if (rc < 0)
		return rc;
	vub_dev_lock_all(dev);
	dev->mem.regions[dev->mem.nregions++] = slot;
	vub_dev_unlock_all(dev);
	VU_INFO("%s: memory region added (guest 0x%llx, size 0x%llx): %u mapped", dev->name,
		(unsigned long long)slot.gpa, (unsigned long long)slot.size, dev->mem.nregions);
	return 0;
}

/* A started ring in the region would point into memory unmapped under it. The spec
 * names no such case: the frontend stops the ring first (or sends SET_MEM_TABLE). */
static bool
vub_ring_inside(const struct vub_dev *dev, const struct vub_region *r)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		const struct vub_vq *vq = &dev->vqs[i];

		if (vq->started &&
		    (vub_region_holds(r, vq->desc_uaddr, 1, false) ||
		     vub_region_holds(r, vq->avail_uaddr, 1, false) ||
		     vub_region_holds(r, vq->used_uaddr, 1, false)))
			return true;
	}
	return false;
}

static int
vub_rem_mem_reg(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_mem_region *r = &msg->payload.mem_reg.region;
	struct vub_mem *mem = &dev->mem;
	struct vub_region gone;
	int i;

	(void)reply;
	if (!vub_mem_slots_negotiated(dev, msg))
		return -EINVAL;
	i = vub_mem_find_slot(dev, r);
	if (i < 0)
		return -ENOENT;
	if (vub_ring_inside(dev, &mem->regions[i])) {
		vub_mem_slot_refused(dev, "REM_MEM_REG", r, "a started ring lies in it");
		return -EBUSY;
	}
	vub_dev_lock_all(dev);
	gone = mem->regions[i];
	mem->regions[i] = mem->regions[--mem->nregions];
	vub_iotlb_forget_hits(dev);
	vub_dev_unlock_all(dev);
	dev->t->ops->unmap_mem(dev->t, &gone);
	VU_INFO("%s: memory region removed (guest 0x%llx, size 0x%llx): %u mapped", dev->name,
		(unsigned long long)gone.gpa, (unsigned long long)gone.size, mem->nregions);
	return 0;
}

static int
vub_set_vring_num(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_vring_state *s = &msg->payload.state;
	struct vub_vq *vq = vub_msg_vq(dev, msg, s->index);

	(void)reply;
	if (!vq)
		return -EINVAL;
	if (vq->started) {
		VU_ERR("%s: SET_VRING_NUM on started vring %u: refused", dev->name, s->index);
		return -EBUSY;
	}
	/* Split: "Queue Size value is always a power of 2. The maximum Queue Size value is
	 * 32768." Packed: "up to 2^15 entries", "does not have to be a power of 2". */
	if (s->num == 0 || s->num > VUB_MAX_QUEUE_SIZE ||
	    (!vub_packed_negotiated(dev) && (s->num & (s->num - 1)))) {
		VU_ERR("%s: SET_VRING_NUM %u on vring %u: a %s ring takes %s from 1 to 32768: "
		       "refused",
		       dev->name, s->num, s->index, vub_packed_negotiated(dev) ? "packed" : "split",
		       vub_packed_negotiated(dev) ? "a size" : "a power of two");
		return -EINVAL;
	}
	vq->size = (uint16_t)s->num;
	return 0;
}

static int
vub_set_vring_addr(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_vring_addr *a = &msg->payload.addr;
	struct vub_vq *vq = vub_msg_vq(dev, msg, a->index);

	(void)reply;
	if (!vq)
		return -EINVAL;
	if (a->flags & VUB_VRING_F_LOG) {
		VU_ERR("%s: SET_VRING_ADDR on vring %u asks for dirty logging, which the device "
		       "does not offer: refused",
		       dev->name, a->index);
		return -ENOTSUP;
	}
	if (vq->started) {
		VU_ERR("%s: SET_VRING_ADDR on started vring %u: refused", dev->name, a->index);
		return -EBUSY;
	}
	/* Translated when the ring starts: the memory table may come later. */
	vq->desc_uaddr = a->desc_user_addr;
	vq->avail_uaddr = a->avail_user_addr;
	vq->used_uaddr = a->used_user_addr;
	vq->addr_set = true;
	return 0;
}

static int
vub_set_vring_base(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_vring_state *s = &msg->payload.state;
	struct vub_vq *vq = vub_msg_vq(dev, msg, s->index);

	(void)reply;
	if (!vq)
		return -EINVAL;
	if (vq->started) {
		VU_ERR("%s: SET_VRING_BASE on started vring %u: refused", dev->name, s->index);
		return -EBUSY;
	}
	if (s->num > UINT16_MAX) {
		VU_ERR("%s: SET_VRING_BASE %u on vring %u: a ring position has 16 bits: refused",
		       dev->name, s->num, s->index);
		return -EINVAL;
	}
	/* Every buffer taken was returned before the ring stopped: the used position
	 * resumes where the available one does. A packed ring's base carries the wrap
	 * counter in bit 15 (checked against the ring size when it starts). */
	vq->last_avail = vq->used_idx = vq->published = (uint16_t)s->num;
	vq->avail_wrap = vq->used_wrap = true;
	if (vub_packed_negotiated(dev)) {
		vq->avail_wrap = vq->used_wrap = s->num >> VU_PACKED_BASE_WRAP_SHIFT;
		vq->last_avail = vq->used_idx = s->num & ~(1u << VU_PACKED_BASE_WRAP_SHIFT);
	}
	return 0;
}

/* "stop ring upon receiving VHOST_USER_GET_VRING_BASE": the reply is where the
 * frontend resumes, so no burst may run past it. */
static int
vub_get_vring_base(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_vring_state *s = &msg->payload.state;
	struct vub_vq *vq = vub_msg_vq(dev, msg, s->index);

	if (!vq)
		return -EINVAL;
	vub_vq_lock(vq);
	vq->started = false;
	vq->iotlb_wait = false;
	reply->hdr.size = sizeof(reply->payload.state);
	reply->payload.state.index = s->index;
	reply->payload.state.num = vq->last_avail;
	if (vq->packed)
		reply->payload.state.num = vu_packed_ring_base(vq->last_avail, vq->avail_wrap);
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	vq->kick_fd = -1;
	vub_vq_unlock(vq);
	return 0;
}

/* The ring named by a kick/call/err payload and the fd that came with it (-1 with
 * "invalid FD"), taken out of msg; NULL when refused (logged). */
static struct vub_vq *
vub_vring_file(struct vub_dev *dev, struct vu_vhost_msg *msg, int *fd)
{
	uint64_t v = msg->payload.u64;

	/* Set before any refusal: the callers close *fd when the ring is refused. */
	*fd = -1;
	if (v & ~(uint64_t)VUB_VRING_FILE_BITS) {
		VU_ERR("%s: %s payload 0x%llx sets bits beyond the index and \"invalid FD\": "
		       "refused",
		       dev->name, vu_vhost_request_name(msg->hdr.request), (unsigned long long)v);
		return NULL;
	}
	if (!(v & VU_VHOST_USER_VRING_NOFD) && msg->nfds == 1) {
		*fd = msg->fds[0];
		msg->fds[0] = -1;
	}
	return vub_msg_vq(dev, msg, (uint32_t)(v & VU_VHOST_USER_VRING_IDX_MASK));
}

static void
vub_replace_fd(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

/* Rings start when SET_VRING_KICK arrives, as implementations do (the vhost-user text
 * says on the first kick; a polling device does not wait for one). */
static int
vub_set_vring_kick(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	struct vub_vq *vq;
	int fd, rc;

	(void)reply;
	vq = vub_vring_file(dev, msg, &fd);
	if (!vq) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	vub_vq_lock(vq);
	vub_replace_fd(&vq->kick_fd, fd);
	rc = vub_vq_start(dev, vq);
	vub_vq_unlock(vq);
	if (rc == 0 && vq->iotlb_wait) {
		VU_INFO("%s: vring %u waits for an IOTLB update of its addresses", dev->name,
			vq->index);
		vub_iotlb_send_misses(dev);
	} else if (rc == 0)
		VU_INFO("%s: vring %u started: %s ring of %u entries at %u%s%s", dev->name,
			vq->index, vq->packed ? "packed" : "split", vq->size, vq->last_avail,
			vq->mrg ? ", mergeable Rx buffers" : "",
			vq->indirect ? ", indirect descriptors" : "");
	return rc;
}

static int
vub_set_vring_notifier(struct vub_dev *dev, struct vu_vhost_msg *msg, bool err)
{
	struct vub_vq *vq;
	int fd;

	vq = vub_vring_file(dev, msg, &fd);
	if (!vq) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	vub_vq_lock(vq);
	vub_replace_fd(err ? &vq->err_fd : &vq->call_fd, fd);
	vub_vq_unlock(vq);
	return 0;
}

static int
vub_set_vring_call(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)reply;
	return vub_set_vring_notifier(dev, msg, false);
}

static int
vub_set_vring_err(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)reply;
	return vub_set_vring_notifier(dev, msg, true);
}

/* "Query how many queues the back-end supports": queue pairs, what frontends compare
 * their queues= with. */
static int
vub_get_queue_num(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	vub_reply_u64(reply, dev->queue_pairs);
	return 0;
}

static int
vub_set_vring_enable(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_vring_state *s = &msg->payload.state;
	struct vub_vq *vq = vub_msg_vq(dev, msg, s->index);

	(void)reply;
	if (!vq)
		return -EINVAL;
	if (s->num > 1) {
		VU_ERR("%s: SET_VRING_ENABLE %u on vring %u: expected 0 or 1: refused", dev->name,
		       s->num, s->index);
		return -EINVAL;
	}
	vub_vq_lock(vq);
	vq->enabled = s->num == 1;
	vub_vq_unlock(vq);
	return 0;
}

/* "disable all rings and reset all internal device state to the initial state, ready to
 * be reinitialized. The back-end retains ownership of the device". */
static int
vub_reset_device(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	(void)msg;
	(void)reply;
	vub_dev_reset(dev, true);
	VU_INFO("%s: device reset by the frontend", dev->name);
	return 0;
}

/* One line per request: payload size, fds, own reply, handler. */
#define VUB_REQ(id, sz, fd, rep, handler)               \
	[VU_VHOST_USER_##id] = { .name = #id,           \
				 .size = VUB_SIZE_##sz, \
				 .fds = VUB_FDS_##fd,   \
				 .replies = rep,        \
				 .fn = handler }

static const struct vub_request vub_requests[] = {
	VUB_REQ(GET_FEATURES, NONE, NONE, true, vub_get_features),
	VUB_REQ(SET_FEATURES, U64, NONE, false, vub_set_features),
	VUB_REQ(SET_OWNER, NONE, NONE, false, vub_set_owner),
	VUB_REQ(RESET_OWNER, NONE, NONE, false, vub_reset_owner),
	VUB_REQ(SET_MEM_TABLE, VARIES, MEMORY, false, vub_set_mem_table),
	VUB_REQ(SET_VRING_NUM, STATE, NONE, false, vub_set_vring_num),
	VUB_REQ(SET_VRING_ADDR, ADDR, NONE, false, vub_set_vring_addr),
	VUB_REQ(SET_VRING_BASE, STATE, NONE, false, vub_set_vring_base),
	VUB_REQ(GET_VRING_BASE, STATE, NONE, true, vub_get_vring_base),
	VUB_REQ(SET_VRING_KICK, U64, VRING, false, vub_set_vring_kick),
	VUB_REQ(SET_VRING_CALL, U64, VRING, false, vub_set_vring_call),
	VUB_REQ(SET_VRING_ERR, U64, VRING, false, vub_set_vring_err),
	VUB_REQ(GET_PROTOCOL_FEATURES, NONE, NONE, true, vub_get_protocol_features),
	VUB_REQ(SET_PROTOCOL_FEATURES, U64, NONE, false, vub_set_protocol_features),
	VUB_REQ(GET_QUEUE_NUM, NONE, NONE, true, vub_get_queue_num),
	VUB_REQ(SET_VRING_ENABLE, STATE, NONE, false, vub_set_vring_enable),
	VUB_REQ(SET_BACKEND_REQ_FD, NONE, ONE, false, vub_msg_set_backend_req_fd),
	VUB_REQ(IOTLB_MSG, IOTLB, NONE, false, vub_msg_iotlb),
	VUB_REQ(GET_CONFIG, VARIES, NONE, true, vub_msg_get_config),
	VUB_REQ(SET_CONFIG, VARIES, NONE, false, vub_msg_set_config),
	VUB_REQ(GET_INFLIGHT_FD, INFLIGHT, NONE, true, vub_msg_get_inflight_fd),
	VUB_REQ(SET_INFLIGHT_FD, INFLIGHT, ONE, false, vub_msg_set_inflight_fd),
	VUB_REQ(RESET_DEVICE, NONE, NONE, false, vub_reset_device),
	VUB_REQ(GET_MAX_MEM_SLOTS, NONE, NONE, true, vub_get_max_mem_slots),
	VUB_REQ(ADD_MEM_REG, MEM_REG, ONE, false, vub_add_mem_reg),
	VUB_REQ(REM_MEM_REG, MEM_REG, UNUSED, false, vub_rem_mem_reg),
	VUB_REQ(SET_STATUS, U64, NONE, false, vub_msg_set_status),
	VUB_REQ(GET_STATUS, NONE, NONE, true, vub_msg_get_status),
};

#define VUB_NREQUESTS (sizeof(vub_requests) / sizeof(vub_requests[0]))

static const struct vub_request *
vub_request_find(uint32_t request)
{
	if (request < VUB_NREQUESTS && vub_requests[request].fn)
		return &vub_requests[request];
	return NULL;
}

/* What arrived matches what the request carries. A wrong size is a broken peer (-EPROTO:
 * drop it); wrong fds refuse the request (-EINVAL). */
static int
vub_msg_check(const struct vub_dev *dev, const struct vub_request *rq,
	      const struct vu_vhost_msg *msg)
{
	unsigned int want_fds = 0;

	if (rq->size != VUB_SIZE_VARIES && msg->hdr.size != (uint32_t)rq->size) {
		VU_ERR("%s: %s with a payload of %u bytes, expected %d: dropping the frontend",
		       dev->name, rq->name, msg->hdr.size, rq->size);
		return -EPROTO;
	}
	if (!dev->t->ops->passes_fds || rq->fds == VUB_FDS_MEMORY)
		return 0;
	if ((rq->fds == VUB_FDS_VRING && !(msg->payload.u64 & VU_VHOST_USER_VRING_NOFD)) ||
	    rq->fds == VUB_FDS_ONE)
		want_fds = 1;
	if (rq->fds == VUB_FDS_UNUSED && msg->nfds <= 1)
		return 0;
	if (msg->nfds != want_fds) {
		VU_ERR("%s: %s came with %u file descriptors, expected %u: refused", dev->name,
		       rq->name, msg->nfds, want_fds);
		return -EINVAL;
	}
	return 0;
}

static int
vub_msg_send(struct vub_dev *dev, const struct vu_vhost_msg *reply)
{
	int rc = dev->t->ops->send_reply(dev->t, reply);

	if (rc < 0)
		VU_ERR("%s: reply to %s: %s: dropping the frontend", dev->name,
		       vu_vhost_request_name(reply->hdr.request), strerror(-rc));
	return rc < 0 ? -EPROTO : 0;
}

/* REPLY_ACK: "the back-end MUST respond with a Payload VhostUserMsg indicating success or
 * failure. The payload should be set to zero on success or non-zero on failure". */
static int
vub_msg_ack(struct vub_dev *dev, const struct vu_vhost_msg *msg, int result)
{
	struct vu_vhost_msg reply;

	if (!(msg->hdr.flags & VU_VHOST_USER_FLAG_NEED_REPLY) ||
	    !vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))
		return 0;
	vu_vhost_msg_init(&reply, msg->hdr.request, sizeof(uint64_t));
	reply.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	reply.payload.u64 = result < 0 ? (uint64_t)-result : VUB_ACK_OK;
	return vub_msg_send(dev, &reply);
}

/* One request: 0 when the connection goes on, -EPROTO when it must be dropped. Every fd
 * of msg is kept by its handler or closed here. */
static int
vub_msg_handle(struct vub_dev *dev, struct vu_vhost_msg *msg)
{
	const struct vub_request *rq = vub_request_find(msg->hdr.request);
	struct vu_vhost_msg reply;
	int rc;

	if (msg->hdr.flags & VU_VHOST_USER_FLAG_REPLY) {
		VU_ERR("%s: request %u has the reply flag: dropping the frontend", dev->name,
		       msg->hdr.request);
		vu_vhost_msg_close_fds(msg);
		return -EPROTO;
	}
	if (!rq) {
		VU_ERR("%s: request %u (%s) is not implemented by this device: refused", dev->name,
		       msg->hdr.request, vu_vhost_request_name(msg->hdr.request));
		vu_vhost_msg_close_fds(msg);
		return vub_msg_ack(dev, msg, -ENOTSUP);
	}
	VU_DEBUG("%s: %s", dev->name, rq->name);
	rc = vub_msg_check(dev, rq, msg);
	if (rc == 0) {
		vu_vhost_msg_init(&reply, msg->hdr.request, 0);
		reply.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
		rc = rq->fn(dev, msg, &reply);
	}
	vu_vhost_msg_close_fds(msg);
	if (rc == -EPROTO)
		return rc;
	if (!rq->replies)
		return vub_msg_ack(dev, msg, rc);
	/* A request with its own reply has no way to say no: refusing it drops the peer. */
	if (rc < 0) {
		VU_ERR("%s: %s refused: dropping the frontend", dev->name, rq->name);
		return -EPROTO;
	}
	return vub_msg_send(dev, &reply);
}

/* The transport's entry for each request: a request may start or stop the rings the
 * ready state follows. */
int
vub_dev_on_message(struct vub_dev *dev, struct vu_vhost_msg *msg)
{
	int rc = vub_msg_handle(dev, msg);

	vub_dev_update_ready(dev);
	return rc;
}
