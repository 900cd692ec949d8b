/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-user frontend against a scripted fake backend on a UNIX socket. */
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
#include "vu_vhost_user_msg.h"
#include "wire_scenario.h"

#define F_PROTO (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)
#define P_MQ (1ull << VU_VHOST_USER_PROTOCOL_F_MQ)
#define P_ACK (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define P_NET_MTU (1ull << VU_VHOST_USER_PROTOCOL_F_NET_MTU)
#define F_MTU (1ull << 3) /* VIRTIO_NET_F_MTU */
/* Protocol features a backend may offer that the frontend must not take. */
#define P_OTHERS ((1ull << 1) | (1ull << 2) | (1ull << 6) | (1ull << 11) | (1ull << 40))

#define TIMEOUT_MS 2000 /* never reached by a working exchange */
#define SHORT_TIMEOUT_MS 300

struct ctx {
	struct fake_backend *fb;
	struct vu_backend *b;
	int fds_before;
};

static const struct vu_backend_ops *ops = &vu_vhost_user_ops;

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	tu_log_capture();
	c->fb = fb_create();
	if (!c->fb) {
		free(c);
		return -1;
	}
	c->fds_before = tu_count_fds();
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	if (c->b)
		ops->close(c->b);
	fb_destroy(c->fb);
	free(c);
	return 0;
}

static int
open_with(struct ctx *c, const char *path, unsigned int timeout_ms)
{
	struct vu_backend_params p = { .name = "ut0", .path = path, .timeout_ms = timeout_ms };

	return ops->open(&p, &c->b);
}

/* Start the scripted backend and open the frontend against it. */
static int
start_and_open(struct ctx *c, unsigned int timeout_ms)
{
	assert_int_equal(fb_start(c->fb), 0);
	return open_with(c, fb_path(c->fb), timeout_ms);
}

/* Close the frontend, let the backend check the end of its script, and check that no fd
 * was leaked on either side. */
static void
finish(struct ctx *c)
{
	if (c->b)
		ops->close(c->b);
	c->b = NULL;
	assert_int_equal(fb_finish(c->fb), 0);
	assert_int_equal(tu_count_fds(), c->fds_before);
}

static uint64_t
rx_u64(const struct fb_rx *rx)
{
	uint64_t v;

	memcpy(&v, rx->payload, sizeof(v));
	return v;
}

/* The index of the first received message with this request, or fail. */
static const struct fb_rx *
find_rx(const struct ctx *c, uint32_t request)
{
	for (unsigned int i = 0; i < fb_nrx(c->fb); i++)
		if (fb_rx(c->fb, i)->hdr.request == request)
			return fb_rx(c->fb, i);
	fail_msg("the backend never received %s", vu_vhost_request_name(request));
	return NULL;
}

static void
assert_log_mentions(const char *what)
{
	if (!strstr(tu_log_last_error(), what))
		fail_msg("last error line \"%s\" does not mention \"%s\"", tu_log_last_error(),
			 what);
}

/* Backend without VHOST_USER_F_PROTOCOL_FEATURES: no protocol negotiation at all, one
 * queue pair, no acks, rings enabled from the start. */
static void
test_handshake_without_protocol_features(void **state)
{
	struct ctx *c = *state;
	const uint64_t offered = (1ull << 32) | (1ull << 15) | 1;
	uint64_t features = 0;
	uint32_t pairs = 0;

	fb_script_handshake(c->fb, offered, 0, 0);
	/* Without the bit the frontend must not add it to SET_FEATURES, nor ask for acks. */
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS, 1ull << 32);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_features(c->b, &features), 0);
	assert_int_equal(features, offered);
	assert_int_equal(ops->get_max_queue_pairs(c->b, &pairs), 0);
	assert_int_equal(pairs, 1);
	assert_int_equal(ops->set_features(c->b, 1ull << 32), 0);
	/* SET_VRING_ENABLE is not sent: the fake fails on any message after the script. */
	assert_int_equal(ops->set_vring_enable(c->b, 0, true), 0);
	finish(c);
	assert_int_equal(fb_nrx(c->fb), 3);
}

/* MQ and REPLY_ACK offered among others: exactly those two are taken, the queue count
 * is read, and set-type messages carry NEED_REPLY and wait for the ack. */
