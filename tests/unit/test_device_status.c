/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the device status and config space as a backend sees them (fake ops). */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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
#include "vu_device.h"
#include "vu_device_priv.h"

#define ST_BACKEND_FEATURES (VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM))
/* The config space fields exist with these (spec 5.1.4). */
#define CONFIG_FEATURES                                                          \
	(VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_NET_F_MTU) | \
	 VU_BIT(VU_NET_F_MQ))
#define ST_DRIVER_FEATURES (VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM))

static const uint8_t BACKEND_MAC[6] = { 0x02, 0x00, 0x00, 0xbe, 0xef, 0x01 };
static const uint8_t USER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x07 };

/* The fixture's device, over a backend of ST_BACKEND_FEATURES and 4 pairs. */
static int
setup(void **state)
{
	return device_setup_features(state, ST_BACKEND_FEATURES, 4);
}

/* The backend's config space, little endian. */
static void
backend_config(uint16_t status, uint16_t pairs, uint16_t mtu)
{
	fk.config = true;
	memcpy(fk.cfg.mac, BACKEND_MAC, sizeof(fk.cfg.mac));
	fk.cfg.status = htole16(status);
	fk.cfg.max_virtqueue_pairs = htole16(pairs);
	fk.cfg.mtu = htole16(mtu);
}

/* Spec 3.1.1 in the driver's steps, then every queue, then DRIVER_OK. */
static int
start(struct ctx *c)
{
	struct vu_vring_addr a = { .desc = 0x7f0000000000ull,
				   .avail = 0x7f0000001000ull,
				   .used = 0x7f0000002000ull };
	int rc;

	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_ACK), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, ST_DRIVER_FEATURES), 0);
	rc = vu_device_set_status(c->dev, S_FOK);
	if (rc < 0)
		return rc;
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < vu_device_num_queues(c->dev); q++)
		assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
	return vu_device_set_status(c->dev, S_DOK);
}

/* The calls of these kinds, in order, from index `from` on. */
static unsigned int
pick(unsigned int from, const enum op *kinds, unsigned int nkinds, struct call *out,
     unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = from; i < fk.ncalls && n < max; i++)
		for (unsigned int k = 0; k < nkinds; k++)
			if (fk.calls[i].op == kinds[k])
				out[n++] = fk.calls[i];
	return n;
}

static void
expect_picked(unsigned int from, const enum op *kinds, unsigned int nkinds, const struct call *want,
	      unsigned int n)
{
	struct call got[64];
	unsigned int ngot = pick(from, kinds, nkinds, got, 64);

	for (unsigned int i = 0; i < ngot || i < n; i++) {
		if (i < ngot && i < n && got[i].op == want[i].op && got[i].val == want[i].val)
			continue;
		fail_msg("call %u: got %s 0x%llx, expected %s 0x%llx", i,
			 i < ngot ? op_names[got[i].op] : "-",
			 i < ngot ? (unsigned long long)got[i].val : 0ull,
			 i < n ? op_names[want[i].op] : "-",
			 i < n ? (unsigned long long)want[i].val : 0ull);
	}
}

static const enum op status_ops[] = { OP_SET_STATUS, OP_GET_STATUS, OP_SET_FEATURES };

/* A backend that takes the status hears every step of it: ACKNOWLEDGE, DRIVER, the
 * features then FEATURES_OK, read back, DRIVER_OK last (after the rings are enabled),
 * and 0 at reset; SET_FEATURES goes once, at FEATURES_OK. */
