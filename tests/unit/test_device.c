/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-net device: creation, backend choice, features, status, config, MTU. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* ---- features ---- */

static void
test_offered_features(void **state)
{
	const uint64_t data_path = VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_GUEST_CSUM) |
		VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_GUEST_TSO6) |
		VU_BIT(VU_NET_F_HOST_TSO4) | VU_BIT(VU_NET_F_HOST_TSO6) |
		VU_BIT(VU_NET_F_MRG_RXBUF) | VU_BIT(VU_F_RING_INDIRECT_DESC) |
		VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_RING_PACKED) |
		VU_BIT(VU_F_IN_ORDER);
	const uint64_t emulated = VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS);
	struct ctx *c = *state;

	/* Everything offered: only the data-path bits and MTU pass, plus what the device
	 * emulates. */
	fk.features = ~0ull;
	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_get_features(c->dev),
			 data_path | VU_BIT(VU_NET_F_MTU) | emulated);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* Control queue, MQ, ACCESS_PLATFORM, the vhost-user bit: never passed on. */
	fk.features = VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_MQ) |
		VU_BIT(VU_F_ACCESS_PLATFORM) | VU_BIT(30) | VU_BIT(VU_NET_F_CTRL_RX);
	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_get_features(c->dev), VU_BIT(VU_NET_F_CSUM) | emulated);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* MAC and STATUS are offered even by a backend that has nothing. */
	fk.features = 0;
	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_get_features(c->dev), emulated);
}

/* The control queue and multi-queue are emulated in-process: offered whatever the
 * backend says, MQ only with more than one pair (and then with the control queue). */
static void
test_offered_ctrl_features(void **state)
{
	const uint64_t ctrl = VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) |
		VU_BIT(VU_NET_F_CTRL_VLAN) | VU_BIT(VU_NET_F_CTRL_MAC_ADDR);
	const uint64_t emulated = VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS);
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake",
		.ops = &fake_ops,
		.queue_pairs = 1,
		.ctrl_queue = true,
	};
	struct ctx *c = *state;

	fk.features = VU_BIT(VU_F_VERSION_1);
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(vu_device_get_features(c->dev), VU_BIT(VU_F_VERSION_1) | emulated | ctrl);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	/* Two pairs: MQ, and the control queue even when not asked for. */
	p.ctrl_queue = false;
	p.queue_pairs = 2;
	fk.max_pairs = 2;
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(vu_device_get_features(c->dev),
			 VU_BIT(VU_F_VERSION_1) | emulated | ctrl | VU_BIT(VU_NET_F_MQ));
}

static void
test_create_params(void **state)
{
	struct ctx *c = *state;
	struct vu_device_params p = {
		.name = "virtio_user7",
		.path = "/run/vhost/sock7",
		.ops = &fake_ops,
		.queue_pairs = 1,
		.timeout_ms = 1234,
	};
	static const struct call want[] = {
		{ OP_OPEN, 0, 0 },
		{ OP_GET_FEATURES, 0, 0 },
		{ OP_GET_MAX_QP, 0, 0 },
	};

	uint8_t mac[6];

	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_string_equal(fk.name, "virtio_user7");
	assert_string_equal(fk.path, "/run/vhost/sock7");
	assert_int_equal(fk.params.timeout_ms, 1234);
	assert_int_equal(fk.params.queue_pairs, 1);
	/* The backend gets the port's MAC (vhost-kernel gives it to its TAP). */
	assert_non_null(fk.params.mac);
	assert_int_equal(vu_device_read_config(c->dev, 0, mac, 6), 0);
	assert_memory_equal(fk.mac, mac, 6);
	assert_string_equal(vu_device_name(c->dev), "virtio_user7");
	assert_int_equal(vu_device_num_queues(c->dev), 2);
	assert_int_equal(vu_device_get_status(c->dev), 0);
	expect_calls(0, want, 3);
	vu_device_destroy(c->dev);
	c->dev = NULL;

	p.timeout_ms = 0; /* the default */
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(fk.params.timeout_ms, 5000);
}

static void
test_create_queue_pairs_range(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(create(c, 0), -EINVAL);
	assert_null(c->dev);
	assert_int_equal(create(c, VU_MAX_QUEUE_PAIRS + 1), -EINVAL);
	assert_null(c->dev);
	assert_int_equal(fk.ncalls, 0); /* refused before the backend is opened */

	fk.max_pairs = VU_MAX_QUEUE_PAIRS;
	assert_int_equal(create(c, VU_MAX_QUEUE_PAIRS), 0);
	assert_int_equal(vu_device_num_queues(c->dev), 2 * VU_MAX_QUEUE_PAIRS);
	vu_device_destroy(c->dev);
	c->dev = NULL;
	assert_int_equal(tu_count_fds(), c->fds_before + 1); /* only the memfd of setup */
}

