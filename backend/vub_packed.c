/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub packed ring, device side (virtio 1.2, 2.8): taking available buffers, marking used. */
#include <errno.h>
#include <string.h>

#include "vub_burst.h"

/* 2.8.10.1: "Descriptor Ring 16, Device Event Suppression 4, Driver Event Suppression 4"
 * (alignment); the event structures are 4 bytes. */
#define VUB_PDESC_ALIGN 16u
#define VUB_EVENT_ALIGN 4u

int
vub_packed_translate(struct vub_vq *vq)
{
	void *desc, *drv, *dev;

	/* IOTLB permissions: the device writes used descriptors and its event suppression
	 * (reading it back), and reads the driver's. */
	desc = vub_ring_part(vq, "descriptor ring", vq->desc_uaddr,
			     sizeof(struct vu_packed_desc) * (uint64_t)vq->size, VUB_PDESC_ALIGN,
			     VU_IOTLB_PERM_RW);
	if (!desc)
		return -EFAULT;
	drv = vub_ring_part(vq, "driver event suppression", vq->avail_uaddr,
			    sizeof(struct vu_packed_event), VUB_EVENT_ALIGN, VU_IOTLB_PERM_RO);
	if (!drv)
		return -EFAULT;
	dev = vub_ring_part(vq, "device event suppression", vq->used_uaddr,
			    sizeof(struct vu_packed_event), VUB_EVENT_ALIGN, VU_IOTLB_PERM_RW);
	if (!dev)
		return -EFAULT;
	vq->pdesc = desc;
	vq->driver_event = drv;
	vq->device_event = dev;
	return 0;
}

/* "VIRTQ_DESC_F_AVAIL and VIRTQ_DESC_F_USED bits are different for an available
 * descriptor", AVAIL matching the driver's wrap counter for this lap. */
static bool
vub_packed_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VU_PACKED_DESC_F_AVAIL) == wrap &&
		!!(flags & VU_PACKED_DESC_F_USED) != wrap;
}

static void
vub_packed_advance(const struct vub_vq *vq, uint16_t *pos, bool *wrap, uint16_t n)
{
	*pos = (uint16_t)(*pos + n);
	if (*pos >= vq->size) {
		*pos = (uint16_t)(*pos - vq->size);
		*wrap = !*wrap;
	}
}

/* An indirect descriptor's table: "The VIRTQ_DESC_F_WRITE flags bit is the only valid
 * flag for descriptors in the indirect table"; they follow each other, len / 16 of them.
 * Returns 0, -E2BIG, or -EIO with *why set. */
static int
vub_packed_table(struct vub_vq *vq, const struct vu_packed_desc *d, bool first, bool writable,
		 struct vub_pkt *pkt, struct vub_chain *c, const char **why)
{
	const struct vu_packed_desc *table;
	uint32_t count;
	int rc = 0;

	*why = NULL;
	if (!vq->indirect)
		*why = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
	else if (!first || (d->flags & VU_DESC_F_NEXT))
		*why = "indirect descriptor in a list of several (\"each list only contains "
		       "descriptors of a given type\")";
	else if (d->len == 0 || d->len % sizeof(*table) ||
		 d->len / sizeof(*table) > VUB_MAX_QUEUE_SIZE)
		*why = "indirect table length is not 1 to 32768 descriptors";
	if (*why)
		return -EIO;
	table = vq->iotlb ? vub_iotlb_table(vq, d->addr, d->len, &rc) :
			    vub_mem_gpa(vq->dev, d->addr, d->len);
	if (rc == -EAGAIN)
		return rc;
	if (!table) {
		*why = vq->iotlb ? "indirect table is not inside one readable IOTLB entry (IOTLB "
				   "denied)" :
				   "indirect table is not inside one memory region";
		return -EIO;
	}
	count = d->len / sizeof(*table);
	for (uint32_t i = 0; i < count; i++) {
		struct vu_packed_desc e;

		memcpy(&e, &table[i], sizeof(e));
		if (!vub_direction_ok(e.flags, writable)) {
			*why = "device-readable buffer in a receive chain";
			return -EIO;
		}
		rc = vub_pkt_add(vq, pkt, e.addr, e.len, &c->cap, writable);
		if (rc == -E2BIG || rc == -EAGAIN)
			return rc;
		if (rc < 0) {
			*why = vub_pkt_add_error(rc);
			return -EIO;
		}
	}
	return 0;
}

