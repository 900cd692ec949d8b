/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub burst fast path: the descriptor check both ring layouts share. */
#ifndef VUB_BURST_H
#define VUB_BURST_H

#include "vub_priv.h"

/* vub_mem_gpa's first try inline: the region the last translation hit, the same check as
 * vub_region_holds ([gpa, gpa + len) wholly inside it); any other region through the call. */
static inline void *
vub_fast_gpa(struct vub_dev *dev, uint64_t gpa, uint64_t len)
{
	struct vub_mem *mem = &dev->mem;
	uint32_t hint = __atomic_load_n(&mem->last_hit, __ATOMIC_RELAXED);

	if (hint < __atomic_load_n(&mem->nregions, __ATOMIC_ACQUIRE)) {
		const struct vub_region *r = &mem->regions[hint];
		uint64_t off = gpa - r->gpa;

		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return vub_mem_gpa(dev, gpa, len);
}

/* IOTLB mode's first try inline: the ring's last entry hit, wholly holding [iova, iova +
 * len) with perm; any other entry through the call. Neither asks a miss nor counts a
 * denial: a buffer they do not find is the per-frame path's, which does both. */
static inline void *
vub_fast_iova(struct vub_vq *vq, uint64_t iova, uint64_t len, uint8_t perm)
{
	uint64_t off = iova - vq->iotlb_hit.iova;

	if (off < vq->iotlb_hit.size && len <= vq->iotlb_hit.size - off &&
	    (vq->iotlb_hit.perm & perm) == perm)
		return vq->iotlb_hit.host + off;
	return vub_iotlb_fast(vq, iova, len, perm);
}

/* A descriptor the burst fast path takes into b: alone (no NEXT, no INDIRECT), of the
 * ring's direction, holding the header and b->len frame bytes (receive) or at most max_len
 * (transmit, its header asking no offload: read only when the ring negotiated one, see
 * below), wholly inside one memory region as vub_pkt_add
 * checks it (IOTLB mode: inside one IOTLB entry granting the access, "the buffer addresses
 * are IOVAs"). Else false: the per-frame pop takes it, and refuses what is wrong with it
 * (or asks the miss). */
static inline bool
vub_fast_desc(struct vub_vq *vq, uint64_t addr, uint32_t len, uint16_t flags, bool writable,
	      uint32_t max_len, struct vub_buf *b)
{
	uint8_t *p;

	if ((flags & (VU_DESC_F_NEXT | VU_DESC_F_INDIRECT)) || !vub_direction_ok(flags, writable) ||
	    len < vq->hdr_len)
		return false;
	if (writable ? len - vq->hdr_len < b->len : len - vq->hdr_len > max_len)
		return false;
	p = vq->iotlb ?
		vub_fast_iova(vq, addr, len, writable ? VU_IOTLB_PERM_WO : VU_IOTLB_PERM_RO) :
		vub_fast_gpa(vq->dev, addr, len);
	if (!p)
		return false;
	if (!writable) {
		const struct vu_net_hdr *hdr = (const struct vu_net_hdr *)p;

		/* "If VIRTIO_NET_F_CSUM is not negotiated, the driver MUST set flags to zero",
		 * and gso_type to GSO_NONE without HOST_TSO (refused without CSUM): then the
		 * header, often a cache line of its own, is not read, as DPDK's vhost does. */
		if ((vq->offloads & VU_BIT(VU_NET_F_CSUM)) &&
		    (hdr->flags || hdr->gso_type != VU_NET_HDR_GSO_NONE))
			return false;
		b->len = len - vq->hdr_len;
	}
	b->frame = p + vq->hdr_len;
	/* The lines the caller's copy meets next, often in the frontend's cache: asked for as
	 * the burst is reserved, so their misses overlap instead of stalling the copy one
	 * buffer at a time (a receive buffer's header is read first, and written only when it
	 * differs: vub_enqueue_commit). */
	if (writable) {
		__builtin_prefetch(p, 0, 3);
		vu_prefetch_write(b->frame);
	} else {
		__builtin_prefetch(b->frame, 0, 3);
	}
	return true;
}

#endif /* VUB_BURST_H */