static void
test_handshake_mq_and_reply_ack(void **state)
{
	struct ctx *c = *state;
	const uint64_t offered = (1ull << 32) | F_PROTO;
	uint64_t features = 0;
	uint32_t pairs = 0;
	const struct fb_rx *rx;

	fb_script_handshake(c->fb, offered, P_MQ | P_ACK | P_OTHERS, 4);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, (1ull << 32) | F_PROTO);
	fb_ack(c->fb, VU_VHOST_USER_SET_FEATURES, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_features(c->b, &features), 0);
	assert_int_equal(features, 1ull << 32); /* the vhost-user bit is not a virtio feature */
	assert_int_equal(ops->get_max_queue_pairs(c->b, &pairs), 0);
	assert_int_equal(pairs, 4);
	assert_int_equal(ops->set_features(c->b, 1ull << 32), 0);
	finish(c);

	rx = find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES);
	assert_int_equal(rx->hdr.flags, VU_VHOST_USER_VERSION);
	assert_int_equal(rx->hdr.size, 8);
	assert_int_equal(rx_u64(rx), P_MQ | P_ACK);
	rx = find_rx(c, VU_VHOST_USER_GET_QUEUE_NUM);
	assert_int_equal(rx->hdr.flags, VU_VHOST_USER_VERSION);
}

static void
test_handshake_reply_ack_only(void **state)
{
	struct ctx *c = *state;
	uint32_t pairs = 0;

	fb_script_handshake(c->fb, F_PROTO, P_ACK | P_OTHERS, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS_ACK, 0, 256);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_NUM, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_max_queue_pairs(c->b, &pairs), 0);
	assert_int_equal(pairs, 1);
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), 0);
	finish(c);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)), P_ACK);
}

/* MQ without REPLY_ACK: no NEED_REPLY, and the frontend does not wait for an ack (the
 * backend sends none; waiting would time out). */
static void
test_handshake_mq_only(void **state)
{
	struct ctx *c = *state;
	uint32_t pairs = 0;
	int64_t t0;

	fb_script_handshake(c->fb, F_PROTO, P_MQ, 2);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS, 1, 512);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS, 1, 1);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_max_queue_pairs(c->b, &pairs), 0);
	assert_int_equal(pairs, 2);
	t0 = tu_now_ms();
	assert_int_equal(ops->set_vring_num(c->b, 1, 512), 0);
	assert_int_equal(ops->set_vring_enable(c->b, 1, true), 0);
	assert_in_range(tu_now_ms() - t0, 0, TIMEOUT_MS / 2);
	finish(c);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)), P_MQ);
}

static void
test_handshake_no_protocol_feature_offered(void **state)
{
	struct ctx *c = *state;
	uint32_t pairs = 0;

	fb_script_handshake(c->fb, F_PROTO, P_OTHERS, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_RESET_OWNER, FB_FLAGS, NULL, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_max_queue_pairs(c->b, &pairs), 0);
	assert_int_equal(pairs, 1);
	assert_int_equal(ops->reset(c->b), 0);
	finish(c);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)), 0);
}

static void
test_queue_num_zero(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_MQ, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	assert_null(c->b);
	assert_log_mentions("GET_QUEUE_NUM");
	finish(c);
}

static void
test_queue_num_too_big(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_MQ, 0x8001);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	finish(c);
}

/* GET_FEATURES answered with a reply to another request. */
static void
test_reply_wrong_request(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 1;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_PROTOCOL_FEATURES, FB_FLAGS_REPLY, &v, 8, SIZE_MAX, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	assert_null(c->b);
	assert_log_mentions("GET_FEATURES");
	assert_log_mentions("reply to a different request");
	finish(c);
}

static void
test_reply_without_reply_flag(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 1;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS, &v, 8, SIZE_MAX, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	assert_log_mentions("reply flag not set");
	finish(c);
}

static void
test_reply_wrong_size(void **state)
{
	struct ctx *c = *state;
	uint32_t v = 1;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS_REPLY, &v, 4, SIZE_MAX, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	assert_log_mentions("wrong payload size");
	finish(c);
}

/* A malformed header (size beyond any payload) is refused without reading on. */
static void
test_reply_oversized(void **state)
{
	struct ctx *c = *state;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS_REPLY, NULL, 100000, 12, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	finish(c);
}

static void
test_short_reply_then_close(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 1;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS_REPLY, &v, 8, 12 + 3, 0);
	fb_close(c->fb);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -ECONNRESET);
	finish(c);
}

/* A reply must carry no fds; the ones that came are closed, not leaked (finish counts). */
static void
test_reply_with_fds(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 1;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS_REPLY, &v, 8, SIZE_MAX, 2);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), -EPROTO);
	assert_log_mentions("unexpected file descriptors");
	finish(c);
}

/* A backend that never answers: open fails after about timeout_ms, it does not hang. */
static void
test_silent_backend(void **state)
{
	struct ctx *c = *state;
	int64_t t0, elapsed;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	t0 = tu_now_ms();
	assert_int_equal(start_and_open(c, SHORT_TIMEOUT_MS), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_in_range(elapsed, SHORT_TIMEOUT_MS - 10, SHORT_TIMEOUT_MS + 1000);
	finish(c);
}

static void
test_ack_nonzero_status(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_BASE, FB_FLAGS_ACK, 1, 0);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_BASE, 1);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_base(c->b, 1, 0), -EIO);
	assert_log_mentions("SET_VRING_BASE");
	finish(c);
}

