/* SPDX-License-Identifier: BSD-3-Clause */
/* The device tests' fixture (device_fixture.h): test_device.c, test_device_queues.c and
 * test_device_status.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "device_fixture.h"
#include "fake_ops.h"
#include "test_util.h"

int
device_setup(void **state)
{
	return device_setup_features(state, BACKEND_FEATURES, 1);
}

int
device_setup_features(void **state, uint64_t features, uint16_t pairs)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	fake_reset(features, pairs);
	tu_log_capture();
	c->fds_before = tu_count_fds();
	c->memfd = tu_memfd(1 << 20);
	c->mem.nregions = 1;
	c->mem.regions[0] = (struct vu_mem_region){
		.addr = 0x7f0000000000ull, .len = 1 << 20, .fd = c->memfd, .offset = 0
	};
	*state = c;
	return c->memfd >= 0 ? 0 : -1;
}

int
device_teardown(void **state)
{
	struct ctx *c = *state;

	vu_device_destroy(c->dev);
	if (c->memfd >= 0)
		close(c->memfd);
	free(c);
	return 0;
}

int
create(struct ctx *c, uint16_t pairs)
{
	return create_with_mac(c, pairs, NULL);
}

int
create_with_mac(struct ctx *c, uint16_t pairs, const uint8_t *mac)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake/sock",
		.ops = &fake_ops,
		.queue_pairs = pairs,
		.mac_set = mac != NULL,
	};

	if (mac)
		memcpy(p.mac, mac, sizeof(p.mac));
	return vu_device_create(&p, &c->dev);
}

void
features_ok(struct vu_device *dev, uint64_t features)
{
	assert_int_equal(vu_device_set_status(dev, S_ACK), 0);
	assert_int_equal(vu_device_set_status(dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(dev, features), 0);
	assert_int_equal(vu_device_set_status(dev, S_FOK), 0);
}

struct vu_vring_addr
queue_addr(uint32_t q)
{
	return (struct vu_vring_addr){
		.desc = 0x7f0000000000ull + 0x10000ull * q,
		.avail = 0x7f0000001000ull + 0x10000ull * q,
		.used = 0x7f0000002000ull + 0x10000ull * q,
	};
}

void
set_up_queues(struct ctx *c, uint32_t n, uint16_t size)
{
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < n; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, size, &a), 0);
	}
}

void
make_ready(struct ctx *c)
{
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < vu_device_num_queues(c->dev); q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, q == 0 ? 256 : 512, &a), 0);
	}
}

uint16_t
config_u16(const struct vu_device *dev, size_t offset)
{
	uint16_t v;

	assert_int_equal(vu_device_read_config(dev, offset, &v, sizeof(v)), 0);
	return v;
}

void
assert_error_mentions(const char *what)
{
	if (!strstr(tu_log_last_error(), what))
		fail_msg("last error line \"%s\" does not mention \"%s\"", tu_log_last_error(),
			 what);
}