static void
test_status_sequence(void **state)
{
	struct ctx *c = *state;
	const struct call want[] = {
		{ OP_SET_STATUS, 0, 0 },     { OP_SET_STATUS, 0, S_ACK },
		{ OP_SET_STATUS, 0, S_DRV }, { OP_SET_FEATURES, 0, ST_DRIVER_FEATURES },
		{ OP_SET_STATUS, 0, S_FOK }, { OP_GET_STATUS, 0, S_FOK },
		{ OP_SET_STATUS, 0, S_DOK }, { OP_SET_STATUS, 0, 0 },
	};

	fk.status = true;
	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(start(c), 0);
	/* DRIVER_OK is the last thing the backend hears at start. */
	assert_int_equal(fk.calls[fk.ncalls - 1].op, OP_SET_STATUS);
	assert_int_equal(fk.calls[fk.ncalls - 2].op, OP_ENABLE);
	assert_true(vu_device_link_up(c->dev));
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	expect_picked(0, status_ops, 3, want, sizeof(want) / sizeof(want[0]));
}

/* Without the status (every backend before): no status call, SET_FEATURES at DRIVER_OK
 * as always. */
static void
test_status_not_taken(void **state)
{
	struct ctx *c = *state;
	const struct call want[] = { { OP_SET_FEATURES, 0, ST_DRIVER_FEATURES } };
	unsigned int at_fok;

	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_ACK), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, ST_DRIVER_FEATURES), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	at_fok = fk.ncalls;
	expect_picked(0, status_ops, 3, NULL, 0);
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(start(c), 0);
	expect_picked(at_fok, status_ops, 3, want, 1);
}

/* The backend clears FEATURES_OK: the driver's FEATURES_OK fails with a line naming the
 * backend, the bit stays clear, DRIVER_OK is refused, and a reset starts over. */
static void
test_features_ok_cleared(void **state)
{
	struct ctx *c = *state;

	fk.status = true;
	fk.clear_status = VU_STATUS_FEATURES_OK;
	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(start(c), -ENOTSUP);
	assert_int_equal(vu_device_get_status(c->dev), S_DRV);
	assert_non_null(strstr(tu_log_last_error(), "backend /fake/sock refused the features"));
	assert_non_null(strstr(tu_log_last_error(), "FEATURES_OK"));
	/* Nor does the backend let FEATURES_OK in together with DRIVER_OK. */
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -ENOTSUP);
	assert_int_equal(vu_device_get_status(c->dev), S_DRV);
	assert_false(vu_device_link_up(c->dev));
	fk.clear_status = 0;
	assert_int_equal(start(c), 0);
	assert_true(vu_device_link_up(c->dev));
}

/* Config space: the backend's values over the defaults (MAC, link, max pairs, MTU), each
 * only with the feature that makes the field exist. */
static void
test_config_from_backend(void **state)
{
	struct ctx *c = *state;
	struct vu_net_config cfg;

	fk.features = ST_BACKEND_FEATURES | CONFIG_FEATURES;
	backend_config(VU_NET_S_LINK_UP, 2, 9000);
	assert_int_equal(create_with_mac(c, 2, NULL), 0);
	assert_int_equal(vu_device_read_config(c->dev, 0, &cfg, sizeof(cfg)), 0);
	assert_memory_equal(cfg.mac, BACKEND_MAC, 6);
	assert_int_equal(vu_device_max_mtu(c->dev), 9000);
	assert_int_equal(le16toh(cfg.mtu), 9000);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* Its max_virtqueue_pairs bounds the device's pairs as GET_QUEUE_NUM does. */
	backend_config(VU_NET_S_LINK_UP, 1, 9000);
	assert_int_equal(create_with_mac(c, 2, NULL), -EINVAL);
	assert_non_null(strstr(tu_log_last_error(), "backend /fake/sock serves 1"));

	/* Without the features, the fields are not there: defaults. */
	fk.features = ST_BACKEND_FEATURES;
	assert_int_equal(create_with_mac(c, 2, NULL), 0);
	assert_int_equal(vu_device_read_config(c->dev, 0, &cfg, sizeof(cfg)), 0);
	assert_memory_not_equal(cfg.mac, BACKEND_MAC, 6);
	assert_int_equal(vu_device_max_mtu(c->dev), VU_NET_MAX_MTU);
	assert_int_equal(start(c), 0);
	assert_true(vu_device_link_up(c->dev));
}

