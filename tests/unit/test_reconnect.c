/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the device's reconnect logic over a scripted ops table: server offers,
 * resuming split and packed rings, what a new backend must have. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"
#include "vu_ring.h"
#include "vu_ring_packed.h"
#include "vu_vhost_user_msg.h"

#define TIMEOUT_MS 2000

enum op {
	OP_GET_FEATURES,
	OP_SET_FEATURES,
	OP_MEM,
	OP_NUM,
	OP_BASE,
	OP_GET_BASE,
	OP_ADDR,
	OP_KICK,
	OP_CALL,
	OP_ENABLE,
	OP_RESET,
	OP_DISCONNECT,
	OP_CLOSE
};

struct call {
	enum op op;
	uint32_t idx;
	uint64_t val;
};

struct vu_backend {
	int efd;
	bool connected;
	int next_event;
	uint64_t features;
	uint32_t pairs;
	struct call calls[512];
	unsigned int ncalls;
};

static struct vu_backend fk;

static int
rec(enum op op, uint32_t idx, uint64_t val)
{
	if (fk.ncalls < sizeof(fk.calls) / sizeof(fk.calls[0]))
		fk.calls[fk.ncalls++] = (struct call){ op, idx, val };
	return 0;
}

static int
fk_open(const struct vu_backend_params *params, struct vu_backend **out)
{
	fk.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fk.connected = !params->server;
	*out = &fk;
	return 0;
}

static void
fk_close(struct vu_backend *b)
{
	rec(OP_CLOSE, 0, 0);
	close(b->efd);
}

static int
fk_get_features(struct vu_backend *b, uint64_t *features)
{
	*features = b->features;
	return rec(OP_GET_FEATURES, 0, 0);
}

static int
fk_get_max_queue_pairs(struct vu_backend *b, uint32_t *pairs)
{
	*pairs = b->pairs;
	return 0;
}

static int
fk_set_features(struct vu_backend *b, uint64_t f)
{
	(void)b;
	return rec(OP_SET_FEATURES, 0, f);
}

static int
fk_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	(void)b;
	return rec(OP_MEM, 0, mem->nregions);
}

static int
fk_set_vring_num(struct vu_backend *b, uint32_t idx, uint32_t num)
{
	(void)b;
	return rec(OP_NUM, idx, num);
}

static int
fk_set_vring_base(struct vu_backend *b, uint32_t idx, uint32_t base)
{
	(void)b;
	return rec(OP_BASE, idx, base);
}

static int
fk_get_vring_base(struct vu_backend *b, uint32_t idx, uint32_t *base)
{
	(void)b;
	*base = 0;
	return rec(OP_GET_BASE, idx, 0);
}

static int
fk_set_vring_addr(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *a)
{
	(void)b;
	return rec(OP_ADDR, idx, a->desc);
}

static int
fk_set_vring_kick(struct vu_backend *b, uint32_t idx, int fd)
{
	(void)b;
	return rec(OP_KICK, idx, (uint64_t)fd);
}

static int
fk_set_vring_call(struct vu_backend *b, uint32_t idx, int fd)
{
	(void)b;
	return rec(OP_CALL, idx, (uint64_t)fd);
}

static int
fk_set_vring_enable(struct vu_backend *b, uint32_t idx, bool on)
{
	(void)b;
	return rec(OP_ENABLE, idx, on);
}

static int
fk_reset(struct vu_backend *b)
{
	(void)b;
	return rec(OP_RESET, 0, 0);
}

static int
fk_event_fd(struct vu_backend *b)
{
	return b->efd;
}

static int
fk_handle_event(struct vu_backend *b)
{
	int ev = b->next_event;

	b->next_event = VU_BACKEND_EV_NONE;
	if (ev == VU_BACKEND_EV_CONNECTED)
		b->connected = true;
	if (ev == VU_BACKEND_EV_DISCONNECTED)
		b->connected = false;
	return ev;
}

static bool
fk_connected(struct vu_backend *b)
{
	return b->connected;
}

static void
fk_disconnect(struct vu_backend *b)
{
	b->connected = false;
	rec(OP_DISCONNECT, 0, 0);
}