static void
test_ack_for_other_request(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_BASE, FB_FLAGS_ACK, 1, 0);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_NUM, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_base(c->b, 1, 0), -EPROTO);
	finish(c);
}

static void
test_ack_never_comes(void **state)
{
	struct ctx *c = *state;
	int64_t t0;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK);
	assert_int_equal(start_and_open(c, SHORT_TIMEOUT_MS), 0);
	t0 = tu_now_ms();
	assert_int_equal(ops->set_features(c->b, 0), -ETIMEDOUT);
	assert_in_range(tu_now_ms() - t0, SHORT_TIMEOUT_MS - 10, SHORT_TIMEOUT_MS + 1000);
	finish(c);
}

/* The backend went away after the handshake: sends fail with -EPIPE, no SIGPIPE. */
static void
test_backend_gone(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_close(c->fb);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(fb_finish(c->fb), 0); /* the backend has closed */
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), -EPIPE);
	finish(c);
}

/* Connection errors, each reported with its own errno and no fd left behind. */
static void
test_connect_errors(void **state)
{
	char dir[256], path[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctx *c = *state;
	int fd, before;

	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	before = tu_count_fds();

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ENOENT);
	assert_log_mentions(path);

	snprintf(path, sizeof(path), "%s/regular", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ENOTSOCK);
	unlink(path);

	/* path=<a directory>: said so, not "connection refused". */
	snprintf(path, sizeof(path), "%s/adir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -EISDIR);
	assert_log_mentions("is a directory");
	rmdir(path);

	/* A socket file nobody listens on. */
	snprintf(path, sizeof(path), "%s/dead", dir);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ECONNREFUSED);
	assert_log_mentions(path);
	unlink(path);

	assert_null(c->b);
	assert_int_equal(tu_count_fds(), before);
	rmdir(dir);
}

/* sun_path holds 107 characters and the NUL: 108 is too long, 107 is tried. */
static void
test_path_too_long(void **state)
{
	struct ctx *c = *state;
	char path[200];
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	memset(path, 'a', sizeof(path));
	memcpy(path, "/nonexistent-vuser-ut/", 22);
	path[max + 1] = '\0';
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ENAMETOOLONG);
	path[max] = '\0';
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ENOENT);
	path[max] = 'a';
	path[199] = '\0';
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ENAMETOOLONG);
	assert_null(c->b);
}

/* A listener whose backlog is full and who never accepts: connect times out. */
static void
test_connect_backlog_full(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctx *c = *state;
	char dir[256], path[300];
	int lfd, clients[16], nclients = 0;
	int64_t t0;

	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/busy", dir);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	while (nclients < 16) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			break;
		}
		clients[nclients++] = fd;
	}
	assert_true(nclients < 16);
	t0 = tu_now_ms();
	assert_int_equal(open_with(c, path, SHORT_TIMEOUT_MS), -ETIMEDOUT);
	assert_in_range(tu_now_ms() - t0, SHORT_TIMEOUT_MS - 10, SHORT_TIMEOUT_MS + 1000);
	while (nclients > 0)
		close(clients[--nclients]);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/* GET_VRING_BASE has its own reply: never NEED_REPLY; the reply must name the ring. */
static void
test_get_vring_base(void **state)
{
	struct ctx *c = *state;
	uint32_t base = 0;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS, 1, 0);
	fb_reply_state(c->fb, VU_VHOST_USER_GET_VRING_BASE, 1, 77);
	fb_expect_state(c->fb, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS, 0, 0);
	fb_reply_state(c->fb, VU_VHOST_USER_GET_VRING_BASE, 1, 78);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_vring_base(c->b, 1, &base), 0);
	assert_int_equal(base, 77);
	base = 12345;
	assert_int_equal(ops->get_vring_base(c->b, 0, &base), -EPROTO);
	assert_int_equal(base, 12345);
	assert_log_mentions("GET_VRING_BASE");
	finish(c);
}

static void
test_get_vring_base_wrong_size(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0;
	uint32_t base;

	fb_script_handshake(c->fb, F_PROTO, 0, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS, 0, 0);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS_REPLY, &v, 4, SIZE_MAX, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_vring_base(c->b, 0, &base), -EPROTO);
	finish(c);
}