/* More pairs than the backend serves: refused, and the backend closed again. */
static void
test_create_more_pairs_than_backend(void **state)
{
	struct ctx *c = *state;

	fk.max_pairs = 1;
	assert_int_equal(create(c, 2), -EINVAL);
	assert_null(c->dev);
	assert_false(fk.is_open);
	assert_int_equal(fk.calls[fk.ncalls - 1].op, OP_CLOSE);
	assert_int_equal(tu_count_fds(), c->fds_before + 1);

	fk.max_pairs = 2;
	fk.ncalls = 0;
	assert_int_equal(create(c, 2), 0);
	assert_int_equal(vu_device_num_queues(c->dev), 4);
}

static void
test_create_backend_fails(void **state)
{
	struct ctx *c = *state;

	fk.open_rc = -ECONNREFUSED;
	assert_int_equal(create(c, 1), -ECONNREFUSED);
	assert_null(c->dev);
	assert_int_equal(fk.ncalls, 1); /* open only: nothing to close */
	assert_int_equal(tu_count_fds(), c->fds_before + 1);

	fk.open_rc = 0;
	fk.ncalls = 0;
	fk.fail_op = OP_GET_FEATURES;
	fk.fail_rc = -EIO;
	assert_int_equal(create(c, 1), -EIO);
	assert_null(c->dev);
	assert_false(fk.is_open);
	assert_int_equal(tu_count_fds(), c->fds_before + 1);
}

/* Which frontend serves a path: decided by what is there, never by the name (as DPDK's
 * virtio_user does); server=1 always listens with vhost-user. */
static void
test_backend_for_path(void **state)
{
	static const char *const names[] = { "vhost-net", "vhost-net-1", "sock0", "my-vhost-net" };
	char dir[256], path[300];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	(void)state;
	/* A character device: vhost-kernel; server=1: vhost-user (whose listen refuses it). */
	assert_ptr_equal(vu_backend_ops_for_path("/dev/null", false), &vu_vhost_kernel_ops);
	assert_ptr_equal(vu_backend_ops_for_path("/dev/null", true), &vu_vhost_user_ops);
	/* Nothing there, whatever the name: a vhost-user client, or a server listening. */
	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_ptr_equal(vu_backend_ops_for_path(path, false), &vu_vhost_user_ops);
		assert_ptr_equal(vu_backend_ops_for_path(path, true), &vu_vhost_user_ops);
	}
	assert_ptr_equal(vu_backend_ops_for_path("vhost-net", false), &vu_vhost_user_ops);
	assert_ptr_equal(vu_backend_ops_for_path("./vhost-net", true), &vu_vhost_user_ops);
	/* A UNIX socket named vhost-net: vhost-user. */
	snprintf(path, sizeof(path), "%s/vhost-net", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_ptr_equal(vu_backend_ops_for_path(path, false), &vu_vhost_user_ops);
	close(fd);
	unlink(path);
	/* A regular file or a directory: vhost-user, whose connect says what it is. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_ptr_equal(vu_backend_ops_for_path(path, false), &vu_vhost_user_ops);
	unlink(path);
	assert_ptr_equal(vu_backend_ops_for_path(dir, false), &vu_vhost_user_ops);
	rmdir(dir);
}

/* A missing path named like the vhost-net node is a vhost-user client with vhost-user's
 * error; server=1 listens there. Both by the path alone (no ops given). */
static void
test_vhost_net_name_is_not_special(void **state)
{
	struct ctx *c = *state;
	char dir[256], path[300];
	struct vu_device_params p = { .name = "ut0", .path = path, .queue_pairs = 1 };
	struct stat st;

	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/vhost-net", dir);
	tu_log_reset();
	assert_int_equal(vu_device_create(&p, &c->dev), -ENOENT);
	assert_int_equal(tu_log_errors(), 1);
	assert_non_null(strstr(tu_log_last_error(), "vhost-user socket"));
	assert_non_null(strstr(tu_log_last_error(), path));
	p.server = true;
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	vu_device_destroy(c->dev);
	c->dev = NULL;
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(tu_count_fds(), c->fds_before + 1);
}

/* A TAP name only means something to vhost-kernel: refused before a vhost-user open. */
static void
test_ifname_needs_vhost_kernel(void **state)
{
	struct ctx *c = *state;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/nonexistent-ut/sock0",
		.ifname = "tap0",
		.queue_pairs = 1,
	};

	tu_log_reset();
	assert_int_equal(vu_device_create(&p, &c->dev), -EINVAL);
	assert_null(c->dev);
	assert_non_null(strstr(tu_log_last_error(), "tap0"));
	p.ops = &vu_vhost_user_ops;
	assert_int_equal(vu_device_create(&p, &c->dev), -EINVAL);
	assert_int_equal(tu_count_fds(), c->fds_before + 1);

	/* Another backend gets it. */
	p.ops = &fake_ops;
	p.tun_path = "/dev/ut-tun";
	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_string_equal(fk.params.ifname, "tap0");
	assert_string_equal(fk.params.tun_path, "/dev/ut-tun");
}

