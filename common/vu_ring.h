/* SPDX-License-Identifier: BSD-3-Clause */
/* Split virtqueue layout (spec 2.7) and the driver-side primitives the PMD's hot path inlines. */
#ifndef VU_RING_H
#define VU_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VU_DESC_F_NEXT 1u
#define VU_DESC_F_WRITE 2u
#define VU_DESC_F_INDIRECT 4u

/* "The driver uses this in avail->flags to advise the device: don't interrupt me." */
#define VU_AVAIL_F_NO_INTERRUPT 1u
/* "The device uses this in used->flags to advise the driver: don't kick me." */
#define VU_USED_F_NO_NOTIFY 1u

/* Ring alignment: 4096 keeps the used ring on its own page, as legacy layouts did. */
#define VU_RING_ALIGN 4096u

struct vu_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vu_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vu_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vu_used {
	uint16_t flags;
	uint16_t idx;
	struct vu_used_elem ring[];
};

/* Driver view of one split ring. */
struct vu_split_ring {
	struct vu_desc *desc;
	struct vu_avail *avail;
	struct vu_used *used;
	uint16_t size;
	uint16_t mask;
	uint16_t avail_idx;	/* next avail slot (shadow of avail->idx) */
	uint16_t last_used_idx; /* next used entry to consume */
};

/* Full barrier between the avail index store and the notification-flag load. On x86 a
 * locked add to the stack orders stores before later loads at a fraction of mfence's cost
 * (the same trick DPDK's rte_smp_mb uses); elsewhere the C11 fence. */
static inline void
vu_full_barrier(void)
{
#if defined(__x86_64__)
	__asm__ volatile("lock addl $0, -128(%%rsp)" ::: "memory", "cc");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Fetch the cache line at p for writing: PREFETCHW (0F 0D /1), which CPUs without it
 * execute as a NOP. A hint only. */
static inline void
vu_prefetch_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

static inline size_t
vu_align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Bytes for desc + avail (with used_event) and, aligned, used (with avail_event). */
static inline size_t
vu_split_ring_used_offset(uint16_t size)
{
	return vu_align_up(sizeof(struct vu_desc) * size + sizeof(uint16_t) * (3u + size),
			   VU_RING_ALIGN);
}

static inline size_t
vu_split_ring_mem_size(uint16_t size)
{
	return vu_split_ring_used_offset(size) +
		vu_align_up(sizeof(uint16_t) * 3u + sizeof(struct vu_used_elem) * size,
			    VU_RING_ALIGN);
}

/* VIRTIO_RING_F_EVENT_IDX (spec 2.7.10): "le16 used_event" follows the available ring's
 * entries (written by the driver), "le16 avail_event" the used ring's (by the device). */
static inline uint16_t *
vu_split_used_event(struct vu_avail *avail, uint16_t size)
{
	return &avail->ring[size];
}

static inline uint16_t *
vu_split_avail_event(struct vu_used *used, uint16_t size)
{
	return (uint16_t *)(void *)&used->ring[size];
}

/* Was event index `event` among the indexes [old, new) just published? "If the idx field
 * ... was equal to" the event index, the other side MUST be notified; 16-bit arithmetic,
 * as the indexes wrap. */
static inline bool
vu_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Lay the ring out in zeroed memory of vu_split_ring_mem_size(size) bytes. size must be a
 * power of two. */
static inline void
vu_split_ring_init(struct vu_split_ring *r, void *mem, uint16_t size)
{
	uint8_t *base = (uint8_t *)mem;

	r->desc = (struct vu_desc *)base;
	r->avail = (struct vu_avail *)(base + sizeof(struct vu_desc) * size);
	r->used = (struct vu_used *)(base + vu_split_ring_used_offset(size));
	r->size = size;
	r->mask = (uint16_t)(size - 1);
	r->avail_idx = 0;
	r->last_used_idx = 0;
}

/* Number of used entries the device has published and the driver not consumed yet.
 * Acquire: entries are read only after the index that covers them. */
static inline uint16_t
vu_split_ring_used_pending(const struct vu_split_ring *r)
{
	uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);

	return (uint16_t)(idx - r->last_used_idx);
}

static inline const struct vu_used_elem *
vu_split_ring_used_elem(const struct vu_split_ring *r, uint16_t n)
{
	return &r->used->ring[(uint16_t)(r->last_used_idx + n) & r->mask];
}

/* Put a chain head in the next avail slot; not visible to the device until publish. */
static inline void
vu_split_ring_avail_add(struct vu_split_ring *r, uint16_t head)
{
	uint16_t *slot = &r->avail->ring[r->avail_idx & r->mask];

	/* In steady state a slot often gets the head it had a lap ago (in-order use): not
	 * writing it keeps the line shared with the device instead of moving it back. */
	if (*slot != head)
		*slot = head;
	r->avail_idx++;
}

/* Make every added slot visible with one release store. */
static inline void
vu_split_ring_avail_publish(struct vu_split_ring *r)
{
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

/* After publishing: does the device want a notification? The full fence orders the
 * avail->idx store before the used->flags load (spec 2.7.10's "memory barrier"). */
static inline bool
vu_split_ring_needs_kick(const struct vu_split_ring *r)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED) & VU_USED_F_NO_NOTIFY);
}

/*
 * What a driver that sleeps until the device uses a buffer watches: the `size` bytes at
 * `addr`, which the device writes when it does. A used buffer is pending when
 * ((value & mask) == expect) is `pending_if_equal`. (DPDK's rte_power_monitor sleeps on
 * such a word until it is written, then asks a callback whether to stay awake.)
 */
struct vu_ring_watch {
	const volatile void *addr;
	uint64_t expect;
	uint64_t mask;
	uint8_t size;
	bool pending_if_equal;
};

static inline bool
vu_ring_watch_pending(uint64_t value, uint64_t expect, uint64_t mask, bool pending_if_equal)
{
	return ((value & mask) == expect) == pending_if_equal;
}

/* The used ring's "idx field indicates where the device would put the next descriptor
 * entry in the ring (modulo the queue size). This starts at 0, and increases." Entries are
 * pending while it is not the driver's next used index; all 16 bits compared, so a whole
 * ring of entries not yet read is pending too. */
static inline struct vu_ring_watch
vu_split_ring_watch(const struct vu_split_ring *r)
{
	return (struct vu_ring_watch){
		.addr = &r->used->idx,
		.expect = r->last_used_idx,
		.mask = UINT16_MAX,
		.size = sizeof(r->used->idx),
		.pending_if_equal = false,
	};
}

#endif /* VU_RING_H */
