/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the control virtqueue the device emulates in-process (MQ, RX modes, MAC, VLAN). */
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

#include "fake_ops.h"
#include "test_util.h"
#include "vu_device.h"

#define S_FOK (VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK)
#define S_DOK (S_FOK | VU_STATUS_DRIVER_OK)

#define CTRL_ALL                                                                            \
	(VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) | VU_BIT(VU_NET_F_CTRL_VLAN) | \
	 VU_BIT(VU_NET_F_CTRL_MAC_ADDR))
#define BASE_FEATURES (VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MAC))

struct ctx {
	struct vu_device *dev;
	struct vu_mem_table mem;
	int memfd;
};

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	fake_reset(VU_BIT(VU_F_VERSION_1), 4);
	tu_log_capture();
	c->memfd = tu_memfd(4096);
	c->mem.nregions = 1;
	c->mem.regions[0] = (struct vu_mem_region){ .addr = 0x10000, .len = 4096, .fd = c->memfd };
	*state = c;
	return c->memfd >= 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	vu_device_destroy(c->dev);
	close(c->memfd);
	free(c);
	return 0;
}

/* A running device with `pairs` pairs, the first `ready_pairs` set up, the driver having
 * accepted `features`. */
static void
start(struct ctx *c, uint16_t pairs, uint16_t ready_pairs, uint64_t features)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake",
		.ops = &fake_ops,
		.queue_pairs = pairs,
		.ctrl_queue = true,
		.mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.mac_set = true,
	};

	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(vu_device_set_status(c->dev, VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, features), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < 2u * ready_pairs; q++) {
		struct vu_vring_addr a = { 0x10000 + q * 0x100, 0x10040 + q * 0x100,
					   0x10080 + q * 0x100 };

		assert_int_equal(vu_device_setup_queue(c->dev, q, 64, &a), 0);
	}
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
}

static uint8_t
ctrl_u8(struct ctx *c, uint8_t cls, uint8_t cmd, uint8_t v)
{
	return vu_device_ctrl(c->dev, cls, cmd, &v, sizeof(v));
}

static uint8_t
ctrl_u16(struct ctx *c, uint8_t cls, uint8_t cmd, uint16_t v)
{
	return vu_device_ctrl(c->dev, cls, cmd, &v, sizeof(v));
}

static struct vu_rx_filter
filter(struct ctx *c)
{
	struct vu_rx_filter f;

	vu_device_get_rx_filter(c->dev, &f);
	return f;
}

/* Commands need a negotiated control queue and a running device. */
static void
test_ctrl_needs_running_ctrl_queue(void **state)
{
	struct ctx *c = *state;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake",
		.ops = &fake_ops,
		.queue_pairs = 1,
		.ctrl_queue = true,
	};

	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* CTRL_VQ accepted, but the driver has not set DRIVER_OK yet. */
	fake_reset(VU_BIT(VU_F_VERSION_1), 4);
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(vu_device_set_status(c->dev, VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, BASE_FEATURES | CTRL_ALL), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
	assert_true(filter(c).promisc);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* Running, but the driver did not take CTRL_VQ. */
	start(c, 1, 1, BASE_FEATURES | VU_BIT(VU_NET_F_CTRL_RX));
	tu_log_reset();
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
	assert_true(tu_log_errors() > 0);
	assert_true(filter(c).promisc);
}

static void
test_ctrl_unknown_class(void **state)
{
	struct ctx *c = *state;

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	assert_int_equal(ctrl_u8(c, 3, 0, 0), VU_NET_ERR); /* ANNOUNCE: not offered */
	assert_int_equal(ctrl_u8(c, 5, 0, 0), VU_NET_ERR); /* GUEST_OFFLOADS: not offered */
	assert_int_equal(ctrl_u8(c, 99, 0, 0), VU_NET_ERR);
}

/* The device starts promiscuous with empty tables: frames are delivered until the
 * driver asks otherwise. */
static void
test_ctrl_rx_modes(void **state)
{
	struct ctx *c = *state;
	struct vu_rx_filter f;

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	f = filter(c);
	assert_true(f.promisc);
	assert_false(f.allmulti);
	assert_int_equal(f.n_unicast, 0);
	assert_int_equal(f.n_multicast, 0);

	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_OK);
	assert_false(filter(c).promisc);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_ALLMULTI, 1), VU_NET_OK);
	assert_true(filter(c).allmulti);
	assert_false(filter(c).promisc);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 1), VU_NET_OK);
	assert_true(filter(c).promisc);

	/* Wrong length, unknown command: refused, nothing changes. */
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, NULL, 0),
			 VU_NET_ERR);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, 2, 0),
			 VU_NET_ERR); /* ALLUNI: no CTRL_RX_EXTRA */
	assert_true(filter(c).promisc);
	assert_true(filter(c).allmulti);
}

static void
test_ctrl_rx_needs_feature(void **state)
{
	struct ctx *c = *state;

	start(c, 1, 1, BASE_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ));
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
	assert_true(filter(c).promisc);
}