/* ---- status machine ---- */

static void
test_status_order(void **state)
{
	struct ctx *c = *state;
	struct vu_device *dev;

	assert_int_equal(create(c, 1), 0);
	dev = c->dev;
	/* DRIVER before ACKNOWLEDGE. */
	assert_int_equal(vu_device_set_status(dev, VU_STATUS_DRIVER), -EINVAL);
	assert_int_equal(vu_device_get_status(dev), 0);
	assert_int_equal(vu_device_set_status(dev, S_ACK), 0);
	assert_int_equal(vu_device_get_status(dev), S_ACK);
	/* FEATURES_OK before DRIVER. */
	assert_int_equal(vu_device_set_status(dev, S_ACK | VU_STATUS_FEATURES_OK), -EINVAL);
	assert_int_equal(vu_device_get_status(dev), S_ACK);
	assert_int_equal(vu_device_set_status(dev, S_DRV), 0);
	/* DRIVER_OK before FEATURES_OK. */
	assert_int_equal(vu_device_set_status(dev, S_DRV | VU_STATUS_DRIVER_OK), -EINVAL);
	assert_int_equal(vu_device_get_status(dev), S_DRV);
	assert_int_equal(vu_device_set_status(dev, S_FOK), 0);
	assert_int_equal(vu_device_get_status(dev), S_FOK);
	assert_false(vu_device_link_up(dev));
}

static void
test_status_cannot_clear(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(create(c, 1), 0);
	features_ok(c->dev, 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), -EINVAL);
	assert_int_equal(vu_device_get_status(c->dev), S_FOK);
	assert_int_equal(vu_device_set_status(c->dev, VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER),
			 -EINVAL);
	assert_int_equal(vu_device_get_status(c->dev), S_FOK);
	/* Writing the same value again is no change. */
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	assert_int_equal(vu_device_get_status(c->dev), S_FOK);
}

static void
test_status_failed(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV | VU_STATUS_FAILED), 0);
	assert_int_equal(vu_device_get_status(c->dev), S_DRV | VU_STATUS_FAILED);
}

/* FEATURES_OK with a feature the device never offered: refused, the bit stays clear, and
 * the driver may try again with a subset. */
static void
test_features_ok_refused(void **state)
{
	struct ctx *c = *state;
	uint64_t offered;

	assert_int_equal(create(c, 1), 0);
	offered = vu_device_get_features(c->dev);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, offered | VU_BIT(VU_NET_F_CTRL_VQ)),
			 0);
	tu_log_reset();
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), -ENOTSUP);
	assert_int_equal(vu_device_get_status(c->dev), S_DRV);
	assert_true(tu_log_errors() > 0);
	/* And DRIVER_OK in the same write does not sneak through either. */
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), -ENOTSUP);
	assert_int_equal(vu_device_get_status(c->dev), S_DRV);

	assert_int_equal(vu_device_set_driver_features(c->dev, offered), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	assert_int_equal(vu_device_get_driver_features(c->dev), offered);
}

/* Driver features are written only between DRIVER and FEATURES_OK. */
static void
test_driver_features_window(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, DRIVER_FEATURES), -EPERM);
	assert_int_equal(vu_device_set_status(c->dev, S_ACK), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, DRIVER_FEATURES), -EPERM);
	assert_int_equal(vu_device_get_driver_features(c->dev), 0);
	assert_int_equal(vu_device_set_status(c->dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, DRIVER_FEATURES), 0);
	assert_int_equal(vu_device_get_driver_features(c->dev), DRIVER_FEATURES);
	assert_int_equal(vu_device_set_status(c->dev, S_FOK), 0);
	assert_int_equal(vu_device_set_driver_features(c->dev, VU_BIT(VU_F_VERSION_1)), -EPERM);
	assert_int_equal(vu_device_get_driver_features(c->dev), DRIVER_FEATURES);
}

