/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-kernel frontend and its TAP layer: the ioctl sequence, with the
 * device nodes substituted by /dev/null and ioctl() and the netlink calls interposed
 * (linked with -Wl,--wrap=ioctl,--wrap=vu_link_set_mac,--wrap=vu_link_set_up; the fake
 * kernel is fake_kernel.c). */
#include <errno.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_kernel_rec.h"
#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"
#include "vu_tap.h"

/* ---- helpers ---- */

static int
setup(void **state)
{
	(void)state;
	fk_reset();
	tu_log_capture();
	tu_log_reset();
	return 0;
}

static void
assert_one_line_error(const char *word1, const char *word2)
{
	const char *line = tu_log_last_error();

	if (tu_log_errors() != 1)
		fail_msg("%u error lines, expected 1 (last: \"%s\")", tu_log_errors(), line);
	if (strchr(line, '\n'))
		fail_msg("error \"%s\" is not one line", line);
	if (word1 && !strstr(line, word1))
		fail_msg("error \"%s\" does not mention \"%s\"", line, word1);
	if (word2 && !strstr(line, word2))
		fail_msg("error \"%s\" does not mention \"%s\"", line, word2);
}

/* ---- tests ---- */

static void
test_backend_selection(void **state)
{
	(void)state;
	/* The fake node is a character device: vhost-kernel's, unless server=1 asks for a
	 * vhost-user listener (test_device.c covers the other kinds of path). */
	assert_ptr_equal(vu_backend_ops_for_path(FK_NODE, false), &vu_vhost_kernel_ops);
	assert_ptr_equal(vu_backend_ops_for_path(FK_NODE, true), &vu_vhost_user_ops);
}

