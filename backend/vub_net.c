/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub data path: virtio-net packets out of the frontend's Tx rings and into its Rx rings. */
#include <errno.h>
#include <string.h>

#include "vub_vq.h"

static struct vub_vq *
vub_enter(struct vub_dev *dev, uint16_t pair, bool tx)
{
	struct vub_vq *vq;

	if (pair >= dev->queue_pairs)
		return NULL;
	/* Receive queue 2N, transmit queue 2N+1 (virtio-net, spec 5.1.2). */
	vq = &dev->vqs[2 * pair + (tx ? 1 : 0)];
	if (__atomic_exchange_n(&vq->busy, 1, __ATOMIC_ACQUIRE))
		return NULL;
	/* "started but disabled: ... the back-end must not supply any new RX packets, but
	 * must process and discard any TX packets" (vhost-user, Ring states). */
	if (!vq->started || vq->broken || (!tx && !vq->enabled)) {
		vub_vq_leave(vq);
		return NULL;
	}
	return vq;
}

struct vub_vq *
vub_dequeue_enter(struct vub_dev *dev, uint16_t pair)
{
	return vub_enter(dev, pair, true);
}

struct vub_vq *
vub_enqueue_enter(struct vub_dev *dev, uint16_t pair)
{
	return vub_enter(dev, pair, false);
}

void
vub_vq_leave(struct vub_vq *vq)
{
	__atomic_store_n(&vq->busy, 0, __ATOMIC_RELEASE);
}

bool
vub_vq_flush(struct vub_vq *vq)
{
	return vq->packed ? vub_packed_flush(vq) : vub_split_flush(vq);
}

int
vub_vq_kick_mode(struct vub_vq *vq, enum vub_kick_mode mode)
{
	if (mode != VUB_KICK_POLLED && mode != VUB_KICK_NOTIFY) {
		VU_ERR("%s: vring %u: kick mode %d is neither polled nor notify: refused",
		       vq->dev->name, vq->index, (int)mode);
		return -EINVAL;
	}
	vq->kick_mode = mode;
	/* A ring the frontend broke has nothing to take until it is set up again (a
	 * message): "a buffer came" would send the caller back to it forever. */
	if (vq->broken)
		return 0;
	/* Nor has a ring whose next buffer waits for an IOTLB update: the update (or the
	 * ack of its miss) is a message, which wakes the caller anyway. */
	if (vub_vq_kicks(vq, mode == VUB_KICK_NOTIFY))
		return __atomic_load_n(&vq->miss_state, __ATOMIC_ACQUIRE) == VUB_MISS_NONE;
	return 0;
}

static void
vub_pkt_reset(const struct vub_vq *vq, struct vub_pkt *pkt)
{
	memset(&pkt->hdr, 0, sizeof(pkt->hdr));
	pkt->len = 0;
	pkt->hdr_len = vq->hdr_len;
	pkt->niov = 0;
	pkt->nchains = 0;
	pkt->avail_before = vq->last_avail;
	pkt->resubmit_before = vq->resubmit_pos;
	pkt->wrap_before = vq->avail_wrap;
}

/* Give back the buffers taken since begin: they are taken again next time. */
static void
vub_ring_rewind(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	if (vq->inflight)
		vub_split_inflight_rewind(vq, pkt);
	else if (vq->pinflight)
		vub_packed_inflight_rewind(vq, pkt);
	vq->last_avail = pkt->avail_before;
	vq->avail_wrap = pkt->wrap_before;
}

static void
vub_pkt_rollback(struct vub_vq *vq, struct vub_pkt *pkt)
{
	vub_ring_rewind(vq, pkt);
	pkt->niov = 0;
	pkt->nchains = 0;
}

