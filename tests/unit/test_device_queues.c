/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-net device: DRIVER_OK, queues, memory, notifications, reset, destroy. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "device_fixture.h"
#include "fake_ops.h"
#include "test_util.h"
#include "vu_device.h"

/* ---- DRIVER_OK ---- */

/* Features without MAC/STATUS, the MTU, the memory table, then per queue call, num, base,
 * addr, kick, and only then the enables (of the first pair). */
static void
test_driver_ok_sequence(void **state)
{
	struct ctx *c = *state;
	struct call want[3 + 4 * 5 + 4];
	unsigned int n = 0, from;

	fk.max_pairs = 2;
	assert_int_equal(create(c, 2), 0);
	make_ready(c);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_int_equal(vu_device_get_status(c->dev), S_DOK);

	want[n++] =
		(struct call){ OP_SET_FEATURES, 0, VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) };
	want[n++] = (struct call){ OP_MTU, 0, VU_NET_DEFAULT_MTU };
	want[n++] = (struct call){ OP_SET_MEM_TABLE, 0, 1 };
	for (uint32_t q = 0; q < 4; q++) {
		want[n++] = (struct call){ OP_CALL, q,
					   (uint64_t)(int64_t)vu_device_queue_call_fd(c->dev, q) };
		want[n++] = (struct call){ OP_NUM, q, q == 0 ? 256 : 512 };
		want[n++] = (struct call){ OP_BASE, q, 0 };
		want[n++] = (struct call){ OP_ADDR, q, 0 };
		want[n++] = (struct call){ OP_KICK, q,
					   (uint64_t)(int64_t)vu_device_queue_kick_fd(c->dev, q) };
	}
	/* "Multiqueue is disabled by default": pair 0 enabled; pair 1's rings start disabled
	 * in the backend, so nothing is sent for them. */
	for (uint32_t q = 0; q < 2; q++)
		want[n++] = (struct call){ OP_ENABLE, q, 1 };
	expect_calls(from, want, n);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);

	for (uint32_t q = 0; q < 4; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_memory_equal(&fk.addr[q], &a, sizeof(a));
		assert_true(vu_device_queue_call_fd(c->dev, q) >= 0);
		assert_true(vu_device_queue_kick_fd(c->dev, q) >= 0);
		assert_int_not_equal(vu_device_queue_call_fd(c->dev, q),
				     vu_device_queue_kick_fd(c->dev, q));
	}
	assert_memory_equal(&fk.mem.regions[0], &c->mem.regions[0], sizeof(c->mem.regions[0]));
	assert_true(vu_device_link_up(c->dev));
}

/* What the device emulates in-process (MAC, STATUS, control queue, MQ) never reaches the
 * backend. */
static void
test_driver_ok_strips_inprocess_features(void **state)
{
	struct ctx *c = *state;
	const uint64_t data =
		VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MRG_RXBUF);
	const uint64_t inproc = VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS) |
		VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) | VU_BIT(VU_NET_F_CTRL_VLAN) |
		VU_BIT(VU_NET_F_CTRL_MAC_ADDR) | VU_BIT(VU_NET_F_MQ);
	struct call *first;
	unsigned int from;

	fk.max_pairs = 2;
	assert_int_equal(create(c, 2), 0);
	assert_int_equal(vu_device_get_features(c->dev) & (data | inproc), data | inproc);
	features_ok(c->dev, data | inproc);
	set_up_queues(c, 4, 256);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	first = &fk.calls[from];
	assert_int_equal(first->op, OP_SET_FEATURES);
	assert_int_equal(first->val, data);
}

/* With several pairs only the first must be set up; the others are left out. */
static void
test_driver_ok_unused_pairs(void **state)
{
	struct ctx *c = *state;
	unsigned int from;

	fk.max_pairs = 3;
	assert_int_equal(create(c, 3), 0);
	features_ok(c->dev, DRIVER_FEATURES);
	set_up_queues(c, 2, 256);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	for (unsigned int i = from; i < fk.ncalls; i++)
		if (fk.calls[i].idx >= 2)
			fail_msg("queue %u, never set up, reached the backend (%s)",
				 fk.calls[i].idx, op_names[fk.calls[i].op]);
	assert_int_equal(fk.calls[fk.ncalls - 2].op, OP_ENABLE);
	assert_int_equal(fk.calls[fk.ncalls - 1].op, OP_ENABLE);
	assert_int_equal(fk.calls[fk.ncalls - 1].idx, 1);

	/* Queue 1 missing is an error: the first pair is not optional. */
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < 6; q++) {
		struct vu_vring_addr a = queue_addr(q);

		if (q != 1)
			assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
	}
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -EINVAL);
}