/* Kick and call: the index in bits 0-7 and the fd attached, or bit 8 and no fd. */
static void
test_vring_kick_and_call(void **state)
{
	struct ctx *c = *state;
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_VRING_KICK, FB_FLAGS_ACK, 3);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_KICK, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_VRING_KICK, FB_FLAGS_ACK,
		      3 | VU_VHOST_USER_VRING_NOFD);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_KICK, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_VRING_CALL, FB_FLAGS_ACK, 0);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_CALL, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_VRING_CALL, FB_FLAGS_ACK,
		      255 | VU_VHOST_USER_VRING_NOFD);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_CALL, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_kick(c->b, 3, kick), 0);
	assert_int_equal(ops->set_vring_kick(c->b, 3, -1), 0);
	assert_int_equal(ops->set_vring_call(c->b, 0, call), 0);
	assert_int_equal(ops->set_vring_call(c->b, 255, -1), 0);
	/* The fds were only lent. */
	assert_true(fcntl(kick, F_GETFD) >= 0);
	assert_true(fcntl(call, F_GETFD) >= 0);
	close(kick);
	close(call);
	finish(c);

	/* SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES, then the four. */
	assert_int_equal(fb_nrx(c->fb), 4 + 4);
	assert_int_equal(fb_rx(c->fb, 4)->nfds, 1);
	assert_int_equal(fb_rx(c->fb, 5)->nfds, 0);
	assert_int_equal(fb_rx(c->fb, 6)->nfds, 1);
	assert_int_equal(fb_rx(c->fb, 7)->nfds, 0);
}

/* The fd the backend gets for a kick is the caller's eventfd. */
static void
test_vring_kick_fd_identity(void **state)
{
	struct ctx *c = *state;
	int kick = eventfd(0, EFD_CLOEXEC);
	uint64_t dev, ino;
	const struct fb_rx *rx;

	assert_int_equal(tu_fd_ino(kick, &dev, &ino), 0);
	fb_script_handshake(c->fb, 0, 0, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_VRING_KICK, FB_FLAGS, 1);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_kick(c->b, 1, kick), 0);
	close(kick);
	finish(c);
	rx = find_rx(c, VU_VHOST_USER_SET_VRING_KICK);
	assert_int_equal(rx->nfds, 1);
	assert_int_equal(rx->fd_dev[0], dev);
	assert_int_equal(rx->fd_ino[0], ino);
}

/* SET_VRING_ADDR: index, flags, then desc, used, avail (not the vu_vring_addr order). */
static void
test_vring_addr(void **state)
{
	struct ctx *c = *state;
	const struct vu_vring_addr addr = {
		.desc = 0x7f0000001000ull,
		.avail = 0x7f0000002000ull,
		.used = 0x7f0000003000ull,
	};
	uint8_t want[40] = { 0 };
	const uint64_t desc = addr.desc, used = addr.used, avail = addr.avail;

	want[0] = 1; /* index */
	memcpy(want + 8, &desc, 8);
	memcpy(want + 16, &used, 8);
	memcpy(want + 24, &avail, 8);
	fb_script_handshake(c->fb, F_PROTO, 0, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_SET_VRING_ADDR, FB_FLAGS, want, sizeof(want));
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_addr(c->b, 1, &addr), 0);
	finish(c);
}

/* SET_MEM_TABLE: 8 + n * 32 bytes, "guest physical" == userspace address, one fd per
 * region, acked when REPLY_ACK is on. */
static void
test_mem_table(void **state)
{
	struct ctx *c = *state;
	struct vu_mem_table mem = { .nregions = 2 };
	uint8_t want[8 + 2 * 32] = { 0 };
	uint64_t dev[2], ino[2];
	const struct fb_rx *rx;

	for (unsigned int i = 0; i < 2; i++) {
		mem.regions[i] = (struct vu_mem_region){
			.addr = 0x7f1000000000ull + i * 0x100000000ull,
			.len = 0x200000ull << i,
			.fd = tu_memfd(4096),
			.offset = 0x1000ull * i,
		};
		assert_true(mem.regions[i].fd >= 0);
		assert_int_equal(tu_fd_ino(mem.regions[i].fd, &dev[i], &ino[i]), 0);
		memcpy(want + 8 + 32 * i, &mem.regions[i].addr, 8);
		memcpy(want + 8 + 32 * i + 8, &mem.regions[i].len, 8);
		memcpy(want + 8 + 32 * i + 16, &mem.regions[i].addr, 8);
		memcpy(want + 8 + 32 * i + 24, &mem.regions[i].offset, 8);
	}
	want[0] = 2;
	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK, want, sizeof(want));
	fb_ack(c->fb, VU_VHOST_USER_SET_MEM_TABLE, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_mem_table(c->b, &mem), 0);

	/* Out of range region counts are refused before anything is sent. */
	mem.nregions = 0;
	assert_int_equal(ops->set_mem_table(c->b, &mem), -E2BIG);
	mem.nregions = VU_VHOST_USER_MAX_REGIONS + 1;
	assert_int_equal(ops->set_mem_table(c->b, &mem), -E2BIG);
	close(mem.regions[0].fd);
	close(mem.regions[1].fd);
	finish(c);

	rx = find_rx(c, VU_VHOST_USER_SET_MEM_TABLE);
	assert_int_equal(rx->hdr.size, 8 + 2 * 32);
	assert_int_equal(rx->nfds, 2);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(rx->fd_dev[i], dev[i]);
		assert_int_equal(rx->fd_ino[i], ino[i]);
	}
}

