/* Unit tests of the vhost-kernel frontend and its TAP layer: the ioctl sequence, with the
 * device nodes substituted by /dev/null and ioctl() and the netlink calls interposed
 * (linked with -Wl,--wrap=ioctl,--wrap=vu_link_set_mac,--wrap=vu_link_set_up). */
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

#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"
#include "vu_tap.h"

#define NODE "/dev/null" /* a character device that stands for /dev/vhost-net and /dev/net/tun */

/* ---- the fake kernel behind ioctl() ---- */

struct rec {
	int fd;
	unsigned long request;
	uint64_t u64; /* features, offload flags, sndbuf, hdr size */
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_vring_file file;
	uint32_t nregions;
	struct vhost_memory_region regions[4];
	struct ifreq ifr;
};

#define MAX_RECS 128
#define MAX_LINK_CALLS 8

static struct fake_kernel {
	uint64_t vhost_features;
	unsigned int tun_features;
	unsigned int tun_offloads; /* TUNSETOFFLOAD accepts subsets of these */
	const char *existing; /* an interface that exists already */
	char created[IFNAMSIZ]; /* the TAP made by TUNSETIFF */
	unsigned long fail_request;
	int fail_errno;
	int link_rc;
	struct rec recs[MAX_RECS];
	unsigned int nrecs;
	struct {
		char what[8];
		char ifname[IFNAMSIZ];
		uint8_t mac[6];
		bool up;
	} link[MAX_LINK_CALLS];
	unsigned int nlink;
} fk;

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);
int __wrap_vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6]);
int __wrap_vu_link_set_up(const char *who, const char *ifname, bool up);

static bool
is_vhost_or_tun(unsigned long request)
{
	return _IOC_TYPE(request) == VHOST_VIRTIO || _IOC_TYPE(request) == 'T';
}

static int
fake_ioctl(struct rec *r, void *arg)
{
	if (fk.fail_request == r->request) {
		errno = fk.fail_errno;
		return -1;
	}
	switch (r->request) {
	case VHOST_SET_OWNER:
	case VHOST_RESET_OWNER:
		return 0;
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = fk.vhost_features;
		return 0;
	case VHOST_SET_FEATURES:
		r->u64 = *(uint64_t *)arg;
		if (r->u64 & ~fk.vhost_features) {
			errno = EOPNOTSUPP;
			return -1;
		}
		return 0;
	case VHOST_SET_MEM_TABLE: {
		const struct vhost_memory *m = arg;

		r->nregions = m->nregions;
		for (uint32_t i = 0; i < m->nregions && i < 4; i++)
			r->regions[i] = m->regions[i];
		return 0;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
		r->state = *(struct vhost_vring_state *)arg;
		return 0;
	case VHOST_GET_VRING_BASE:
		r->state = *(struct vhost_vring_state *)arg;
		((struct vhost_vring_state *)arg)->num = 7;
		return 0;
	case VHOST_SET_VRING_ADDR:
		r->addr = *(struct vhost_vring_addr *)arg;
		return 0;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_NET_SET_BACKEND:
		r->file = *(struct vhost_vring_file *)arg;
		return 0;
	case TUNGETFEATURES:
		*(unsigned int *)arg = fk.tun_features;
		return 0;
	case TUNSETIFF: {
		struct ifreq *ifr = arg;
		char *pct;

		r->ifr = *ifr;
		if (fk.existing && strcmp(ifr->ifr_name, fk.existing) == 0 &&
			(ifr->ifr_flags & IFF_TUN_EXCL)) {
			errno = EBUSY;
			return -1;
		}
		/* The kernel's dev_alloc_name(): %d becomes the first free number. */
		pct = strstr(ifr->ifr_name, "%d");
		if (pct)
			memcpy(pct, "0", 2);
		snprintf(fk.created, sizeof(fk.created), "%s", ifr->ifr_name);
		return 0;
	}
	case TUNSETSNDBUF:
	case TUNSETVNETHDRSZ:
		r->u64 = (uint64_t) * (int *)arg;
		return 0;
	case TUNSETOFFLOAD:
		r->u64 = (uint64_t)(uintptr_t)arg;
		if (r->u64 & ~(uint64_t)fk.tun_offloads) {
			errno = EINVAL;
			return -1;
		}
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

int
__wrap_ioctl(int fd, unsigned long request, ...)
{
	struct rec *r;
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!is_vhost_or_tun(request))
		return __real_ioctl(fd, request, arg);
	assert_true(fk.nrecs < MAX_RECS);
	r = &fk.recs[fk.nrecs++];
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->request = request;
	return fake_ioctl(r, arg);
}

static int
link_call(const char *what, const char *ifname, const uint8_t *mac, bool up)
{
	if (fk.nlink < MAX_LINK_CALLS) {
		snprintf(fk.link[fk.nlink].what, sizeof(fk.link[0].what), "%s", what);
		snprintf(fk.link[fk.nlink].ifname, IFNAMSIZ, "%s", ifname);
		if (mac)
			memcpy(fk.link[fk.nlink].mac, mac, 6);
		fk.link[fk.nlink].up = up;
		fk.nlink++;
	}
	return fk.link_rc;
}

int
__wrap_vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6])
{
	(void)who;
	return link_call("mac", ifname, mac, false);
}

