/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-user frontend's memory slots (CONFIGURE_MEM_SLOTS) against the fake backend. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_backend.h"
#include "test_util.h"
#include "vu_backend.h"

#define F_PROTO (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)
#define P_ACK (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define P_RESET (1ull << VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE)
#define P_SLOTS (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)
#define TIMEOUT_MS 2000
/* More regions than SET_MEM_TABLE carries. */
#define NREG 10u
#define REG_BASE 0x7f1000000000ull
#define REG_STRIDE 0x1000000ull
#define REG_LEN 0x200000ull

static const struct vu_backend_ops *ops = &vu_vhost_user_ops;

struct ctx {
	struct fake_backend *fb;
	struct vu_backend *b;
	int fds_before;
	int fd[NREG + 1];
	struct vu_mem_table mem;
};

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	tu_log_capture();
	c->fb = fb_create();
	c->fds_before = tu_count_fds();
	/* Region i: its own file, at REG_BASE + i * REG_STRIDE. */
	for (unsigned int i = 0; i <= NREG; i++) {
		c->fd[i] = tu_memfd(4096);
		c->mem.regions[i] = (struct vu_mem_region){
			.addr = REG_BASE + i * REG_STRIDE,
			.len = REG_LEN,
			.fd = c->fd[i],
			.offset = 0x1000ull * i,
		};
	}
	c->mem.nregions = NREG;
	*state = c;
	return c->fb ? 0 : -1;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	if (c->b)
		ops->close(c->b);
	for (unsigned int i = 0; i <= NREG; i++)
		close(c->fd[i]);
	fb_destroy(c->fb);
	free(c);
	return 0;
}

static int
start_and_open(struct ctx *c)
{
	struct vu_backend_params p = { .name = "ut0", .timeout_ms = TIMEOUT_MS };

	assert_int_equal(fb_start(c->fb), 0);
	p.path = fb_path(c->fb);
	return ops->open(&p, &c->b);
}

static void
finish(struct ctx *c)
{
	ops->close(c->b);
	c->b = NULL;
	assert_int_equal(fb_finish(c->fb), 0);
}

/* "single memory region description": padding, then the region as SET_MEM_TABLE has it
 * ("guest physical" == userspace address here). */
static void
expect_reg(struct ctx *c, uint32_t request, uint64_t addr, uint64_t len, uint64_t offset)
{
	uint64_t want[5] = { 0, addr, len, addr, offset };

	fb_expect_payload(c->fb, request, FB_FLAGS_ACK, want, sizeof(want));
	fb_ack(c->fb, request, 0);
}

static void
expect_all_added(struct ctx *c)
{
	for (unsigned int i = 0; i < NREG; i++)
		expect_reg(c, VU_VHOST_USER_ADD_MEM_REG, c->mem.regions[i].addr, REG_LEN,
			   c->mem.regions[i].offset);
}

/* The number of messages of this request the backend got, and that each ADD carried one
 * fd and each REM none. */
static unsigned int
count_rx(const struct ctx *c, uint32_t request)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fb_nrx(c->fb); i++) {
		const struct fb_rx *rx = fb_rx(c->fb, i);

		if (rx->hdr.request != request)
			continue;
		n++;
		assert_int_equal(rx->nfds, request == VU_VHOST_USER_ADD_MEM_REG ? 1 : 0);
	}
	return n;
}

/* Ten regions as ten ADD_MEM_REG; a second table costs only what changed: a region
 * gone (REM), one new, one grown at its end (its new part added); after RESET_DEVICE
 * the backend has nothing, so everything is added again. */
