/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the split and packed ring layouts and driver primitives (vu_ring*.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vu_ring.h"
#include "vu_ring_packed.h"

struct ring_mem {
	struct vu_split_ring r;
	uint8_t *mem;
	size_t len;
};

static void
ring_new(struct ring_mem *rm, uint16_t size)
{
	rm->len = vu_split_ring_mem_size(size);
	assert_int_equal(posix_memalign((void **)&rm->mem, VU_RING_ALIGN, rm->len), 0);
	memset(rm->mem, 0, rm->len);
	vu_split_ring_init(&rm->r, rm->mem, size);
}

static void
ring_free(struct ring_mem *rm)
{
	free(rm->mem);
}

static void
test_struct_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vu_desc), 16);
	assert_int_equal(offsetof(struct vu_desc, len), 8);
	assert_int_equal(offsetof(struct vu_desc, flags), 12);
	assert_int_equal(offsetof(struct vu_desc, next), 14);
	assert_int_equal(offsetof(struct vu_avail, ring), 4);
	assert_int_equal(sizeof(struct vu_used_elem), 8);
	assert_int_equal(offsetof(struct vu_used, ring), 4);
}

/* desc: 16 n bytes; avail: 6 + 2 n (flags, idx, ring, used_event); used at the next 4096
 * boundary: 6 + 8 n (flags, idx, ring, avail_event), the whole rounded up to 4096. */
static void
test_layout_sizes(void **state)
{
	static const struct {
		uint16_t n;
		size_t used_off;
		size_t total;
	} cases[] = {
		{ 1, 4096, 8192 },	   /* 16 + 8 -> 4096; 14 -> 4096 */
		{ 64, 4096, 8192 },	   /* 1024 + 134; 518 */
		{ 128, 4096, 8192 },	   /* 2048 + 262 = 2310; 1030 */
		{ 256, 8192, 12288 },	   /* 4096 + 518 = 4614; 2054 */
		{ 1024, 20480, 32768 },	   /* 16384 + 2054 = 18438; 8198 */
		{ 32768, 593920, 860160 }, /* 524288 + 65542 = 589830; 262150 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (vu_split_ring_used_offset(cases[i].n) != cases[i].used_off)
			fail_msg("size %u: used at %zu, expected %zu", cases[i].n,
				 vu_split_ring_used_offset(cases[i].n), cases[i].used_off);
		if (vu_split_ring_mem_size(cases[i].n) != cases[i].total)
			fail_msg("size %u: %zu bytes, expected %zu", cases[i].n,
				 vu_split_ring_mem_size(cases[i].n), cases[i].total);
	}
}

/* Rounding at a page boundary (sizes that are not powers of two exercise it): desc +
 * avail of 4092 bytes keep used on the second page, 4110 bytes push it to the third. */
static void
test_layout_page_boundary(void **state)
{
	(void)state;
	assert_int_equal(vu_split_ring_used_offset(227), 4096); /* 3632 + 460 = 4092 */
	assert_int_equal(vu_split_ring_used_offset(228), 8192); /* 3648 + 462 = 4110 */
	/* used_event counts: 14560 + 1826 = 16386 bytes, 2 past the fourth page. */
	assert_int_equal(vu_split_ring_used_offset(910), 20480);
	assert_int_equal(vu_split_ring_mem_size(511), 16384); /* 8176+1028 -> 12288; 4094 */
	assert_int_equal(vu_split_ring_mem_size(512), 20480); /* 8192+1030 -> 12288; 4102 */
}

static void
test_layout_pointers(void **state)
{
	static const uint16_t sizes[] = { 1, 4, 256, 1024, 32768 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint16_t n = sizes[i];
		struct ring_mem rm;
		uint8_t *used_event, *used_end;

		ring_new(&rm, n);
		assert_ptr_equal(rm.r.desc, rm.mem);
		assert_int_equal((uint8_t *)rm.r.avail - rm.mem, 16 * (size_t)n);
		assert_int_equal((uint8_t *)rm.r.used - rm.mem, vu_split_ring_used_offset(n));
		assert_int_equal(((uintptr_t)rm.r.used) % VU_RING_ALIGN, 0);
		/* used_event (after avail->ring[n]) ends before the used ring starts. */
		used_event = (uint8_t *)&rm.r.avail->ring[n];
		assert_true(used_event + 2 <= (uint8_t *)rm.r.used);
		/* avail_event (after used->ring[n]) fits the allocation. */
		used_end = (uint8_t *)&rm.r.used->ring[n] + 2;
		assert_true(used_end <= rm.mem + rm.len);
		assert_int_equal(rm.r.size, n);
		assert_int_equal(rm.r.mask, n - 1);
		assert_int_equal(rm.r.avail_idx, 0);
		assert_int_equal(rm.r.last_used_idx, 0);
		ring_free(&rm);
	}
}

/* Added heads are invisible to the device until published, then all at once. */
static void
test_avail_add_publish(void **state)
{
	struct ring_mem rm;

	(void)state;
	ring_new(&rm, 8);
	vu_split_ring_avail_add(&rm.r, 5);
	vu_split_ring_avail_add(&rm.r, 2);
	vu_split_ring_avail_add(&rm.r, 7);
	assert_int_equal(rm.r.avail->idx, 0);
	assert_int_equal(rm.r.avail_idx, 3);
	assert_int_equal(rm.r.avail->ring[0], 5);
	assert_int_equal(rm.r.avail->ring[1], 2);
	assert_int_equal(rm.r.avail->ring[2], 7);
	vu_split_ring_avail_publish(&rm.r);
	assert_int_equal(rm.r.avail->idx, 3);
	assert_int_equal(rm.r.avail->flags, 0);
	ring_free(&rm);
}

/* The free-running 16-bit index wraps from 65535 to 0; slots wrap with the mask. */
static void
test_avail_wraparound(void **state)
{
	struct ring_mem rm;

	(void)state;
	ring_new(&rm, 4);
	rm.r.avail_idx = 65534;
	rm.r.avail->idx = 65534;
	vu_split_ring_avail_add(&rm.r, 10); /* slot 2 */
	vu_split_ring_avail_add(&rm.r, 11); /* slot 3 */
	vu_split_ring_avail_add(&rm.r, 12); /* slot 0, index 0 */
	vu_split_ring_avail_add(&rm.r, 13); /* slot 1 */
	assert_int_equal(rm.r.avail_idx, 2);
	assert_int_equal(rm.r.avail->ring[2], 10);
	assert_int_equal(rm.r.avail->ring[3], 11);
	assert_int_equal(rm.r.avail->ring[0], 12);
	assert_int_equal(rm.r.avail->ring[1], 13);
	assert_int_equal(rm.r.avail->idx, 65534);
	vu_split_ring_avail_publish(&rm.r);
	assert_int_equal(rm.r.avail->idx, 2);
	ring_free(&rm);
}

static void
test_used_pending(void **state)
{
	struct ring_mem rm;

	(void)state;
	ring_new(&rm, 8);
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 0);
	rm.r.used->ring[0] = (struct vu_used_elem){ .id = 3, .len = 60 };
	rm.r.used->ring[1] = (struct vu_used_elem){ .id = 1, .len = 1514 };
	rm.r.used->idx = 2;
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 2);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 0)->id, 3);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 1)->len, 1514);
	rm.r.last_used_idx = 1;
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 1);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 0)->id, 1);
	ring_free(&rm);
}