static void
test_ctrl_mac_addr_set(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct ctx *c = *state;
	uint8_t cfg[6];

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VU_NET_OK);
	assert_int_equal(vu_device_read_config(c->dev, 0, cfg, 6), 0);
	assert_memory_equal(cfg, mac, 6);
	assert_memory_equal(filter(c).mac, mac, 6);
	/* Five bytes: refused, the address stays. */
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_ADDR_SET,
					"\x02\x99\x99\x99\x99", 5),
			 VU_NET_ERR);
	assert_memory_equal(filter(c).mac, mac, 6);
}

static void
test_ctrl_mac_addr_needs_feature(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t orig[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct ctx *c = *state;
	uint8_t cfg[6];

	start(c, 1, 1, BASE_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX));
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VU_NET_ERR);
	assert_int_equal(vu_device_read_config(c->dev, 0, cfg, 6), 0);
	assert_memory_equal(cfg, orig, 6);
}

/* MAC_TABLE_SET: le32 count + count addresses, unicast then multicast, nothing after. */
static void
test_ctrl_mac_table(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[4 + 33 * 6 + 4 + 6 + 1];
	uint32_t n;
	struct vu_rx_filter f;
	size_t len;

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	n = 2;
	memcpy(buf, &n, 4);
	memcpy(buf + 4, "\x02\x00\x00\x00\x00\xaa\x02\x00\x00\x00\x00\xbb", 12);
	n = 1;
	memcpy(buf + 16, &n, 4);
	memcpy(buf + 20, "\x01\x00\x5e\x00\x00\x01", 6);
	len = 26;
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
					(uint32_t)len),
			 VU_NET_OK);
	f = filter(c);
	assert_int_equal(f.n_unicast, 2);
	assert_int_equal(f.n_multicast, 1);
	assert_memory_equal(f.unicast[1], "\x02\x00\x00\x00\x00\xbb", 6);
	assert_memory_equal(f.multicast[0], "\x01\x00\x5e\x00\x00\x01", 6);

	/* A trailing byte, a short table, a missing second count: refused, tables kept. */
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
					(uint32_t)len + 1),
			 VU_NET_ERR);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
					(uint32_t)len - 1),
			 VU_NET_ERR);
	assert_int_equal(
		vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf, 16),
		VU_NET_ERR);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf, 3),
			 VU_NET_ERR);
	f = filter(c);
	assert_int_equal(f.n_unicast, 2);
	assert_int_equal(f.n_multicast, 1);
	/* A good first table and a bad second one: nothing of it is applied. */
	n = 1;
	memcpy(buf + 100, &n, 4);
	memcpy(buf + 104, "\x02\x00\x00\x00\x00\xcc", 6);
	n = 2;
	memcpy(buf + 110, &n, 4);
	memcpy(buf + 114, "\x01\x00\x5e\x00\x00\x02", 6); /* one of the two */
	assert_int_equal(
		vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf + 100, 20),
		VU_NET_ERR);
	f = filter(c);
	assert_int_equal(f.n_unicast, 2);
	assert_memory_equal(f.unicast[0], "\x02\x00\x00\x00\x00\xaa", 6);
	assert_int_equal(f.n_multicast, 1);

	/* More entries than the table holds, even with the bytes present. */
	n = VU_MAC_TABLE_MAX + 1;
	memcpy(buf, &n, 4);
	memset(buf + 4, 0x02, n * 6);
	memset(buf + 4 + n * 6, 0, 4);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
					4 + n * 6 + 4),
			 VU_NET_ERR);
	/* A count whose byte size wraps 32 bits. */
	n = 0x2aaaaaabu; /* * 6 = 2^32 + 2 */
	memcpy(buf, &n, 4);
	assert_int_equal(
		vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf, 10),
		VU_NET_ERR);
	assert_int_equal(filter(c).n_unicast, 2);

	/* Exactly the maximum, and empty tables, are fine. */
	n = VU_MAC_TABLE_MAX;
	memcpy(buf, &n, 4);
	memset(buf + 4 + n * 6, 0, 4);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf,
					4 + n * 6 + 4),
			 VU_NET_OK);
	assert_int_equal(filter(c).n_unicast, VU_MAC_TABLE_MAX);
	memset(buf, 0, 8);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, buf, 8),
			 VU_NET_OK);
	assert_int_equal(filter(c).n_unicast, 0);
	assert_int_equal(filter(c).n_multicast, 0);
}

static void
test_ctrl_vlan(void **state)
{
	struct ctx *c = *state;
	struct vu_rx_filter f;

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	assert_true(filter(c).vlan_filter);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 100), VU_NET_OK);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 4095), VU_NET_OK);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 0), VU_NET_OK);
	f = filter(c);
	assert_int_equal(f.vlans[100 / 64], 1ull << (100 % 64));
	assert_int_equal(f.vlans[63], 1ull << 63);
	assert_int_equal(f.vlans[0], 1);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_DEL, 100), VU_NET_OK);
	assert_int_equal(filter(c).vlans[1], 0);

	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 4096), VU_NET_ERR);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, 2, 5), VU_NET_ERR);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 5), VU_NET_ERR);
	assert_int_equal(filter(c).vlans[0], 1);
}