/* One descriptor of a chain into pkt: 0, -E2BIG, or -EIO with *why set. */
static int
vub_packed_piece(struct vub_vq *vq, const struct vu_packed_desc *d, bool first, bool writable,
		 struct vub_pkt *pkt, struct vub_chain *c, const char **why)
{
	int rc;

	if (d->flags & VU_DESC_F_INDIRECT)
		return vub_packed_table(vq, d, first, writable, pkt, c, why);
	if (!vub_direction_ok(d->flags, writable)) {
		*why = "device-readable buffer in a receive chain";
		return -EIO;
	}
	rc = vub_pkt_add(vq, pkt, d->addr, d->len, &c->cap, writable);
	if (rc < 0 && rc != -E2BIG && rc != -EAGAIN) {
		*why = vub_pkt_add_error(rc);
		return -EIO;
	}
	return rc;
}

/* Inflight tracking: descriptor d of a chain taken goes into the free entry *slot ("Set
 * desc[free_head].addr, ... .len, ... .flags, ... .id"), *slot moving on down the free
 * list. Nothing is taken until vub_packed_track moves the list's head: a walk that fails
 * leaves only free entries written. False when the list is used up: more descriptors in
 * flight than the ring has. */
static bool
vub_packed_note(struct vub_vq *vq, const struct vu_packed_desc *d, uint16_t *slot)
{
	struct vu_inflight_desc_packed *e;

	if (*slot >= vq->size)
		return false;
	e = &vq->pinflight->desc[*slot];
	e->addr = d->addr;
	e->len = d->len;
	e->flags = d->flags;
	e->id = d->id;
	*slot = e->next;
	return true;
}

/* The chain of ndesc noted from entry slot on is in flight: its head entry says so with its
 * "last", "num" and "counter", then "free_head" and "old_free_head" move past it (release:
 * a backend killed in between finds the head entry on the free list, and clears it). */
static void
vub_packed_track(struct vub_vq *vq, uint16_t slot, uint16_t ndesc, uint16_t last, uint16_t next)
{
	struct vu_inflight_packed *r = vq->pinflight;
	struct vu_inflight_desc_packed *h = &r->desc[slot];

	h->num = ndesc;
	h->last = last;
	h->counter = vq->inflight_counter++;
	h->inflight = 1;
	__atomic_store_n(&r->free_head, next, __ATOMIC_RELEASE);
	r->old_free_head = next;
}

/* A chain left in flight by a previous backend, from its entries in the region (the
 * ring's slots may hold other buffers' used descriptors by now): 1, -E2BIG or -EIO. */
static int
vub_packed_resubmit(struct vub_vq *vq, bool writable, struct vub_pkt *pkt)
{
	struct vub_chain *c = &pkt->chains[pkt->nchains];
	uint16_t head = vq->resubmit[vq->resubmit_pos], s = head;
	uint16_t num = vq->pinflight->desc[head].num;
	const char *why = "entry outside the region, or not 1 to the ring's size of them";
	struct vu_packed_desc d = { 0 };
	int rc;

	c->ndesc = 0;
	c->cap = 0;
	c->slot = head;
	if (num == 0 || num > vq->size)
		goto broken;
	for (; c->ndesc < num; s = vq->pinflight->desc[s].next) {
		struct vu_inflight_desc_packed e;

		if (s >= vq->size)
			goto broken;
		memcpy(&e, &vq->pinflight->desc[s], sizeof(e));
		d = (struct vu_packed_desc){
			.addr = e.addr, .len = e.len, .id = e.id, .flags = e.flags
		};
		rc = vub_packed_piece(vq, &d, c->ndesc == 0, writable, pkt, c, &why);
		if (rc == -E2BIG)
			return rc;
		if (rc < 0)
			goto broken;
		c->ndesc++;
	}
	c->head = d.id;
	vq->resubmit_pos++;
	pkt->nchains++;
	return 1;
broken:
	vub_vq_break(vq, "resubmitting the chain of inflight entry %u, entry %u: %s", head, s, why);
	return -EIO;
}

