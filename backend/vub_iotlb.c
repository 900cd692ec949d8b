/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub IOTLB mode's translations: ring and buffer IOVAs through the frontend's updates. */
#include <errno.h>
#include <string.h>

#include "vub_priv.h"

const char *
vub_iotlb_perm_name(uint8_t perm)
{
	switch (perm) {
	case VU_IOTLB_PERM_RO:
		return "read";
	case VU_IOTLB_PERM_WO:
		return "write";
	default:
		return "read-write";
	}
}

/* Called with every ring locked, after the IOTLB or the memory table changed. */
void
vub_iotlb_forget_hits(struct vub_dev *dev)
{
	for (uint16_t i = 0; i < vub_dev_nvrings(dev); i++)
		dev->vqs[i].iotlb_hit.size = 0;
}

/* The longest prefix of [iova, iova + len) inside one IOTLB entry granting perm, where it
 * lies in this process: 0 with *host and *got; -ENOENT (no entry holds iova), -EACCES
 * (the entry lacks perm) or -EFAULT (its user address left the memory table). The entry
 * last hit is tried first: a burst's buffers mostly sit in one mempool. */
static int
vub_iotlb_lookup(struct vub_vq *vq, uint64_t iova, uint64_t len, uint8_t perm, uint8_t **host,
		 uint64_t *got)
{
	uint64_t off = iova - vq->iotlb_hit.iova;

	if (off >= vq->iotlb_hit.size) {
		const struct vu_iotlb_entry *e = vu_iotlb_find(&vq->dev->iotlb, iova);
		uint8_t *base;

		if (!e)
			return -ENOENT;
		base = vub_mem_uva(vq->dev, e->uaddr, e->size);
		if (!base)
			return -EFAULT;
		vq->iotlb_hit.iova = e->iova;
		vq->iotlb_hit.size = e->size;
		vq->iotlb_hit.host = base;
		vq->iotlb_hit.perm = e->perm;
		off = iova - e->iova;
	}
	if ((vq->iotlb_hit.perm & perm) != perm)
		return -EACCES;
	*host = vq->iotlb_hit.host + off;
	*got = vq->iotlb_hit.size - off < len ? vq->iotlb_hit.size - off : len;
	return 0;
}

/* Ask the frontend for iova (one miss per ring at a time): the control path sends it
 * (vub_iotlb_send_misses), never a burst. */
static int
vub_iotlb_want(struct vub_vq *vq, uint64_t iova, uint8_t perm)
{
	if (__atomic_load_n(&vq->miss_state, __ATOMIC_ACQUIRE) == VUB_MISS_NONE) {
		vq->miss_iova = iova;
		vq->miss_perm = perm;
		__atomic_store_n(&vq->miss_state, VUB_MISS_WANTED, __ATOMIC_RELEASE);
		vub_dev_wake(vq->dev);
	}
	return -EAGAIN;
}

int
vub_iotlb_pkt_add(struct vub_vq *vq, struct vub_pkt *pkt, uint64_t iova, uint32_t len,
		  uint32_t *cap, bool writable)
{
	uint8_t perm = writable ? VU_IOTLB_PERM_WO : VU_IOTLB_PERM_RO;

	/* A buffer may span entries (two mempool chunks): one piece per entry. */
	while (len) {
		uint8_t *host;
		uint64_t got;
		int rc = vub_iotlb_lookup(vq, iova, len, perm, &host, &got);

		if (rc == -ENOENT)
			return vub_iotlb_want(vq, iova, perm);
		if (rc < 0) {
			vub_iotlb_count(&vq->iotlb_denied);
			return rc == -EFAULT ? -ENXIO : rc;
		}
		if (pkt->niov == VUB_PKT_MAX_IOV)
			return -E2BIG;
		pkt->iov[pkt->niov].base = host;
		pkt->iov[pkt->niov].len = (uint32_t)got;
		pkt->niov++;
		*cap += (uint32_t)got;
		iova += got;
		len -= (uint32_t)got;
	}
	return 0;
}

void *
vub_iotlb_fast(struct vub_vq *vq, uint64_t iova, uint64_t len, uint8_t perm)
{
	uint8_t *host;
	uint64_t got;

	if (vub_iotlb_lookup(vq, iova, len, perm, &host, &got) < 0 || got < len)
		return NULL;
	return host;
}

void *
vub_iotlb_table(struct vub_vq *vq, uint64_t iova, uint32_t len, int *rc)
{
	uint8_t *host;
	uint64_t got;

	*rc = vub_iotlb_lookup(vq, iova, len, VU_IOTLB_PERM_RO, &host, &got);
	if (*rc == -ENOENT) {
		*rc = vub_iotlb_want(vq, iova, VU_IOTLB_PERM_RO);
		return NULL;
	}
	if (*rc == 0 && got < len)
		*rc = -EFAULT; /* a table is read in place: one entry */
	if (*rc == 0)
		return host;
	vub_iotlb_count(&vq->iotlb_denied);
	return NULL;
}

void *
vub_iotlb_ring_part(struct vub_vq *vq, const char *what, uint64_t iova, uint64_t len, uint8_t perm)
{
	struct vub_dev *dev = vq->dev;
	uint64_t uaddr = 0, miss = 0;
	int rc = vu_iotlb_translate(&dev->iotlb, iova, len, perm, &uaddr, &miss);
	void *p = NULL;
	const char *why;

	if (rc == -ENOENT) {
		VU_DEBUG("%s: vring %u: %s at IOVA 0x%llx misses 0x%llx in the IOTLB", dev->name,
			 vq->index, what, (unsigned long long)iova, (unsigned long long)miss);
		vub_iotlb_want(vq, miss, perm);
		return NULL;
	}
	if (rc == 0)
		p = vub_mem_uva(dev, uaddr, len);
	if (p)
		return p;
	why = rc == -EACCES   ? "its IOTLB entry lacks that permission" :
		rc == -EFAULT ? "it spans IOTLB entries" :
				"its user address is not inside one memory region";
	vub_iotlb_count(&vq->iotlb_denied);
	VU_ERR("%s: vring %u: %s at IOVA 0x%llx (%llu bytes, %s): %s: denied", dev->name, vq->index,
	       what, (unsigned long long)iova, (unsigned long long)len, vub_iotlb_perm_name(perm),
	       why);
	return NULL;
}

void
vub_dev_iotlb_stats(const struct vub_dev *dev, uint16_t vring, uint64_t *misses, uint64_t *denied)
{
	*misses = *denied = 0;
	if (vring >= vub_dev_nvrings(dev))
		return;
	*misses = __atomic_load_n(&dev->vqs[vring].iotlb_misses, __ATOMIC_RELAXED);
	*denied = __atomic_load_n(&dev->vqs[vring].iotlb_denied, __ATOMIC_RELAXED);
}
