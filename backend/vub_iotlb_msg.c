/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub IOTLB mode's control path: IOTLB_MSG updates and invalidates, misses sent and acked. */
#include <errno.h>
#include <string.h>

#include "vub_vq.h"

/* A miss the frontend will not answer: the ring stops as on a bad descriptor. Called
 * with the ring locked. */
static void
vub_iotlb_deny(struct vub_vq *vq, const char *why)
{
	vub_iotlb_count(&vq->iotlb_denied);
	vq->iotlb_wait = false;
	vq->miss_state = VUB_MISS_NONE;
	vub_vq_break(vq, "IOTLB miss at IOVA 0x%llx (%s): %s", (unsigned long long)vq->miss_iova,
		     vub_iotlb_perm_name(vq->miss_perm), why);
}

static void
vub_iotlb_deny_locked(struct vub_vq *vq, const char *why)
{
	vub_vq_lock(vq);
	vub_iotlb_deny(vq, why);
	vub_vq_unlock(vq);
}

/* "VHOST_USER_BACKEND_IOTLB_MSG ... Back-end sends such requests to notify of an IOTLB
 * miss." Not waiting for the ack: the frontend answers with an update on the socket this
 * thread serves. Sent without the ring's lock: the transport may hand acks of earlier
 * misses to vub_dev_backend_reply meanwhile. */
static void
vub_iotlb_send_miss(struct vub_dev *dev, struct vub_vq *vq, uint64_t iova, uint8_t perm)
{
	bool ack = vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK);
	struct vu_vhost_msg msg;
	int rc;

	if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ) || dev->backend_fd < 0 ||
	    !dev->t->ops->send_backend_req || (ack && dev->miss_ack_count == VUB_MAX_VRINGS)) {
		vub_iotlb_deny_locked(vq, "no backend channel to ask the frontend on");
		return;
	}
	vu_vhost_msg_init(&msg, VU_VHOST_USER_BACKEND_IOTLB_MSG, sizeof(struct vu_vhost_iotlb_msg));
	if (ack)
		msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	msg.payload.iotlb = (struct vu_vhost_iotlb_msg){
		.iova = iova,
		.perm = perm,
		.type = VU_VHOST_IOTLB_MISS,
	};
	rc = dev->t->ops->send_backend_req(dev->t, dev->backend_fd, &msg, NULL);
	if (rc < 0) {
		VU_ERR("%s: IOTLB miss on the backend channel: %s", dev->name, strerror(-rc));
		vub_iotlb_deny_locked(vq, "the backend channel broke");
		return;
	}
	vub_iotlb_count(&vq->iotlb_misses);
	if (ack)
		dev->miss_acks[(dev->miss_ack_head + dev->miss_ack_count++) % VUB_MAX_VRINGS] =
			vq->index;
	VU_INFO("%s: vring %u: IOTLB miss at IOVA 0x%llx (%s) sent to the frontend", dev->name,
		vq->index, (unsigned long long)iova, vub_iotlb_perm_name(perm));
}

void
vub_iotlb_send_misses(struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		struct vub_vq *vq = &dev->vqs[i];
		uint64_t iova = 0;
		uint8_t perm = 0;
		bool go;

		if (__atomic_load_n(&vq->miss_state, __ATOMIC_ACQUIRE) != VUB_MISS_WANTED)
			continue;
		vub_vq_lock(vq);
		go = vq->miss_state == VUB_MISS_WANTED;
		if (go) {
			iova = vq->miss_iova;
			perm = vq->miss_perm;
			vq->miss_state = VUB_MISS_SENT;
		}
		vub_vq_unlock(vq);
		if (go)
			vub_iotlb_send_miss(dev, vq, iova, perm);
	}
}

bool
vub_dev_backend_reply(struct vub_dev *dev, const struct vu_vhost_msg *m)
{
	struct vub_vq *vq;

	if (m->hdr.request != VU_VHOST_USER_BACKEND_IOTLB_MSG ||
	    !(m->hdr.flags & VU_VHOST_USER_FLAG_REPLY))
		return false;
	if (dev->miss_ack_count == 0 || m->hdr.size != sizeof(uint64_t)) {
		VU_WARN("%s: an IOTLB ack of %u bytes with %u misses unanswered: dropped",
			dev->name, m->hdr.size, dev->miss_ack_count);
		return true;
	}
	vq = &dev->vqs[dev->miss_acks[dev->miss_ack_head]];
	dev->miss_ack_head = (uint16_t)((dev->miss_ack_head + 1) % VUB_MAX_VRINGS);
	dev->miss_ack_count--;
	vub_vq_lock(vq);
	if (vq->miss_state == VUB_MISS_SENT && m->payload.u64 != VUB_ACK_OK)
		vub_iotlb_deny(vq,
			       "refused by the frontend (outside the memory it lets the "
			       "device touch)");
	else if (vq->miss_state == VUB_MISS_SENT)
		vq->miss_state = VUB_MISS_NONE;
	/* A waiting ring may miss another of its parts now: asked at the next wake. */
	if (vq->iotlb_wait && vub_vq_start(dev, vq) == 0 && vq->started)
		VU_INFO("%s: vring %u started: its addresses are in the IOTLB", dev->name,
			vq->index);
	vub_vq_unlock(vq);
	return true;
}