/*
 * The chain at the device's next descriptor. "The driver always makes the first
 * descriptor in the list available after the rest": every descriptor of a chain is
 * already available when the first is; one that is not is a broken ring. "If not limited,
 * the maximum number of descriptors in a list is the virt queue size."
 */
int
vub_packed_pop(struct vub_vq *vq, bool writable, struct vub_pkt *pkt)
{
	struct vub_chain *c = &pkt->chains[pkt->nchains];
	uint16_t pos = vq->last_avail, start = vq->last_avail, slot = 0, last = 0;
	bool wrap = vq->avail_wrap;
	const char *why = NULL;
	struct vu_packed_desc d;
	int rc;

	if (vq->resubmit_pos < vq->nresubmit)
		return vub_packed_resubmit(vq, writable, pkt);
	c->ndesc = 0;
	c->cap = 0;
	if (vq->pinflight)
		c->slot = slot = vq->pinflight->free_head;
	do {
		/* Acquire: the rest of the descriptor is read after its flags. */
		uint16_t flags = __atomic_load_n(&vq->pdesc[pos].flags, __ATOMIC_ACQUIRE);

		if (!vub_packed_is_avail(flags, wrap)) {
			if (c->ndesc == 0)
				return 0;
			why = "the chain runs into a descriptor not made available";
			goto broken;
		}
		/* Only a frontend rewriting descriptors under the walk gets here: the
		 * descriptor after a whole lap is the chain's first, already taken. */
		if (c->ndesc == vq->size) {
			why = "chain longer than the ring";
			goto broken;
		}
		memcpy(&d, &vq->pdesc[pos], sizeof(d));
		d.flags = flags;
		rc = vub_packed_piece(vq, &d, c->ndesc == 0, writable, pkt, c, &why);
		if (rc == -E2BIG || rc == -EAGAIN)
			return rc;
		if (rc < 0)
			goto broken;
		last = slot;
		if (vq->pinflight && !vub_packed_note(vq, &d, &slot)) {
			why = "more descriptors in flight than the ring has";
			goto broken;
		}
		c->ndesc++;
		vub_packed_advance(vq, &pos, &wrap, 1);
	} while (d.flags & VU_DESC_F_NEXT);
	/* "Buffer ID is included in the last descriptor in the list." */
	c->head = d.id;
	if (vq->pinflight)
		vub_packed_track(vq, c->slot, c->ndesc, last, slot);
	vq->last_avail = pos;
	vq->avail_wrap = wrap;
	pkt->nchains++;
	return 1;
broken:
	vub_vq_break(vq, "chain at descriptor %u, descriptor %u: %s", start, pos, why);
	return -EIO;
}

/* "To mark a descriptor as used, the device sets the VIRTQ_DESC_F_USED bit in Flags to
 * match the internal Device Ring Wrap Counter. It also sets the VIRTQ_DESC_F_AVAIL bit to
 * match the same value"; WRITE "specif[ies] whether any data has been written". The
 * flags of a burst's first used descriptor wait for the flush (vub_packed_publish). */
static void
vub_packed_mark(struct vub_vq *vq, uint16_t pos, bool wrap, uint16_t id, uint32_t len)
{
	struct vu_packed_desc *d = &vq->pdesc[pos];
	uint16_t flags = wrap ? VU_PACKED_DESC_F_AVAIL | VU_PACKED_DESC_F_USED : 0;

	if (len)
		flags |= VU_DESC_F_WRITE;
	d->id = id;
	d->len = len;
	if (!vq->used_held) {
		vq->used_held = true;
		vq->held_pos = pos;
		vq->held_flags = flags;
		return;
	}
	__atomic_store_n(&d->flags, flags, __ATOMIC_RELAXED);
}