/* A packed ring starts with both wrap counters at 1: SET_VRING_BASE carries bit 15. */
static void
test_driver_ok_packed_base(void **state)
{
	struct ctx *c = *state;
	unsigned int nbase = 0;

	fk.features |= VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_RING_PACKED));
	set_up_queues(c, 2, 1000);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	for (unsigned int i = 0; i < fk.ncalls; i++) {
		if (fk.calls[i].op == OP_BASE) {
			assert_int_equal(fk.calls[i].val, 1u << 15);
			nbase++;
		}
		if (fk.calls[i].op == OP_NUM)
			assert_int_equal(fk.calls[i].val, 1000);
	}
	assert_int_equal(nbase, 2);
}

struct failure_case {
	enum op op;
	uint32_t idx;
	unsigned int stopped; /* rings the backend saw, to be stopped: 0..n-1 */
	unsigned int enabled; /* of those, enabled before the failure: 0..n-1 */
};

/* A failing op: the error comes back, DEVICE_NEEDS_RESET is set, DRIVER_OK is not, every
 * ring enabled is disabled, then every ring the backend saw is stopped, in order. */
static void
test_driver_ok_failure(void **state)
{
	static const struct failure_case cases[] = {
		{ OP_SET_FEATURES, 0, 0, 0 }, { OP_MTU, 0, 0, 0 },    { OP_SET_MEM_TABLE, 0, 0, 0 },
		{ OP_CALL, 0, 1, 0 },	      { OP_ADDR, 0, 1, 0 },   { OP_NUM, 1, 2, 0 },
		{ OP_KICK, 1, 2, 0 },	      { OP_ENABLE, 0, 2, 0 }, { OP_ENABLE, 1, 2, 1 },
	};
	struct ctx *c = *state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct failure_case *fc = &cases[k];
		struct call want[4];
		unsigned int n = 0, from;
		char what[64];

		fk.fail_op = OP_NONE;
		assert_int_equal(create(c, 1), 0);
		make_ready(c);
		fk.fail_op = fc->op;
		fk.fail_idx = fc->idx;
		fk.fail_rc = -EIO;
		from = fk.ncalls;
		if (vu_device_set_status(c->dev, S_DOK) != -EIO)
			fail_msg("%s %u failing: DRIVER_OK did not return the error",
				 op_names[fc->op], fc->idx);
		assert_int_equal(vu_device_get_status(c->dev),
				 S_FOK | VU_STATUS_DEVICE_NEEDS_RESET);
		assert_false(vu_device_link_up(c->dev));
		/* The calls after the failing one (the first of its kind since DRIVER_OK). */
		while (from < fk.ncalls &&
		       !(fk.calls[from].op == fc->op && fk.calls[from].idx == fc->idx))
			from++;
		assert_true(from < fk.ncalls);
		for (uint32_t q = 0; q < fc->enabled; q++)
			want[n++] = (struct call){ OP_ENABLE, q, 0 };
		for (uint32_t q = 0; q < fc->stopped; q++)
			want[n++] = (struct call){ OP_GET_BASE, q, 0 };
		snprintf(what, sizeof(what), "%s %u failing", op_names[fc->op], fc->idx);
		expect_calls_what(what, from + 1, want, n);

		/* Stopped rings are not stopped twice by the reset. */
		fk.fail_op = OP_NONE;
		from = fk.ncalls;
		assert_int_equal(vu_device_set_status(c->dev, 0), 0);
		expect_calls_what(what, from, NULL, 0);
		/* And the device starts again from scratch. */
		make_ready(c);
		assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
		assert_true(vu_device_link_up(c->dev));
		vu_device_destroy(c->dev);
		c->dev = NULL;
	}
}

static void
test_driver_ok_without_memory(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_addr a = queue_addr(0);
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 256, &a), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 1, 256, &a), 0);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -EINVAL);
	assert_int_equal(vu_device_get_status(c->dev), S_FOK | VU_STATUS_DEVICE_NEEDS_RESET);
	expect_calls(from, NULL, 0);
}

static void
test_driver_ok_queue_not_set_up(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_addr a = queue_addr(0);
	unsigned int from;
	int call0, kick0;

	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 256, &a), 0);
	/* A refused set-up does not make queue 1 ready. */
	assert_int_equal(vu_device_setup_queue(c->dev, 1, 3, &a), -EINVAL);
	call0 = vu_device_queue_call_fd(c->dev, 0);
	kick0 = vu_device_queue_kick_fd(c->dev, 0);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -EINVAL);
	assert_int_equal(vu_device_get_status(c->dev), S_FOK | VU_STATUS_DEVICE_NEEDS_RESET);
	{
		const struct call want[] = {
			{ OP_SET_FEATURES, 0, VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) },
			{ OP_MTU, 0, VU_NET_DEFAULT_MTU },
			{ OP_SET_MEM_TABLE, 0, 1 },
			{ OP_CALL, 0, (uint64_t)call0 },
			{ OP_NUM, 0, 256 },
			{ OP_BASE, 0, 0 },
			{ OP_ADDR, 0, 0 },
			{ OP_KICK, 0, (uint64_t)kick0 },
			{ OP_GET_BASE, 0, 0 },
		};

		expect_calls(from, want, sizeof(want) / sizeof(want[0]));
	}
}