static const struct vu_backend_ops fk_ops = {
	.name = "fake",
	.open = fk_open,
	.close = fk_close,
	.get_features = fk_get_features,
	.get_max_queue_pairs = fk_get_max_queue_pairs,
	.set_features = fk_set_features,
	.set_mem_table = fk_set_mem_table,
	.set_vring_num = fk_set_vring_num,
	.set_vring_base = fk_set_vring_base,
	.get_vring_base = fk_get_vring_base,
	.set_vring_addr = fk_set_vring_addr,
	.set_vring_kick = fk_set_vring_kick,
	.set_vring_call = fk_set_vring_call,
	.set_vring_enable = fk_set_vring_enable,
	.reset = fk_reset,
	.event_fd = fk_event_fd,
	.handle_event = fk_handle_event,
	.connected = fk_connected,
	.disconnect = fk_disconnect,
};

#define VERS1 (1ull << 32)
#define MRG (1ull << 15)
#define PACKED (1ull << 34)
#define MAC (1ull << 5)
#define STATUS (1ull << 16)
#define QSIZE 8

struct dctx {
	struct vu_device *dev;
	uint8_t *ring[4];
	struct vu_vring_addr addr[4];
	int memfd;
};

static int
setup_dev(void **state)
{
	struct dctx *c = calloc(1, sizeof(*c));

	memset(&fk, 0, sizeof(fk));
	fk.efd = -1;
	tu_log_capture();
	*state = c;
	return c ? 0 : -1;
}

static int
teardown_dev(void **state)
{
	struct dctx *c = *state;

	vu_device_destroy(c->dev);
	for (int i = 0; i < 4; i++)
		free(c->ring[i]);
	if (c->memfd > 0)
		close(c->memfd);
	free(c);
	return 0;
}

/* Let the device see one event. */
static int
event(struct dctx *c, int ev, bool *changed)
{
	fk.next_event = ev;
	return vu_device_handle_event(c->dev, changed);
}

static unsigned int
count(enum op op)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fk.ncalls; i++)
		n += fk.calls[i].op == op;
	return n;
}

static uint64_t
base_of(uint32_t idx)
{
	for (unsigned int i = fk.ncalls; i-- > 0;)
		if (fk.calls[i].op == OP_BASE && fk.calls[i].idx == idx)
			return fk.calls[i].val;
	fail_msg("no SET_VRING_BASE for queue %u", idx);
	return 0;
}

/* A device connected to the scripted backend, the driver initialized up to DRIVER_OK. */
static void
make_device(struct dctx *c, uint64_t features, uint16_t pairs)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/nonexistent",
		.ops = &fk_ops,
		.queue_pairs = pairs,
		.ctrl_queue = pairs > 1,
		.timeout_ms = TIMEOUT_MS,
		.server = false,
	};
	const uint8_t st = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;
	struct vu_mem_table mem = { .nregions = 1 };

	fk.pairs = pairs;
	fk.features = VERS1 | MRG | PACKED;
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	c->memfd = tu_memfd(4096);
	mem.regions[0] = (struct vu_mem_region){ .addr = 0x1000, .len = 0x100000, .fd = c->memfd };
	assert_int_equal(vu_device_set_status(c->dev, st), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, features), 0);
	assert_int_equal(vu_device_set_status(c->dev, st | VU_STATUS_FEATURES_OK), 0);
	assert_int_equal(vu_device_set_memory(c->dev, &mem), 0);
	for (uint32_t q = 0; q < 2u * pairs; q++) {
		size_t len = vu_split_ring_mem_size(QSIZE) > vu_packed_ring_mem_size(QSIZE) ?
			vu_split_ring_mem_size(QSIZE) :
			vu_packed_ring_mem_size(QSIZE);

		assert_int_equal(posix_memalign((void **)&c->ring[q], 4096, len), 0);
		memset(c->ring[q], 0, len);
		if (features & PACKED) {
			struct vu_packed_ring r;

			vu_packed_ring_init(&r, c->ring[q], QSIZE);
			c->addr[q] = (struct vu_vring_addr){ .desc = (uintptr_t)r.desc,
							     .avail = (uintptr_t)r.driver_event,
							     .used = (uintptr_t)r.device_event };
		} else {
			struct vu_split_ring r;

			vu_split_ring_init(&r, c->ring[q], QSIZE);
			c->addr[q] = (struct vu_vring_addr){ .desc = (uintptr_t)r.desc,
							     .avail = (uintptr_t)r.avail,
							     .used = (uintptr_t)r.used };
		}
		assert_int_equal(vu_device_setup_queue(c->dev, q, QSIZE, &c->addr[q]), 0);
	}
	assert_int_equal(
		vu_device_set_status(c->dev, st | VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK), 0);
}