/* The backend channel is readable: acks of misses (nothing else is expected). */
void
vub_dev_on_backend(struct vub_dev *dev)
{
	struct vu_vhost_msg m;

	while (dev->backend_fd >= 0) {
		int rc = vu_vhost_msg_recv(dev->backend_fd, &m, 0);

		if (rc == -ETIMEDOUT)
			return;
		if (rc < 0) {
			VU_INFO("%s: backend channel: %s: closed", dev->name, strerror(-rc));
			vub_backend_close(dev);
			return;
		}
		vu_vhost_msg_close_fds(&m);
		if (!vub_dev_backend_reply(dev, &m))
			VU_WARN("%s: message %u on the backend channel, not an ack: dropped",
				dev->name, m.hdr.request);
		/* An ack may have started or stopped a ring. */
		vub_dev_update_ready(dev);
	}
}

/* Rings that wait for their addresses start once they translate. */
static void
vub_iotlb_restart(struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		struct vub_vq *vq = &dev->vqs[i];

		if (vq->iotlb_wait && vub_vq_start(dev, vq) == 0 && vq->started)
			VU_INFO("%s: vring %u started: its addresses are in the IOTLB", dev->name,
				vq->index);
	}
}

/* "IOTLB update: iova, size, user address (the frontend's, as in the memory table) and
 * permissions", checked to lie in one region of the memory table. */
static int
vub_iotlb_update(struct vub_dev *dev, const struct vu_vhost_iotlb_msg *m)
{
	const char *why = NULL;
	int rc;

	if (m->size == 0 || m->iova + (m->size - 1) < m->iova)
		why = "empty or wrapping range";
	else if (!m->perm || (m->perm & ~VU_IOTLB_PERM_RW))
		why = "permissions are not read, write or both";
	else if (!vub_mem_uva(dev, m->uaddr, m->size))
		why = "its user address range is not inside one region of the memory table";
	if (why) {
		VU_ERR("%s: IOTLB update 0x%llx+0x%llx -> 0x%llx (perm 0x%x): %s: refused",
		       dev->name, (unsigned long long)m->iova, (unsigned long long)m->size,
		       (unsigned long long)m->uaddr, m->perm, why);
		return -EINVAL;
	}
	vub_dev_lock_all(dev);
	rc = vu_iotlb_insert(&dev->iotlb, m->iova, m->size, m->uaddr, m->perm);
	vub_iotlb_forget_hits(dev);
	/* Without acks an update is the only answer: the misses may be asked again. */
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		if (!vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) &&
		    dev->vqs[i].miss_state == VUB_MISS_SENT)
			dev->vqs[i].miss_state = VUB_MISS_NONE;
	if (rc == 0)
		vub_iotlb_restart(dev);
	vub_dev_unlock_all(dev);
	if (rc < 0) {
		VU_ERR("%s: IOTLB update 0x%llx+0x%llx: the IOTLB holds %u entries: refused",
		       dev->name, (unsigned long long)m->iova, (unsigned long long)m->size,
		       VU_IOTLB_MAX_ENTRIES);
		return rc;
	}
	vub_iotlb_send_misses(dev);
	return 0;
}

/* "IOTLB invalidate": rings whose parts were in the range stop until updated again; no
 * miss is asked for them (the frontend took the memory away on purpose). */
static int
vub_iotlb_invalidate(struct vub_dev *dev, const struct vu_vhost_iotlb_msg *m)
{
	uint32_t n;

	vub_dev_lock_all(dev);
	n = vu_iotlb_remove(&dev->iotlb, m->iova, m->size);
	vub_iotlb_forget_hits(dev);
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++) {
		struct vub_vq *vq = &dev->vqs[i];

		if (!vq->started || !vq->iotlb || vub_vq_translate(vq) == 0)
			continue;
		vq->started = false;
		vq->iotlb_wait = true;
		if (vq->miss_state == VUB_MISS_WANTED)
			vq->miss_state = VUB_MISS_NONE;
		VU_INFO("%s: vring %u stopped: its addresses left the IOTLB; it starts again "
			"once they are updated",
			dev->name, vq->index);
	}
	vub_dev_unlock_all(dev);
	VU_DEBUG("%s: IOTLB invalidate 0x%llx+0x%llx: %u entries dropped", dev->name,
		 (unsigned long long)m->iova, (unsigned long long)m->size, n);
	return 0;
}

/* "This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature has been
 * successfully negotiated": taken while the device offers it, also between a status reset
 * and the next SET_FEATURES (frontends describe their memory first, as DPDK's vhost
 * allows). The IOTLB is the frontend's, like the memory table: rings use it only with
 * ACCESS_PLATFORM negotiated. */
int
vub_msg_iotlb(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_iotlb_msg *m = &msg->payload.iotlb;

	(void)reply;
	if (!(dev->offered & VU_BIT(VU_F_ACCESS_PLATFORM))) {
		VU_ERR("%s: IOTLB_MSG to a device not offering VIRTIO_F_ACCESS_PLATFORM "
		       "(iommu-support off): refused",
		       dev->name);
		return -ENOTSUP;
	}
	if (m->type == VU_VHOST_IOTLB_UPDATE)
		return vub_iotlb_update(dev, m);
	if (m->type == VU_VHOST_IOTLB_INVALIDATE)
		return vub_iotlb_invalidate(dev, m);
	VU_ERR("%s: IOTLB_MSG of type %u: a frontend sends UPDATE (2) or INVALIDATE (3): refused",
	       dev->name, m->type);
	return -EINVAL;
}
