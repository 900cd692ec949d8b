/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the virtio-net device emulation over a fake backend ops table that records calls. */
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

#include "fake_ops.h"
#include "test_util.h"
#include "vu_device.h"

/* ---- helpers ---- */

#define S_ACK VU_STATUS_ACKNOWLEDGE
#define S_DRV (VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER)
#define S_FOK (S_DRV | VU_STATUS_FEATURES_OK)
#define S_DOK (S_FOK | VU_STATUS_DRIVER_OK)

#define BACKEND_FEATURES                                                               \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MRG_RXBUF) | \
	 VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(30))
#define DRIVER_FEATURES                                                          \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MAC) | \
	 VU_BIT(VU_NET_F_STATUS))

struct ctx {
	struct vu_device *dev;
	struct vu_mem_table mem;
	int memfd;
	int fds_before;
};

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	fake_reset(BACKEND_FEATURES, 1);
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

static int
teardown(void **state)
{
	struct ctx *c = *state;

	vu_device_destroy(c->dev);
	if (c->memfd >= 0)
		close(c->memfd);
	free(c);
	return 0;
}

static int
create(struct ctx *c, uint16_t pairs)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = "/fake/sock",
		.ops = &fake_ops,
		.queue_pairs = pairs,
	};

	return vu_device_create(&p, &c->dev);
}

static void
features_ok(struct vu_device *dev, uint64_t features)
{
	assert_int_equal(vu_device_set_status(dev, S_ACK), 0);
	assert_int_equal(vu_device_set_status(dev, S_DRV), 0);
	assert_int_equal(vu_device_set_driver_features(dev, features), 0);
	assert_int_equal(vu_device_set_status(dev, S_FOK), 0);
}

static struct vu_vring_addr
queue_addr(uint32_t q)
{
	return (struct vu_vring_addr){
		.desc = 0x7f0000000000ull + 0x10000ull * q,
		.avail = 0x7f0000001000ull + 0x10000ull * q,
		.used = 0x7f0000002000ull + 0x10000ull * q,
	};
}

/* Driver features accepted, memory set, every queue set up with size 256 (q0) or 512. */
static void
make_ready(struct ctx *c)
{
	features_ok(c->dev, DRIVER_FEATURES);
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < vu_device_num_queues(c->dev); q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, q == 0 ? 256 : 512, &a), 0);
	}
}

static uint16_t
config_status(const struct vu_device *dev)
{
	uint16_t s;

	assert_int_equal(
		vu_device_read_config(dev, offsetof(struct vu_net_config, status), &s, sizeof(s)),
		0);
	return s;
}

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
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < 4; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
	}
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
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
	}
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
	assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_addr a = queue_addr(q);

		assert_int_equal(vu_device_setup_queue(c->dev, q, 1000, &a), 0);
	}
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

/* ---- MTU ---- */

static uint16_t
config_mtu(const struct vu_device *dev)
{
	uint16_t mtu;

	assert_int_equal(
		vu_device_read_config(dev, offsetof(struct vu_net_config, mtu), &mtu, sizeof(mtu)),
		0);
	return mtu;
}

static void
assert_error_mentions(const char *what)
{
	if (!strstr(tu_log_last_error(), what))
		fail_msg("last error line \"%s\" does not mention \"%s\"", tu_log_last_error(),
			 what);
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
		assert_int_equal(vu_device_set_memory(c->dev, &c->mem), 0);
		for (uint32_t q = 0; q < 2; q++) {
			struct vu_vring_addr a = queue_addr(q);

			assert_int_equal(vu_device_setup_queue(c->dev, q, 256, &a), 0);
		}
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
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
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
		T(test_mtu_range),
		T(test_mtu_feature),
		T(test_mtu_running),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