static void
test_open_one_pair(void **state)
{
	struct vu_device_params p = fk_params(1, "tap%d");
	struct vu_device *dev = NULL;
	const struct fk_rec *r, *iff;
	unsigned int pos = 0;
	uint64_t f;
	int fds = tu_count_fds();

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(tu_log_errors(), 0);

	/* vhost-net first: it owns the device, then tells its features. */
	r = next_rec(&pos, VHOST_SET_OWNER, "VHOST_SET_OWNER");
	int vhost_fd = r->fd;
	assert_int_equal(next_rec(&pos, VHOST_GET_FEATURES, "GET_FEATURES")->fd, vhost_fd);
	/* Then the TAP: checked, created exclusively, sized, its offloads probed. */
	r = next_rec(&pos, TUNGETFEATURES, "TUNGETFEATURES");
	int tap_fd = r->fd;
	assert_int_not_equal(tap_fd, vhost_fd);
	iff = next_rec(&pos, TUNSETIFF, "TUNSETIFF");
	assert_int_equal(iff->fd, tap_fd);
	assert_string_equal(iff->ifr.ifr_name, "tap%d");
	assert_int_equal((unsigned short)iff->ifr.ifr_flags,
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
	assert_int_equal(next_rec(&pos, TUNSETSNDBUF, "TUNSETSNDBUF")->u64, INT_MAX);
	assert_int_equal(next_rec(&pos, TUNSETOFFLOAD, "TUNSETOFFLOAD")->u64,
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(next_rec(&pos, TUNSETOFFLOAD, "TUNSETOFFLOAD 0")->u64, 0);
	assert_int_equal(pos, fk.nrecs);
	assert_int_equal(count_rec(VHOST_NET_SET_BACKEND), 0);

	/* The link: the port's MAC, then up, on the name the kernel chose. */
	assert_int_equal(fk.nlink, 2);
	assert_string_equal(fk.link[0].what, "mac");
	assert_string_equal(fk.link[0].ifname, "tap0");
	assert_memory_equal(fk.link[0].mac, fk_test_mac, 6);
	assert_string_equal(fk.link[1].what, "up");
	assert_true(fk.link[1].up);

	/* Offered: vhost-net's ring features and the TAP's offloads; never the header,
	 * logging or IOTLB bits of vhost, never a packed ring or IN_ORDER. */
	f = vu_device_get_features(dev);
	assert_true(f & VU_BIT(VU_F_VERSION_1));
	assert_true(f & VU_BIT(VU_NET_F_MRG_RXBUF));
	assert_true(f & VU_BIT(VU_F_RING_EVENT_IDX));
	assert_true(f & VU_BIT(VU_NET_F_CSUM));
	assert_true(f & VU_BIT(VU_NET_F_HOST_TSO4));
	assert_true(f & VU_BIT(VU_NET_F_GUEST_CSUM));
	assert_true(f & VU_BIT(VU_NET_F_GUEST_TSO6));
	assert_false(f & (1ull << VHOST_NET_F_VIRTIO_NET_HDR));
	assert_false(f & (1ull << VHOST_F_LOG_ALL));
	assert_false(f & VU_BIT(VU_F_ACCESS_PLATFORM));
	assert_false(f & VU_BIT(VU_F_RING_PACKED));
	assert_false(f & VU_BIT(VU_F_IN_ORDER));

	vu_device_destroy(dev);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_start_stop_sequence(void **state)
{
	struct vu_device_params p = fk_params(1, "tap%d");
	uint64_t features = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) |
		VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_CSUM) |
		VU_BIT(VU_NET_F_MAC);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1] = { 0 };
	const struct fk_rec *r;
	unsigned int pos;
	int vhost_fd, tap_fd;

	(void)state;
	assert_true(memfd >= 0);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	vhost_fd = fk.recs[0].fd;
	tap_fd = fk.recs[2].fd;
	pos = fk.nrecs;
	assert_int_equal(fk_start_device(dev, features, memfd, mem, len), 0);

	/* Header size and offloads on the TAP, then only vhost's own bits to vhost. */
	assert_int_equal(next_rec(&pos, TUNSETVNETHDRSZ, "TUNSETVNETHDRSZ")->u64, 12);
	assert_int_equal(next_rec(&pos, TUNSETOFFLOAD, "TUNSETOFFLOAD")->u64,
			 TUN_F_CSUM | TUN_F_TSO4);
	r = next_rec(&pos, VHOST_SET_FEATURES, "VHOST_SET_FEATURES");
	assert_int_equal(r->fd, vhost_fd);
	assert_int_equal(r->u64, VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF));
	r = next_rec(&pos, VHOST_SET_MEM_TABLE, "VHOST_SET_MEM_TABLE");
	assert_int_equal(r->nregions, 1);
	assert_int_equal(r->regions[0].guest_phys_addr, (uint64_t)(uintptr_t)mem);
	assert_int_equal(r->regions[0].userspace_addr, (uint64_t)(uintptr_t)mem);
	assert_int_equal(r->regions[0].memory_size, len);
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t base = (uint64_t)(uintptr_t)mem + q * 0x4000;

		r = next_rec(&pos, VHOST_SET_VRING_CALL, "SET_VRING_CALL");
		assert_int_equal(r->file.index, q);
		assert_int_equal(r->file.fd, vu_device_queue_call_fd(dev, q));
		r = next_rec(&pos, VHOST_SET_VRING_NUM, "SET_VRING_NUM");
		assert_int_equal(r->state.index, q);
		assert_int_equal(r->state.num, 256);
		r = next_rec(&pos, VHOST_SET_VRING_BASE, "SET_VRING_BASE");
		assert_int_equal(r->state.index, q);
		assert_int_equal(r->state.num, 0);
		r = next_rec(&pos, VHOST_SET_VRING_ADDR, "SET_VRING_ADDR");
		assert_int_equal(r->addr.index, q);
		assert_int_equal(r->addr.desc_user_addr, base);
		assert_int_equal(r->addr.avail_user_addr, base + 0x1000);
		assert_int_equal(r->addr.used_user_addr, base + 0x2000);
		r = next_rec(&pos, VHOST_SET_VRING_KICK, "SET_VRING_KICK");
		assert_int_equal(r->file.index, q);
		assert_int_equal(r->file.fd, vu_device_queue_kick_fd(dev, q));
	}
	/* Enabling a ring attaches the TAP queue as its backend. */
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_NET_SET_BACKEND, "NET_SET_BACKEND");
		assert_int_equal(r->fd, vhost_fd);
		assert_int_equal(r->file.index, q);
		assert_int_equal(r->file.fd, tap_fd);
	}
	assert_true(vu_device_link_up(dev));

	/* Reset: every ring loses its backend, then each is stopped. */
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_NET_SET_BACKEND, "NET_SET_BACKEND -1");
		assert_int_equal(r->file.index, q);
		assert_int_equal(r->file.fd, -1);
	}
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_GET_VRING_BASE, "GET_VRING_BASE");
		assert_int_equal(r->state.index, q);
	}
	vu_device_destroy(dev);
	next_rec(&pos, VHOST_RESET_OWNER, "VHOST_RESET_OWNER");
	close(memfd);
	assert_int_equal(tu_log_errors(), 0);
}

