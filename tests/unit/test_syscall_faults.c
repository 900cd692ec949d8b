/* SPDX-License-Identifier: BSD-3-Clause */
/* EINTR and EAGAIN injected into every syscall of the vhost-user and vhost-kernel frontends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_backend.h"
#include "fake_kernel.h"
#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"
#include "vu_vhost_user_msg.h"
#include "wire_scenario.h"

/*
 * The binary is linked with -Wl,--wrap=SYMBOL for every syscall libvirtio_user makes that can
 * fail with EINTR or EAGAIN (tests/unit/meson.build): connect, accept4, sendmsg, recvmsg, recv,
 * poll, epoll_wait, write, open64 (what open() is under _FILE_OFFSET_BITS=64) and ioctl.
 * Not wrapped: read (libvirtio_user never calls it), close (never retried on Linux: the fd is
 * gone whatever it returns), socket/bind/listen/eventfd/epoll_create1/epoll_ctl/stat (they do
 * not block, so neither error applies), and the netlink calls, which libnl-3 makes from its
 * own shared object and which the vhost-kernel scenario fakes as test_vhost_kernel does.
 *
 * Injection is armed per thread: only calls made by the test's own thread (the frontend) fail;
 * the fake backend's thread goes through the same wrappers untouched. When armed, each call
 * site of a wrapped syscall (told apart by its return address) fails its first call with -1
 * and the chosen errno, passes the next one through to the real syscall, fails the one after,
 * and so on: every retry makes progress, and every call site a scenario reaches is hit.
 */

enum sf_call {
	SF_CONNECT,
	SF_ACCEPT4,
	SF_SENDMSG,
	SF_RECVMSG,
	SF_RECV,
	SF_POLL,
	SF_EPOLL_WAIT,
	SF_WRITE,
	SF_OPEN,
	SF_IOCTL,
	SF_NCALLS
};

static const char *const sf_names[SF_NCALLS] = {
	[SF_CONNECT] = "connect",	[SF_ACCEPT4] = "accept4", [SF_SENDMSG] = "sendmsg",
	[SF_RECVMSG] = "recvmsg",	[SF_RECV] = "recv",	  [SF_POLL] = "poll",
	[SF_EPOLL_WAIT] = "epoll_wait", [SF_WRITE] = "write",	  [SF_OPEN] = "open",
	[SF_IOCTL] = "ioctl",
};

/* The errno to inject on this thread, 0 when disarmed. */
static _Thread_local int sf_errno;

#define SF_MAX_SITES 64

/* One call site of one wrapped syscall. */
struct sf_site {
	enum sf_call call;
	const void *where;
	unsigned int calls;
};

/* Only the armed thread counts. */
static struct {
	unsigned int calls[SF_NCALLS];
	unsigned int injected[SF_NCALLS];
	unsigned int sites[SF_NCALLS]; /* distinct call sites seen */
	struct sf_site site[SF_MAX_SITES];
	unsigned int nsites;
} sf;

static void
sf_arm(int err)
{
	memset(&sf, 0, sizeof(sf));
	sf_errno = err;
}

static void
sf_disarm(void)
{
	sf_errno = 0;
}

/* True when this call must fail (errno set): the first, third, fifth... call from `where`
 * while armed. */
static bool
sf_inject(enum sf_call c, const void *where)
{
	unsigned int i;

	if (!sf_errno)
		return false;
	sf.calls[c]++;
	for (i = 0; i < sf.nsites; i++)
		if (sf.site[i].call == c && sf.site[i].where == where)
			break;
	if (i == sf.nsites) {
		assert_true(sf.nsites < SF_MAX_SITES);
		sf.site[sf.nsites++] = (struct sf_site){ .call = c, .where = where };
		sf.sites[c]++;
	}
	if (sf.site[i].calls++ % 2 != 0)
		return false;
	sf.injected[c]++;
	errno = sf_errno;
	return true;
}

/* In a wrapper: the call site is the wrapper's return address. */
#define SF_INJECT(c) sf_inject(c, __builtin_return_address(0))

