/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub ring basics both layouts share: stopping a ring, finding its parts, packet buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vub_priv.h"

/* Stop a ring the frontend broke, once: logged with why, and its err fd signalled. */
void
vub_vq_break(struct vub_vq *vq, const char *fmt, ...)
{
	struct vub_dev *dev = vq->dev;
	char why[256];
	va_list ap;

	if (vq->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vq->broken = true;
	/* SET_VRING_ERR: "the event file descriptor to signal when error occurs". Signalled
	 * before the log line, so whoever sees the line finds the fd signalled. */
	dev->t->ops->vring_err(dev->t, vq->index, vq->err_fd);
	VU_ERR("%s: vring %u stopped: %s", dev->name, vq->index, why);
	/* The control path sets DEVICE_NEEDS_RESET and tells the frontend (vub_dev_on_wake):
	 * a burst never waits on the backend channel. */
	__atomic_store_n(&dev->ring_broke, 1, __ATOMIC_RELEASE);
	vub_dev_wake(dev);
}

/* A used buffer notification through the transport; true when one went out. A ring with
 * no call fd (none set, or "invalid FD": the frontend polls) has nobody to tell. */
bool
vub_vq_call(struct vub_vq *vq)
{
	struct vub_dev *dev = vq->dev;

	return dev->t->ops->vring_call(dev->t, vq->index, vq->call_fd) == 0 && vq->call_fd >= 0;
}

/* One part of a ring (what: for the log) inside one memory region and aligned, or NULL. */
void *
vub_ring_part(struct vub_vq *vq, const char *what, uint64_t uaddr, uint64_t len, uint32_t align,
	      uint8_t perm)
{
	void *p;

	/* IOTLB mode: "the ring addresses are IOVAs" (logged there). */
	if (vq->iotlb) {
		p = vub_iotlb_ring_part(vq, what, uaddr, len, perm);
		if (!p)
			return NULL;
	} else {
		p = vub_mem_uva(vq->dev, uaddr, len);
	}
	if (!p) {
		VU_ERR("%s: vring %u: %s at 0x%llx (%llu bytes) is not inside one memory region",
		       vq->dev->name, vq->index, what, (unsigned long long)uaddr,
		       (unsigned long long)len);
		return NULL;
	}
	/* Misaligned ring fields cannot be accessed atomically. */
	if ((uintptr_t)p % align) {
		VU_ERR("%s: vring %u: %s at 0x%llx is not aligned to %u bytes", vq->dev->name,
		       vq->index, what, (unsigned long long)uaddr, align);
		return NULL;
	}
	return p;
}

/* Append one buffer piece to pkt: 0, -E2BIG when pkt is full, -EFAULT when the piece is
 * not wholly inside one memory region, -EOVERFLOW past 4 GiB. IOTLB mode (one branch):
 * -EAGAIN on a miss, -EACCES or -ENXIO when denied (vub_iotlb_pkt_add). */
int
vub_pkt_add(struct vub_vq *vq, struct vub_pkt *pkt, uint64_t addr, uint32_t len, uint32_t *cap,
	    bool writable)
{
	void *p;

	if (len == 0)
		return 0;
	/* "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total". */
	if (*cap + len < *cap)
		return -EOVERFLOW;
	if (vq->iotlb)
		return vub_iotlb_pkt_add(vq, pkt, addr, len, cap, writable);
	if (pkt->niov == VUB_PKT_MAX_IOV)
		return -E2BIG;
	p = vub_mem_gpa(vq->dev, addr, len);
	if (!p)
		return -EFAULT;
	pkt->iov[pkt->niov].base = p;
	pkt->iov[pkt->niov].len = len;
	pkt->niov++;
	*cap += len;
	return 0;
}

const char *
vub_pkt_add_error(int rc)
{
	switch (rc) {
	case -E2BIG:
		return "more than " VUB_STR(VUB_PKT_MAX_IOV) " buffers for one packet";
	case -EOVERFLOW:
		return "chain longer than 2^32 bytes";
	case -EACCES:
		return "buffer's IOTLB entry lacks the permission the device needs (IOTLB denied)";
	case -ENXIO:
		return "buffer's IOTLB entry is not inside one memory region (IOTLB denied)";
	default:
		return "buffer is not inside one memory region";
	}
}
