/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub ring start: a kicked ring found in memory (the table, or the IOTLB) and set going. */
#include <errno.h>

#include "vub_vq.h"

/* Start the ring: everything it needs is set and inside the memory table. In IOTLB mode
 * a ring whose addresses miss waits (0, not started) for their update. */
int
vub_vq_start(struct vub_dev *dev, struct vub_vq *vq)
{
	const char *missing = NULL;

	vq->iotlb_wait = false;

	if (vq->size == 0)
		missing = "SET_VRING_NUM";
	else if (!vq->addr_set)
		missing = "SET_VRING_ADDR";
	else if (dev->mem.nregions == 0)
		missing = "SET_MEM_TABLE";
	if (missing) {
		VU_ERR("%s: SET_VRING_KICK on vring %u before %s: the ring stays stopped",
		       dev->name, vq->index, missing);
		return -EINVAL;
	}
	vq->packed = vub_packed_negotiated(dev);
	if (vq->packed && vq->last_avail >= vq->size) {
		VU_ERR("%s: SET_VRING_KICK on vring %u: its base %u is past its %u descriptors: "
		       "the ring stays stopped",
		       dev->name, vq->index, vq->last_avail, vq->size);
		return -EINVAL;
	}
	/* "When the VIRTIO_F_IOMMU_PLATFORM feature has been negotiated ... the ring
	 * addresses are IOVAs" (vhost-user, IOMMU support): and so are buffer addresses. */
	vq->iotlb = dev->features & VU_BIT(VU_F_ACCESS_PLATFORM);
	vq->iotlb_hit.size = 0;
	if (vub_vq_translate(vq) < 0) {
		if (!vq->iotlb || vq->miss_state == VUB_MISS_NONE)
			return -EFAULT;
		vq->iotlb_wait = true;
		return 0;
	}
	if (!vq->packed)
		vub_split_resume(vq);
	if (vub_inflight_resume(vq) < 0)
		VU_ERR("%s: vring %u: no memory to resubmit its buffers in flight: it goes on "
		       "untracked from its used position",
		       dev->name, vq->index);
	vq->hdr_len = vu_net_hdr_size(dev->features);
	vq->mrg = dev->features & VU_BIT(VU_NET_F_MRG_RXBUF);
	vq->indirect = dev->features & VU_BIT(VU_F_RING_INDIRECT_DESC);
	vq->event_idx = dev->features & VU_BIT(VU_F_RING_EVENT_IDX);
	vq->offloads = dev->features & VUB_OFFLOAD_FEATURES;
	vq->hdr_warned = false;
	vq->unflushed = 0;
	vq->used_held = false;
	/* Polled: "The device uses this in used->flags to advise the driver: don't kick me"
	 * (packed: RING_EVENT_FLAGS_DISABLE); kick-driven: a kick at the next buffer. */
	vub_vq_kicks(vq, vq->kick_mode == VUB_KICK_NOTIFY);
	vq->broken = false;
	vq->started = true;
	return 0;
}
