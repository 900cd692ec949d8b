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

/* A descriptor the burst fast path takes into b: alone (no NEXT, no INDIRECT), of the
 * ring's direction, holding the header and b->len frame bytes (receive) or at most max_len
 * (transmit, its header asking no offload), wholly inside one memory region as vub_pkt_add
 * checks it. Else false: the per-frame pop takes it, and refuses what is wrong with it. */
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
	p = vub_fast_gpa(vq->dev, addr, len);
	if (!p)
		return false;
	if (!writable) {
		const struct vu_net_hdr *hdr = (const struct vu_net_hdr *)p;

		if (hdr->flags || hdr->gso_type != VU_NET_HDR_GSO_NONE)
			return false;
		b->len = len - vq->hdr_len;
	}
	b->frame = p + vq->hdr_len;
	return true;
}

#endif /* VUB_BURST_H */