static void
test_add_rem(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK | P_RESET | P_SLOTS, 0);
	expect_all_added(c);
	expect_reg(c, VU_VHOST_USER_REM_MEM_REG, c->mem.regions[3].addr, REG_LEN,
		   c->mem.regions[3].offset);
	expect_reg(c, VU_VHOST_USER_ADD_MEM_REG, c->mem.regions[0].addr + REG_LEN, REG_LEN,
		   c->mem.regions[0].offset + REG_LEN);
	expect_reg(c, VU_VHOST_USER_ADD_MEM_REG, c->mem.regions[NREG].addr, REG_LEN,
		   c->mem.regions[NREG].offset);
	fb_expect_payload(c->fb, VU_VHOST_USER_RESET_DEVICE, FB_FLAGS_ACK, NULL, 0);
	fb_ack(c->fb, VU_VHOST_USER_RESET_DEVICE, 0);
	expect_all_added(c);
	assert_int_equal(start_and_open(c), 0);
	assert_int_equal(ops->mem_slots(c->b), FB_MEM_SLOTS);
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), 0);
	/* The same table again: nothing to say. */
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), 0);
	{
		struct vu_mem_table next = c->mem;

		next.regions[0].len = 2 * REG_LEN;
		next.regions[3] = c->mem.regions[NREG];
		assert_int_equal(ops->set_mem_table(c->b, &next), 0);
	}
	assert_int_equal(ops->reset(c->b), 0);
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), 0);
	finish(c);
	assert_int_equal(count_rx(c, VU_VHOST_USER_ADD_MEM_REG), 2 * NREG + 2);
	assert_int_equal(count_rx(c, VU_VHOST_USER_REM_MEM_REG), 1);
	assert_int_equal(count_rx(c, VU_VHOST_USER_SET_MEM_TABLE), 0);
	assert_int_equal(tu_log_errors(), 0);
}

/* A region freed at its edge stays whole: nothing is sent. A region of another file at
 * its addresses replaces it (REM, then ADD). */
static void
test_shrink_and_replace(void **state)
{
	struct ctx *c = *state;
	struct vu_mem_table next = c->mem;

	fb_script_handshake(c->fb, F_PROTO, P_ACK | P_SLOTS, 0);
	expect_all_added(c);
	expect_reg(c, VU_VHOST_USER_REM_MEM_REG, c->mem.regions[1].addr, REG_LEN,
		   c->mem.regions[1].offset);
	expect_reg(c, VU_VHOST_USER_ADD_MEM_REG, c->mem.regions[1].addr, REG_LEN,
		   c->mem.regions[NREG].offset);
	assert_int_equal(start_and_open(c), 0);
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), 0);
	next.regions[2].len = REG_LEN / 2;
	assert_int_equal(ops->set_mem_table(c->b, &next), 0);
	next.regions[1].fd = c->fd[NREG];
	next.regions[1].offset = c->mem.regions[NREG].offset;
	assert_int_equal(ops->set_mem_table(c->b, &next), 0);
	finish(c);
	assert_int_equal(tu_log_errors(), 0);
}

/* A backend with 9 slots takes 9 regions; the tenth is refused before it is sent. */
static void
test_slots_exhausted(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake_slots(c->fb, F_PROTO, P_ACK | P_SLOTS, 0, NREG - 1);
	for (unsigned int i = 0; i < NREG - 1; i++)
		expect_reg(c, VU_VHOST_USER_ADD_MEM_REG, c->mem.regions[i].addr, REG_LEN,
			   c->mem.regions[i].offset);
	assert_int_equal(start_and_open(c), 0);
	assert_int_equal(ops->mem_slots(c->b), NREG - 1);
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), -E2BIG);
	assert_non_null(strstr(tu_log_last_error(), "more than the 9 memory slots"));
	finish(c);
}

/* Fewer slots than SET_MEM_TABLE's 8 is not a backend to talk to. */
static void
test_too_few_slots(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake_slots(c->fb, F_PROTO, P_SLOTS, 0, 4);
	assert_int_equal(start_and_open(c), -EPROTO);
	assert_non_null(strstr(tu_log_last_error(), "reports 4 memory slots"));
	assert_int_equal(fb_finish(c->fb), 0);
}

/* Without the feature: SET_MEM_TABLE as before, and more than 8 regions refused with the
 * reason, nothing sent. */
static void
test_without_slots(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect(c->fb, VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK);
	fb_ack(c->fb, VU_VHOST_USER_SET_MEM_TABLE, 0);
	assert_int_equal(start_and_open(c), 0);
	assert_int_equal(ops->mem_slots(c->b), 0);
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), -E2BIG);
	assert_non_null(strstr(tu_log_last_error(), "does not offer CONFIGURE_MEM_SLOTS"));
	c->mem.nregions = VU_MEM_MAX_REGIONS;
	assert_int_equal(ops->set_mem_table(c->b, &c->mem), 0);
	finish(c);
	assert_int_equal(count_rx(c, VU_VHOST_USER_ADD_MEM_REG), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_rem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_few_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_slots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