/* Server mode: the offer before any backend; DRIVER_OK with no backend sends nothing. */
static void
test_dev_server_offer_and_wait(void **state)
{
	struct dctx *c = *state;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/nonexistent",
		.ops = &fk_ops,
		.queue_pairs = 1,
		.server = true,
	};
	uint64_t offer;

	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_false(vu_device_connected(c->dev));
	assert_int_equal(count(OP_GET_FEATURES), 0);
	offer = vu_device_get_features(c->dev);
	/* Everything the device passes through, plus what it emulates. */
	assert_int_equal(offer & (VERS1 | MRG | PACKED | MAC | STATUS),
			 VERS1 | MRG | PACKED | MAC | STATUS);
	assert_true(vu_device_event_fd(c->dev) >= 0);
	/* A backend that connects before the driver negotiated narrows the offer. */
	fk.features = VERS1;
	fk.pairs = 1;
	bool changed = true;

	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), 0);
	assert_false(changed); /* no DRIVER_OK yet: link stays down */
	assert_true(vu_device_connected(c->dev));
	assert_int_equal(vu_device_get_features(c->dev) & (MRG | PACKED), 0);
}

/* Split rings: a backend that comes back gets the rings where used->idx says. */
static void
test_dev_reconnect_split(void **state)
{
	struct dctx *c = *state;
	bool changed;

	make_device(c, VERS1 | MRG | MAC | STATUS, 1);
	assert_true(vu_device_link_up(c->dev));
	assert_int_equal(base_of(0), 0);
	assert_int_equal(base_of(1), 0);
	/* The backend used 7 rx and 3 tx buffers, then died. */
	((struct vu_used *)(uintptr_t)c->addr[0].used)->idx = 7;
	((struct vu_used *)(uintptr_t)c->addr[1].used)->idx = 3;
	fk.ncalls = 0;
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	assert_true(changed);
	assert_false(vu_device_link_up(c->dev));
	/* Nothing is asked of a backend that is gone. */
	assert_int_equal(fk.ncalls, 0);
	/* Stray events change nothing. */
	assert_int_equal(event(c, VU_BACKEND_EV_NONE, &changed), 0);
	assert_false(changed);

	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), 0);
	assert_true(changed);
	assert_true(vu_device_link_up(c->dev));
	/* The whole start sequence, in order. */
	{
		static const enum op want[] = { OP_GET_FEATURES, OP_SET_FEATURES, OP_MEM,   OP_CALL,
						OP_NUM,		 OP_BASE,	  OP_ADDR,  OP_KICK,
						OP_CALL,	 OP_NUM,	  OP_BASE,  OP_ADDR,
						OP_KICK,	 OP_ENABLE,	  OP_ENABLE };

		assert_int_equal(fk.ncalls, sizeof(want) / sizeof(want[0]));
		for (unsigned int i = 0; i < fk.ncalls; i++)
			if (fk.calls[i].op != want[i])
				fail_msg("call %u: op %d, expected %d", i, fk.calls[i].op, want[i]);
	}
	assert_int_equal(fk.calls[1].val, VERS1 | MRG);
	assert_int_equal(base_of(0), 7);
	assert_int_equal(base_of(1), 3);
	/* The new backend was kicked: it may have missed notifications. */
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t v = 0;

		assert_int_equal(read(vu_device_queue_kick_fd(c->dev, q), &v, sizeof(v)), 8);
		assert_true(v >= 1);
	}
	/* Reset and start again: fresh rings start at 0 again. */
	fk.ncalls = 0;
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(count(OP_GET_BASE), 2);
}

/* A backend without a feature the driver accepted is dropped; the link stays down. */
static void
test_dev_reconnect_missing_feature(void **state)
{
	struct dctx *c = *state;
	bool changed;

	make_device(c, VERS1 | MRG | MAC | STATUS, 1);
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	fk.features = VERS1; /* no MRG_RXBUF */
	fk.ncalls = 0;
	tu_log_reset();
	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), -ENOTSUP);
	assert_false(changed);
	assert_false(vu_device_link_up(c->dev));
	assert_false(vu_device_connected(c->dev));
	assert_int_equal(count(OP_DISCONNECT), 1);
	assert_int_equal(count(OP_SET_FEATURES), 0);
	assert_int_equal(tu_log_errors(), 1);
	if (!strstr(tu_log_last_error(), "15 (MRG_RXBUF)"))
		fail_msg("error line does not name the bit: %s", tu_log_last_error());
	/* The right backend then comes: resumes. */
	fk.features = VERS1 | MRG;
	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), 0);
	assert_true(changed);
	assert_true(vu_device_link_up(c->dev));
}

