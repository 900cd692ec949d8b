/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-user frontend in server mode, over real sockets: listen, accept,
 * hang-up, and the device on the wire. Reconnect over scripted ops: test_reconnect.c. */
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

#include "fake_backend.h"
#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"
#include "vu_ring.h"
#include "vu_ring_packed.h"
#include "vu_vhost_user_msg.h"

#define F_PROTO (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)
#define P_MQ (1ull << VU_VHOST_USER_PROTOCOL_F_MQ)
#define P_ACK (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define TIMEOUT_MS 2000

static const struct vu_backend_ops *vhost = &vu_vhost_user_ops;

struct sctx {
	char dir[256];
	char path[300];
	struct vu_backend *b;
	int fds_before;
};

static int
setup_sock(void **state)
{
	struct sctx *c = calloc(1, sizeof(*c));

	if (!c || !tu_mkdtemp(c->dir, sizeof(c->dir))) {
		free(c);
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s/sock", c->dir);
	tu_log_capture();
	c->fds_before = tu_count_fds();
	*state = c;
	return 0;
}

static int
teardown_sock(void **state)
{
	struct sctx *c = *state;

	if (c->b)
		vhost->close(c->b);
	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

static int
open_mode(struct sctx *c, const char *path, bool server)
{
	struct vu_backend_params p = {
		.name = "ut0",
		.path = path,
		.timeout_ms = TIMEOUT_MS,
		.server = server,
	};

	return vhost->open(&p, &c->b);
}

static bool
readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

static bool
is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static void
assert_log_mentions(const char *what)
{
	if (!strstr(tu_log_last_error(), what))
		fail_msg("last error line \"%s\" does not mention \"%s\"", tu_log_last_error(),
			 what);
}

/* Open returns at once, without a connection, listening on path; close removes it. */
static void
test_listen_returns_at_once(void **state)
{
	struct sctx *c = *state;
	int64_t t0 = tu_now_ms();
	struct stat st;
	int fd;

	assert_int_equal(open_mode(c, c->path, true), 0);
	assert_true(tu_now_ms() - t0 < 200);
	assert_false(vhost->connected(c->b));
	fd = vhost->event_fd(c->b);
	assert_true(fd >= 0);
	assert_true(is_listening(fd));
	assert_int_equal(lstat(c->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Nothing pending: harmless. */
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_NONE);
	vhost->close(c->b);
	c->b = NULL;
	assert_int_equal(lstat(c->path, &st), -1);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* A file that is not a socket is never replaced. */
static void
test_refuse_non_socket(void **state)
{
	struct sctx *c = *state;
	int fd = open(c->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	struct stat st;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_mode(c, c->path, true), -EEXIST);
	assert_log_mentions("is not a UNIX socket");
	assert_int_equal(lstat(c->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* A socket file nobody listens on (left by a process that is gone) is replaced. */
static void
test_replace_stale_socket(void **state)
{
	struct sctx *c = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, c->path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_int_equal(open_mode(c, c->path, true), 0);
	assert_true(is_listening(vhost->event_fd(c->b)));
}

/* A socket somebody listens on is not taken over. */
static void
test_refuse_live_listener(void **state)
{
	struct sctx *c = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, c->path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(open_mode(c, c->path, true), -EADDRINUSE);
	assert_log_mentions("another process is listening");
	close(s);
}

/* A backend connects: accepted and set up (SET_OWNER, features, protocol features, queue
 * count) in handle_event; it hangs up: back to listening; another one connects. */
static void
test_accept_hangup_accept(void **state)
{
	struct sctx *c = *state;
	uint64_t features = 0;
	uint32_t pairs = 0;

	assert_int_equal(open_mode(c, c->path, true), 0);
	for (int round = 0; round < 3; round++) {
		struct fake_backend *fb = fb_create_client(c->path);
		int listen_fd = vhost->event_fd(c->b);

		fb_script_handshake(fb, (1ull << 32) | (1ull << 15) | F_PROTO, P_ACK | P_MQ,
				    4 + round);
		fb_close(fb);
		assert_int_equal(fb_start(fb), 0);
		assert_true(readable(listen_fd, TIMEOUT_MS));
		assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_CONNECTED);
		assert_true(vhost->connected(c->b));
		assert_int_not_equal(vhost->event_fd(c->b), listen_fd);
		assert_int_equal(vhost->get_features(c->b, &features), 0);
		assert_int_equal(features, (1ull << 32) | (1ull << 15));
		assert_int_equal(vhost->get_max_queue_pairs(c->b, &pairs), 0);
		assert_int_equal(pairs, 4 + round);
		/* The backend closes after its script. */
		assert_int_equal(fb_finish(fb), 0);
		assert_true(readable(vhost->event_fd(c->b), TIMEOUT_MS));
		assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
		assert_false(vhost->connected(c->b));
		assert_int_equal(vhost->event_fd(c->b), listen_fd);
		/* What the old backend negotiated is gone with it. */
		assert_int_equal(vhost->get_features(c->b, &features), 0);
		assert_int_equal(features, 0);
		fb_destroy(fb);
	}
	vhost->close(c->b);
	c->b = NULL;
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* A peer that connects and goes away during the set-up: logged, dropped, listening again. */
static void
test_accept_setup_fails(void **state)
{
	struct sctx *c = *state;
	struct fake_backend *fb;

	assert_int_equal(open_mode(c, c->path, true), 0);
	fb = fb_create_client(c->path);
	fb_expect(fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_close(fb);
	assert_int_equal(fb_start(fb), 0);
	assert_true(readable(vhost->event_fd(c->b), TIMEOUT_MS));
	tu_log_reset();
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_NONE);
	assert_true(tu_log_errors() > 0);
	assert_log_mentions("set-up failed");
	assert_false(vhost->connected(c->b));
	assert_true(is_listening(vhost->event_fd(c->b)));
	assert_int_equal(fb_finish(fb), 0);
	fb_destroy(fb);
	vhost->close(c->b);
	c->b = NULL;
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* A message nobody asked for (a late reply) is read and ignored; the connection stays. */
static void
test_unexpected_message_ignored(void **state)
{
	struct sctx *c = *state;
	struct fake_backend *fb;

	assert_int_equal(open_mode(c, c->path, true), 0);
	fb = fb_create_client(c->path);
	fb_script_handshake(fb, 1ull << 32, 0, 0);
	fb_reply_u64(fb, VU_VHOST_USER_GET_FEATURES, 1);
	fb_sleep(fb, 300);
	fb_close(fb);
	assert_int_equal(fb_start(fb), 0);
	assert_true(readable(vhost->event_fd(c->b), TIMEOUT_MS));
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_CONNECTED);
	assert_true(readable(vhost->event_fd(c->b), TIMEOUT_MS));
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_NONE);
	assert_true(vhost->connected(c->b));
	assert_true(readable(vhost->event_fd(c->b), TIMEOUT_MS));
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
	assert_int_equal(fb_finish(fb), 0);
	fb_destroy(fb);
}

/* Client mode: the backend going away is noticed; there is nothing to watch afterwards. */
static void
test_client_mode_hangup(void **state)
{
	struct sctx *c = *state;
	struct fake_backend *fb = fb_create();
	int fd;

	assert_non_null(fb);
	fb_script_handshake(fb, 1ull << 32, 0, 0);
	fb_close(fb);
	assert_int_equal(fb_start(fb), 0);
	assert_int_equal(open_mode(c, fb_path(fb), false), 0);
	assert_true(vhost->connected(c->b));
	fd = vhost->event_fd(c->b);
	assert_true(fd >= 0);
	assert_true(readable(fd, TIMEOUT_MS));
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
	assert_false(vhost->connected(c->b));
	assert_int_equal(vhost->event_fd(c->b), -1);
	assert_int_equal(vhost->handle_event(c->b), VU_BACKEND_EV_NONE);
	assert_int_equal(fb_finish(fb), 0);
	vhost->close(c->b);
	c->b = NULL;
	fb_destroy(fb);
}

/* VERSION_1 goes to the backend; MAC and STATUS are emulated in-process. */
#define W_BACKEND_FEATURES (1ull << 32)
#define W_FEATURES (W_BACKEND_FEATURES | (1ull << 5) | (1ull << 16))
static uint8_t w_ring[2][16384] __attribute__((aligned(4096)));

/* A device in server mode with one pair, features negotiated, memory and both queues set
 * up: DRIVER_OK is the next step. The memory fd goes to *memfd. */
static struct vu_device *
wire_device(struct sctx *c, unsigned int timeout_ms, int *memfd)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = c->path,
		.queue_pairs = 1,
		.timeout_ms = timeout_ms,
		.server = true,
	};
	struct vu_mem_table mem = { .nregions = 1 };
	struct vu_device *dev = NULL;

	*memfd = tu_memfd(sizeof(w_ring));
	mem.regions[0] = (struct vu_mem_region){ .addr = (uintptr_t)w_ring,
						 .len = sizeof(w_ring),
						 .fd = *memfd };
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(vu_device_set_status(dev, VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER), 0);
	assert_int_equal(vu_device_set_driver_features(dev, W_FEATURES), 0);
	assert_int_equal(vu_device_set_status(dev,
					      VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER |
						      VU_STATUS_FEATURES_OK),
			 0);
	assert_int_equal(vu_device_set_memory(dev, &mem), 0);
	for (int q = 0; q < 2; q++) {
		struct vu_split_ring r;
		struct vu_vring_addr a;

		vu_split_ring_init(&r, w_ring[q], 256);
		a = (struct vu_vring_addr){ .desc = (uintptr_t)r.desc,
					    .avail = (uintptr_t)r.avail,
					    .used = (uintptr_t)r.used };
		assert_int_equal(vu_device_setup_queue(dev, (uint32_t)q, 256, &a), 0);
	}
	return dev;
}

/* The rings of one pair from SET_VRING_CALL on, every request acked, ring q resuming at
 * base[q], up to the rings' enables; the enables are acked for the first `acked` rings. */
static void
wire_script_vrings(struct fake_backend *fb, uint32_t acked, const uint32_t base[2])
{
	for (uint32_t q = 0; q < 2; q++) {
		fb_expect_u64(fb, VU_VHOST_USER_SET_VRING_CALL, FB_FLAGS_ACK, q);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_CALL, 0);
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS_ACK, q, 256);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_NUM, 0);
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_BASE, FB_FLAGS_ACK, q, base[q]);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_BASE, 0);
		fb_expect(fb, VU_VHOST_USER_SET_VRING_ADDR, FB_FLAGS_ACK);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_ADDR, 0);
		fb_expect_u64(fb, VU_VHOST_USER_SET_VRING_KICK, FB_FLAGS_ACK, q);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_KICK, 0);
	}
	for (uint32_t q = 0; q < 2 && q <= acked; q++) {
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, q, 1);
		if (q < acked)
			fb_ack(fb, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	}
}