int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *mh, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr *mh, int flags);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __real_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
ssize_t __real_write(int fd, const void *buf, size_t len);
int __real_open64(const char *path, int flags, ...);

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *mh, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *mh, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
int __wrap_open64(const char *path, int flags, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

int
__wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return SF_INJECT(SF_CONNECT) ? -1 : __real_connect(fd, sa, len);
}

int
__wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return SF_INJECT(SF_ACCEPT4) ? -1 : __real_accept4(fd, sa, len, flags);
}

ssize_t
__wrap_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	return SF_INJECT(SF_SENDMSG) ? -1 : __real_sendmsg(fd, mh, flags);
}

ssize_t
__wrap_recvmsg(int fd, struct msghdr *mh, int flags)
{
	return SF_INJECT(SF_RECVMSG) ? -1 : __real_recvmsg(fd, mh, flags);
}

ssize_t
__wrap_recv(int fd, void *buf, size_t len, int flags)
{
	return SF_INJECT(SF_RECV) ? -1 : __real_recv(fd, buf, len, flags);
}

int
__wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	return SF_INJECT(SF_POLL) ? -1 : __real_poll(fds, nfds, timeout);
}

int
__wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	return SF_INJECT(SF_EPOLL_WAIT) ? -1 : __real_epoll_wait(epfd, evs, max, timeout);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	return SF_INJECT(SF_WRITE) ? -1 : __real_write(fd, buf, len);
}

int
__wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return SF_INJECT(SF_OPEN) ? -1 : __real_open64(path, flags, mode);
}

/* Behind the injection, the vhost and TUN requests go to the fake kernel (fake_kernel.c). */
int
__wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	return SF_INJECT(SF_IOCTL) ? -1 : fk_ioctl(fd, request, arg);
}

/* ---- helpers ---- */

#define F_PROTO (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)
#define P_MQ (1ull << VU_VHOST_USER_PROTOCOL_F_MQ)
#define TIMEOUT_MS 2000 /* never reached by a working exchange */
#define MAX_EVENTS 8	/* handle_event calls allowed for one outcome */

static const struct vu_backend_ops *vhost = &vu_vhost_user_ops;

/* What the backend received in one run. */
struct wire_log {
	unsigned int n;
	struct fb_rx rx[FB_MAX_RX];
};

/* What the fake kernel received in one run. */
struct kernel_log {
	unsigned int n;
	struct fk_rec recs[FK_MAX_RECS];
	unsigned int nlink;
};

static struct wire_log want_wire, got_wire;
static struct kernel_log want_kernel, got_kernel;

static int
setup(void **state)
{
	(void)state;
	sf_disarm();
	memset(&sf, 0, sizeof(sf));
	fk_reset();
	tu_log_capture();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sf_disarm();
	return 0;
}

/* Readiness as the EAL interrupt thread sees it; never injected. */
static bool
readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return __real_poll(&pfd, 1, ms) == 1;
}

static void
save_wire(const struct fake_backend *fb, struct wire_log *log)
{
	log->n = fb_nrx(fb);
	for (unsigned int i = 0; i < log->n; i++)
		log->rx[i] = *fb_rx(fb, i);
}

/* The backend saw the same messages, in the same order, with the same payloads and as many
 * fds (each run's fds are different files). */
static void
assert_same_wire(const struct wire_log *want, const struct wire_log *got)
{
	assert_true(want->n > 0);
	for (unsigned int i = 0; i < want->n && i < got->n; i++) {
		const struct fb_rx *w = &want->rx[i], *g = &got->rx[i];

		if (memcmp(&w->hdr, &g->hdr, sizeof(w->hdr)) != 0 ||
		    memcmp(w->payload, g->payload, w->hdr.size) != 0 || w->nfds != g->nfds)
			fail_msg("message %u: %s (flags 0x%x, %u bytes, %u fds) without injection, "
				 "%s (flags 0x%x, %u bytes, %u fds) with it",
				 i, vu_vhost_request_name(w->hdr.request), w->hdr.flags,
				 w->hdr.size, w->nfds, vu_vhost_request_name(g->hdr.request),
				 g->hdr.flags, g->hdr.size, g->nfds);
	}
	assert_int_equal(got->n, want->n);
}