/* Copy between buf and the buffers of pkt from byte off (header included). */
static uint32_t
vub_iov_copy(const struct vub_pkt *pkt, uint32_t off, void *buf, uint32_t len, bool to_iov)
{
	uint32_t done = 0;

	for (uint16_t i = 0; i < pkt->niov && done < len; i++) {
		const struct vub_iov *v = &pkt->iov[i];
		uint32_t n;

		if (off >= v->len) {
			off -= v->len;
			continue;
		}
		n = v->len - off < len - done ? v->len - off : len - done;
		if (to_iov)
			memcpy(v->base + off, (const uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, v->base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* The gso_type values and the feature each needs. */
static uint64_t
vub_gso_feature(uint8_t gso_type, bool to_driver)
{
	switch (gso_type) {
	case VU_NET_HDR_GSO_TCPV4:
		return VU_BIT(to_driver ? VU_NET_F_GUEST_TSO4 : VU_NET_F_HOST_TSO4);
	case VU_NET_HDR_GSO_TCPV6:
		return VU_BIT(to_driver ? VU_NET_F_GUEST_TSO6 : VU_NET_F_HOST_TSO6);
	default:
		return 0;
	}
}

/* What is wrong with the offload fields of hdr for a frame of len bytes, or NULL. "If
 * the gso_type differs from VIRTIO_NET_HDR_GSO_NONE, then the driver MUST also set the
 * VIRTIO_NET_HDR_F_NEEDS_CSUM bit in flags and MUST set gso_size" (5.1.6.2.1). */
static const char *
vub_hdr_error(const struct vu_net_hdr *hdr, uint32_t len)
{
	if ((hdr->flags & VU_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)hdr->csum_start + hdr->csum_offset + sizeof(uint16_t) > len)
		return "checksum field past the end of the frame";
	if (hdr->gso_type == VU_NET_HDR_GSO_NONE)
		return NULL;
	if (!(hdr->flags & VU_NET_HDR_F_NEEDS_CSUM))
		return "segmentation without VIRTIO_NET_HDR_F_NEEDS_CSUM";
	if (hdr->gso_size == 0)
		return "segmentation with gso_size 0";
	return NULL;
}

/* The frontend's header of a frame it sends: what it may ask the device (the features
 * negotiated), inside the frame; else cleared, and logged once per ring. "The driver MUST
 * NOT set the VIRTIO_NET_HDR_F_DATA_VALID ... bits" on transmit: ignored. */
static void
vub_tx_hdr_check(struct vub_vq *vq, struct vub_pkt *pkt)
{
	struct vu_net_hdr *hdr = &pkt->hdr;
	uint64_t need = vub_gso_feature(hdr->gso_type, false);
	const char *why = vub_hdr_error(hdr, pkt->len);

	hdr->flags &= VU_NET_HDR_F_NEEDS_CSUM;
	hdr->num_buffers = 0;
	if (hdr->flags)
		need |= VU_BIT(VU_NET_F_CSUM);
	if (hdr->gso_type != VU_NET_HDR_GSO_NONE && !vub_gso_feature(hdr->gso_type, false))
		why = "a gso_type the device does not offer";
	else if (!why && (vq->offloads & need) != need)
		why = "an offload not negotiated";
	if (!why)
		return;
	if (!vq->hdr_warned)
		VU_ERR("%s: vring %u: a frame's header asks for %s (flags 0x%x, gso_type %u, "
		       "csum_start %u, csum_offset %u, %u bytes): offloads cleared",
		       vq->dev->name, vq->index, why, hdr->flags, hdr->gso_type, hdr->csum_start,
		       hdr->csum_offset, pkt->len);
	vq->hdr_warned = true;
	memset(hdr, 0, sizeof(*hdr));
}

int
vub_dequeue_begin(struct vub_vq *vq, struct vub_pkt *pkt)
{
	for (;;) {
		int rc;

		vub_pkt_reset(vq, pkt);
		rc = vub_vq_pop(vq, false, pkt);
		/* An IOTLB miss: asked for, the chain taken again at a later burst. */
		if (rc == -EAGAIN) {
			vub_pkt_rollback(vq, pkt);
			return 0;
		}
		if (rc == -E2BIG) {
			vub_vq_break(vq, "transmit chain at descriptor %u has more than %u buffers",
				     pkt->chains[0].head, VUB_PKT_MAX_IOV);
			return -EIO;
		}
		if (rc <= 0)
			return rc;
		if (pkt->chains[0].cap < pkt->hdr_len) {
			vub_vq_break(vq,
				     "transmit chain at descriptor %u holds %u bytes, less "
				     "than the %u-byte virtio-net header",
				     pkt->chains[0].head, pkt->chains[0].cap, pkt->hdr_len);
			return -EIO;
		}
		pkt->len = pkt->chains[0].cap - pkt->hdr_len;
		if (vq->enabled) {
			vub_iov_copy(pkt, 0, &pkt->hdr, pkt->hdr_len, false);
			vub_tx_hdr_check(vq, pkt);
			return 1;
		}
		/* Disabled: processed and discarded. */
		vub_vq_used(vq, pkt, 0);
	}
}

void
vub_dequeue_end(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	/* Nothing written into a transmit buffer: used length 0. */
	vub_vq_used(vq, pkt, 0);
}

void
vub_dequeue_abort(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	vub_ring_rewind(vq, pkt);
}

/* One more receive chain for pkt: 1, or what ends the reservation (0, -EMSGSIZE, -EIO),
 * the ring put back where it stood unless it broke. */
static int
vub_enqueue_chain(struct vub_vq *vq, struct vub_pkt *pkt)
{
	uint16_t first = pkt->niov;
	int rc = vub_vq_pop(vq, true, pkt);

	if (rc == -E2BIG && first == 0) {
		vub_vq_break(vq, "receive chain at descriptor %u has more than %u buffers",
			     pkt->chains[pkt->nchains].head, VUB_PKT_MAX_IOV);
		return -EIO;
	}
	if (rc == 0 || rc == -E2BIG || rc == -EAGAIN) {
		vub_pkt_rollback(vq, pkt);
		return rc == -E2BIG ? -EMSGSIZE : 0;
	}
	if (rc < 0)
		return rc;
	/* "If VIRTIO_NET_F_MRG_RXBUF is negotiated, each buffer MUST be at least the size
	 * of the struct virtio_net_hdr" (5.1.6.3.1); without it one buffer holds it all. */
	if (pkt->chains[pkt->nchains - 1].cap < pkt->hdr_len) {
		vub_vq_break(vq,
			     "receive chain at descriptor %u holds %u bytes, less than the "
			     "%u-byte virtio-net header",
			     pkt->chains[pkt->nchains - 1].head, pkt->chains[pkt->nchains - 1].cap,
			     pkt->hdr_len);
		return -EIO;
	}
	return 1;
}

int
vub_enqueue_begin(struct vub_vq *vq, uint32_t len, struct vub_pkt *pkt)
{
	uint64_t need, cap = 0;

	vub_pkt_reset(vq, pkt);
	need = (uint64_t)pkt->hdr_len + len;
	if (need > UINT32_MAX)
		return -EMSGSIZE;
	while (cap < need) {
		int rc = vub_enqueue_chain(vq, pkt);

		if (rc <= 0)
			return rc;
		cap += pkt->chains[pkt->nchains - 1].cap;
		/* "The device MUST use only a single descriptor if VIRTIO_NET_F_MRG_RXBUF
		 * was not negotiated." */
		if (!vq->mrg)
			break;
	}
	if (cap < need) {
		vub_pkt_rollback(vq, pkt);
		return -EMSGSIZE;
	}
	pkt->len = len;
	return 1;
}

int
vub_enqueue_offload(struct vub_vq *vq, struct vub_pkt *pkt, const struct vu_net_hdr *hdr)
{
	uint64_t need = vub_gso_feature(hdr->gso_type, true);

	if ((hdr->gso_type != VU_NET_HDR_GSO_NONE && !need) || vub_hdr_error(hdr, pkt->len) ||
	    (hdr->flags & ~(VU_NET_HDR_F_NEEDS_CSUM | VU_NET_HDR_F_DATA_VALID)))
		return -EINVAL;
	if (hdr->flags)
		need |= VU_BIT(VU_NET_F_GUEST_CSUM);
	if ((vq->offloads & need) != need)
		return -ENOTSUP;
	pkt->hdr = *hdr;
	return 0;
}

void
vub_enqueue_end(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	struct vu_net_hdr hdr = pkt->hdr;

	/* num_buffers: "the number of descriptors used to hold the incoming packet" with
	 * MRG_RXBUF, and "MUST set num_buffers to 1" without it. The rest is what
	 * vub_enqueue_offload set, else zero (VIRTIO_NET_HDR_GSO_NONE, no flags). */
	hdr.num_buffers = pkt->nchains;
	vub_iov_copy(pkt, 0, &hdr, pkt->hdr_len, true);
	vub_vq_used(vq, pkt, pkt->hdr_len + pkt->len);
}

void
vub_enqueue_abort(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	vub_ring_rewind(vq, pkt);
}

uint16_t
vub_enqueue_reserve(struct vub_vq *vq, struct vub_buf *bufs, uint16_t n)
{
	if (vq->broken)
		return 0;
	return vub_vq_reserve(vq, true, 0, bufs, n);
}

/* A header already holding what it must is left alone (DPDK's vhost does the same): only
 * read, its line stays shared with the driver, which reads num_buffers there (MRG_RXBUF)
 * or writes its next transmit header; written, the line is taken from it every frame. */
static inline void
vub_hdr_put(uint8_t *at, const struct vu_net_hdr *hdr, size_t len)
{
	if (memcmp(at, hdr, len) != 0)
		memcpy(at, hdr, len);
}

void
vub_enqueue_commit(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n)
{
	/* What vub_enqueue_end writes for a frame in one buffer without offloads. */
	const struct vu_net_hdr hdr = { .num_buffers = 1 };

	/* A constant size lets the compiler compare and store the header inline. */
	if (vq->hdr_len == sizeof(hdr))
		for (uint16_t i = 0; i < n; i++)
			vub_hdr_put(bufs[i].frame - sizeof(hdr), &hdr, sizeof(hdr));
	else
		for (uint16_t i = 0; i < n; i++)
			vub_hdr_put(bufs[i].frame - vq->hdr_len, &hdr, vq->hdr_len);
	vub_vq_used_bufs(vq, bufs, n, true);
}

uint16_t
vub_dequeue_reserve(struct vub_vq *vq, uint32_t max_len, struct vub_buf *bufs, uint16_t n)
{
	/* A disabled ring's frames are discarded by vub_dequeue_begin. */
	if (vq->broken || !vq->enabled)
		return 0;
	return vub_vq_reserve(vq, false, max_len, bufs, n);
}

void
vub_dequeue_commit(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n)
{
	/* Nothing written into a transmit buffer: used length 0. */
	vub_vq_used_bufs(vq, bufs, n, false);
}

uint32_t
vub_pkt_read(const struct vub_pkt *pkt, uint32_t off, void *dst, uint32_t len)
{
	if (off >= pkt->len)
		return 0;
	if (len > pkt->len - off)
		len = pkt->len - off;
	return vub_iov_copy(pkt, pkt->hdr_len + off, dst, len, false);
}

uint32_t
vub_pkt_write(const struct vub_pkt *pkt, uint32_t off, const void *src, uint32_t len)
{
	if (off >= pkt->len)
		return 0;
	if (len > pkt->len - off)
		len = pkt->len - off;
	return vub_iov_copy(pkt, pkt->hdr_len + off, (void *)(uintptr_t)src, len, true);
}