/* The start sequence of one pair after SET_FEATURES, from the memory table on. */
static void
wire_script_rings(struct fake_backend *fb, uint32_t acked)
{
	static const uint32_t zero[2];

	fb_expect(fb, VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK);
	fb_ack(fb, VU_VHOST_USER_SET_MEM_TABLE, 0);
	wire_script_vrings(fb, acked, zero);
}

/* The same from SET_FEATURES on. */
static void
wire_script_start(struct fake_backend *fb, uint32_t acked)
{
	fb_expect_u64(fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, W_BACKEND_FEATURES | F_PROTO);
	fb_ack(fb, VU_VHOST_USER_SET_FEATURES, 0);
	wire_script_rings(fb, acked);
}

static void
script_status(struct fake_backend *fb, uint8_t status)
{
	fb_expect_u64(fb, VU_VHOST_USER_SET_STATUS, FB_FLAGS_ACK, status);
	fb_ack(fb, VU_VHOST_USER_SET_STATUS, 0);
}

/* The scripted backend runs its script: the link comes up; it hangs up: the link goes
 * down, each change seen on the device's event fd. */
static void
backend_comes_and_goes(struct vu_device *dev, struct fake_backend *fb)
{
	bool changed = false;

	assert_int_equal(fb_start(fb), 0);
	assert_true(readable(vu_device_event_fd(dev), TIMEOUT_MS));
	assert_int_equal(vu_device_handle_event(dev, &changed), 0);
	assert_true(changed);
	assert_true(vu_device_link_up(dev));
	assert_int_equal(fb_finish(fb), 0);
	assert_true(readable(vu_device_event_fd(dev), TIMEOUT_MS));
	changed = false;
	assert_int_equal(vu_device_handle_event(dev, &changed), 0);
	assert_true(changed);
	assert_false(vu_device_link_up(dev));
}

