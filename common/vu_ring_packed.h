/* SPDX-License-Identifier: BSD-3-Clause */
/* Packed virtqueue layout (spec 2.8) and the driver-side primitives the PMD's hot path inlines. */
#ifndef VU_RING_PACKED_H
#define VU_RING_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "vu_ring.h"

#define VU_PACKED_DESC_F_AVAIL (1u << 7)
#define VU_PACKED_DESC_F_USED (1u << 15)

/* Event suppression flags (spec 2.8.10). */
#define VU_RING_EVENT_FLAGS_ENABLE 0x0u
#define VU_RING_EVENT_FLAGS_DISABLE 0x1u
#define VU_RING_EVENT_FLAGS_DESC 0x2u

/* SET_VRING_BASE / GET_VRING_BASE carry the wrap counter in bit 15 for packed rings. */
#define VU_PACKED_BASE_WRAP_SHIFT 15

struct vu_packed_ring;
static inline void vu_packed_ring_publish_used(struct vu_packed_ring *r);

struct vu_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/* vu_packed_desc_read takes len, id and flags as one 8-byte word. */
_Static_assert(offsetof(struct vu_packed_desc, len) == 8 &&
		       offsetof(struct vu_packed_desc, id) == 12 &&
		       offsetof(struct vu_packed_desc, flags) == 14 &&
		       sizeof(struct vu_packed_desc) == 16,
	       "packed descriptor layout (spec 2.8.13)");

struct vu_packed_event {
	uint16_t off_wrap;
	uint16_t flags;
};

/* Driver view of one packed ring. */
struct vu_packed_ring {
	struct vu_packed_desc *desc;
	struct vu_packed_event *driver_event; /* written by the driver */
	struct vu_packed_event *device_event; /* written by the device */
	uint32_t *used_pos;		      /* the driver's used position: driver only */
	uint16_t size;
	uint16_t avail_idx;   /* next slot the driver fills */
	uint16_t used_idx;    /* next slot the driver reads back */
	bool avail_wrap;      /* driver ring wrap counter */
	bool used_wrap;	      /* wrap counter expected in the next used slot */
	uint16_t avail_flags; /* AVAIL/USED bits that mark a slot available this lap */
	bool store_whole;     /* one 16-byte store writes a descriptor (vu_packed_desc_fill) */
};

static inline size_t
vu_packed_ring_driver_event_offset(uint16_t size)
{
	return sizeof(struct vu_packed_desc) * size;
}

static inline size_t
vu_packed_ring_device_event_offset(uint16_t size)
{
	return vu_align_up(
		vu_packed_ring_driver_event_offset(size) + sizeof(struct vu_packed_event), 64);
}

/* The driver's used position (vu_packed_ring_publish_used), on a line of its own after the
 * two event areas: the device never reads it, so writing it costs the device nothing. */
static inline size_t
vu_packed_ring_used_pos_offset(uint16_t size)
{
	return vu_align_up(
		vu_packed_ring_device_event_offset(size) + sizeof(struct vu_packed_event), 64);
}

static inline size_t
vu_packed_ring_mem_size(uint16_t size)
{
	return vu_align_up(vu_packed_ring_used_pos_offset(size) + sizeof(uint32_t), VU_RING_ALIGN);
}

static inline void
vu_packed_ring_set_avail_flags(struct vu_packed_ring *r)
{
	r->avail_flags = r->avail_wrap ? VU_PACKED_DESC_F_AVAIL : VU_PACKED_DESC_F_USED;
}

/*
 * Can a descriptor be written with a single 16-byte store that the device sees whole?
 * "Processors that enumerate support for Intel AVX ... guarantee that the 16-byte memory
 * operations performed by the following instructions will always be carried out
 * atomically: MOVAPD, MOVAPS, and MOVDQA" (Intel SDM vol. 3A, 9.1.1; AMD documents the
 * same for its AVX processors). Elsewhere the fields are stored one by one, flags last.
 */
static inline bool
vu_packed_desc_store_whole_ok(void)
{
#if defined(__x86_64__)
	return __builtin_cpu_supports("avx");
#else
	return false;
#endif
}