/* ---- reset ---- */

static void
test_reset_stops_rings(void **state)
{
	struct ctx *c = *state;
	const struct call want[] = {
		{ OP_ENABLE, 0, 0 },
		{ OP_ENABLE, 1, 0 },
		{ OP_GET_BASE, 0, 0 },
		{ OP_GET_BASE, 1, 0 },
	};
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	make_ready(c);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	expect_calls(from, want, 4);
	assert_int_equal(vu_device_get_status(c->dev), 0);
	assert_int_equal(vu_device_get_driver_features(c->dev), 0);
	assert_false(vu_device_link_up(c->dev));

	/* A second reset has nothing to stop. */
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	expect_calls(from, NULL, 0);

	/* The queues were forgotten: DRIVER_OK without setting them up again fails. */
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -EINVAL);
}

/* ---- queues ---- */

static void
test_setup_queue_validation(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_addr a = queue_addr(0);

	assert_int_equal(create(c, 1), 0);
	/* Before FEATURES_OK. */
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 256, &a), -EPERM);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 256, &a), -EPERM);
	assert_int_equal(vu_device_set_driver_features(c->dev, DRIVER_FEATURES), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);

	assert_int_equal(vu_device_setup_queue(c->dev, 2, 256, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0xffffffffu, 256, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 0, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 3, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 384, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 65536, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 32768, &a), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 1, &a), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 1, 256, &a), 0);

	/* After DRIVER_OK. */
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 256, &a), -EPERM);
}

/* With RING_PACKED negotiated any size up to 32768 is fine, power of two or not. */
static void
test_setup_queue_packed(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_addr a = queue_addr(0);

	fk.features |= VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_RING_PACKED));
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 100, &a), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 32768, &a), 0);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 32769, &a), -EINVAL);
	assert_int_equal(vu_device_setup_queue(c->dev, 0, 0, &a), -EINVAL);
}

/* ---- memory ---- */

static void
test_set_memory_validation(void **state)
{
	struct ctx *c = *state;
	struct vu_mem_table bad;
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	from = fk.ncalls;
	bad = c->mem;
	bad.nregions = 0;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -E2BIG);
	bad.nregions = VU_MEM_MAX_REGIONS + 1;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -E2BIG);
	bad = c->mem;
	bad.regions[0].len = 0;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -EINVAL);
	bad = c->mem;
	bad.regions[0].fd = -1;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -EINVAL);
	bad = c->mem;
	bad.regions[0].addr = 0xfffffffffffff000ull;
	bad.regions[0].len = 0x2000;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -EINVAL);
	/* The second region bad, the first fine. */
	bad = c->mem;
	bad.nregions = 2;
	bad.regions[1] = bad.regions[0];
	bad.regions[1].len = 0;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -EINVAL);
	/* All eight is the limit. */
	bad = c->mem;
	bad.nregions = VU_MEM_MAX_REGIONS;
	for (unsigned int i = 1; i < VU_MEM_MAX_REGIONS; i++)
		bad.regions[i] = bad.regions[0];
	assert_int_equal(vu_device_set_memory(c->dev, &bad), 0);
	/* Before DRIVER_OK nothing reaches the backend. */
	expect_calls(from, NULL, 0);
}

/* A backend working in our address space (vhost-kernel) takes regions without fds, so
 * that EAL memory without files (--no-huge alone) can be described to it. */
static void
test_set_memory_without_fds(void **state)
{
	struct ctx *c = *state;
	/* Static: the device keeps the ops until teardown destroys it. */
	static struct vu_backend_ops in_process;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake/sock",
		.ops = &in_process,
		.queue_pairs = 1,
	};
	struct vu_mem_table mem = c->mem;

	in_process = fake_ops;
	in_process.maps_memory_by_fd = false;
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_false(vu_device_needs_memory_fds(c->dev));
	mem.regions[0].fd = -1;
	assert_int_equal(vu_device_set_memory(c->dev, &mem), 0);
	mem.regions[0].len = 0;
	assert_int_equal(vu_device_set_memory(c->dev, &mem), -EINVAL);
}

/* The table is copied; after DRIVER_OK a new one goes to the backend at once; a refused
 * one leaves the previous in place. */
