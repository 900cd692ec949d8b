/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend: IOTLB mode (iotlb=1): updates, invalidations and misses. */
#include <errno.h>
#include <string.h>

#include "vu_iotlb.h"
#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_vhost_user_priv.h"
#include "vu_virtio.h"

/* Refused IOTLB misses logged one by one; the rest are only counted. */
#define VU_VHOST_IOTLB_REFUSED_LOGGED 8

/* iotlb=1 needs ACCESS_PLATFORM and the REPLY_ACK and BACKEND_REQ protocol features: a
 * backend without one would read our whole memory table, which is what iotlb=1 says not
 * to allow, so it is refused rather than used without. */
int
vu_vhost_check_iotlb(struct vu_backend *b)
{
	const char *missing = NULL;

	if (!b->iotlb)
		return 0;
	if (!(b->features & (1ull << VU_F_ACCESS_PLATFORM)))
		missing = "VIRTIO_F_ACCESS_PLATFORM (feature bit 33)";
	else if (!(b->features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		missing = "VHOST_USER_F_PROTOCOL_FEATURES (feature bit 30)";
	else if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))
		missing = "VHOST_USER_PROTOCOL_F_REPLY_ACK (protocol feature bit 3)";
	else if (b->channel < 0)
		missing = "VHOST_USER_PROTOCOL_F_BACKEND_REQ (protocol feature bit 5) and its "
			  "channel";
	if (!missing)
		return 0;
	VU_ERR("%s: iotlb=1: backend %s does not offer %s; refusing it (no fallback to a "
	       "whole-memory table)",
	       b->name, b->path, missing);
	return -ENOTSUP;
}

/* "Front-end sends such requests to update and invalidate entries in the device IOTLB
 * ... This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature has been
 * successfully negotiated." The ack is awaited where REPLY_ACK is negotiated. */
static int
vu_vhost_iotlb_send(struct vu_backend *b, uint8_t type, const struct vu_iotlb_entry *e)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_IOTLB_MSG, sizeof(struct vu_vhost_iotlb_msg));
	msg.payload.iotlb = (struct vu_vhost_iotlb_msg){
		.iova = e->iova,
		.size = e->size,
		.uaddr = e->uaddr,
		.perm = type == VU_VHOST_IOTLB_UPDATE ? e->perm : 0,
		.type = type,
	};
	return vu_vhost_request(b, &msg, false);
}

/* Every allowed range, to a backend that has our memory table. DPDK 22.11's vhost keeps an
 * IOTLB per ring and fills only the rings that exist, so this goes again before each
 * SET_VRING_ADDR; a range it still misses is answered on the backend channel. */
int
vu_vhost_iotlb_flush(struct vu_backend *b, uint32_t idx)
{
	int rc = 0;

	if (!b->iotlb || !b->mem_sent || b->sock < 0)
		return 0;
	for (uint32_t i = 0; i < b->allowed.n && rc == 0; i++)
		rc = vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, &b->allowed.e[i]);
	if (rc == 0)
		VU_INFO("%s: IOTLB: %u ranges (rings and mempools) sent to %s for ring %u", b->name,
			b->allowed.n, b->path, idx);
	return rc;
}

int
vu_vhost_iotlb_map(struct vu_backend *b, uint64_t iova, uint64_t len, uint8_t perm)
{
	int rc;

	if (!b->iotlb)
		return -EOPNOTSUPP;
	rc = vu_iotlb_insert(&b->allowed, iova, len, iova, perm);
	if (rc < 0) {
		VU_ERR("%s: IOTLB: cannot allow 0x%llx+0x%llx: %s", b->name,
		       (unsigned long long)iova, (unsigned long long)len, strerror(-rc));
		return rc;
	}
	if (!b->mem_sent || b->sock < 0)
		return 0;
	return vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, vu_iotlb_find(&b->allowed, iova));
}

/* Forget the allowed ranges overlapping [iova, iova + len) and have the backend drop them
 * (the memory goes away: a ring released, a port closed). */
int
vu_vhost_iotlb_unmap(struct vu_backend *b, uint64_t iova, uint64_t len)
{
	uint32_t sent = 0;
	int rc = 0;

	if (!b->iotlb)
		return -EOPNOTSUPP;
	if (len == 0)
		return 0;
	for (uint32_t i = 0; i < b->allowed.n && rc == 0 && b->mem_sent && b->sock >= 0; i++) {
		const struct vu_iotlb_entry *e = &b->allowed.e[i];

		if (e->iova <= iova + (len - 1) && iova <= e->iova + (e->size - 1)) {
			rc = vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_INVALIDATE, e);
			sent += rc == 0;
		}
	}
	if (sent)
		VU_INFO("%s: IOTLB: %u ranges invalidated in %s", b->name, sent, b->path);
	vu_iotlb_remove(&b->allowed, iova, len);
	return rc;
}

uint64_t
vu_vhost_iotlb_refused(struct vu_backend *b)
{
	return b->iotlb_refused;
}

/* "VHOST_USER_BACKEND_IOTLB_MSG ... Back-end sends such requests to notify of an IOTLB
 * miss": answered with an IOTLB update of the allowed range holding the address, or
 * refused (non-zero ack when asked for one; counted, logged) when none does or it lacks
 * the permission. Returns the status to ack with. */
uint64_t
vu_vhost_iotlb_miss(struct vu_backend *b, const struct vu_vhost_msg *msg)
{
	const struct vu_vhost_iotlb_msg *m = &msg->payload.iotlb;
	const struct vu_iotlb_entry *e = NULL;

	if (msg->hdr.size == sizeof(*m) && m->type == VU_VHOST_IOTLB_MISS)
		e = vu_iotlb_find(&b->allowed, m->iova);
	if (e && (e->perm & m->perm) == m->perm && m->perm) {
		if (vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, e) == 0)
			return 0;
		return VU_VHOST_USER_REFUSED;
	}
	b->iotlb_refused++;
	if (b->iotlb_refused <= VU_VHOST_IOTLB_REFUSED_LOGGED)
		VU_WARN("%s: backend %s asked IOTLB type %u for 0x%llx (perm 0x%x), outside the "
			"memory it may touch: refused (%llu so far)",
			b->name, b->path, msg->hdr.size == sizeof(*m) ? m->type : 0,
			(unsigned long long)m->iova, m->perm, (unsigned long long)b->iotlb_refused);
	return VU_VHOST_USER_REFUSED;
}