static void
test_ctrl_vlan_needs_feature(void **state)
{
	struct ctx *c = *state;

	start(c, 1, 1, BASE_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX));
	assert_false(filter(c).vlan_filter);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 100), VU_NET_ERR);
	assert_int_equal(filter(c).vlans[1], 0);
}

/* VQ_PAIRS_SET enables exactly the first n pairs in the backend, sending only the rings
 * whose state changes (as DPDK's virtio_user does). */
static void
test_ctrl_mq_pairs_set(void **state)
{
	struct ctx *c = *state;
	const uint64_t features = BASE_FEATURES | CTRL_ALL | VU_BIT(VU_NET_F_MQ);
	struct call want[8];
	unsigned int from;

	start(c, 4, 4, features);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 3), VU_NET_OK);
	for (uint32_t q = 2; q < 6; q++)
		want[q - 2] = (struct call){ OP_ENABLE, q, 1 };
	expect_calls(from, want, 4);
	assert_int_equal(vu_device_active_pairs(c->dev), 3);

	/* The same count again: nothing changes, nothing is sent. */
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 3), VU_NET_OK);
	expect_calls(from, NULL, 0);
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 4), VU_NET_OK);
	assert_int_equal(vu_device_active_pairs(c->dev), 4);
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 1), VU_NET_OK);
	for (uint32_t q = 2; q < 8; q++)
		want[q - 2] = (struct call){ OP_ENABLE, q, 0 };
	expect_calls(from, want, 6);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);

	/* Out of range, wrong length, unknown command: refused, no backend call. */
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 0), VU_NET_ERR);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 5), VU_NET_ERR);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 0x8000),
			 VU_NET_ERR);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 2), VU_NET_ERR);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, 1, 2), VU_NET_ERR); /* RSS_CONFIG */
	expect_calls(from, NULL, 0);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);

	/* A reset goes back to one pair. */
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 2), VU_NET_OK);
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);
}

/* Pairs whose queues the driver never set up cannot be enabled. */
static void
test_ctrl_mq_unready_pairs(void **state)
{
	struct ctx *c = *state;
	unsigned int from;

	start(c, 4, 2, BASE_FEATURES | CTRL_ALL | VU_BIT(VU_NET_F_MQ));
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 3), VU_NET_ERR);
	expect_calls(from, NULL, 0);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 2), VU_NET_OK);
	assert_int_equal(vu_device_active_pairs(c->dev), 2);
}

static void
test_ctrl_mq_needs_feature(void **state)
{
	struct ctx *c = *state;
	unsigned int from;

	start(c, 2, 2, BASE_FEATURES | CTRL_ALL);
	from = fk.ncalls;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 2), VU_NET_ERR);
	expect_calls(from, NULL, 0);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);
}

/* The backend refusing an enable: the command fails and the count does not move. */
static void
test_ctrl_mq_backend_fails(void **state)
{
	struct ctx *c = *state;

	start(c, 2, 2, BASE_FEATURES | CTRL_ALL | VU_BIT(VU_NET_F_MQ));
	fk.fail_op = OP_ENABLE;
	fk.fail_idx = 2;
	fk.fail_rc = -EIO;
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, 2), VU_NET_ERR);
	assert_int_equal(vu_device_active_pairs(c->dev), 1);
}

/* A device reset forgets the filter: promiscuous again, tables and VLANs empty. */
static void
test_ctrl_reset_clears_filter(void **state)
{
	struct ctx *c = *state;
	uint8_t table[8] = { 0 };
	struct vu_rx_filter f;

	start(c, 1, 1, BASE_FEATURES | CTRL_ALL);
	table[0] = 0; /* no unicast */
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_OK);
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_ALLMULTI, 1), VU_NET_OK);
	assert_int_equal(ctrl_u16(c, VU_NET_CTRL_VLAN, VU_NET_CTRL_VLAN_ADD, 7), VU_NET_OK);
	assert_int_equal(vu_device_ctrl(c->dev, VU_NET_CTRL_MAC, VU_NET_CTRL_MAC_TABLE_SET, table,
					sizeof(table)),
			 VU_NET_OK);
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	f = filter(c);
	assert_true(f.promisc);
	assert_false(f.allmulti);
	assert_int_equal(f.vlans[0], 0);
	assert_false(f.vlan_filter);
	/* And no command works until the driver starts the device again. */
	assert_int_equal(ctrl_u8(c, VU_NET_CTRL_RX, VU_NET_CTRL_RX_PROMISC, 0), VU_NET_ERR);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ctrl_needs_running_ctrl_queue),
		T(test_ctrl_unknown_class),
		T(test_ctrl_rx_modes),
		T(test_ctrl_rx_needs_feature),
		T(test_ctrl_mac_addr_set),
		T(test_ctrl_mac_addr_needs_feature),
		T(test_ctrl_mac_table),
		T(test_ctrl_vlan),
		T(test_ctrl_vlan_needs_feature),
		T(test_ctrl_mq_pairs_set),
		T(test_ctrl_mq_unready_pairs),
		T(test_ctrl_mq_needs_feature),
		T(test_ctrl_mq_backend_fails),
		T(test_ctrl_reset_clears_filter),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