/* ---- config space ---- */

static void
test_config_mac_given(void **state)
{
	struct ctx *c = *state;
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake",
		.ops = &fake_ops,
		.queue_pairs = 1,
		.mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
		.mac_set = true,
	};
	uint8_t mac[6];

	assert_int_equal(vu_device_create(&p, &c->dev), 0);
	assert_int_equal(vu_device_read_config(c->dev, 0, mac, 6), 0);
	assert_memory_equal(mac, p.mac, 6);
}

static void
test_config_mac_random(void **state)
{
	struct ctx *c = *state;
	static const uint8_t zero[6];
	uint8_t mac[2][6];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(create(c, 1), 0);
		assert_int_equal(vu_device_read_config(c->dev, 0, mac[i], 6), 0);
		vu_device_destroy(c->dev);
		c->dev = NULL;
		assert_int_equal(mac[i][0] & 0x01, 0);	  /* unicast */
		assert_int_equal(mac[i][0] & 0x02, 0x02); /* locally administered */
		assert_memory_not_equal(mac[i], zero, 6);
	}
	/* Random, not a constant: 46 random bits collide with negligible probability. */
	assert_memory_not_equal(mac[0], mac[1], 6);
}

static void
test_config_layout_and_link(void **state)
{
	struct ctx *c = *state;
	uint8_t raw[sizeof(struct vu_net_config)];
	uint16_t pairs;

	assert_int_equal(sizeof(struct vu_net_config), 12);
	fk.max_pairs = 4;
	assert_int_equal(create(c, 3), 0);
	assert_int_equal(vu_device_read_config(c->dev, 0, raw, sizeof(raw)), 0);
	assert_int_equal(raw[8] | raw[9] << 8, 3); /* max_virtqueue_pairs, little endian */
	assert_int_equal(vu_device_read_config(c->dev, 8, &pairs, 2), 0);
	assert_int_equal(pairs, 3);
	assert_int_equal(raw[6] | raw[7] << 8, 0); /* link down */
	assert_int_equal(config_status(c->dev), 0);
	assert_false(vu_device_link_up(c->dev));

	make_ready(c);
	assert_int_equal(config_status(c->dev), 0); /* not before DRIVER_OK */
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_int_equal(config_status(c->dev), VU_NET_S_LINK_UP);
	assert_true(vu_device_link_up(c->dev));
	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(config_status(c->dev), 0);
	assert_false(vu_device_link_up(c->dev));
}

static void
test_config_bounds(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[32];

	assert_int_equal(create(c, 1), 0);
	assert_int_equal(vu_device_read_config(c->dev, 10, buf, 2), 0);
	assert_int_equal(vu_device_read_config(c->dev, 12, buf, 0), 0);
	assert_int_equal(vu_device_read_config(c->dev, 11, buf, 2), -EINVAL);
	assert_int_equal(vu_device_read_config(c->dev, 0, buf, 13), -EINVAL);
	assert_int_equal(vu_device_read_config(c->dev, 13, buf, 0), -EINVAL);
	assert_int_equal(vu_device_read_config(c->dev, 0xfffffff0u, buf, 0x20), -EINVAL);
	assert_int_equal(vu_device_read_config(c->dev, 4, buf, 0xfffffffeu), -EINVAL);
}

/* A backend without VIRTIO_NET_F_MTU: no config space mtu, the device takes the field's
 * range, 1500 to begin with, and a stopped device tells the backend nothing. */
static void
test_mtu_range(void **state)
{
	struct ctx *c = *state;
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	assert_false(vu_device_get_features(c->dev) & VU_BIT(VU_NET_F_MTU));
	assert_int_equal(config_mtu(c->dev), 0);
	assert_int_equal(vu_device_max_mtu(c->dev), 65535);
	assert_int_equal(vu_device_mtu(c->dev), 1500);
	from = fk.ncalls;
	tu_log_reset();
	assert_int_equal(vu_device_set_mtu(c->dev, 67), -EINVAL);
	assert_error_mentions("MTU 67 is out of range: the device takes 68 to 65535");
	assert_int_equal(vu_device_set_mtu(c->dev, 65536), -EINVAL);
	assert_error_mentions("MTU 65536");
	assert_int_equal(tu_log_errors(), 2);
	assert_int_equal(vu_device_mtu(c->dev), 1500);
	assert_int_equal(vu_device_set_mtu(c->dev, 68), 0);
	assert_int_equal(vu_device_set_mtu(c->dev, 65535), 0);
	assert_int_equal(vu_device_mtu(c->dev), 65535);
	expect_calls(from, NULL, 0);
}