static void
assert_same_kernel(const struct kernel_log *want, const struct kernel_log *got)
{
	assert_true(want->n > 0);
	for (unsigned int i = 0; i < want->n && i < got->n; i++)
		if (memcmp(&want->recs[i], &got->recs[i], sizeof(want->recs[i])) != 0)
			fail_msg("ioctl %u: request 0x%lx on fd %d without injection, 0x%lx on fd "
				 "%d with it (or the same request with other arguments)",
				 i, want->recs[i].request, want->recs[i].fd, got->recs[i].request,
				 got->recs[i].fd);
	assert_int_equal(got->n, want->n);
	assert_int_equal(got->nlink, want->nlink);
}

/* Injection happened on each syscall in `used` (a bit per enum sf_call), and the scenario
 * made no other wrapped syscall: the test cannot pass without exercising them. */
static void
assert_injected(unsigned int used)
{
	for (int c = 0; c < SF_NCALLS; c++) {
		if (getenv("VUSER_UT_VERBOSE"))
			fprintf(stderr, "%-10s %3u calls from %2u sites, %3u failed\n", sf_names[c],
				sf.calls[c], sf.sites[c], sf.injected[c]);
		if ((used & (1u << c)) && sf.injected[c] == 0)
			fail_msg("%s: nothing injected (%u calls)", sf_names[c], sf.calls[c]);
		if (!(used & (1u << c)) && sf.calls[c] != 0)
			fail_msg("%s: %u calls, not expected in this scenario", sf_names[c],
				 sf.calls[c]);
	}
}

/* ---- scenarios: each run once without injection, once with ---- */

/*
 * vhost-user client mode, through the device layer: the whole start sequence
 * (wire_scenario.c, the one test_vhost_user.c checks), one connection event with nothing
 * pending, a kick per ring, then reset and destroy. Returns nothing: every step is asserted.
 */
static void
run_wire(int err, struct wire_log *log)
{
	struct fake_backend *fb = fb_create();
	struct wire_scenario s;
	bool changed = true;
	int fds;

	assert_non_null(fb);
	fds = tu_count_fds();
	ws_script(fb);
	assert_int_equal(fb_start(fb), 0);
	tu_log_reset();
	sf_arm(err);
	ws_start(&s, fb_path(fb), TIMEOUT_MS);

	/* An interrupted look at the connection is not a hang-up. */
	assert_int_equal(vu_device_handle_event(s.dev, &changed), 0);
	assert_false(changed);
	assert_true(vu_device_connected(s.dev));
	assert_true(vu_device_link_up(s.dev));

	for (uint32_t q = 0; q < 2; q++) {
		eventfd_t kicks = 0;

		assert_int_equal(vu_device_notify(s.dev, q), 0);
		/* Exactly one kick per notify. Not counted with EAGAIN: on an eventfd it means
		 * the counter is saturated, so the backend has a kick pending and the device
		 * rightly does not write again; an injected one leaves the counter as it was. */
		if (err == EAGAIN)
			continue;
		/* eventfd_read() is libc's own read: not wrapped. */
		assert_int_equal(eventfd_read(vu_device_queue_kick_fd(s.dev, q), &kicks), 0);
		assert_int_equal(kicks, 1);
	}

	ws_stop(&s);
	sf_disarm();
	assert_int_equal(fb_finish(fb), 0);
	ws_check_fds(&s, fb);
	save_wire(fb, log);
	fb_destroy(fb);
	assert_int_equal(tu_count_fds(), fds - 1); /* fb's listening socket is gone too */
	assert_int_equal(tu_log_errors(), 0);
}

/* handle_event each time the event fd is readable, until it returns `want`; the number of
 * calls it took. Anything but `want` must be "nothing happened". */
static int
events_until(struct vu_backend *b, int want)
{
	for (int i = 1; i <= MAX_EVENTS; i++) {
		int ev;

		assert_true(readable(vhost->event_fd(b), TIMEOUT_MS));
		ev = vhost->handle_event(b);
		if (ev == want)
			return i;
		assert_int_equal(ev, VU_BACKEND_EV_NONE);
	}
	fail_msg("no event %d after %d readable events", want, MAX_EVENTS);
	return -1;
}

/*
 * vhost-user server mode, through the backend ops: a backend connects (accept4, then the
 * handshake), sends a message nobody asked for (peeked at with recv, read and dropped),
 * gets SET_VRING_NUM and hangs up; the frontend listens again.
 */