static void
test_vring_enable_and_reset(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, 1, 1);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, 1, 0);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_RESET_OWNER, FB_FLAGS_ACK, NULL, 0);
	fb_ack(c->fb, VU_VHOST_USER_RESET_OWNER, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_vring_enable(c->b, 1, true), 0);
	assert_int_equal(ops->set_vring_enable(c->b, 1, false), 0);
	assert_int_equal(ops->reset(c->b), 0);
	finish(c);
}

/* The device layer over the real frontend: DRIVER_OK, reset and destroy on the wire. */
static void
test_device_on_the_wire(void **state)
{
	struct ctx *c = *state;
	struct wire_scenario s;

	ws_script(c->fb);
	assert_int_equal(fb_start(c->fb), 0);
	ws_start(&s, fb_path(c->fb), TIMEOUT_MS);
	ws_stop(&s);
	finish(c);
	/* The fds the backend got are the device's eventfds and the memory fd. */
	ws_check_fds(&s, c->fb);
}

/* ---- connection watching (event_fd / handle_event) in client mode ---- */

static bool
readable_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* The peer closes: the connection fd turns readable, handle_event reports it, the
 * connection is gone and requests fail with -ENOTCONN instead of hanging. */
static void
test_event_peer_closes(void **state)
{
	struct ctx *c = *state;
	int fd;

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	fb_close(c->fb);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_true(ops->connected(c->b));
	fd = ops->event_fd(c->b);
	assert_true(fd >= 0);
	assert_int_equal(fb_finish(c->fb), 0);
	assert_true(readable_within(fd, TIMEOUT_MS));
	assert_int_equal(ops->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
	assert_false(ops->connected(c->b));
	assert_int_equal(ops->event_fd(c->b), -1); /* client mode: nothing to wait for */
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), -ENOTCONN);
	assert_int_equal(ops->handle_event(c->b), VU_BACKEND_EV_NONE);
	finish(c);
}

/* A message nobody asked for (a late reply, say) is read and dropped, fds included; the
 * connection stays. */
static void
test_event_unsolicited_message(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 7;

	fb_script_handshake(c->fb, 0, 0, 0);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS_REPLY, &v, 8, SIZE_MAX, 2);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS, 0, 128);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_true(readable_within(ops->event_fd(c->b), TIMEOUT_MS));
	assert_int_equal(ops->handle_event(c->b), VU_BACKEND_EV_NONE);
	assert_true(ops->connected(c->b));
	/* Nothing is left behind to be taken for the next reply. */
	assert_false(readable_within(ops->event_fd(c->b), 0));
	assert_int_equal(ops->set_vring_num(c->b, 0, 128), 0);
	finish(c);
}

/* A malformed message loses the framing: the connection is dropped. */
static void
test_event_malformed_message(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 7;

	fb_script_handshake(c->fb, 0, 0, 0);
	fb_send_raw(c->fb, VU_VHOST_USER_GET_FEATURES, 0 /* no version */, &v, 8, SIZE_MAX, 1);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_true(readable_within(ops->event_fd(c->b), TIMEOUT_MS));
	assert_int_equal(ops->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
	assert_false(ops->connected(c->b));
	finish(c);
}

/* disconnect() drops the connection on request. */
static void
test_disconnect(void **state)
{
	struct ctx *c = *state;

	fb_script_handshake(c->fb, F_PROTO, P_MQ, 2);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	ops->disconnect(c->b);
	assert_false(ops->connected(c->b));
	assert_int_equal(ops->event_fd(c->b), -1);
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), -ENOTCONN);
	assert_int_equal(fb_finish(c->fb), 0); /* the backend saw the close */
	finish(c);
}

/* NET_SET_MTU (request 20, a u64) only with NET_MTU negotiated and VIRTIO_NET_F_MTU in the
 * last SET_FEATURES (a RESET_OWNER forgets it); with REPLY_ACK the frontend waits for the
 * ack, and a non-zero one is a refusal. -EOPNOTSUPP sends nothing (the fake fails on any
 * message the script does not name). */