static void
test_set_memory_copy_and_update(void **state)
{
	struct ctx *c = *state;
	struct vu_mem_table mem = c->mem;
	struct vu_mem_table bad = c->mem;
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_memory(c->dev, &mem), 0);
	mem.regions[0].len = 4096; /* the caller's copy changes: the device's does not */
	bad.regions[0].fd = -1;
	assert_int_equal(vu_device_set_memory(c->dev, &bad), -EINVAL);
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
	}
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_int_equal(fk.mem.regions[0].len, 1 << 20);
	assert_int_equal(fk.mem.regions[0].fd, c->memfd);

	from = fk.ncalls;
	assert_int_equal(vu_device_set_memory(c->dev, &mem), 0);
	{
		const struct call want[] = { { OP_SET_MEM_TABLE, 0, 1 } };

		expect_calls(from, want, 1);
	}
	assert_int_equal(fk.mem.regions[0].len, 4096);
}

/* ---- notifications ---- */

static void
test_notify(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0;
	int fd;

	assert_int_equal(create(c, 1), 0);
	fd = vu_device_queue_kick_fd(c->dev, 1);
	assert_true(fd >= 0);
	/* Nothing pending yet (non-blocking eventfd). */
	assert_int_equal(read(fd, &v, sizeof(v)), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(vu_device_notify(c->dev, 1), 0);
	assert_int_equal(vu_device_notify(c->dev, 1), 0);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 2);
	/* Queue 0's kick was not touched. */
	assert_int_equal(read(vu_device_queue_kick_fd(c->dev, 0), &v, sizeof(v)), -1);
	/* Nor the call fd. */
	assert_int_equal(read(vu_device_queue_call_fd(c->dev, 1), &v, sizeof(v)), -1);

	assert_int_equal(vu_device_notify(c->dev, 2), -EINVAL);
	assert_int_equal(vu_device_queue_kick_fd(c->dev, 2), -EINVAL);
	assert_int_equal(vu_device_queue_call_fd(c->dev, 2), -EINVAL);
}

/* A secondary process kicks through its own copy of a queue's kick fd: the device's
 * eventfd counts those kicks. */
static void
test_notify_fd_copy(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0;
	int fd, copy;

	assert_int_equal(create(c, 1), 0);
	fd = vu_device_queue_kick_fd(c->dev, 1);
	assert_true(fd >= 0);
	copy = dup(fd);
	assert_true(copy >= 0);
	assert_int_equal(vu_device_notify_fd(copy), 0);
	assert_int_equal(vu_device_notify(c->dev, 1), 0);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 2);
	close(copy);
	assert_int_equal(vu_device_notify_fd(copy), -EBADF);
}

/* ---- destroy ---- */

static void
test_destroy_running(void **state)
{
	struct ctx *c = *state;
	const struct call want[] = {
		{ OP_ENABLE, 0, 0 },   { OP_ENABLE, 1, 0 }, { OP_GET_BASE, 0, 0 },
		{ OP_GET_BASE, 1, 0 }, { OP_RESET, 0, 0 },  { OP_CLOSE, 0, 0 },
	};
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	make_ready(c);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_true(tu_count_fds() > c->fds_before + 1);
	from = fk.ncalls;
	vu_device_destroy(c->dev);
	c->dev = NULL;
	expect_calls(from, want, sizeof(want) / sizeof(want[0]));
	assert_false(fk.is_open);
	/* The kick and call eventfds are closed. */
	assert_int_equal(tu_count_fds(), c->fds_before + 1);
	vu_device_destroy(NULL);
}

static void
test_destroy_idle(void **state)
{
	struct ctx *c = *state;
	const struct call want[] = { { OP_RESET, 0, 0 }, { OP_CLOSE, 0, 0 } };
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	from = fk.ncalls;
	vu_device_destroy(c->dev);
	c->dev = NULL;
	expect_calls(from, want, 2);
	assert_int_equal(tu_count_fds(), c->fds_before + 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, device_setup, device_teardown)
	const struct CMUnitTest tests[] = {
		T(test_driver_ok_sequence),
		T(test_driver_ok_strips_inprocess_features),
		T(test_driver_ok_unused_pairs),
		T(test_driver_ok_packed_base),
		T(test_driver_ok_failure),
		T(test_driver_ok_without_memory),
		T(test_driver_ok_queue_not_set_up),
		T(test_reset_stops_rings),
		T(test_setup_queue_validation),
		T(test_setup_queue_packed),
		T(test_set_memory_validation),
		T(test_set_memory_without_fds),
		T(test_set_memory_copy_and_update),
		T(test_notify),
		T(test_notify_fd_copy),
		T(test_destroy_running),
		T(test_destroy_idle),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