static void
run_server(int err, struct wire_log *log)
{
	char dir[256], path[300];
	struct vu_backend_params p = {
		.name = "ut0",
		.path = path,
		.timeout_ms = TIMEOUT_MS,
		.server = true,
	};
	struct vu_backend *b = NULL;
	struct fake_backend *fb;
	int fds = tu_count_fds(), listen_fd, n;

	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/sock", dir);
	fb = fb_create_client(path);
	assert_non_null(fb);
	fb_script_handshake(fb, (1ull << 32) | F_PROTO, P_MQ, 2);
	fb_reply_u64(fb, VU_VHOST_USER_GET_FEATURES, 1);
	fb_expect_state(fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS, 0, 256);
	fb_close(fb);
	tu_log_reset();
	sf_arm(err);

	assert_int_equal(vhost->open(&p, &b), 0);
	listen_fd = vhost->event_fd(b);
	assert_int_equal(fb_start(fb), 0);
	/* An interrupted accept takes nothing: the connection waits in the backlog, the
	 * listening socket stays readable, and the next event takes it. */
	n = events_until(b, VU_BACKEND_EV_CONNECTED);
	assert_int_equal(n, err ? 2 : 1);
	assert_true(vhost->connected(b));
	assert_int_not_equal(vhost->event_fd(b), listen_fd);

	/* The unsolicited message: interrupted looks report nothing and keep the connection;
	 * once read, nothing is left of it. */
	assert_true(readable(vhost->event_fd(b), TIMEOUT_MS));
	for (n = 0; readable(vhost->event_fd(b), 0); n++) {
		assert_true(n < MAX_EVENTS);
		assert_int_equal(vhost->handle_event(b), VU_BACKEND_EV_NONE);
		assert_true(vhost->connected(b));
	}
	assert_int_equal(vhost->set_vring_num(b, 0, 256), 0);

	/* The backend hangs up after its script: noticed, listening again. */
	assert_int_equal(fb_finish(fb), 0);
	events_until(b, VU_BACKEND_EV_DISCONNECTED);
	assert_false(vhost->connected(b));
	assert_int_equal(vhost->event_fd(b), listen_fd);
	vhost->close(b);
	sf_disarm();

	save_wire(fb, log);
	fb_destroy(fb);
	rmdir(dir);
	assert_int_equal(tu_count_fds(), fds);
	assert_int_equal(tu_log_errors(), 0);
}

/*
 * vhost-kernel, through the device layer, as test_vhost_kernel.c's start/stop sequence: open
 * vhost-net and the TAP (FK_NODE), the ioctls of create, DRIVER_OK (features, memory table,
 * rings, backends attached), a kick per ring, reset and destroy.
 */
static void
run_kernel(int err, struct kernel_log *log)
{
	static uint8_t mem[1 << 16];
	struct vu_device_params p = fk_params(1, "tap%d");
	const uint64_t features = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) |
		VU_BIT(VU_NET_F_GUEST_CSUM) | VU_BIT(VU_NET_F_GUEST_TSO4) | VU_BIT(VU_NET_F_CSUM) |
		VU_BIT(VU_NET_F_MAC);
	int memfd = tu_memfd(sizeof(mem));
	struct vu_device *dev = NULL;
	int fds;

	assert_true(memfd >= 0);
	fds = tu_count_fds();
	fk_reset();
	tu_log_reset();
	sf_arm(err);

	assert_int_equal(vu_device_create(&p, &dev), 0);
	/* The offloads were probed right: all of them, not a fallback after a failure. */
	assert_true(vu_device_get_features(dev) & VU_BIT(VU_NET_F_GUEST_TSO6));
	assert_int_equal(fk_start_device(dev, features, memfd, mem, sizeof(mem)), 0);
	assert_true(vu_device_link_up(dev));
	for (uint32_t q = 0; q < 2; q++) {
		eventfd_t kicks = 0;

		assert_int_equal(vu_device_notify(dev, q), 0);
		assert_int_equal(eventfd_read(vu_device_queue_kick_fd(dev, q), &kicks), 0);
		assert_int_equal(kicks, 1);
	}
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	vu_device_destroy(dev);
	sf_disarm();

	log->n = fk.nrecs;
	memcpy(log->recs, fk.recs, sizeof(fk.recs[0]) * fk.nrecs);
	log->nlink = fk.nlink;
	close(memfd);
	assert_int_equal(tu_count_fds(), fds - 1);
	assert_int_equal(tu_log_errors(), 0);
}