/* A backend serving fewer queue pairs than the device has is dropped. */
static void
test_dev_reconnect_too_few_pairs(void **state)
{
	struct dctx *c = *state;
	bool changed;

	make_device(c, VERS1 | MAC | STATUS, 2);
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	fk.pairs = 1;
	fk.ncalls = 0;
	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), -EINVAL);
	assert_int_equal(count(OP_DISCONNECT), 1);
	assert_false(vu_device_link_up(c->dev));
}

/* Multi-queue: the pairs the driver had enabled are enabled again. */
static void
test_dev_reconnect_enables_active_pairs(void **state)
{
	struct dctx *c = *state;
	const uint64_t ctrl = (1ull << 17) | (1ull << 22);
	uint16_t pairs = 2;
	bool changed;

	fk.features = VERS1;
	make_device(c, VERS1 | MAC | STATUS | ctrl, 2);
	assert_int_equal(
		vu_device_ctrl(c->dev, 4 /* MQ */, 0 /* VQ_PAIRS_SET */, &pairs, sizeof(pairs)), 0);
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	fk.ncalls = 0;
	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), 0);
	for (uint32_t q = 0; q < 4; q++) {
		bool on = false;

		for (unsigned int i = 0; i < fk.ncalls; i++)
			if (fk.calls[i].op == OP_ENABLE && fk.calls[i].idx == q)
				on = fk.calls[i].val;
		if (!on)
			fail_msg("queue %u not enabled after the reconnect", q);
	}
	assert_int_equal(vu_device_active_pairs(c->dev), 2);
}

/* Packed rings: write descriptors as a driver and a device would. */
static void
pk_avail(struct vu_packed_desc *d, uint16_t id, bool wrap, bool next)
{
	d->id = id;
	d->flags = (uint16_t)((wrap ? VU_PACKED_DESC_F_AVAIL : VU_PACKED_DESC_F_USED) |
			      (next ? VU_DESC_F_NEXT : 0));
}

static void
pk_used(struct vu_packed_desc *d, uint16_t id, bool wrap)
{
	d->id = id;
	d->flags = wrap ? (VU_PACKED_DESC_F_AVAIL | VU_PACKED_DESC_F_USED) : 0;
}

static void
pk_driver_pos(struct dctx *c, uint32_t q, uint16_t idx, bool wrap)
{
	uint64_t at = c->addr[q].desc + vu_packed_ring_used_pos_offset(QSIZE);
	uint32_t *pos = (uint32_t *)(uintptr_t)at;

	*pos = vu_packed_ring_base(idx, wrap);
}

static uint64_t
pk_resume(struct dctx *c, uint32_t q)
{
	bool changed;

	fk.ncalls = 0;
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	assert_int_equal(event(c, VU_BACKEND_EV_CONNECTED, &changed), 0);
	return base_of(q);
}

#define B(idx, wrap) vu_packed_ring_base(idx, wrap)

static void
test_dev_reconnect_packed(void **state)
{
	struct dctx *c = *state;
	struct vu_packed_desc *d;

	make_device(c, VERS1 | PACKED | MAC | STATUS, 1);
	assert_int_equal(base_of(0), B(0, true));
	d = (struct vu_packed_desc *)(uintptr_t)c->addr[0].desc;

	/* Six buffers posted; the driver read back the first two used ones: nothing pending,
	 * the device is where the driver is. */
	for (uint16_t i = 0; i < 6; i++)
		pk_avail(&d[i], i, true, false);
	pk_used(&d[0], 0, true);
	pk_used(&d[1], 1, true);
	pk_driver_pos(c, 0, 2, true);
	assert_int_equal(pk_resume(c, 0), B(2, true));

	/* Two more used that the driver has not read: single buffers. */
	pk_used(&d[2], 2, true);
	pk_used(&d[3], 3, true);
	assert_int_equal(pk_resume(c, 0), B(4, true));

	/* A chain of three (NEXT on the first two, the id in the last) used at slot 4:
	 * one used descriptor, and the device skipped two. */
	for (uint16_t i = 0; i < 8; i++)
		pk_avail(&d[i], i, true, false);
	pk_driver_pos(c, 0, 0, true);
	pk_avail(&d[0], 9, true, true);
	pk_avail(&d[1], 9, true, true);
	pk_avail(&d[2], 5, true, false);
	pk_used(&d[0], 5, true);
	pk_avail(&d[3], 6, true, false);
	assert_int_equal(pk_resume(c, 0), B(3, true));

	/* An in-order batch of three single buffers: one used descriptor with the last id. */
	pk_avail(&d[0], 1, true, false);
	pk_avail(&d[1], 2, true, false);
	pk_avail(&d[2], 3, true, false);
	pk_used(&d[0], 3, true);
	assert_int_equal(pk_resume(c, 0), B(3, true));

	/* Across the end of the ring: the device's wrap counter flips. Driver at slot 6 of lap
	 * 1; used 6 and 7, then slot 0 of lap 0 used too; slot 1 of lap 0 available. */
	pk_driver_pos(c, 0, 6, true);
	pk_used(&d[6], 6, true);
	pk_used(&d[7], 7, true);
	pk_used(&d[0], 0, false);
	pk_avail(&d[1], 1, false, false);
	pk_avail(&d[2], 2, false, false);
	assert_int_equal(pk_resume(c, 0), B(1, false));

	/* A chain crossing the end: used at slot 7 (lap 1), tail at slot 0 (lap 0). */
	pk_driver_pos(c, 0, 7, true);
	pk_avail(&d[0], 4, false, false);
	pk_used(&d[7], 4, true);
	pk_avail(&d[1], 1, false, false);
	assert_int_equal(pk_resume(c, 0), B(1, false));

	/* Nothing available and nothing used past the driver: the device is there. */
	pk_driver_pos(c, 0, 1, false);
	assert_int_equal(pk_resume(c, 0), B(1, false));

	/* A driver position past the ring is refused (logged) and the ring restarts at 0. */
	pk_driver_pos(c, 0, 200, true);
	tu_log_reset();
	assert_int_equal(pk_resume(c, 0), B(0, true));
	assert_int_equal(tu_log_errors(), 1);
}