static void
test_legacy_header_without_offloads(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1];
	unsigned int pos;

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_string_equal(fk.recs[3].ifr.ifr_name, VU_TAP_DEFAULT_NAME);
	pos = fk.nrecs;
	assert_int_equal(fk_start_device(dev, VU_BIT(VU_NET_F_MAC), memfd, mem, len), 0);
	/* No VERSION_1, no MRG_RXBUF: the 10-byte header (spec 5.1.6); no offloads. */
	assert_int_equal(next_rec(&pos, TUNSETVNETHDRSZ, "TUNSETVNETHDRSZ")->u64, 10);
	assert_int_equal(next_rec(&pos, TUNSETOFFLOAD, "TUNSETOFFLOAD")->u64, 0);
	assert_int_equal(next_rec(&pos, VHOST_SET_FEATURES, "VHOST_SET_FEATURES")->u64, 0);
	vu_device_destroy(dev);
	close(memfd);
}

static void
test_multi_queue(void **state)
{
	struct vu_device_params p = fk_params(2, "mq%d");
	int fds = tu_count_fds();
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	int vhost_fd[2], tap_fd[2];
	unsigned int pos = 0, n = 0;
	const struct fk_rec *r;
	char mem[1];

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	/* One vhost-net instance per pair, each owned and asked for its features. */
	for (int i = 0; i < 2; i++) {
		vhost_fd[i] = next_rec(&pos, VHOST_SET_OWNER, "VHOST_SET_OWNER")->fd;
		assert_int_equal(next_rec(&pos, VHOST_GET_FEATURES, "GET_FEATURES")->fd,
				 vhost_fd[i]);
	}
	assert_int_not_equal(vhost_fd[0], vhost_fd[1]);
	/* One TAP queue per pair: the first creates it, the second attaches by name. */
	for (int i = 0; i < 2; i++) {
		r = next_rec(&pos, TUNSETIFF, "TUNSETIFF");
		tap_fd[i] = r->fd;
		assert_string_equal(r->ifr.ifr_name, i == 0 ? "mq%d" : "mq0");
		assert_int_equal((unsigned short)r->ifr.ifr_flags,
				 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE |
					 (i == 0 ? IFF_TUN_EXCL : 0));
	}
	assert_int_not_equal(tap_fd[0], tap_fd[1]);

	pos = fk.nrecs;
	assert_int_equal(fk_start_device(dev,
					 VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MQ) |
						 VU_BIT(VU_NET_F_CTRL_VQ),
					 memfd, mem, len),
			 0);
	/* Both vhost-net instances get the features (MQ and CTRL_VQ stay in-process) and
	 * the memory table. */
	assert_int_equal(count_rec(VHOST_SET_FEATURES), 2);
	for (unsigned int i = pos; i < fk.nrecs; i++)
		if (fk.recs[i].request == VHOST_SET_FEATURES)
			assert_int_equal(fk.recs[i].u64, VU_BIT(VU_F_VERSION_1));
	assert_int_equal(count_rec(VHOST_SET_MEM_TABLE), 2);
	/* Virtqueues 2 and 3 are rings 0 and 1 of the second vhost-net device. Until the
	 * driver asks for two pairs (VQ_PAIRS_SET), only the first pair has a backend; the
	 * second one's rings start without one, so nothing is sent for them. */
	for (unsigned int i = pos; i < fk.nrecs; i++) {
		r = &fk.recs[i];
		if (r->request != VHOST_NET_SET_BACKEND)
			continue;
		assert_int_equal(r->fd, vhost_fd[0]);
		assert_int_equal(r->file.index, n);
		assert_int_equal(r->file.fd, tap_fd[0]);
		n++;
	}
	assert_int_equal(n, 2);
	pos = fk.nrecs;
	uint16_t two = 2;
	assert_int_equal(
		vu_device_ctrl(dev, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, &two, sizeof(two)),
		VU_NET_OK);
	/* Only the pair that changes: the first one keeps its backend. */
	for (n = 0; pos < fk.nrecs; pos++) {
		r = &fk.recs[pos];
		if (r->request != VHOST_NET_SET_BACKEND)
			continue;
		assert_int_equal(r->fd, vhost_fd[1]);
		assert_int_equal(r->file.index, n % 2);
		assert_int_equal(r->file.fd, tap_fd[1]);
		n++;
	}
	assert_int_equal(n, 2);
	vu_device_destroy(dev);
	close(memfd);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_missing_module(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	p.path = "/nonexistent/vhost-net";
	assert_int_equal(vu_device_create(&p, &dev), -ENOENT);
	assert_null(dev);
	assert_one_line_error("vhost_net", "/nonexistent/vhost-net");
	assert_int_equal(fk.nrecs, 0);
	assert_int_equal(fk.nlink, 0);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_missing_tun(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	p.tun_path = "/nonexistent/tun";
	assert_int_equal(vu_device_create(&p, &dev), -ENOENT);
	assert_one_line_error("/nonexistent/tun", "tun");
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_name_taken(void **state)
{
	struct vu_device_params p = fk_params(1, "eth0");
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	fk.existing = "eth0";
	assert_int_equal(vu_device_create(&p, &dev), -EEXIST);
	assert_one_line_error("eth0", "already exists");
	/* Nothing configured, every fd closed: the TAP never existed. */
	assert_int_equal(fk.nlink, 0);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_permission(void **state)
{
	struct vu_device_params p = fk_params(1, "tap0");
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	fk.fail_request = TUNSETIFF;
	fk.fail_errno = EPERM;
	assert_int_equal(vu_device_create(&p, &dev), -EPERM);
	assert_one_line_error("tap0", "CAP_NET_ADMIN");
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_no_multi_queue_tap(void **state)
{
	struct vu_device_params p = fk_params(2, NULL);
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	fk.tun_features &= ~(unsigned int)IFF_MULTI_QUEUE;
	assert_int_equal(vu_device_create(&p, &dev), -ENOTSUP);
	assert_one_line_error("IFF_MULTI_QUEUE", NULL);
	assert_int_equal(count_rec(TUNSETIFF), 0);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_not_a_vhost_device(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	struct vu_device *dev = NULL;

	(void)state;
	fk.fail_request = VHOST_SET_OWNER;
	fk.fail_errno = ENOTTY;
	assert_int_equal(vu_device_create(&p, &dev), -ENOTTY);
	assert_one_line_error("VHOST_SET_OWNER", "not a vhost-net device");
}

static void
test_link_failure_removes_tap(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	fk.link_rc = -EPERM;
	assert_int_equal(vu_device_create(&p, &dev), -EPERM);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_kernel_refuses_feature(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1];

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	fk.fail_request = VHOST_SET_FEATURES;
	fk.fail_errno = EOPNOTSUPP;
	assert_int_equal(fk_start_device(dev, VU_BIT(VU_F_VERSION_1), memfd, mem, len),
			 -EOPNOTSUPP);
	assert_true(strstr(tu_log_last_error(), "starting the backend") ||
		    strstr(tu_log_last_error(), "VHOST_SET_FEATURES"));
	assert_false(vu_device_link_up(dev));
	assert_int_equal(count_rec(VHOST_NET_SET_BACKEND), 0);
	fk.fail_request = 0;
	vu_device_destroy(dev);
	close(memfd);
}

static void
test_tap_refuses_offload(void **state)
{
	struct vu_device_params p = fk_params(1, NULL);
	struct vu_device *dev = NULL;

	(void)state;
	/* A TAP without TSO: only GUEST_CSUM is offered. */
	fk.tun_offloads = TUN_F_CSUM;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_true(vu_device_get_features(dev) & VU_BIT(VU_NET_F_GUEST_CSUM));
	assert_false(vu_device_get_features(dev) & VU_BIT(VU_NET_F_GUEST_TSO4));
	vu_device_destroy(dev);
}

/* The TAP's MTU follows the driver's (vu_link_set_mtu, over rtnetlink): one set while
 * stopped at DRIVER_OK, after the header size and offloads; then at once while running.
 * The kernel's refusal comes back and the MTU stays; at DRIVER_OK it fails the start. */
static void
test_mtu_to_tap(void **state)
{
	struct vu_device_params p = fk_params(1, "tap%d");
	const uint64_t features = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	unsigned int nlink, pos;
	char mem[1];

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	/* vhost-net has no MTU feature: the device takes the config field's range. */
	assert_false(vu_device_get_features(dev) & VU_BIT(VU_NET_F_MTU));
	assert_int_equal(vu_device_max_mtu(dev), 65535);
	nlink = fk.nlink;
	assert_int_equal(vu_device_set_mtu(dev, 9000), 0);
	assert_int_equal(fk.nlink, nlink);
	pos = fk.nrecs;
	assert_int_equal(fk_start_device(dev, features, memfd, mem, len), 0);
	assert_int_equal(fk.nlink, nlink + 1);
	assert_string_equal(fk.link[nlink].what, "mtu");
	assert_string_equal(fk.link[nlink].ifname, "tap0");
	assert_int_equal(fk.link[nlink].mtu, 9000);
	assert_false(next_rec(&pos, VHOST_SET_FEATURES, "VHOST_SET_FEATURES")->u64 &
		     VU_BIT(VU_NET_F_MTU));

	assert_int_equal(vu_device_set_mtu(dev, 1500), 0);
	assert_int_equal(fk.nlink, nlink + 2);
	assert_int_equal(fk.link[nlink + 1].mtu, 1500);

	fk.link_fail = "mtu";
	fk.link_rc = -EINVAL;
	assert_int_equal(vu_device_set_mtu(dev, 65535), -EINVAL);
	assert_int_equal(vu_device_mtu(dev), 1500);
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	assert_int_equal(fk_start_device(dev, features, memfd, mem, len), -EINVAL);
	assert_false(vu_device_link_up(dev));
	fk.link_fail = NULL;
	fk.link_rc = 0;
	vu_device_destroy(dev);
	close(memfd);
}

static void
test_iface_needs_vhost_kernel(void **state)
{
	struct vu_device_params p = fk_params(1, "tap0");
	struct vu_device *dev = NULL;

	(void)state;
	p.path = "/nonexistent/sock0";
	assert_int_equal(vu_device_create(&p, &dev), -EINVAL);
	assert_one_line_error("iface=tap0", "vhost-kernel");
	assert_int_equal(fk.nrecs, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_backend_selection, setup),
		cmocka_unit_test_setup(test_open_one_pair, setup),
		cmocka_unit_test_setup(test_start_stop_sequence, setup),
		cmocka_unit_test_setup(test_legacy_header_without_offloads, setup),
		cmocka_unit_test_setup(test_multi_queue, setup),
		cmocka_unit_test_setup(test_missing_module, setup),
		cmocka_unit_test_setup(test_missing_tun, setup),
		cmocka_unit_test_setup(test_name_taken, setup),
		cmocka_unit_test_setup(test_permission, setup),
		cmocka_unit_test_setup(test_no_multi_queue_tap, setup),
		cmocka_unit_test_setup(test_not_a_vhost_device, setup),
		cmocka_unit_test_setup(test_link_failure_removes_tap, setup),
		cmocka_unit_test_setup(test_kernel_refuses_feature, setup),
		cmocka_unit_test_setup(test_tap_refuses_offload, setup),
		cmocka_unit_test_setup(test_iface_needs_vhost_kernel, setup),
		cmocka_unit_test_setup(test_mtu_to_tap, setup),
	};

	return cmocka_run_group_tests_name("vhost_kernel", tests, NULL, NULL);
}