int
__wrap_vu_link_set_up(const char *who, const char *ifname, bool up)
{
	(void)who;
	return link_call("up", ifname, NULL, up);
}

/* ---- helpers ---- */

#define KERNEL_FEATURES                                                                           \
	(VU_BIT(VU_F_RING_INDIRECT_DESC) | VU_BIT(VU_F_RING_EVENT_IDX) | VU_BIT(VU_F_VERSION_1) | \
		VU_BIT(VU_NET_F_MRG_RXBUF) | (1ull << VHOST_NET_F_VIRTIO_NET_HDR) |               \
		(1ull << VHOST_F_LOG_ALL) | VU_BIT(VU_F_ACCESS_PLATFORM))

static const uint8_t test_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static int
setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.vhost_features = KERNEL_FEATURES;
	/* As the kernel answers: IFF_TUN_EXCL works but is not listed. */
	fk.tun_features = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	fk.tun_offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO;
	tu_log_capture();
	tu_log_reset();
	return 0;
}

static struct vu_device_params
params(uint16_t pairs, const char *ifname)
{
	struct vu_device_params p = {
		.name = "vk0",
		.path = NODE,
		.tun_path = NODE,
		.ifname = ifname,
		.queue_pairs = pairs,
		.queue_size = 256,
		.mac_set = true,
	};

	memcpy(p.mac, test_mac, sizeof(p.mac));
	return p;
}

/* Index of the next record at or after *pos with this request; fails if none. */
static const struct rec *
next_rec(unsigned int *pos, unsigned long request, const char *name)
{
	for (; *pos < fk.nrecs; (*pos)++)
		if (fk.recs[*pos].request == request)
			return &fk.recs[(*pos)++];
	fail_msg("no %s after position %u (%u ioctls recorded)", name, *pos, fk.nrecs);
	return NULL;
}

static unsigned int
count_rec(unsigned long request)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fk.nrecs; i++)
		n += fk.recs[i].request == request;
	return n;
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

/* Drive the device as the PMD's glue does: features, memory, queues, DRIVER_OK. */
static int
start_device(struct vu_device *dev, uint64_t features, int memfd, void *mem, size_t len)
{
	uint8_t st = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;
	struct vu_mem_table table = {
		.nregions = 1,
		.regions = {{.addr = (uint64_t)(uintptr_t)mem, .len = len, .fd = memfd}},
	};
	int rc;

	assert_int_equal(vu_device_set_status(dev, 0), 0);
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(vu_device_set_driver_features(dev, features), 0);
	st |= VU_STATUS_FEATURES_OK;
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(vu_device_set_memory(dev, &table), 0);
	for (uint32_t i = 0; i < vu_device_num_queues(dev); i++) {
		uint64_t base = (uint64_t)(uintptr_t)mem + i * 0x4000;
		struct vu_vring_addr a = {base, base + 0x1000, base + 0x2000};

		assert_int_equal(vu_device_setup_queue(dev, i, 256, &a), 0);
	}
	rc = vu_device_set_status(dev, st | VU_STATUS_DRIVER_OK);
	return rc;
}

/* ---- tests ---- */

static void
test_backend_selection(void **state)
{
	(void)state;
	/* A character device is a vhost-kernel node; a missing vhost-net* path too, so
	 * that its error names the module; anything else is a vhost-user socket. */
	assert_ptr_equal(vu_backend_ops_for_path(NODE), &vu_vhost_kernel_ops);
	assert_ptr_equal(vu_backend_ops_for_path("/nonexistent/vhost-net"), &vu_vhost_kernel_ops);
	assert_ptr_equal(vu_backend_ops_for_path("/nonexistent/sock0"), &vu_vhost_user_ops);
	assert_ptr_equal(vu_backend_ops_for_path("/"), &vu_vhost_user_ops);
}