/* A backend that offers VIRTIO_NET_F_MTU: the device offers it with the largest MTU it
 * takes in the config space, and negotiates it with the backend whether the driver took
 * it or not, so that the backend may be told the MTU, right after the features. */
static void
test_mtu_feature(void **state)
{
	const uint64_t to_backend =
		VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MTU);
	struct ctx *c = *state;
	unsigned int from;

	fk.features |= VU_BIT(VU_NET_F_MTU);
	assert_int_equal(create(c, 1), 0);
	assert_true(vu_device_get_features(c->dev) & VU_BIT(VU_NET_F_MTU));
	assert_int_equal(config_mtu(c->dev), 65535);
	assert_int_equal(vu_device_max_mtu(c->dev), 65535);

	for (int driver_takes_it = 0; driver_takes_it < 2; driver_takes_it++) {
		uint64_t f = DRIVER_FEATURES | (driver_takes_it ? VU_BIT(VU_NET_F_MTU) : 0);

		assert_int_equal(vu_device_set_status(c->dev, 0), 0);
		features_ok(c->dev, f);
		set_up_queues(c, 2, 256);
		from = fk.ncalls;
		assert_int_equal(vu_device_set_mtu(c->dev, 9000 + driver_takes_it), 0);
		expect_calls(from, NULL, 0);
		assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
		assert_int_equal(fk.calls[from].op, OP_SET_FEATURES);
		assert_int_equal(fk.calls[from].val, to_backend);
		assert_int_equal(fk.calls[from + 1].op, OP_MTU);
		assert_int_equal(fk.calls[from + 1].val, 9000 + driver_takes_it);
	}
}

/* Running: the backend is told at once. A refusal keeps the MTU the device had; a backend
 * that takes none (-EOPNOTSUPP) is no error. A reset keeps the MTU, and the next DRIVER_OK
 * tells it again. */
static void
test_mtu_running(void **state)
{
	struct ctx *c = *state;
	const struct call told = { OP_MTU, 0, 4000 };
	unsigned int from;

	assert_int_equal(create(c, 1), 0);
	make_ready(c);
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_mtu(c->dev, 4000), 0);
	expect_calls(from, &told, 1);
	assert_int_equal(vu_device_mtu(c->dev), 4000);

	fk.fail_op = OP_MTU;
	fk.fail_rc = -EIO;
	assert_int_equal(vu_device_set_mtu(c->dev, 5000), -EIO);
	assert_int_equal(vu_device_mtu(c->dev), 4000);
	fk.fail_rc = -EOPNOTSUPP;
	tu_log_reset();
	assert_int_equal(vu_device_set_mtu(c->dev, 6000), 0);
	assert_int_equal(tu_log_errors(), 0);
	assert_int_equal(vu_device_mtu(c->dev), 6000);
	fk.fail_op = OP_NONE;
	from = fk.ncalls;
	assert_int_equal(vu_device_set_mtu(c->dev, 67), -EINVAL);
	expect_calls(from, NULL, 0);

	assert_int_equal(vu_device_set_status(c->dev, 0), 0);
	assert_int_equal(vu_device_mtu(c->dev), 6000);
	make_ready(c);
	from = fk.ncalls;
	assert_int_equal(vu_device_set_status(c->dev, S_DOK), 0);
	assert_int_equal(fk.calls[from + 1].op, OP_MTU);
	assert_int_equal(fk.calls[from + 1].val, 6000);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, device_setup, device_teardown)
	const struct CMUnitTest tests[] = {
		T(test_offered_features),
		T(test_offered_ctrl_features),
		T(test_create_params),
		T(test_create_queue_pairs_range),
		T(test_create_more_pairs_than_backend),
		T(test_create_backend_fails),
		T(test_backend_for_path),
		T(test_vhost_net_name_is_not_special),
		T(test_ifname_needs_vhost_kernel),
		T(test_status_order),
		T(test_status_cannot_clear),
		T(test_status_failed),
		T(test_features_ok_refused),
		T(test_driver_features_window),
		T(test_config_mac_given),
		T(test_config_mac_random),
		T(test_config_layout_and_link),
		T(test_config_bounds),
		T(test_mtu_range),
		T(test_mtu_feature),
		T(test_mtu_running),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