static void
test_net_set_mtu(void **state)
{
	struct ctx *c = *state;
	const uint64_t offered = (1ull << 32) | F_MTU | F_PROTO;
	const struct fb_rx *rx;

	fb_script_handshake(c->fb, offered, P_ACK | P_NET_MTU | P_OTHERS, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, (1ull << 32) | F_PROTO);
	fb_ack(c->fb, VU_VHOST_USER_SET_FEATURES, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, offered);
	fb_ack(c->fb, VU_VHOST_USER_SET_FEATURES, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_NET_SET_MTU, FB_FLAGS_ACK, 9000);
	fb_ack(c->fb, VU_VHOST_USER_NET_SET_MTU, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_NET_SET_MTU, FB_FLAGS_ACK, 65535);
	fb_ack(c->fb, VU_VHOST_USER_NET_SET_MTU, 1);
	fb_expect_payload(c->fb, VU_VHOST_USER_RESET_OWNER, FB_FLAGS_ACK, NULL, 0);
	fb_ack(c->fb, VU_VHOST_USER_RESET_OWNER, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_features(c->b, 1ull << 32), 0);
	assert_int_equal(ops->set_mtu(c->b, 9000), -EOPNOTSUPP);
	assert_int_equal(ops->set_features(c->b, (1ull << 32) | F_MTU), 0);
	assert_int_equal(ops->set_mtu(c->b, 9000), 0);
	assert_int_equal(ops->set_mtu(c->b, 65535), -EIO);
	assert_log_mentions("NET_SET_MTU");
	assert_int_equal(ops->reset(c->b), 0);
	assert_int_equal(ops->set_mtu(c->b, 9000), -EOPNOTSUPP);
	finish(c);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)),
			 P_ACK | P_NET_MTU);
	rx = find_rx(c, VU_VHOST_USER_NET_SET_MTU);
	assert_int_equal(rx->hdr.size, sizeof(uint64_t));
}

/* A backend without the NET_MTU protocol feature cannot be told the MTU: VIRTIO_NET_F_MTU
 * is left out of SET_FEATURES (with it and no NET_SET_MTU, DPDK's vhost reports MTU 0),
 * and NET_SET_MTU is never sent. */
static void
test_net_set_mtu_needs_protocol_feature(void **state)
{
	struct ctx *c = *state;
	const uint64_t offered = (1ull << 32) | F_MTU | F_PROTO;

	fb_script_handshake(c->fb, offered, P_ACK, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, (1ull << 32) | F_PROTO);
	fb_ack(c->fb, VU_VHOST_USER_SET_FEATURES, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_features(c->b, (1ull << 32) | F_MTU), 0);
	assert_int_equal(ops->set_mtu(c->b, 9000), -EOPNOTSUPP);
	finish(c);
}

/* ---- STATUS, CONFIG, RESET_DEVICE and the backend channel ---- */

#define P_BACKEND_REQ (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ)
#define P_CONFIG (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIG)
#define P_RESET_DEVICE (1ull << VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE)
#define P_STATUS (1ull << VU_VHOST_USER_PROTOCOL_F_STATUS)
#define CONFIG_LEN 12 /* struct virtio_net_config: mac, status, max pairs, mtu */

/* Every one offered: each is taken; SET_STATUS is acked, GET_STATUS has its own reply and
 * no NEED_REPLY, and RESET_DEVICE replaces RESET_OWNER. */
static void
test_status_and_reset_device(void **state)
{
	struct ctx *c = *state;
	uint8_t status = 0;

	fb_script_handshake(c->fb, F_PROTO, P_ACK | P_STATUS | P_RESET_DEVICE | P_OTHERS, 0);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_STATUS, FB_FLAGS_ACK, 0x0b);
	fb_ack(c->fb, VU_VHOST_USER_SET_STATUS, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_GET_STATUS, FB_FLAGS, NULL, 0);
	fb_reply_u64(c->fb, VU_VHOST_USER_GET_STATUS, 0x03);
	fb_expect_payload(c->fb, VU_VHOST_USER_GET_STATUS, FB_FLAGS, NULL, 0);
	fb_reply_u64(c->fb, VU_VHOST_USER_GET_STATUS, 0x100);
	fb_expect_payload(c->fb, VU_VHOST_USER_RESET_DEVICE, FB_FLAGS_ACK, NULL, 0);
	fb_ack(c->fb, VU_VHOST_USER_RESET_DEVICE, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_status(c->b, 0x0b), 0);
	assert_int_equal(ops->get_status(c->b, &status), 0);
	assert_int_equal(status, 0x03);
	/* The status is 8 bits: a wider answer is refused. */
	assert_int_equal(ops->get_status(c->b, &status), -EPROTO);
	assert_int_equal(status, 0x03);
	assert_int_equal(ops->reset(c->b), 0);
	finish(c);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)),
			 P_ACK | P_STATUS | P_RESET_DEVICE);
}