/* A backend taking the status that connects after DRIVER_OK is told the steps it missed:
 * ACKNOWLEDGE, DRIVER, the features and FEATURES_OK (read back), then the rings and
 * DRIVER_OK after their enables. */
static void
test_device_server_status_replay(void **state)
{
	struct sctx *c = *state;
	const uint64_t p_status = 1ull << VU_VHOST_USER_PROTOCOL_F_STATUS;
	struct vu_device *dev;
	struct fake_backend *fb;
	int memfd;

	dev = wire_device(c, TIMEOUT_MS, &memfd);
	assert_int_equal(vu_device_set_status(dev,
					      VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER |
						      VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK),
			 0);
	fb = fb_create_client(c->path);
	fb_script_handshake(fb, W_FEATURES | F_PROTO, P_ACK | p_status, 0);
	script_status(fb, 0x1);
	script_status(fb, 0x3);
	fb_expect_u64(fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, W_BACKEND_FEATURES | F_PROTO);
	fb_ack(fb, VU_VHOST_USER_SET_FEATURES, 0);
	script_status(fb, 0xb);
	fb_expect_payload(fb, VU_VHOST_USER_GET_STATUS, FB_FLAGS, NULL, 0);
	fb_reply_u64(fb, VU_VHOST_USER_GET_STATUS, 0xb);
	wire_script_rings(fb, 2);
	script_status(fb, 0xf);
	fb_close(fb);
	backend_comes_and_goes(dev, fb);
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	vu_device_destroy(dev);
	fb_destroy(fb);
	close(memfd);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* The device over the real frontend in server mode: DRIVER_OK before any backend; the
 * backend that connects gets the whole start sequence; it hangs up; link down. */
static void
test_device_server_on_the_wire(void **state)
{
	struct sctx *c = *state;
	struct vu_device *dev;
	struct fake_backend *fb;
	int memfd;

	dev = wire_device(c, TIMEOUT_MS, &memfd);
	assert_false(vu_device_connected(dev));
	assert_false(vu_device_link_up(dev));
	assert_true(vu_device_event_fd(dev) >= 0);
	assert_int_equal(vu_device_set_status(dev,
					      VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER |
						      VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK),
			 0);
	assert_false(vu_device_link_up(dev));

	fb = fb_create_client(c->path);
	fb_script_handshake(fb, W_FEATURES | F_PROTO, P_ACK, 0);
	wire_script_start(fb, 2);
	fb_close(fb);
	backend_comes_and_goes(dev, fb);
	assert_false(vu_device_connected(dev));
	/* Stopping and destroying without a backend sends nothing and logs no error. */
	tu_log_reset();
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	vu_device_destroy(dev);
	assert_int_equal(tu_log_errors(), 0);
	fb_destroy(fb);
	close(memfd);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/*
 * A backend that stops answering costs one timeout, not one per ring: the request that
 * timed out drops the connection (a late ack would pass for the next request's), nothing
 * more is sent to it, and in server mode the port waits for the next backend, which gets
 * the whole start sequence. At DRIVER_OK (an enable never acked) and at reset (a
 * GET_VRING_BASE never answered).
 */
static void
test_device_silent_backend_one_timeout(void **state)
{
	const unsigned int timeout_ms = 300;
	const uint8_t dok = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK |
		VU_STATUS_DRIVER_OK;
	struct sctx *c = *state;
	struct fake_backend *fb, *fb2;
	struct vu_device *dev;
	bool changed = false;
	int64_t t0;
	int memfd;

	dev = wire_device(c, timeout_ms, &memfd);
	fb = fb_create_client(c->path);
	fb_script_handshake(fb, W_FEATURES | F_PROTO, P_ACK, 0);
	wire_script_start(fb, 0); /* the enable of ring 0 is never acked */
	fb_sleep(fb, 3 * (int)timeout_ms);
	fb_close(fb);
	assert_int_equal(fb_start(fb), 0);
	assert_true(readable(vu_device_event_fd(dev), TIMEOUT_MS));
	assert_int_equal(vu_device_handle_event(dev, &changed), 0);
	assert_true(vu_device_connected(dev));
	tu_log_reset();
	t0 = tu_now_ms();
	assert_int_equal(vu_device_set_status(dev, dok), 0);
	assert_true(tu_now_ms() - t0 < 2 * timeout_ms);
	assert_int_equal(tu_log_errors(), 1);
	assert_log_mentions("SET_VRING_ENABLE: no ack");
	assert_false(vu_device_connected(dev));
	assert_false(vu_device_link_up(dev));
	assert_int_equal(fb_finish(fb), 0);

	/* The next backend gets the rings; then it goes silent at GET_VRING_BASE. */
	fb2 = fb_create_client(c->path);
	fb_script_handshake(fb2, W_FEATURES | F_PROTO, P_ACK, 0);
	wire_script_start(fb2, 2);
	for (uint32_t q = 0; q < 2; q++) {
		fb_expect_state(fb2, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, q, 0);
		fb_ack(fb2, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	}
	fb_expect_state(fb2, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS, 0, 0);
	fb_sleep(fb2, 3 * (int)timeout_ms);
	fb_close(fb2);
	assert_int_equal(fb_start(fb2), 0);
	assert_true(readable(vu_device_event_fd(dev), TIMEOUT_MS));
	assert_int_equal(vu_device_handle_event(dev, &changed), 0);
	assert_true(vu_device_link_up(dev));
	tu_log_reset();
	t0 = tu_now_ms();
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	assert_true(tu_now_ms() - t0 < 2 * timeout_ms);
	assert_int_equal(tu_log_errors(), 1);
	assert_log_mentions("GET_VRING_BASE: no reply");
	assert_false(vu_device_connected(dev));
	assert_int_equal(fb_finish(fb2), 0);
	vu_device_destroy(dev);
	fb_destroy(fb);
	fb_destroy(fb2);
	close(memfd);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

/* The inflight region of this test's device: both rings of one pair, 256 entries. */
#define P_INFLIGHT (1ull << VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)
#define IF_QUEUES 2
#define IF_QSIZE 256
#define IF_REGION (IF_QUEUES * 4160ull)

/* A backend offering INFLIGHT_SHMFD, from the handshake to its hang-up, ring q resuming at
 * base[q]. get: it is asked for the region (answered with a memfd, returned); otherwise
 * it is handed one. The message comes after the memory table, before the rings. */
static int
inflight_script(struct fake_backend *fb, bool get, const uint32_t base[2])
{
	struct vu_vhost_inflight in = { .num_queues = IF_QUEUES, .queue_size = IF_QSIZE };
	int fd = -1;

	fb_script_handshake(fb, W_FEATURES | F_PROTO, P_ACK | P_INFLIGHT, 0);
	fb_expect_u64(fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, W_BACKEND_FEATURES | F_PROTO);
	fb_ack(fb, VU_VHOST_USER_SET_FEATURES, 0);
	fb_expect(fb, VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK);
	fb_ack(fb, VU_VHOST_USER_SET_MEM_TABLE, 0);
	if (get) {
		fb_expect_payload(fb, VU_VHOST_USER_GET_INFLIGHT_FD, FB_FLAGS, &in, sizeof(in));
		in.mmap_size = IF_REGION;
		fd = fb_reply_memfd(fb, VU_VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), IF_REGION);
	} else {
		in.mmap_size = IF_REGION;
		fb_expect_payload(fb, VU_VHOST_USER_SET_INFLIGHT_FD, FB_FLAGS_ACK, &in, sizeof(in));
		fb_ack(fb, VU_VHOST_USER_SET_INFLIGHT_FD, 0);
	}
	wire_script_vrings(fb, 2, base);
	fb_close(fb);
	return fd;
}

/* fb's first message `request`, or NULL. */
static const struct fb_rx *
inflight_rx(const struct fake_backend *fb, uint32_t request)
{
	for (unsigned int i = 0; i < fb_nrx(fb); i++)
		if (fb_rx(fb, i)->hdr.request == request)
			return fb_rx(fb, i);
	return NULL;
}

/*
 * INFLIGHT_SHMFD: the first backend is asked for the region (GET_INFLIGHT_FD, after the
 * memory table, before the rings); the next one gets the same file back (SET_INFLIGHT_FD)
 * with the same description, the rings' bases staying the used indexes (the backend adds
 * what is in flight); one that does not offer it hears of neither message, and the one
 * after it gets the region still. Closing the device frees it (fd count).
 */
static void
test_device_server_inflight(void **state)
{
	const uint8_t dok = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK |
		VU_STATUS_DRIVER_OK;
	const uint32_t zero[2] = { 0, 0 }, resumed[2] = { 0, 5 };
	struct sctx *c = *state;
	struct fake_backend *fb[4];
	struct vu_split_ring tx;
	struct vu_device *dev;
	const struct fb_rx *rx;
	struct stat given;
	int memfd, region_fd;

	assert_int_equal(vu_inflight_split_queue_size(IF_QSIZE) * IF_QUEUES, IF_REGION);
	dev = wire_device(c, TIMEOUT_MS, &memfd);
	assert_int_equal(vu_device_set_status(dev, dok), 0);
	fb[0] = fb_create_client(c->path);
	region_fd = inflight_script(fb[0], true, zero);
	assert_true(region_fd >= 0);
	backend_comes_and_goes(dev, fb[0]);

	/* Five Tx buffers used when the backend went: the next starts from there. */
	vu_split_ring_init(&tx, w_ring[1], 256);
	tx.used->idx = 5;
	fb[1] = fb_create_client(c->path);
	inflight_script(fb[1], false, resumed);
	backend_comes_and_goes(dev, fb[1]);
	rx = inflight_rx(fb[1], VU_VHOST_USER_SET_INFLIGHT_FD);
	assert_non_null(rx);
	assert_int_equal(rx->nfds, 1);
	assert_int_equal(fstat(region_fd, &given), 0);
	assert_int_equal(rx->fd_ino[0], given.st_ino);
	assert_int_equal(rx->fd_dev[0], given.st_dev);

	/* Fallback: a backend without it; the old sequence, no inflight message. */
	fb[2] = fb_create_client(c->path);
	fb_script_handshake(fb[2], W_FEATURES | F_PROTO, P_ACK, 0);
	fb_expect_u64(fb[2], VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK,
		      W_BACKEND_FEATURES | F_PROTO);
	fb_ack(fb[2], VU_VHOST_USER_SET_FEATURES, 0);
	fb_expect(fb[2], VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK);
	fb_ack(fb[2], VU_VHOST_USER_SET_MEM_TABLE, 0);
	wire_script_vrings(fb[2], 2, resumed);
	fb_close(fb[2]);
	backend_comes_and_goes(dev, fb[2]);
	fb[3] = fb_create_client(c->path);
	inflight_script(fb[3], false, resumed);
	backend_comes_and_goes(dev, fb[3]);
	rx = inflight_rx(fb[3], VU_VHOST_USER_SET_INFLIGHT_FD);
	assert_non_null(rx);
	assert_int_equal(rx->fd_ino[0], given.st_ino);

	assert_int_equal(vu_device_set_status(dev, 0), 0);
	vu_device_destroy(dev);
	for (int i = 0; i < 4; i++)
		fb_destroy(fb[i]);
	close(memfd);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

int
main(void)
{
#define S(f) cmocka_unit_test_setup_teardown(f, setup_sock, teardown_sock)
	const struct CMUnitTest tests[] = {
		S(test_listen_returns_at_once),
		S(test_refuse_non_socket),
		S(test_replace_stale_socket),
		S(test_refuse_live_listener),
		S(test_accept_hangup_accept),
		S(test_accept_setup_fails),
		S(test_unexpected_message_ignored),
		S(test_client_mode_hangup),
		S(test_device_server_on_the_wire),
		S(test_device_server_status_replay),
		S(test_device_silent_backend_one_timeout),
		S(test_device_server_inflight),
	};
#undef S

	return cmocka_run_group_tests(tests, NULL, NULL);
}