/* Lay the ring out in zeroed memory of vu_packed_ring_mem_size(size) bytes. "The driver
 * ring wrap counter ... and the device ring wrap counter ... are initialized to 1." */
static inline void
vu_packed_ring_init(struct vu_packed_ring *r, void *mem, uint16_t size)
{
	uint8_t *base = (uint8_t *)mem;

	r->desc = (struct vu_packed_desc *)base;
	r->driver_event =
		(struct vu_packed_event *)(base + vu_packed_ring_driver_event_offset(size));
	r->device_event =
		(struct vu_packed_event *)(base + vu_packed_ring_device_event_offset(size));
	r->used_pos = (uint32_t *)(base + vu_packed_ring_used_pos_offset(size));
	r->size = size;
	r->avail_idx = 0;
	r->used_idx = 0;
	r->avail_wrap = true;
	r->used_wrap = true;
	r->store_whole = vu_packed_desc_store_whole_ok();
	vu_packed_ring_set_avail_flags(r);
	vu_packed_ring_publish_used(r);
}

/* Advance the fill position by n slots, flipping the wrap counter past the end. */
static inline void
vu_packed_ring_avail_advance(struct vu_packed_ring *r, uint16_t n)
{
	r->avail_idx = (uint16_t)(r->avail_idx + n);
	if (r->avail_idx >= r->size) {
		r->avail_idx = (uint16_t)(r->avail_idx - r->size);
		r->avail_wrap = !r->avail_wrap;
		vu_packed_ring_set_avail_flags(r);
	}
}

static inline void
vu_packed_ring_used_advance(struct vu_packed_ring *r, uint16_t n)
{
	r->used_idx = (uint16_t)(r->used_idx + n);
	if (r->used_idx >= r->size) {
		r->used_idx = (uint16_t)(r->used_idx - r->size);
		r->used_wrap = !r->used_wrap;
	}
	vu_packed_ring_publish_used(r);
}

/* Flags that make a descriptor available in the current lap. The head descriptor of a
 * batch is written last, with a release store, so the device never sees half a chain. */
static inline uint16_t
vu_packed_ring_avail_flags(const struct vu_packed_ring *r)
{
	return r->avail_flags;
}

static inline void
vu_packed_desc_publish(struct vu_packed_desc *d, uint16_t flags)
{
	__atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
}

/*
 * Make one descriptor available: address, length, id and flags. With store_whole the
 * device sees all four at once and the line it polls is taken once, not once per field.
 * Release semantics either way: everything written before (headers, earlier descriptors
 * of a chain) is visible first.
 */
static inline void
vu_packed_desc_fill(const struct vu_packed_ring *r, struct vu_packed_desc *d, uint64_t addr,
		    uint32_t len, uint16_t id, uint16_t flags)
{
#if defined(__x86_64__)
	if (r->store_whole) {
		__m128i v = _mm_set_epi64x(
			(long long)((uint64_t)len | (uint64_t)id << 32 | (uint64_t)flags << 48),
			(long long)addr);

		/* x86 keeps stores in order; the compiler must too. */
		__atomic_signal_fence(__ATOMIC_RELEASE);
		_mm_store_si128((__m128i *)d, v);
		return;
	}
#endif
	d->addr = addr;
	d->len = len;
	d->id = id;
	vu_packed_desc_publish(d, flags);
}

/* "A descriptor is used when its AVAIL and USED bits match each other and the device
 * ring wrap counter." Acquire: the id and len are read after the flags. */
static inline bool
vu_packed_desc_is_used(const struct vu_packed_desc *d, bool wrap)
{
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool avail = flags & VU_PACKED_DESC_F_AVAIL;
	bool used = flags & VU_PACKED_DESC_F_USED;

	return avail == used && used == wrap;
}

/*
 * One look at a descriptor the device may be writing: its flags, and the id and len that
 * go with them. len, id and flags are the descriptor's last 8 bytes, so one aligned
 * 8-byte load (atomic on every 64-bit target) takes all three at one instant: when the
 * flags say used, id and len are the device's (it writes them before the flags). One
 * load also means one visit to a cache line the device is still filling with the next
 * used entries, where reading flags first and id/len later can fetch the line twice.
 * Acquire: buffer contents are read after it.
 */