/* Not offered: nothing is sent (the fake fails on any message the script does not name). */
static void
test_status_config_not_offered(void **state)
{
	struct ctx *c = *state;
	uint8_t status;
	uint8_t cfg[CONFIG_LEN];

	fb_script_handshake(c->fb, F_PROTO, P_ACK, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->set_status(c->b, 1), -EOPNOTSUPP);
	assert_int_equal(ops->get_status(c->b, &status), -EOPNOTSUPP);
	assert_int_equal(ops->get_config(c->b, 0, cfg, sizeof(cfg)), -EOPNOTSUPP);
	assert_int_equal(ops->channel_fd(c->b), -1);
	finish(c);
}

static void
config_reply(struct fake_backend *fb, uint32_t offset, uint32_t size, const uint8_t *region,
	     uint32_t region_len)
{
	uint8_t payload[VU_VHOST_USER_CONFIG_HDR_SIZE + 64] = { 0 };

	memcpy(payload, &offset, 4);
	memcpy(payload + 4, &size, 4);
	if (region_len)
		memcpy(payload + 12, region, region_len);
	fb_send_raw(fb, VU_VHOST_USER_GET_CONFIG, FB_FLAGS_REPLY, payload,
		    region_len ? 12 + region_len : 0, SIZE_MAX, 0);
}

/* GET_CONFIG: the window asked for (offset 0, 12 bytes, flags 0), and the reply's bytes;
 * a zero-length reply is a refusal and a window of another size an answer not taken:
 * -EIO with a line, and the connection stays. */
static void
test_get_config(void **state)
{
	struct ctx *c = *state;
	const uint8_t want_cfg[CONFIG_LEN] = { 2, 0, 0, 0, 0, 0x42, 1, 0, 4, 0, 0x28, 0x23 };
	uint8_t req[12 + CONFIG_LEN] = { 0, 0, 0, 0, CONFIG_LEN };
	uint8_t got[CONFIG_LEN];

	fb_script_handshake(c->fb, F_PROTO, P_CONFIG, 0);
	fb_expect_payload(c->fb, VU_VHOST_USER_GET_CONFIG, FB_FLAGS, req, sizeof(req));
	config_reply(c->fb, 0, CONFIG_LEN, want_cfg, CONFIG_LEN);
	fb_expect(c->fb, VU_VHOST_USER_GET_CONFIG, FB_FLAGS);
	config_reply(c->fb, 0, 0, NULL, 0);
	fb_expect(c->fb, VU_VHOST_USER_GET_CONFIG, FB_FLAGS);
	config_reply(c->fb, 0, 6, want_cfg, 6);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS, 0, 256);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->get_config(c->b, 0, got, sizeof(got)), 0);
	assert_memory_equal(got, want_cfg, sizeof(got));
	tu_log_watch("GET_CONFIG: backend");
	assert_int_equal(ops->get_config(c->b, 0, got, sizeof(got)), -EIO);
	assert_int_equal(tu_log_watched("GET_CONFIG: backend"), 1);
	assert_int_equal(ops->get_config(c->b, 0, got, sizeof(got)), -EIO);
	assert_int_equal(tu_log_watched("GET_CONFIG: backend"), 2);
	assert_true(ops->connected(c->b));
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), 0);
	finish(c);
}

/* The backend channel: SET_BACKEND_REQ_FD carries one fd (a socket) at set-up; a
 * CONFIG_CHANGE_MSG with NEED_REPLY is acked with 0 and reported as a config change;
 * a request the frontend does not take is refused (ack 1), logged once per type; one
 * without NEED_REPLY gets no answer. */
static void
test_backend_channel(void **state)
{
	struct ctx *c = *state;
	const uint32_t need = FB_FLAGS_ACK;
	const char *const REFUSED = "on the backend channel: not supported, refused";
	const char *const CHANGED = "its config space changed";
	const struct fb_rx *rx;
	int fd, changes = 0;

	fb_script_handshake(c->fb, F_PROTO, P_ACK | P_BACKEND_REQ | P_CONFIG, 0);
	fb_channel_send(c->fb, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, need, NULL, 0);
	fb_channel_expect_ack(c->fb, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 0);
	fb_channel_send(c->fb, VU_VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, need, NULL, 0);
	fb_channel_expect_ack(c->fb, VU_VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 1);
	fb_channel_send(c->fb, 77, need, NULL, 0);
	fb_channel_expect_ack(c->fb, 77, 1);
	fb_channel_send(c->fb, 77, need, NULL, 0);
	fb_channel_expect_ack(c->fb, 77, 1);
	fb_channel_send(c->fb, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, FB_FLAGS, NULL, 0);
	fb_channel_expect_silence(c->fb, 200);
	fb_expect_state(c->fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS_ACK, 0, 256);
	fb_ack(c->fb, VU_VHOST_USER_SET_VRING_NUM, 0);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	fd = ops->channel_fd(c->b);
	assert_true(fd >= 0);
	tu_log_watch(REFUSED);
	tu_log_watch(CHANGED);
	/* Each request as it comes (one event may find several), until all five are in. */
	while ((tu_log_watched(REFUSED) < 2 || tu_log_watched(CHANGED) < 2) &&
	       readable_within(fd, TIMEOUT_MS)) {
		int ev = ops->handle_event(c->b);

		assert_true(ev == VU_BACKEND_EV_NONE || ev == VU_BACKEND_EV_CONFIG_CHANGED);
		changes += ev == VU_BACKEND_EV_CONFIG_CHANGED;
	}
	assert_int_equal(tu_log_watched(CHANGED), 2);
	assert_in_range(changes, 1, 2);
	/* HOST_NOTIFIER once, 77 once (the second 77 was refused without a line). */
	assert_int_equal(tu_log_watched(REFUSED), 2);
	assert_true(ops->connected(c->b));
	assert_int_equal(ops->set_vring_num(c->b, 0, 256), 0);
	finish(c);
	rx = find_rx(c, VU_VHOST_USER_SET_BACKEND_REQ_FD);
	assert_int_equal(rx->hdr.size, 0);
	assert_int_equal(rx->nfds, 1);
	assert_int_equal(rx_u64(find_rx(c, VU_VHOST_USER_SET_PROTOCOL_FEATURES)),
			 P_ACK | P_BACKEND_REQ | P_CONFIG);
}