/* The driver side keeps its used position on a line of its own, and leaves the Driver
 * Event Suppression area (which the device reads after every burst) alone. */
static void
test_packed_ring_publishes_used_position(void **state)
{
	static uint8_t mem[8192] __attribute__((aligned(4096)));
	struct vu_packed_ring r;
	uint32_t *pos = (uint32_t *)(mem + vu_packed_ring_used_pos_offset(5));

	(void)state;
	vu_packed_ring_init(&r, mem, 5);
	assert_ptr_equal(r.used_pos, pos);
	assert_true((uintptr_t)pos / 64 != (uintptr_t)r.driver_event / 64);
	assert_true((uintptr_t)pos / 64 != (uintptr_t)r.device_event / 64);
	assert_int_equal(*pos, B(0, true));
	vu_packed_ring_used_advance(&r, 3);
	assert_int_equal(*pos, B(3, true));
	vu_packed_ring_used_advance(&r, 3);
	assert_int_equal(*pos, B(1, false));
	assert_int_equal(r.driver_event->off_wrap, 0);
}

/* Client mode over the scripted ops: the backend goes, link down; destroy sends nothing. */
static void
test_dev_client_backend_gone(void **state)
{
	struct dctx *c = *state;
	bool changed;

	make_device(c, VERS1 | MAC | STATUS, 1);
	assert_int_equal(event(c, VU_BACKEND_EV_DISCONNECTED, &changed), 0);
	assert_true(changed);
	assert_false(vu_device_link_up(c->dev));
	fk.ncalls = 0;
	tu_log_reset();
	vu_device_destroy(c->dev);
	c->dev = NULL;
	assert_int_equal(count(OP_RESET), 0);
	assert_int_equal(count(OP_GET_BASE), 0);
	assert_int_equal(count(OP_CLOSE), 1);
	assert_int_equal(tu_log_errors(), 0);
}

/* server=1 needs the vhost-user frontend. */
static void
test_dev_server_needs_vhost_user(void **state)
{
	struct dctx *c = *state;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/dev/null",
		.ops = &vu_vhost_kernel_ops,
		.queue_pairs = 1,
		.server = true,
	};

	tu_log_reset();
	assert_int_equal(vu_device_create(&p, &c->dev), -EINVAL);
	assert_non_null(strstr(tu_log_last_error(), "server=1"));
}

int
main(void)
{
#define D(f) cmocka_unit_test_setup_teardown(f, setup_dev, teardown_dev)
	const struct CMUnitTest tests[] = {
		D(test_dev_server_offer_and_wait),
		D(test_dev_reconnect_split),
		D(test_dev_reconnect_missing_feature),
		D(test_dev_reconnect_too_few_pairs),
		D(test_dev_reconnect_enables_active_pairs),
		D(test_dev_reconnect_packed),
		D(test_dev_client_backend_gone),
		D(test_dev_server_needs_vhost_user),
		cmocka_unit_test(test_packed_ring_publishes_used_position),
	};
#undef D

	return cmocka_run_group_tests(tests, NULL, NULL);
}