typedef uint64_t __attribute__((may_alias)) vu_packed_desc_tail_word;

static inline uint16_t
vu_packed_desc_read(const struct vu_packed_desc *d, uint16_t *id, uint32_t *len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w = __atomic_load_n((const vu_packed_desc_tail_word *)&d->len, __ATOMIC_ACQUIRE);

	*len = (uint32_t)w;
	*id = (uint16_t)(w >> 32);
	return (uint16_t)(w >> 48);
#else
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	*len = d->len;
	*id = d->id;
	return flags;
#endif
}

/* Descriptors in a 64-byte cache line (the ring starts on a line). */
#define VU_PACKED_DESCS_PER_LINE (64u / sizeof(struct vu_packed_desc))

/* Of the slots in the same cache line as `slot`, how many come before it. */
static inline uint16_t
vu_packed_line_offset(uint16_t slot)
{
	return (uint16_t)(slot % VU_PACKED_DESCS_PER_LINE);
}

/* The AVAIL and USED bits of a descriptor the device used in lap `wrap`, and of one the
 * driver made available in that lap. Any other combination at the driver's used position
 * is a device that wrote the wrong wrap bits. */
#define VU_PACKED_DESC_F_AVAIL_USED (VU_PACKED_DESC_F_AVAIL | VU_PACKED_DESC_F_USED)

static inline uint16_t
vu_packed_used_bits(bool wrap)
{
	return wrap ? VU_PACKED_DESC_F_AVAIL_USED : 0;
}

static inline uint16_t
vu_packed_avail_bits(bool wrap)
{
	return wrap ? VU_PACKED_DESC_F_AVAIL : VU_PACKED_DESC_F_USED;
}

/* "A descriptor is used when its AVAIL and USED bits match each other and the device ring
 * wrap counter": the one at the driver's used position, which until then holds the buffer
 * posted in this lap (or, with fewer buffers than slots, one used a lap ago). */
static inline struct vu_ring_watch
vu_packed_ring_watch(const struct vu_packed_ring *r)
{
	return (struct vu_ring_watch){
		.addr = &r->desc[r->used_idx].flags,
		.expect = vu_packed_used_bits(r->used_wrap),
		.mask = VU_PACKED_DESC_F_AVAIL_USED,
		.size = sizeof(r->desc[r->used_idx].flags),
		.pending_if_equal = true,
	};
}

/* The base word for SET_VRING_BASE: next slot and wrap counter. */
static inline uint32_t
vu_packed_ring_base(uint16_t idx, bool wrap)
{
	return (uint32_t)idx | ((uint32_t)wrap << VU_PACKED_BASE_WRAP_SHIFT);
}

/* The slot and the wrap counter of a base word. */
static inline uint16_t
vu_packed_base_slot(uint32_t base)
{
	return (uint16_t)(base & ((1u << VU_PACKED_BASE_WRAP_SHIFT) - 1));
}

static inline bool
vu_packed_base_wrap(uint32_t base)
{
	return (base >> VU_PACKED_BASE_WRAP_SHIFT) & 1;
}

/*
 * Keep the driver's used position (next slot to read back, and its wrap counter, in the
 * SET_VRING_BASE encoding) where the device emulation finds it when a backend reconnects,
 * to learn where the device stopped (vu_device_conn.c). Not in the Driver Event
 * Suppression area: the device reads that area's flags after every burst it completes,
 * and a word the driver rewrote on every burst in the same line cost the device a cache
 * miss each time (docs/performance.md). Its own line, never shared.
 */
static inline void
vu_packed_ring_publish_used(struct vu_packed_ring *r)
{
	__atomic_store_n(r->used_pos, vu_packed_ring_base(r->used_idx, r->used_wrap),
			 __ATOMIC_RELEASE);
}

/* After publishing: does the device want a notification? */
static inline bool
vu_packed_ring_needs_kick(const struct vu_packed_ring *r)
{
	vu_full_barrier();
	return __atomic_load_n(&r->device_event->flags, __ATOMIC_RELAXED) !=
		VU_RING_EVENT_FLAGS_DISABLE;
}

#endif /* VU_RING_PACKED_H */
