/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub split ring, device side (virtio 1.2, 2.7): taking available buffers, marking used. */
#include <errno.h>
#include <string.h>

#include "vub_burst.h"

/* Virtio 1.2, 2.7: "Descriptor Table 16, Available Ring 2, Used Ring 4" (alignment) and
 * "16 * (Queue Size)", "6 + 2 * (Queue Size)", "6 + 8 * (Queue Size)" (bytes). */
#define VUB_DESC_ALIGN 16u
#define VUB_AVAIL_ALIGN 2u
#define VUB_USED_ALIGN 4u
#define VUB_RING_HDR_BYTES 6u

/* Find the ring's parts in the memory table: each wholly inside one region. */
int
vub_split_translate(struct vub_vq *vq)
{
	uint64_t n = vq->size;
	void *desc, *avail, *used;

	/* IOTLB permissions: the device reads the descriptors and the available ring, and
	 * reads (its index on restart) and writes the used ring. One part at a time: a
	 * miss is asked for one address. */
	desc = vub_ring_part(vq, "descriptor table", vq->desc_uaddr, sizeof(struct vu_desc) * n,
			     VUB_DESC_ALIGN, VU_IOTLB_PERM_RO);
	if (!desc)
		return -EFAULT;
	avail = vub_ring_part(vq, "available ring", vq->avail_uaddr,
			      VUB_RING_HDR_BYTES + sizeof(uint16_t) * n, VUB_AVAIL_ALIGN,
			      VU_IOTLB_PERM_RO);
	if (!avail)
		return -EFAULT;
	used = vub_ring_part(vq, "used ring", vq->used_uaddr,
			     VUB_RING_HDR_BYTES + sizeof(struct vu_used_elem) * n, VUB_USED_ALIGN,
			     VU_IOTLB_PERM_RW);
	if (!used)
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	return 0;
}

/* Where a started split ring resumes: its used index in memory. The device returns every
 * buffer it took before a ring stops, so that index is where it stopped; a frontend that
 * comes back without asking (DPDK's virtio_user in server mode sends base 0 after a
 * backend reconnect) would else have its buffers taken twice. DPDK's vhost does the same,
 * libvhost-user for devices that use buffers in order. */
void
vub_split_resume(struct vub_vq *vq)
{
	uint16_t used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);

	/* No avail entry is known yet: the index is read at the first pop. */
	vq->avail_idx = used;
	if (used == vq->last_avail)
		return;
	VU_INFO("%s: vring %u resumes at its used index %u, not at the base %u it was given",
		vq->dev->name, vq->index, used, vq->last_avail);
	vq->last_avail = vq->used_idx = vq->published = used;
}

/* Head of the next available chain: 1, 0 when there is none, -EIO when the ring is
 * broken. Buffers a previous backend left in flight come first (vub_inflight_resume).
 * The avail index is read again only when the entries it covered are taken: one
 * shared-memory read per burst, not per chain. */
static int
vub_split_next_head(struct vub_vq *vq, uint16_t *head)
{
	uint16_t pending = (uint16_t)(vq->avail_idx - vq->last_avail);

	if (vq->resubmit_pos < vq->nresubmit) {
		*head = vq->resubmit[vq->resubmit_pos++];
		return 1;
	}
	if (pending == 0) {
		/* Acquire: the ring slots are read only after the index that covers them. */
		vq->avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		pending = (uint16_t)(vq->avail_idx - vq->last_avail);
		if (pending == 0)
			return 0;
	}
	/* "A driver MUST NOT decrement the available idx": more entries than the ring has
	 * means the index went backwards or jumped. */
	if (pending > vq->size) {
		vub_vq_break(vq,
			     "avail index %u is %u entries past the last one taken (%u), more "
			     "than the ring's %u",
			     vq->avail_idx, pending, vq->last_avail, vq->size);
		return -EIO;
	}
	*head = vq->avail->ring[vq->last_avail & (vq->size - 1)];
	if (*head >= vq->size) {
		vub_vq_break(vq, "avail slot %u names descriptor %u of a table of %u",
			     vq->last_avail & (vq->size - 1), *head, vq->size);
		return -EIO;
	}
	vq->last_avail++;
	return 1;
}

/* A descriptor with VIRTQ_DESC_F_INDIRECT: find its table (0), or say what is wrong
 * (-EIO with *why), or -EAGAIN (IOTLB miss asked for). */
static int
vub_split_indirect(struct vub_vq *vq, const struct vu_desc *d, bool in_table,
		   const struct vu_desc **table, uint32_t *count, const char **why)
{
	int rc = 0;

	*why = NULL;
	if (!vq->indirect)
		*why = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
	/* "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag within an indirect
	 * descriptor" nor "both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT". */
	else if (in_table)
		*why = "indirect descriptor inside an indirect table";
	else if (d->flags & VU_DESC_F_NEXT)
		*why = "indirect descriptor with VIRTQ_DESC_F_NEXT";
	else if (d->len == 0 || d->len % sizeof(struct vu_desc) ||
		 d->len / sizeof(struct vu_desc) > VUB_MAX_QUEUE_SIZE)
		*why = "indirect table length is not 1 to 32768 descriptors";
	if (*why)
		return -EIO;
	*table = vq->iotlb ? vub_iotlb_table(vq, d->addr, d->len, &rc) :
			     vub_mem_gpa(vq->dev, d->addr, d->len);
	if (rc == -EAGAIN)
		return rc;
	if (!*table) {
		*why = vq->iotlb ? "indirect table is not inside one readable IOTLB entry (IOTLB "
				   "denied)" :
				   "indirect table is not inside one memory region";
		return -EIO;
	}
	*count = d->len / sizeof(struct vu_desc);
	return 0;
}

