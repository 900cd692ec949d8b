/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub ring dispatch: split or packed by the ring's layout, for the files above both. */
#ifndef VUB_VQ_H
#define VUB_VQ_H

#include "vub_priv.h"

/* Inline: pop and used run per packet. The layouts' contract is in vub_priv.h. */
static inline int
vub_vq_pop(struct vub_vq *vq, bool writable, struct vub_pkt *pkt)
{
	return vq->packed ? vub_packed_pop(vq, writable, pkt) : vub_split_pop(vq, writable, pkt);
}

static inline void
vub_vq_used(struct vub_vq *vq, const struct vub_pkt *pkt, uint32_t total)
{
	if (vq->packed)
		vub_packed_used(vq, pkt, total);
	else
		vub_split_used(vq, pkt, total);
}

static inline uint16_t
vub_vq_reserve(struct vub_vq *vq, bool writable, uint32_t max_len, struct vub_buf *bufs, uint16_t n)
{
	/* Buffers a previous backend left in flight go first, through the per-frame path,
	 * which resubmits them. */
	if (vq->resubmit_pos < vq->nresubmit)
		return 0;
	return vq->packed ? vub_packed_reserve(vq, writable, max_len, bufs, n) :
			    vub_split_reserve(vq, writable, max_len, bufs, n);
}

static inline void
vub_vq_used_bufs(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n, bool written)
{
	if (vq->packed)
		vub_packed_used_bufs(vq, bufs, n, written);
	else
		vub_split_used_bufs(vq, bufs, n, written);
}

static inline bool
vub_vq_kicks(struct vub_vq *vq, bool on)
{
	return vq->packed ? vub_packed_kicks(vq, on) : vub_split_kicks(vq, on);
}

static inline int
vub_vq_translate(struct vub_vq *vq)
{
	return vq->packed ? vub_packed_translate(vq) : vub_split_translate(vq);
}

#endif /* VUB_VQ_H */