/* The held first descriptor's flags, last (release: after every id, length and flags of
 * the batch). The driver reads used descriptors in ring order from that one, so it sees
 * the whole batch or none of it. Then a fence: what follows (the inflight region's clearing,
 * the driver's event structure) is written or read after the driver can see the batch. */
static void
vub_packed_publish(struct vub_vq *vq)
{
	if (vq->used_held)
		__atomic_store_n(&vq->pdesc[vq->held_pos].flags, vq->held_flags, __ATOMIC_RELEASE);
	vq->used_held = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Inflight tracking: a used chain joins the batch, linked through its last entry's next. */
static void
vub_packed_batch_add(struct vub_vq *vq, uint16_t slot)
{
	struct vu_inflight_packed *r = vq->pinflight;

	if (vq->batch_len++ == 0)
		vq->batch_head = slot;
	else
		r->desc[r->desc[vq->batch_tail].last].next = slot;
	vq->batch_tail = slot;
}

/*
 * Publish the batch. Tracked, the spec's order around it: each chain's entries back on
 * the free list ("Set desc[e.last].next to free_head", "Set free_head to the index of
 * e"), the used index and wrap counter, the flags ("Update d.flags"), then "the inflight
 * field of each head ... in the batch to 0" and the old_* fields to the new values.
 */
static void
vub_packed_commit(struct vub_vq *vq)
{
	struct vu_inflight_packed *r = vq->pinflight;
	uint16_t e = vq->batch_head;

	if (!r || vq->batch_len == 0) {
		vub_packed_publish(vq);
		return;
	}
	for (uint16_t k = 0; k < vq->batch_len; k++) {
		uint16_t last = r->desc[e].last, next = r->desc[last].next;

		r->desc[last].next = r->free_head;
		r->free_head = e;
		e = next;
	}
	r->used_idx = vq->used_idx;
	r->used_wrap_counter = vq->used_wrap;
	vub_packed_publish(vq);
	/* The batch heads now lead the free list, newest first. */
	e = r->free_head;
	for (uint16_t k = 0; k < vq->batch_len; k++, e = r->desc[r->desc[e].last].next)
		r->desc[e].inflight = 0;
	r->old_free_head = r->free_head;
	r->old_used_idx = r->used_idx;
	r->old_used_wrap_counter = r->used_wrap_counter;
	vq->batch_len = 0;
}

/* A packet put back: its chains taken from the ring are no longer in flight, their
 * entries the free list's head again (nothing was published meanwhile); resubmitted ones
 * (the first) go back on their list. */
void
vub_packed_inflight_rewind(struct vub_vq *vq, const struct vub_pkt *pkt)
{
	struct vu_inflight_packed *r = vq->pinflight;
	uint16_t again = (uint16_t)(vq->resubmit_pos - pkt->resubmit_before);

	if (again < pkt->nchains) {
		for (uint16_t i = again; i < pkt->nchains; i++)
			r->desc[pkt->chains[i].slot].inflight = 0;
		r->free_head = r->old_free_head = pkt->chains[again].slot;
	}
	vq->resubmit_pos = pkt->resubmit_before;
}

/* One used descriptor per chain, over its first descriptor (the chains complete in the
 * order they were taken). "These devices always mark the descriptor corresponding to the
 * first buffer in the request used after the rest" (multi-buffer requests): held back
 * with the burst's first, no chain of a merged packet is seen before the others. */
void
vub_packed_used(struct vub_vq *vq, const struct vub_pkt *pkt, uint32_t total)
{
	uint16_t pos = vq->used_idx;
	bool wrap = vq->used_wrap;

	for (uint16_t i = 0; i < pkt->nchains; i++) {
		const struct vub_chain *c = &pkt->chains[i];

		/* Only a frontend making descriptors available again before it saw them used
		 * gets here: a batch may not lap its held first descriptor. */
		if (vq->used_held && vq->unflushed + c->ndesc > vq->size) {
			vq->used_idx = pos;
			vq->used_wrap = wrap;
			vub_packed_commit(vq);
		}
		vub_packed_mark(vq, pos, wrap, c->head, vub_chain_used(c, &total));
		if (vq->pinflight)
			vub_packed_batch_add(vq, c->slot);
		vub_packed_advance(vq, &pos, &wrap, c->ndesc);
		vq->unflushed += c->ndesc;
	}
	vq->used_idx = pos;
	vq->used_wrap = wrap;
}

/* Descriptors per 64-byte cache line: the burst fast path reads their flags together. */
#define VUB_PDESC_LINE 4u

/* How many descriptors from pos the driver made available: a whole cache line's flags
 * looked at together when pos starts one inside the ring and the burst wants that many,
 * else one. The rest of each descriptor is read after (acquire), as vub_packed_pop does. */
static unsigned int
vub_packed_avail_line(const struct vub_vq *vq, uint16_t pos, bool wrap, uint16_t want,
		      uint16_t *flags)
{
	unsigned int n = 1, i;

	if (want >= VUB_PDESC_LINE && pos % VUB_PDESC_LINE == 0 && pos + VUB_PDESC_LINE <= vq->size)
		n = VUB_PDESC_LINE;
	for (i = 0; i < n; i++) {
		flags[i] = __atomic_load_n(&vq->pdesc[pos + i].flags, __ATOMIC_RELAXED);
		if (!vub_packed_is_avail(flags[i], wrap))
			break;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return i;
}

/* A tracked ring's buffer of one descriptor taken by the fast path: noted and marked in
 * flight as vub_packed_pop does it. False when the free list is used up: vub_packed_pop
 * then stops the ring. */
static bool
vub_packed_track_one(struct vub_vq *vq, struct vu_packed_desc *d, uint16_t flags, struct vub_buf *b)
{
	uint16_t slot = vq->pinflight->free_head;

	b->slot = slot;
	d->flags = flags;
	if (!vub_packed_note(vq, d, &slot))
		return false;
	vub_packed_track(vq, b->slot, 1, b->slot, slot);
	return true;
}

/* The burst fast path: single-descriptor buffers from last_avail on, checked a cache line
 * at a time; the first descriptor that is not one (a chain, an indirect table, a bad
 * address) is left to vub_packed_pop, which logs and stops the ring as it always does.
 * Buffers to resubmit first never come here (vub_vq_reserve). */
uint16_t
vub_packed_reserve(struct vub_vq *vq, bool writable, uint32_t max_len, struct vub_buf *bufs,
		   uint16_t n)
{
	uint16_t pos = vq->last_avail, k = 0;
	bool wrap = vq->avail_wrap;

	while (k < n) {
		uint16_t flags[VUB_PDESC_LINE];
		unsigned int got = vub_packed_avail_line(vq, pos, wrap, (uint16_t)(n - k), flags);

		if (got == 0)
			break;
		for (unsigned int i = 0; i < got; i++, k++) {
			struct vu_packed_desc d;

			/* Read once into a local, as vub_packed_pop does. */
			memcpy(&d, &vq->pdesc[pos], sizeof(d));
			if (!vub_fast_desc(vq, d.addr, d.len, flags[i], writable, max_len,
					   &bufs[k]) ||
			    (vq->pinflight && !vub_packed_track_one(vq, &d, flags[i], &bufs[k])))
				goto out;
			bufs[k].id = d.id;
			vub_packed_advance(vq, &pos, &wrap, 1);
		}
	}
out:
	vq->last_avail = pos;
	vq->avail_wrap = wrap;
	return k;
}

/* The reserved buffers used, one descriptor each, as vub_packed_used marks chains. */
void
vub_packed_used_bufs(struct vub_vq *vq, const struct vub_buf *bufs, uint16_t n, bool written)
{
	for (uint16_t i = 0; i < n; i++) {
		if (vq->used_held && vq->unflushed + 1 > vq->size)
			vub_packed_commit(vq);
		vub_packed_mark(vq, vq->used_idx, vq->used_wrap, bufs[i].id,
				written ? vq->hdr_len + bufs[i].len : 0);
		if (vq->pinflight)
			vub_packed_batch_add(vq, bufs[i].slot);
		vub_packed_advance(vq, &vq->used_idx, &vq->used_wrap, 1);
		vq->unflushed++;
	}
}

/*
 * After marking the `unflushed` descriptors before used_idx used: does the driver want a
 * notification? Its event structure: ENABLE always, DISABLE never, DESC (EVENT_IDX only)
 * when the descriptor at its offset and wrap counter was among them. The offset is
 * brought into the lap of used_idx (minus the size when its wrap counter is the previous
 * lap's), so old and new positions compare as plain numbers (2.8.10, 2.8.21).
 */
static bool
vub_packed_wants_call(const struct vub_vq *vq)
{
	uint16_t flags = __atomic_load_n(&vq->driver_event->flags, __ATOMIC_RELAXED);
	int32_t off, new_pos = vq->used_idx, old_pos;
	uint16_t off_wrap;

	if (!vq->event_idx || flags != VU_RING_EVENT_FLAGS_DESC)
		return flags != VU_RING_EVENT_FLAGS_DISABLE;
	/* A whole ring or more used at once passed every offset. */
	if (vq->unflushed >= vq->size)
		return true;
	old_pos = new_pos - (int32_t)vq->unflushed;
	off_wrap = __atomic_load_n(&vq->driver_event->off_wrap, __ATOMIC_RELAXED);
	off = off_wrap & ~(1u << VU_PACKED_BASE_WRAP_SHIFT);
	if ((bool)(off_wrap >> VU_PACKED_BASE_WRAP_SHIFT) != vq->used_wrap)
		off -= vq->size;
	return vu_need_event((uint16_t)off, (uint16_t)new_pos, (uint16_t)old_pos);
}

/* The burst's used descriptors become visible, then the notification. "After writing
 * out some descriptors, both the device and the driver are expected to consult the
 * relevant structure to find out whether a used respectively an available buffer
 * notification should be sent." */
bool
vub_packed_flush(struct vub_vq *vq)
{
	bool call;

	if (vq->unflushed == 0)
		return false;
	/* The event structure is read after the used descriptors are written (as for split
	 * rings): vub_packed_publish's fence. */
	vub_packed_commit(vq);
	call = vub_packed_wants_call(vq);
	vq->unflushed = 0;
	return call && vub_vq_call(vq);
}

/* Kicks on: with EVENT_IDX "RING_EVENT_FLAGS_DESC" at the device's next descriptor (its
 * offset and the driver ring wrap counter it expects there), else ENABLE; off: DISABLE.
 * The offset is written before the flags that make the driver read it. */
bool
vub_packed_kicks(struct vub_vq *vq, bool on)
{
	uint16_t flags = VU_RING_EVENT_FLAGS_DISABLE;

	if (on && vq->event_idx) {
		__atomic_store_n(&vq->device_event->off_wrap,
				 vu_packed_ring_base(vq->last_avail, vq->avail_wrap),
				 __ATOMIC_RELAXED);
		flags = VU_RING_EVENT_FLAGS_DESC;
	} else if (on) {
		flags = VU_RING_EVENT_FLAGS_ENABLE;
	}
	__atomic_store_n(&vq->device_event->flags, flags, __ATOMIC_RELEASE);
	if (!on)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vub_packed_is_avail(
		__atomic_load_n(&vq->pdesc[vq->last_avail].flags, __ATOMIC_ACQUIRE),
		vq->avail_wrap);
}