/*
 * Walk the chain at head into pkt (appending), describing it in *c. Every descriptor is
 * read once into a local: the frontend may change the table meanwhile. Returns 0, -E2BIG
 * when pkt is full (the caller decides), -EAGAIN on an IOTLB miss (put back), or -EIO when the chain is broken (logged, the
 * ring stopped).
 */
static int
vub_split_walk(struct vub_vq *vq, uint16_t head, bool writable, struct vub_pkt *pkt,
	       struct vub_chain *c)
{
	const struct vu_desc *table = vq->desc;
	uint32_t count = vq->size, idx = head, hops = 0;
	bool in_table = false;
	const char *why;
	struct vu_desc d;
	int rc;

	c->head = head;
	c->ndesc = 0;
	c->cap = 0;
	for (;;) {
		if (idx >= count) {
			why = "next descriptor is outside the table";
			goto broken;
		}
		/* "A driver MUST NOT create a descriptor chain longer than the Queue Size":
		 * a longer walk is a loop. */
		if (++hops > count) {
			why = "chain longer than its table (a loop)";
			goto broken;
		}
		memcpy(&d, &table[idx], sizeof(d));
		if (!in_table)
			c->ndesc++;
		if (d.flags & VU_DESC_F_INDIRECT) {
			rc = vub_split_indirect(vq, &d, in_table, &table, &count, &why);
			if (rc == -EAGAIN)
				return rc;
			if (rc < 0)
				goto broken;
			in_table = true;
			idx = 0;
			hops = 0;
			continue;
		}
		if (!vub_direction_ok(d.flags, writable)) {
			why = "device-readable buffer in a receive chain";
			goto broken;
		}
		rc = vub_pkt_add(vq, pkt, d.addr, d.len, &c->cap, writable);
		if (rc == -E2BIG || rc == -EAGAIN)
			return rc;
		if (rc < 0) {
			why = vub_pkt_add_error(rc);
			goto broken;
		}
		if (!(d.flags & VU_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
broken:
	vub_vq_break(vq, "chain at descriptor %u, %s %u: %s", head,
		     in_table ? "indirect entry" : "descriptor", idx, why);
	return -EIO;
}

/* Inflight tracking: a chain taken is marked before it is used, with its order of
 * taking ("counter ... preserved for resubmission order"). */
static inline void
vub_split_track(struct vub_vq *vq, uint16_t head)
{
	vq->inflight->desc[head].counter = vq->inflight_counter++;
	vq->inflight->desc[head].inflight = 1;
}

int
vub_split_pop(struct vub_vq *vq, bool writable, struct vub_pkt *pkt)
{
	bool resubmitted = vq->resubmit_pos < vq->nresubmit;
	uint16_t head;
	int rc = vub_split_next_head(vq, &head);

	if (rc <= 0)
		return rc;
	rc = vub_split_walk(vq, head, writable, pkt, &pkt->chains[pkt->nchains]);
	if (rc < 0)
		return rc;
	if (vq->inflight && !resubmitted)
		vub_split_track(vq, head);
	pkt->nchains++;
	return 1;
}

/* A packet put back (abort, or Rx buffers too few): its chains taken from the available
 * ring are no longer in flight; resubmitted ones (the first) go back on their list. */
void
vub_split_inflight_rewind(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	uint16_t again = (uint16_t)(vq->resubmit_pos - pkt->resubmit_before);

	for (uint16_t i = again; i < pkt->nchains; i++)
		vq->inflight->desc[pkt->chains[i].head].inflight = 0;
	vq->resubmit_pos = pkt->resubmit_before;
}

/* Inflight tracking: "Set DescStateSplit.next of each descriptor entry in the batch to
 * link them into a list" before the batch is published; the list ends at the next flush. */
static inline void
vub_split_batch_add(struct vub_vq *vq, uint16_t head)
{
	if (vq->batch_len++ == 0)
		vq->batch_head = head;
	else
		vq->inflight->desc[vq->batch_tail].next = head;
	vq->batch_tail = head;
}

/* After the batch's used->idx store: "Set the inflight field of each DescStateSplit entry
 * in the batch to 0", then "Set used_idx to the idx value of used ring". */
static void
vub_split_batch_done(struct vub_vq *vq)
{
	struct vu_inflight_split *r = vq->inflight;
	uint16_t h = vq->batch_head;

	for (uint16_t k = 0; k < vq->batch_len; k++, h = r->desc[h].next)
		r->desc[h].inflight = 0;
	r->used_idx = vq->used_idx;
	vq->batch_len = 0;
}

/* Used entries, visible to the frontend at the next flush. "len: The number of bytes
 * written into the device writable portion of the buffer" (2.7.8). */
void
vub_split_used(struct vub_vq *vq, const struct vub_pkt *pkt, uint32_t total)
{
	for (uint16_t i = 0; i < pkt->nchains; i++) {
		struct vu_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];

		e->id = pkt->chains[i].head;
		e->len = vub_chain_used(&pkt->chains[i], &total);
		vq->used_idx++;
		if (vq->inflight)
			vub_split_batch_add(vq, e->id);
	}
}

/* The burst fast path: avail entries read together, each naming one descriptor, marked
 * in flight as vub_split_pop marks them (buffers to resubmit first never come here:
 * vub_vq_reserve). An avail index out of range, a head out of the table: left to
 * vub_split_pop, which logs and stops the ring as it always does. */
uint16_t
vub_split_reserve(struct vub_vq *vq, bool writable, uint32_t max_len, struct vub_buf *bufs,
		  uint16_t n)
{
	uint16_t pending = (uint16_t)(vq->avail_idx - vq->last_avail);
	uint16_t mask = (uint16_t)(vq->size - 1), k;

	if (pending < n) {
		/* Acquire: the ring slots are read only after the index that covers them. */
		vq->avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		pending = (uint16_t)(vq->avail_idx - vq->last_avail);
	}
	if (pending > vq->size)
		return 0;
	if (n > pending)
		n = pending;
	for (k = 0; k < n; k++) {
		uint16_t head = vq->avail->ring[(uint16_t)(vq->last_avail + k) & mask];
		struct vu_desc d;

		if (head >= vq->size)
			break;
		memcpy(&d, &vq->desc[head], sizeof(d));
		if (!vub_fast_desc(vq, d.addr, d.len, d.flags, writable, max_len, &bufs[k]))
			break;
		bufs[k].id = head;
	}
	if (vq->inflight)
		for (uint16_t i = 0; i < k; i++)
			vub_split_track(vq, bufs[i].id);
	vq->last_avail = (uint16_t)(vq->last_avail + k);
	return k;
}

/* The reserved buffers' used entries in one pass, visible at the next flush. */
void
vub_split_used_bufs(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n, bool written)
{
	uint16_t mask = (uint16_t)(vq->size - 1);

	for (uint16_t i = 0; i < n; i++) {
		struct vu_used_elem *e = &vq->used->ring[(uint16_t)(vq->used_idx + i) & mask];

		e->id = bufs[i].id;
		e->len = written ? vq->hdr_len + bufs[i].len : 0;
	}
	if (vq->inflight)
		for (uint16_t i = 0; i < n; i++)
			vub_split_batch_add(vq, bufs[i].id);
	vq->used_idx = (uint16_t)(vq->used_idx + n);
}

/* After publishing used entries [old, new): does the driver want a used buffer
 * notification? With EVENT_IDX "The device MUST ignore the lower bit of flags" and
 * notifies when "the idx field in the used ring ... was equal to used_event"; without it
 * "If flags is 1, the device SHOULD NOT send a notification" (2.7.10). */
static bool
vub_split_wants_call(const struct vub_vq *vq, uint16_t new_idx, uint16_t old_idx)
{
	if (vq->event_idx)
		return vu_need_event(
			__atomic_load_n(vu_split_used_event(vq->avail, vq->size), __ATOMIC_RELAXED),
			new_idx, old_idx);
	return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) & VU_AVAIL_F_NO_INTERRUPT);
}