/* Pending counts and element slots across the 65535 -> 0 wrap. */
static void
test_used_wraparound(void **state)
{
	struct ring_mem rm;

	(void)state;
	ring_new(&rm, 4);
	rm.r.last_used_idx = 65534;
	rm.r.used->idx = 65534;
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 0);
	rm.r.used->ring[2].id = 20; /* 65534 & 3 */
	rm.r.used->ring[3].id = 21;
	rm.r.used->ring[0].id = 22;
	rm.r.used->idx = 1; /* 65534, 65535, 0 published */
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 3);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 0)->id, 20);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 1)->id, 21);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 2)->id, 22);
	rm.r.last_used_idx = 65535;
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 2);
	assert_int_equal(vu_split_ring_used_elem(&rm.r, 0)->id, 21);
	/* A full ring is size entries, never confused with empty. */
	rm.r.last_used_idx = 65533;
	rm.r.used->idx = 1;
	assert_int_equal(vu_split_ring_used_pending(&rm.r), 4);
	ring_free(&rm);
}

static void
test_needs_kick(void **state)
{
	struct ring_mem rm;

	(void)state;
	ring_new(&rm, 8);
	assert_true(vu_split_ring_needs_kick(&rm.r));
	rm.r.used->flags = VU_USED_F_NO_NOTIFY;
	assert_false(vu_split_ring_needs_kick(&rm.r));
	rm.r.used->flags = VU_USED_F_NO_NOTIFY | 0x8000;
	assert_false(vu_split_ring_needs_kick(&rm.r));
	/* Other bits do not suppress the kick. */
	rm.r.used->flags = 0x2;
	assert_true(vu_split_ring_needs_kick(&rm.r));
	/* The driver's own avail flag is not the device's. */
	rm.r.used->flags = 0;
	rm.r.avail->flags = VU_AVAIL_F_NO_INTERRUPT;
	assert_true(vu_split_ring_needs_kick(&rm.r));
	ring_free(&rm);
}