/* The devargs' MAC wins over the backend's. */
static void
test_config_user_mac_wins(void **state)
{
	struct ctx *c = *state;
	uint8_t mac[6];

	fk.features = ST_BACKEND_FEATURES | CONFIG_FEATURES;
	backend_config(VU_NET_S_LINK_UP, 1, 9000);
	assert_int_equal(create_with_mac(c, 1, USER_MAC), 0);
	assert_int_equal(vu_device_read_config(c->dev, 0, mac, 6), 0);
	assert_memory_equal(mac, USER_MAC, 6);
	assert_int_equal(vu_device_max_mtu(c->dev), 9000);
}

/* A refused or short GET_CONFIG: a line, and the defaults. */
static void
test_config_refused(void **state)
{
	struct ctx *c = *state;
	uint8_t mac[6];

	fk.features = ST_BACKEND_FEATURES | CONFIG_FEATURES;
	backend_config(0, 1, 9000);
	fk.config_rc = -EIO;
	tu_log_watch("config space of backend /fake/sock could not be read");
	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(tu_log_watched("config space of backend /fake/sock could not be read"), 1);
	assert_int_equal(vu_device_read_config(c->dev, 0, mac, 6), 0);
	assert_memory_not_equal(mac, BACKEND_MAC, 6);
	assert_int_equal(vu_device_max_mtu(c->dev), VU_NET_MAX_MTU);
	/* Its link status was not read either: up once running. */
	assert_int_equal(start(c), 0);
	assert_true(vu_device_link_up(c->dev));
}

/* Link status from the backend's config: down at start when it says so, then up and down
 * again on its config-change notices; the negotiated fields stay. */
static void
test_config_change_link(void **state)
{
	struct ctx *c = *state;

	fk.features = ST_BACKEND_FEATURES | CONFIG_FEATURES;
	backend_config(0, 1, 9000);
	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(start(c), 0);
	assert_false(vu_device_link_up(c->dev));
	backend_config(VU_NET_S_LINK_UP, 1, 1500);
	vu_device_backend_config_changed(c->dev);
	assert_true(vu_device_link_up(c->dev));
	assert_int_equal(vu_device_max_mtu(c->dev), 9000);
	backend_config(0, 1, 1500);
	vu_device_backend_config_changed(c->dev);
	assert_false(vu_device_link_up(c->dev));
	/* A stopped device stays down whatever the backend says. */
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	backend_config(VU_NET_S_LINK_UP, 1, 1500);
	vu_device_backend_config_changed(c->dev);
	assert_false(vu_device_link_up(c->dev));
}

/* DEVICE_NEEDS_RESET in the backend's status (read on a config change): link down with an
 * error line, until the driver resets the device. */
static void
test_needs_reset(void **state)
{
	struct ctx *c = *state;
	const char *line = "backend /fake/sock needs a reset";

	fk.status = true;
	assert_int_equal(create_with_mac(c, 1, NULL), 0);
	assert_int_equal(start(c), 0);
	assert_true(vu_device_link_up(c->dev));
	tu_log_watch(line);
	fk.add_status = VU_STATUS_DEVICE_NEEDS_RESET;
	vu_device_backend_config_changed(c->dev);
	assert_false(vu_device_link_up(c->dev));
	assert_true(vu_device_get_status(c->dev) & VU_STATUS_DEVICE_NEEDS_RESET);
	vu_device_backend_config_changed(c->dev);
	assert_int_equal(tu_log_watched(line), 1);
	fk.add_status = 0;
	assert_int_equal(start(c), 0);
	assert_true(vu_device_link_up(c->dev));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, device_teardown)
	const struct CMUnitTest tests[] = {
		T(test_status_sequence),      T(test_status_not_taken),
		T(test_features_ok_cleared),  T(test_config_from_backend),
		T(test_config_user_mac_wins), T(test_config_refused),
		T(test_config_change_link),   T(test_needs_reset),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