static void
test_open_one_pair(void **state)
{
	struct vu_device_params p = params(1, "tap%d");
	struct vu_device *dev = NULL;
	const struct rec *r, *iff;
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
	assert_memory_equal(fk.link[0].mac, test_mac, 6);
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
	struct vu_device_params p = params(1, "tap%d");
	uint64_t features = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) |
		VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_CSUM) |
		VU_BIT(VU_NET_F_MAC);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1] = {0};
	const struct rec *r;
	unsigned int pos;
	int vhost_fd, tap_fd;

	(void)state;
	assert_true(memfd >= 0);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	vhost_fd = fk.recs[0].fd;
	tap_fd = fk.recs[2].fd;
	pos = fk.nrecs;
	assert_int_equal(start_device(dev, features, memfd, mem, len), 0);

	/* Header size and offloads on the TAP, then only vhost's own bits to vhost. */
	assert_int_equal(next_rec(&pos, TUNSETVNETHDRSZ, "TUNSETVNETHDRSZ")->u64, 12);
	assert_int_equal(
		next_rec(&pos, TUNSETOFFLOAD, "TUNSETOFFLOAD")->u64, TUN_F_CSUM | TUN_F_TSO4);
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

	/* Reset: each ring loses its backend, then is stopped. */
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_NET_SET_BACKEND, "NET_SET_BACKEND -1");
		assert_int_equal(r->file.index, q);
		assert_int_equal(r->file.fd, -1);
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
	struct vu_device_params p = params(1, NULL);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1];
	unsigned int pos;

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_string_equal(fk.recs[3].ifr.ifr_name, VU_TAP_DEFAULT_NAME);
	pos = fk.nrecs;
	assert_int_equal(start_device(dev, VU_BIT(VU_NET_F_MAC), memfd, mem, len), 0);
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
	struct vu_device_params p = params(2, "mq%d");
	int fds = tu_count_fds();
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	int vhost_fd[2], tap_fd[2];
	unsigned int pos = 0, n = 0;
	const struct rec *r;
	char mem[1];

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	/* One vhost-net instance per pair, each owned and asked for its features. */
	for (int i = 0; i < 2; i++) {
		vhost_fd[i] = next_rec(&pos, VHOST_SET_OWNER, "VHOST_SET_OWNER")->fd;
		assert_int_equal(
			next_rec(&pos, VHOST_GET_FEATURES, "GET_FEATURES")->fd, vhost_fd[i]);
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
	assert_int_equal(
		start_device(dev,
			VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MQ) | VU_BIT(VU_NET_F_CTRL_VQ),
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
	 * driver asks for two pairs (VQ_PAIRS_SET), only the first pair has a backend. */
	for (unsigned int i = pos; i < fk.nrecs; i++) {
		r = &fk.recs[i];
		if (r->request != VHOST_NET_SET_BACKEND)
			continue;
		int pair = n / 2;

		assert_int_equal(r->fd, vhost_fd[pair]);
		assert_int_equal(r->file.index, n % 2);
		assert_int_equal(r->file.fd, pair == 0 ? tap_fd[0] : -1);
		n++;
	}
	assert_int_equal(n, 4);
	pos = fk.nrecs;
	uint16_t two = 2;
	assert_int_equal(
		vu_device_ctrl(dev, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, &two, sizeof(two)),
		VU_NET_OK);
	for (n = 0; pos < fk.nrecs; pos++) {
		r = &fk.recs[pos];
		if (r->request != VHOST_NET_SET_BACKEND || r->fd != vhost_fd[1])
			continue;
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
	struct vu_device_params p = params(1, NULL);
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
	struct vu_device_params p = params(1, NULL);
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
	struct vu_device_params p = params(1, "eth0");
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
	struct vu_device_params p = params(1, "tap0");
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
	struct vu_device_params p = params(2, NULL);
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
	struct vu_device_params p = params(1, NULL);
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
	struct vu_device_params p = params(1, NULL);
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
	struct vu_device_params p = params(1, NULL);
	size_t len = 1 << 16;
	int memfd = tu_memfd(len);
	struct vu_device *dev = NULL;
	char mem[1];

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	fk.fail_request = VHOST_SET_FEATURES;
	fk.fail_errno = EOPNOTSUPP;
	assert_int_equal(start_device(dev, VU_BIT(VU_F_VERSION_1), memfd, mem, len), -EOPNOTSUPP);
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
	struct vu_device_params p = params(1, NULL);
	struct vu_device *dev = NULL;

	(void)state;
	/* A TAP without TSO: only GUEST_CSUM is offered. */
	fk.tun_offloads = TUN_F_CSUM;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_true(vu_device_get_features(dev) & VU_BIT(VU_NET_F_GUEST_CSUM));
	assert_false(vu_device_get_features(dev) & VU_BIT(VU_NET_F_GUEST_TSO4));
	vu_device_destroy(dev);
}

static void
test_iface_needs_vhost_kernel(void **state)
{
	struct vu_device_params p = params(1, "tap0");
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
	};

	return cmocka_run_group_tests_name("vhost_kernel", tests, NULL, NULL);
}