bool
vub_split_flush(struct vub_vq *vq)
{
	uint16_t old_idx = vq->published;

	if (vq->used_idx == old_idx)
		return false;
	/* "last_batch_head" names the batch before it is published: a backend killed after
	 * the index store finds it there (vub_inflight_resume). */
	if (vq->inflight)
		vq->inflight->last_batch_head = vq->batch_head;
	/* Release: the entries are visible before the index that covers them. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	vq->published = vq->used_idx;
	/* The driver's suppression fields are read after the index store (2.7.10's memory
	 * barrier), else a driver that just asked for a notification could miss it. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->inflight)
		vub_split_batch_done(vq);
	return vub_split_wants_call(vq, vq->used_idx, old_idx) && vub_vq_call(vq);
}

/* Kicks on (the next available entry, avail idx == last_avail, is to be notified: with
 * EVENT_IDX "If the idx field in the available ring ... was equal to avail_event, the
 * driver MUST send a notification") or off (avail_event a whole index space away). */
bool
vub_split_kicks(struct vub_vq *vq, bool on)
{
	if (vq->event_idx)
		__atomic_store_n(vu_split_avail_event(vq->used, vq->size),
				 (uint16_t)(on ? vq->last_avail : vq->last_avail - 1),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&vq->used->flags, on ? 0 : VU_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	if (!on)
		return false;
	/* The request is visible before the index is read again: a buffer made available
	 * in between is either seen here or kicked for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail;
}