/* A backend that refuses the channel (its ack says 1): the frontend goes on without one. */
static void
test_backend_channel_refused(void **state)
{
	struct ctx *c = *state;

	fb_expect(c->fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS);
	fb_expect(c->fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS);
	fb_reply_u64(c->fb, VU_VHOST_USER_GET_FEATURES, F_PROTO);
	fb_expect(c->fb, VU_VHOST_USER_GET_PROTOCOL_FEATURES, FB_FLAGS);
	fb_reply_u64(c->fb, VU_VHOST_USER_GET_PROTOCOL_FEATURES, P_ACK | P_BACKEND_REQ);
	fb_expect_u64(c->fb, VU_VHOST_USER_SET_PROTOCOL_FEATURES, FB_FLAGS, P_ACK | P_BACKEND_REQ);
	fb_expect(c->fb, VU_VHOST_USER_SET_BACKEND_REQ_FD, FB_FLAGS_ACK);
	fb_ack(c->fb, VU_VHOST_USER_SET_BACKEND_REQ_FD, 1);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	assert_int_equal(ops->channel_fd(c->b), -1);
	assert_true(ops->connected(c->b));
	finish(c);
}

/* The backend closes its end of the channel: the frontend closes its own, the connection
 * stays. */
static void
test_backend_channel_closed(void **state)
{
	struct ctx *c = *state;
	int fd;

	fb_script_handshake(c->fb, F_PROTO, P_BACKEND_REQ, 0);
	fb_close(c->fb);
	assert_int_equal(start_and_open(c, TIMEOUT_MS), 0);
	fd = ops->channel_fd(c->b);
	assert_true(fd >= 0);
	assert_int_equal(fb_finish(c->fb), 0);
	assert_true(readable_within(fd, TIMEOUT_MS));
	/* Both ends went: the channel is said closed and the connection gone. */
	assert_int_equal(ops->handle_event(c->b), VU_BACKEND_EV_DISCONNECTED);
	assert_int_equal(ops->channel_fd(c->b), -1);
	finish(c);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake_without_protocol_features),
		T(test_handshake_mq_and_reply_ack),
		T(test_handshake_reply_ack_only),
		T(test_handshake_mq_only),
		T(test_handshake_no_protocol_feature_offered),
		T(test_queue_num_zero),
		T(test_queue_num_too_big),
		T(test_reply_wrong_request),
		T(test_reply_without_reply_flag),
		T(test_reply_wrong_size),
		T(test_reply_oversized),
		T(test_short_reply_then_close),
		T(test_reply_with_fds),
		T(test_silent_backend),
		T(test_ack_nonzero_status),
		T(test_ack_for_other_request),
		T(test_ack_never_comes),
		T(test_backend_gone),
		T(test_connect_errors),
		T(test_path_too_long),
		T(test_connect_backlog_full),
		T(test_get_vring_base),
		T(test_get_vring_base_wrong_size),
		T(test_vring_kick_and_call),
		T(test_vring_kick_fd_identity),
		T(test_vring_addr),
		T(test_mem_table),
		T(test_vring_enable_and_reset),
		T(test_device_on_the_wire),
		T(test_event_peer_closes),
		T(test_event_unsolicited_message),
		T(test_event_malformed_message),
		T(test_disconnect),
		T(test_net_set_mtu),
		T(test_net_set_mtu_needs_protocol_feature),
		T(test_status_and_reset_device),
		T(test_status_config_not_offered),
		T(test_get_config),
		T(test_backend_channel),
		T(test_backend_channel_refused),
		T(test_backend_channel_closed),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