/* ---- packed ring ---- */

static void
test_packed_struct_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vu_packed_desc), 16);
	assert_int_equal(offsetof(struct vu_packed_desc, len), 8);
	assert_int_equal(offsetof(struct vu_packed_desc, id), 12);
	assert_int_equal(offsetof(struct vu_packed_desc, flags), 14);
	assert_int_equal(sizeof(struct vu_packed_event), 4);
	assert_int_equal(offsetof(struct vu_packed_event, flags), 2);
}

/* Descriptors, then the driver event suppression area, then the device's (on its own
 * 64-byte line), then the driver's used position (on its own line), the whole rounded up
 * to 4096. */
static void
test_packed_layout(void **state)
{
	static const struct {
		uint16_t n;
		size_t drv, dev, pos, total;
	} cases[] = {
		{ 1, 16, 64, 128, 4096 },
		{ 4, 64, 128, 192, 4096 },	      /* 64 + 4 -> 128; 132 -> 192 */
		{ 256, 4096, 4160, 4224, 8192 },      /* 4100 -> 4160; 4164 -> 4224 */
		{ 1000, 16000, 16064, 16128, 16384 }, /* any size: not a power of two */
		{ 32768, 524288, 524352, 524416, 528384 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t n = cases[i].n;

		if (vu_packed_ring_driver_event_offset(n) != cases[i].drv ||
		    vu_packed_ring_device_event_offset(n) != cases[i].dev ||
		    vu_packed_ring_used_pos_offset(n) != cases[i].pos ||
		    vu_packed_ring_mem_size(n) != cases[i].total)
			fail_msg("size %u: driver event %zu device event %zu used position %zu "
				 "total %zu, expected %zu %zu %zu %zu",
				 n, vu_packed_ring_driver_event_offset(n),
				 vu_packed_ring_device_event_offset(n),
				 vu_packed_ring_used_pos_offset(n), vu_packed_ring_mem_size(n),
				 cases[i].drv, cases[i].dev, cases[i].pos, cases[i].total);
	}
}

static void
test_packed_init(void **state)
{
	struct vu_packed_ring r;
	uint8_t *mem;

	(void)state;
	assert_int_equal(
		posix_memalign((void **)&mem, VU_RING_ALIGN, vu_packed_ring_mem_size(1000)), 0);
	memset(mem, 0xff, vu_packed_ring_mem_size(1000));
	vu_packed_ring_init(&r, mem, 1000);
	assert_ptr_equal(r.desc, mem);
	assert_ptr_equal(r.driver_event, mem + 16000);
	assert_ptr_equal(r.device_event, mem + 16064);
	assert_ptr_equal(r.used_pos, (uint32_t *)(mem + 16128));
	assert_int_equal(r.size, 1000);
	assert_int_equal(r.avail_idx, 0);
	assert_int_equal(r.used_idx, 0);
	/* "... initialized to 1": available means AVAIL set and USED clear. */
	assert_true(r.avail_wrap);
	assert_true(r.used_wrap);
	assert_int_equal(vu_packed_ring_avail_flags(&r), VU_PACKED_DESC_F_AVAIL);
	free(mem);
}

/* vu_packed_desc_fill writes the same 16 bytes whether it uses one vector store (AVX
 * CPUs) or four field stores: both ways, on this machine. */
static void
test_packed_desc_fill(void **state)
{
	static uint8_t mem[8192] __attribute__((aligned(4096)));
	struct vu_packed_ring r;

	(void)state;
	for (int whole = 0; whole < 2; whole++) {
		struct vu_packed_desc *d;

		memset(mem, 0xaa, sizeof(mem));
		vu_packed_ring_init(&r, mem, 8);
		r.store_whole = whole && vu_packed_desc_store_whole_ok();
		d = &r.desc[3];
		vu_packed_desc_fill(&r, d, 0x1122334455667788ull, 0x99aabbccu, 0x0507,
				    (uint16_t)(VU_DESC_F_WRITE | VU_PACKED_DESC_F_AVAIL));
		assert_int_equal(d->addr, 0x1122334455667788ull);
		assert_int_equal(d->len, 0x99aabbccu);
		assert_int_equal(d->id, 0x0507);
		assert_int_equal(d->flags, VU_DESC_F_WRITE | VU_PACKED_DESC_F_AVAIL);
		/* Nothing around it touched. */
		assert_int_equal(mem[3 * 16 - 1], 0xaa);
		assert_int_equal(mem[4 * 16], 0xaa);
	}
}

/* Each pass over the end flips the wrap counter and with it the AVAIL/USED pattern. */
static void
test_packed_wrap(void **state)
{
	struct vu_packed_ring r;
	static uint8_t mem[8192] __attribute__((aligned(4096)));

	(void)state;
	vu_packed_ring_init(&r, mem, 3); /* any size */
	vu_packed_ring_avail_advance(&r, 2);
	assert_int_equal(r.avail_idx, 2);
	assert_true(r.avail_wrap);
	vu_packed_ring_avail_advance(&r, 1); /* exactly to the end */
	assert_int_equal(r.avail_idx, 0);
	assert_false(r.avail_wrap);
	assert_int_equal(vu_packed_ring_avail_flags(&r), VU_PACKED_DESC_F_USED);
	vu_packed_ring_avail_advance(&r, 2);
	vu_packed_ring_avail_advance(&r, 2); /* 4: past the end by one */
	assert_int_equal(r.avail_idx, 1);
	assert_true(r.avail_wrap);
	assert_int_equal(vu_packed_ring_avail_flags(&r), VU_PACKED_DESC_F_AVAIL);

	vu_packed_ring_used_advance(&r, 3);
	assert_int_equal(r.used_idx, 0);
	assert_false(r.used_wrap);
	vu_packed_ring_used_advance(&r, 1);
	assert_int_equal(r.used_idx, 1);
	assert_false(r.used_wrap);
	/* The fill side is independent of the used side. */
	assert_true(r.avail_wrap);
}

/* "A descriptor is used when its AVAIL and USED bits match each other and the device
 * ring wrap counter." */
static void
test_packed_desc_is_used(void **state)
{
	struct vu_packed_desc d = { 0 };
	const uint16_t A = VU_PACKED_DESC_F_AVAIL, U = VU_PACKED_DESC_F_USED;

	(void)state;
	d.flags = A | U;
	assert_true(vu_packed_desc_is_used(&d, true));
	assert_false(vu_packed_desc_is_used(&d, false));
	d.flags = 0;
	assert_true(vu_packed_desc_is_used(&d, false));
	assert_false(vu_packed_desc_is_used(&d, true));
	d.flags = A; /* available, not used, on the first lap */
	assert_false(vu_packed_desc_is_used(&d, true));
	assert_false(vu_packed_desc_is_used(&d, false));
	d.flags = U;
	assert_false(vu_packed_desc_is_used(&d, true));
	assert_false(vu_packed_desc_is_used(&d, false));
	/* Other flag bits do not matter. */
	d.flags = A | U | VU_DESC_F_WRITE | VU_DESC_F_NEXT;
	assert_true(vu_packed_desc_is_used(&d, true));

	vu_packed_desc_publish(&d, A | VU_DESC_F_WRITE);
	assert_int_equal(d.flags, A | VU_DESC_F_WRITE);
}

static void
test_packed_base_and_kick(void **state)
{
	struct vu_packed_ring r;
	static uint8_t mem[8192] __attribute__((aligned(4096)));

	(void)state;
	assert_int_equal(vu_packed_ring_base(0, true), 0x8000);
	assert_int_equal(vu_packed_ring_base(5, false), 5);
	assert_int_equal(vu_packed_ring_base(0x7fff, true), 0xffff);

	memset(mem, 0, sizeof(mem));
	vu_packed_ring_init(&r, mem, 8);
	assert_true(vu_packed_ring_needs_kick(&r));
	r.device_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	assert_false(vu_packed_ring_needs_kick(&r));
	r.device_event->flags = VU_RING_EVENT_FLAGS_DESC; /* conservative: kick */
	assert_true(vu_packed_ring_needs_kick(&r));
	/* The driver's own area does not count. */
	r.device_event->flags = VU_RING_EVENT_FLAGS_ENABLE;
	r.driver_event->flags = VU_RING_EVENT_FLAGS_DISABLE;
	assert_true(vu_packed_ring_needs_kick(&r));
}

/* The word a sleeping driver watches, read as rte_power_monitor reads it. */
static bool
watch_says_pending(const struct vu_ring_watch *w)
{
	uint16_t v;

	assert_int_equal(w->size, sizeof(v));
	memcpy(&v, (const void *)w->addr, sizeof(v));
	return vu_ring_watch_pending(v, w->expect, w->mask, w->pending_if_equal);
}

/* Split: the watch is used->idx, pending exactly while it differs from the next index the
 * driver reads, across the 65535 -> 0 wrap and with a whole ring pending. */
static void
test_split_watch(void **state)
{
	struct ring_mem rm;
	struct vu_ring_watch w;

	(void)state;
	ring_new(&rm, 8);
	w = vu_split_ring_watch(&rm.r);
	assert_ptr_equal(w.addr, &rm.r.used->idx);
	assert_false(watch_says_pending(&w));
	rm.r.used->idx = 1; /* the device adds an entry */
	assert_true(watch_says_pending(&w));
	rm.r.last_used_idx = 1; /* the driver reads it */
	w = vu_split_ring_watch(&rm.r);
	assert_false(watch_says_pending(&w));
	rm.r.used->idx = 9; /* all 8 buffers used: the index is back at the same slot */
	assert_true(watch_says_pending(&w));

	rm.r.last_used_idx = 65535;
	rm.r.used->idx = 65535;
	w = vu_split_ring_watch(&rm.r);
	assert_false(watch_says_pending(&w));
	rm.r.used->idx = 0;
	assert_true(watch_says_pending(&w));
	rm.r.last_used_idx = 0;
	w = vu_split_ring_watch(&rm.r);
	assert_false(watch_says_pending(&w));
	ring_free(&rm);
}

/* Packed: the watch is the flags of the descriptor at the used position, pending exactly
 * when the device marked it used in the current lap: not while it holds a buffer made
 * available, nor a descriptor used in the lap before; other flag bits do not matter. */
static void
test_packed_watch(void **state)
{
	static uint8_t mem[8192] __attribute__((aligned(4096)));
	const uint16_t A = VU_PACKED_DESC_F_AVAIL, U = VU_PACKED_DESC_F_USED;
	struct vu_packed_ring r;
	struct vu_ring_watch w;

	(void)state;
	memset(mem, 0, sizeof(mem));
	vu_packed_ring_init(&r, mem, 4);
	for (uint16_t i = 0; i < 4; i++)
		r.desc[i].flags = (uint16_t)(VU_DESC_F_WRITE | vu_packed_ring_avail_flags(&r));
	w = vu_packed_ring_watch(&r);
	assert_ptr_equal(w.addr, &r.desc[0].flags);
	assert_false(watch_says_pending(&w));
	r.desc[0].flags = (uint16_t)(VU_DESC_F_WRITE | A | U); /* used in lap 1 */
	assert_true(watch_says_pending(&w));

	/* The driver reads all four; slot 0 keeps lap 1's used bits. */
	for (uint16_t i = 1; i < 4; i++)
		r.desc[i].flags = A | U;
	vu_packed_ring_used_advance(&r, 4);
	w = vu_packed_ring_watch(&r);
	assert_ptr_equal(w.addr, &r.desc[0].flags);
	assert_false(watch_says_pending(&w));
	r.desc[0].flags = (uint16_t)(VU_DESC_F_WRITE | U); /* available in lap 2 */
	assert_false(watch_says_pending(&w));
	r.desc[0].flags = VU_DESC_F_WRITE; /* used in lap 2: both bits 0 */
	assert_true(watch_says_pending(&w));

	vu_packed_ring_used_advance(&r, 1);
	w = vu_packed_ring_watch(&r);
	assert_ptr_equal(w.addr, &r.desc[1].flags);
	assert_false(watch_says_pending(&w)); /* lap 1's used bits */
	r.desc[1].flags = 0;
	assert_true(watch_says_pending(&w));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_sizes),
		cmocka_unit_test(test_layout_sizes),
		cmocka_unit_test(test_layout_page_boundary),
		cmocka_unit_test(test_layout_pointers),
		cmocka_unit_test(test_avail_add_publish),
		cmocka_unit_test(test_avail_wraparound),
		cmocka_unit_test(test_used_pending),
		cmocka_unit_test(test_used_wraparound),
		cmocka_unit_test(test_needs_kick),
		cmocka_unit_test(test_packed_struct_sizes),
		cmocka_unit_test(test_packed_layout),
		cmocka_unit_test(test_packed_init),
		cmocka_unit_test(test_packed_wrap),
		cmocka_unit_test(test_packed_desc_fill),
		cmocka_unit_test(test_packed_desc_is_used),
		cmocka_unit_test(test_split_watch),
		cmocka_unit_test(test_packed_watch),
		cmocka_unit_test(test_packed_base_and_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