/* ---- tests ---- */

#define BIT(c) (1u << (c))

/* The mechanism itself: armed on this thread only; per call site, the first call fails, the
 * next one passes, and so on. */
static void *
other_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)poll(NULL, 0, 0);
}

/* One call site, whatever the compiler does with the loop that calls it. */
static __attribute__((noinline)) int
poll_here(void)
{
	return poll(NULL, 0, 0);
}

static void
test_injection_mechanism(void **state)
{
	pthread_t t;
	void *rc;

	(void)state;
	sf_arm(EINTR);
	for (int i = 0; i < 4; i++) {
		errno = 0;
		assert_int_equal(poll_here(), i % 2 == 0 ? -1 : 0);
		assert_int_equal(errno, i % 2 == 0 ? EINTR : 0);
	}
	/* Another call site starts with a failure of its own. */
	assert_int_equal(poll(NULL, 0, 0), -1);
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	assert_int_equal(pthread_join(t, &rc), 0);
	assert_int_equal((intptr_t)rc, 0);
	sf_disarm();
	assert_int_equal(poll(NULL, 0, 0), 0);
	assert_int_equal(sf.calls[SF_POLL], 5);
	assert_int_equal(sf.sites[SF_POLL], 2);
	assert_int_equal(sf.injected[SF_POLL], 3);
}

/* The syscalls of the client-mode start sequence, its connection check and its kicks. */
#define WIRE_CALLS                                                                                 \
	(BIT(SF_CONNECT) | BIT(SF_SENDMSG) | BIT(SF_RECVMSG) | BIT(SF_POLL) | BIT(SF_EPOLL_WAIT) | \
	 BIT(SF_WRITE))

/* Run a vhost-user start sequence without injection, then with every call site failing
 * once with err: the same messages, and every syscall in `calls` was failed. */
static void
check_wire_under(void (*run)(int, struct wire_log *), int err, unsigned int calls)
{
	run(0, &want_wire);
	run(err, &got_wire);
	assert_injected(calls);
	assert_same_wire(&want_wire, &got_wire);
}

static void
test_vhost_user_start_eintr(void **state)
{
	(void)state;
	check_wire_under(run_wire, EINTR, WIRE_CALLS);
}

static void
test_vhost_user_start_eagain(void **state)
{
	(void)state;
	check_wire_under(run_wire, EAGAIN, WIRE_CALLS);
}

#define SERVER_CALLS \
	(BIT(SF_ACCEPT4) | BIT(SF_SENDMSG) | BIT(SF_RECVMSG) | BIT(SF_RECV) | BIT(SF_POLL))

static void
test_vhost_user_server_eintr(void **state)
{
	(void)state;
	check_wire_under(run_server, EINTR, SERVER_CALLS);
}

static void
test_vhost_user_server_eagain(void **state)
{
	(void)state;
	check_wire_under(run_server, EAGAIN, SERVER_CALLS);
}

/* vhost-net and TUN ioctls and opening the nodes may be interrupted; EAGAIN is not one of
 * their errors (nothing there is non-blocking), so only EINTR is injected. */
static void
test_vhost_kernel_start_eintr(void **state)
{
	(void)state;
	run_kernel(0, &want_kernel);
	run_kernel(EINTR, &got_kernel);
	assert_injected(BIT(SF_OPEN) | BIT(SF_IOCTL) | BIT(SF_WRITE));
	assert_same_kernel(&want_kernel, &got_kernel);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_injection_mechanism),	  T(test_vhost_user_start_eintr),
		T(test_vhost_user_start_eagain),  T(test_vhost_user_server_eintr),
		T(test_vhost_user_server_eagain), T(test_vhost_kernel_start_eintr),
	};
#undef T

	return cmocka_run_group_tests_name("syscall_faults", tests, NULL, NULL);
}
