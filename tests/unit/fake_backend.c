/* SPDX-License-Identifier: BSD-3-Clause */
/* Scripted fake vhost-user backend for unit tests: a thread serving one connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_backend.h"
#include "test_util.h"

/* Bound on every wait of the backend: long enough never to fire on a working frontend. */
#define FB_WAIT_MS 5000
#define FB_MAX_STEPS 64
#define FB_MAX_ERRORS 16

enum fb_kind {
	FB_EXPECT,
	FB_SEND,
	FB_SLEEP,
	FB_CLOSE,
	FB_CHAN_SEND,
	FB_CHAN_EXPECT,
	FB_CHAN_SILENCE,
};

struct fb_step {
	enum fb_kind kind;
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	bool check_payload;
	uint8_t payload[FB_MAX_PAYLOAD];
	size_t len;
	unsigned int nfds;
	bool has_memfd; /* the fds are dups of memfd instead of fresh eventfds */
	int memfd;
	int ms;
};

struct fake_backend {
	char dir[256];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	bool client; /* connects to path (a frontend in server mode) instead of listening */
	int conn;
	int channel; /* the backend channel SET_BACKEND_REQ_FD passed, -1 none */
	int keep_fd; /* the first fd of the message being read */
	pthread_t thread;
	bool running;
	struct fb_step steps[FB_MAX_STEPS];
	unsigned int nsteps;
	bool script_overflow;
	struct fb_rx rx[FB_MAX_RX];
	unsigned int nrx;
	char errors[FB_MAX_ERRORS][256];
	unsigned int nerrors;
};

static void
fb_error(struct fake_backend *fb, const char *fmt, ...)
{
	va_list ap;

	if (fb->nerrors < FB_MAX_ERRORS) {
		va_start(ap, fmt);
		vsnprintf(fb->errors[fb->nerrors], sizeof(fb->errors[0]), fmt, ap);
		va_end(ap);
	}
	fb->nerrors++;
}

struct fake_backend *
fb_create(void)
{
	struct fake_backend *fb = calloc(1, sizeof(*fb));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!fb)
		return NULL;
	fb->listen_fd = -1;
	fb->conn = -1;
	fb->channel = -1;
	if (!tu_mkdtemp(fb->dir, sizeof(fb->dir)) ||
	    (size_t)snprintf(fb->path, sizeof(fb->path), "%s/sock", fb->dir) >= sizeof(fb->path))
		goto fail;
	strcpy(sa.sun_path, fb->path);
	fb->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fb->listen_fd < 0 || bind(fb->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fb->listen_fd, 4) < 0)
		goto fail;
	return fb;
fail:
	fb_destroy(fb);
	return NULL;
}

struct fake_backend *
fb_create_client(const char *path)
{
	struct fake_backend *fb = calloc(1, sizeof(*fb));

	if (!fb)
		return NULL;
	fb->listen_fd = -1;
	fb->conn = -1;
	fb->channel = -1;
	fb->client = true;
	snprintf(fb->path, sizeof(fb->path), "%s", path);
	return fb;
}

/* Client: connect to the frontend's socket, retrying until it listens. */
static int
fb_connect(struct fake_backend *fb)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = tu_now_ms() + FB_WAIT_MS;

	strcpy(sa.sun_path, fb->path);
	while (tu_now_ms() < deadline) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		poll(NULL, 0, 10);
	}
	return -1;
}

const char *
fb_path(const struct fake_backend *fb)
{
	return fb->path;
}

static struct fb_step *
fb_add(struct fake_backend *fb, enum fb_kind kind)
{
	static struct fb_step overflow;

	if (fb->nsteps == FB_MAX_STEPS) {
		fb->script_overflow = true;
		return &overflow;
	}
	fb->steps[fb->nsteps].kind = kind;
	return &fb->steps[fb->nsteps++];
}

void
fb_expect(struct fake_backend *fb, uint32_t request, uint32_t flags)
{
	struct fb_step *s = fb_add(fb, FB_EXPECT);

	s->request = request;
	s->flags = flags;
}

void
fb_expect_payload(struct fake_backend *fb, uint32_t request, uint32_t flags, const void *payload,
		  uint32_t size)
{
	struct fb_step *s = fb_add(fb, FB_EXPECT);

	s->request = request;
	s->flags = flags;
	s->size = size > FB_MAX_PAYLOAD ? FB_MAX_PAYLOAD : size;
	s->check_payload = true;
	if (s->size)
		memcpy(s->payload, payload, s->size);
}

void
fb_expect_u64(struct fake_backend *fb, uint32_t request, uint32_t flags, uint64_t value)
{
	fb_expect_payload(fb, request, flags, &value, sizeof(value));
}

void
fb_expect_state(struct fake_backend *fb, uint32_t request, uint32_t flags, uint32_t index,
		uint32_t num)
{
	uint32_t state[2] = { index, num };

	fb_expect_payload(fb, request, flags, state, sizeof(state));
}

void
fb_send_raw(struct fake_backend *fb, uint32_t request, uint32_t flags, const void *payload,
	    uint32_t size, size_t len, unsigned int nfds)
{
	struct fb_step *s = fb_add(fb, FB_SEND);
	size_t copy = size > FB_MAX_PAYLOAD ? FB_MAX_PAYLOAD : size;

	s->request = request;
	s->flags = flags;
	s->size = size;
	if (payload && copy)
		memcpy(s->payload, payload, copy);
	s->len = len == SIZE_MAX ? sizeof(struct vu_vhost_hdr) + copy : len;
	if (s->len > sizeof(struct vu_vhost_hdr) + copy)
		s->len = sizeof(struct vu_vhost_hdr) + copy;
	s->nfds = nfds > FB_MAX_FDS ? FB_MAX_FDS : nfds;
}

void
fb_reply_u64(struct fake_backend *fb, uint32_t request, uint64_t value)
{
	fb_send_raw(fb, request, FB_FLAGS_REPLY, &value, sizeof(value), SIZE_MAX, 0);
}

void
fb_reply_state(struct fake_backend *fb, uint32_t request, uint32_t index, uint32_t num)
{
	uint32_t state[2] = { index, num };

	fb_send_raw(fb, request, FB_FLAGS_REPLY, state, sizeof(state), SIZE_MAX, 0);
}

int
fb_reply_memfd(struct fake_backend *fb, uint32_t request, const void *payload, uint32_t size,
	       uint64_t memfd_size)
{
	int fd = memfd_create("fb-inflight", MFD_CLOEXEC);
	struct fb_step *s;

	if (fd < 0 || ftruncate(fd, (off_t)memfd_size) < 0) {
		fb_error(fb, "memfd of %llu bytes: %s", (unsigned long long)memfd_size,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fb_send_raw(fb, request, FB_FLAGS_REPLY, payload, size, SIZE_MAX, 1);
	if (fb->script_overflow) {
		close(fd);
		return -1;
	}
	s = &fb->steps[fb->nsteps - 1];
	s->has_memfd = true;
	s->memfd = fd;
	return fd;
}

void
fb_ack(struct fake_backend *fb, uint32_t request, uint64_t status)
{
	fb_reply_u64(fb, request, status);
}

void
fb_channel_send(struct fake_backend *fb, uint32_t request, uint32_t flags, const void *payload,
		uint32_t size)
{
	fb_send_raw(fb, request, flags, payload, size, SIZE_MAX, 0);
	fb->steps[fb->nsteps - 1].kind = FB_CHAN_SEND;
}

void
fb_channel_expect_ack(struct fake_backend *fb, uint32_t request, uint64_t status)
{
	fb_expect_u64(fb, request, FB_FLAGS_REPLY, status);
	fb->steps[fb->nsteps - 1].kind = FB_CHAN_EXPECT;
}

void
fb_channel_expect_silence(struct fake_backend *fb, int ms)
{
	fb_add(fb, FB_CHAN_SILENCE)->ms = ms;
}

void
fb_sleep(struct fake_backend *fb, int ms)
{
	fb_add(fb, FB_SLEEP)->ms = ms;
}

void
fb_close(struct fake_backend *fb)
{
	fb_add(fb, FB_CLOSE);
}

void
fb_script_handshake(struct fake_backend *fb, uint64_t features, uint64_t protocol_features,
		    uint64_t queue_num)
{
	fb_script_handshake_slots(fb, features, protocol_features, queue_num, FB_MEM_SLOTS);
}

void
fb_script_handshake_slots(struct fake_backend *fb, uint64_t features, uint64_t protocol_features,
			  uint64_t queue_num, uint64_t mem_slots)
{
	const uint64_t wanted = FB_WANTED_PF;

	fb_expect_payload(fb, VU_VHOST_USER_SET_OWNER, FB_FLAGS, NULL, 0);
	fb_expect_payload(fb, VU_VHOST_USER_GET_FEATURES, FB_FLAGS, NULL, 0);
	fb_reply_u64(fb, VU_VHOST_USER_GET_FEATURES, features);
	if (!(features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		return;
	fb_expect_payload(fb, VU_VHOST_USER_GET_PROTOCOL_FEATURES, FB_FLAGS, NULL, 0);
	fb_reply_u64(fb, VU_VHOST_USER_GET_PROTOCOL_FEATURES, protocol_features);
	/* The SET is not acked even when REPLY_ACK is in it: it is not negotiated yet. */
	fb_expect_u64(fb, VU_VHOST_USER_SET_PROTOCOL_FEATURES, FB_FLAGS,
		      protocol_features & wanted);
	if (protocol_features & (1ull << VU_VHOST_USER_PROTOCOL_F_MQ)) {
		fb_expect_payload(fb, VU_VHOST_USER_GET_QUEUE_NUM, FB_FLAGS, NULL, 0);
		fb_reply_u64(fb, VU_VHOST_USER_GET_QUEUE_NUM, queue_num);
	}
	if (protocol_features & (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		fb_expect_payload(fb, VU_VHOST_USER_GET_MAX_MEM_SLOTS, FB_FLAGS, NULL, 0);
		fb_reply_u64(fb, VU_VHOST_USER_GET_MAX_MEM_SLOTS, mem_slots);
	}
	if (protocol_features & (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ)) {
		bool ack = protocol_features & (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK);

		fb_expect_payload(fb, VU_VHOST_USER_SET_BACKEND_REQ_FD,
				  ack ? FB_FLAGS_ACK : FB_FLAGS, NULL, 0);
		if (ack)
			fb_ack(fb, VU_VHOST_USER_SET_BACKEND_REQ_FD, 0);
	}
}

/* Wait for POLLIN on fd until the deadline: 1 ready, 0 timed out. */
static int
fb_wait_in(int fd, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - tu_now_ms();
		int rc = poll(&pfd, 1, left < 0 ? 0 : (int)left);

		if (rc >= 0)
			return rc;
		if (errno != EINTR)
			return 0;
	}
}

/* Read exactly len bytes; fds that arrive are described in rx and closed.
 * Returns len, the count read before EOF, or -1 on timeout or error. */
static ssize_t
fb_read(struct fake_backend *fb, void *buf, size_t len, struct fb_rx *rx, int64_t deadline)
{
	size_t got = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FB_MAX_FDS)];
	} control;

	while (got < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + got, .iov_len = len - got };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n;

		if (!fb_wait_in(fb->conn, deadline))
			return -1;
		n = recvmsg(fb->conn, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* A peer that closes with our data unread resets the connection: still a close. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return (ssize_t)got;
		if (n < 0)
			return -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < nfds; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (rx->nfds < FB_MAX_FDS) {
					tu_fd_ino(fd, &rx->fd_dev[rx->nfds], &rx->fd_ino[rx->nfds]);
					rx->nfds++;
				}
				/* The first fd of a message may be the backend channel: kept. */
				if (fb->keep_fd < 0)
					fb->keep_fd = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Receive one message into the next rx slot: 1, 0 on a clean EOF, -1 on error (logged). */
static int
fb_recv(struct fake_backend *fb, unsigned int step, struct fb_rx **out)
{
	int64_t deadline = tu_now_ms() + FB_WAIT_MS;
	static struct fb_rx spill;
	struct fb_rx *rx = fb->nrx < FB_MAX_RX ? &fb->rx[fb->nrx] : &spill;
	ssize_t n;

	memset(rx, 0, sizeof(*rx));
	fb->keep_fd = -1;
	n = fb_read(fb, &rx->hdr, sizeof(rx->hdr), rx, deadline);
	if (n == (ssize_t)sizeof(rx->hdr) && rx->hdr.request == VU_VHOST_USER_SET_BACKEND_REQ_FD &&
	    fb->keep_fd >= 0) {
		if (fb->channel >= 0)
			close(fb->channel);
		fb->channel = fb->keep_fd;
	} else if (fb->keep_fd >= 0) {
		close(fb->keep_fd);
	}
	fb->keep_fd = -1;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(rx->hdr)) {
		fb_error(fb, "step %u: %s while reading a header", step,
			 n < 0 ? "timeout or error" : "EOF");
		return -1;
	}
	if (rx->hdr.size > FB_MAX_PAYLOAD) {
		fb_error(fb, "step %u: %s with a %u-byte payload", step,
			 vu_vhost_request_name(rx->hdr.request), rx->hdr.size);
		return -1;
	}
	n = fb_read(fb, rx->payload, rx->hdr.size, rx, deadline);
	if (n != (ssize_t)rx->hdr.size) {
		fb_error(fb, "step %u: %s: payload cut short", step,
			 vu_vhost_request_name(rx->hdr.request));
		return -1;
	}
	if (fb->nrx < FB_MAX_RX)
		fb->nrx++;
	*out = rx;
	return 1;
}

static void
fb_check(struct fake_backend *fb, unsigned int i, const struct fb_step *s, const struct fb_rx *rx)
{
	if (rx->hdr.request != s->request || rx->hdr.flags != s->flags) {
		fb_error(fb, "step %u: expected %s flags 0x%x, got %s flags 0x%x", i,
			 vu_vhost_request_name(s->request), s->flags,
			 vu_vhost_request_name(rx->hdr.request), rx->hdr.flags);
		return;
	}
	if (!s->check_payload)
		return;
	if (rx->hdr.size != s->size) {
		fb_error(fb, "step %u: %s: payload size %u, expected %u", i,
			 vu_vhost_request_name(s->request), rx->hdr.size, s->size);
		return;
	}
	if (memcmp(rx->payload, s->payload, s->size) != 0) {
		uint64_t got = 0, want = 0;

		memcpy(&got, rx->payload, s->size < 8 ? s->size : 8);
		memcpy(&want, s->payload, s->size < 8 ? s->size : 8);
		fb_error(fb, "step %u: %s: payload differs (first 8 bytes 0x%llx, expected 0x%llx)",
			 i, vu_vhost_request_name(s->request), (unsigned long long)got,
			 (unsigned long long)want);
	}
}

static void
fb_send(struct fake_backend *fb, unsigned int i, const struct fb_step *s)
{
	uint8_t buf[sizeof(struct vu_vhost_hdr) + FB_MAX_PAYLOAD];
	struct vu_vhost_hdr hdr = { .request = s->request, .flags = s->flags, .size = s->size };
	int fds[FB_MAX_FDS];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FB_MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = s->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), s->payload, s->len > sizeof(hdr) ? s->len - sizeof(hdr) : 0);
	for (unsigned int k = 0; k < s->nfds; k++)
		fds[k] = s->has_memfd ? dup(s->memfd) : eventfd(0, EFD_CLOEXEC);
	if (s->nfds) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * s->nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * s->nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * s->nfds);
	}
	if (sendmsg(fb->conn, &mh, MSG_NOSIGNAL) != (ssize_t)s->len)
		fb_error(fb, "step %u: sending %s: %s", i, vu_vhost_request_name(s->request),
			 strerror(errno));
	for (unsigned int k = 0; k < s->nfds; k++)
		close(fds[k]);
}

/* A step on the backend channel: the same framing, on the other socket. */
static void
fb_channel_step(struct fake_backend *fb, unsigned int i, const struct fb_step *s)
{
	int conn = fb->conn;
	struct fb_rx *rx;

	if (fb->channel < 0) {
		fb_error(fb, "step %u: no backend channel (SET_BACKEND_REQ_FD never came)", i);
		return;
	}
	fb->conn = fb->channel;
	if (s->kind == FB_CHAN_SEND) {
		fb_send(fb, i, s);
	} else if (s->kind == FB_CHAN_SILENCE) {
		if (fb_wait_in(fb->channel, tu_now_ms() + s->ms))
			fb_error(fb, "step %u: the frontend answered on the backend channel", i);
	} else if (fb_recv(fb, i, &rx) <= 0) {
		fb_error(fb, "step %u: no answer to %s on the backend channel", i,
			 vu_vhost_backend_request_name(s->request));
	} else {
		fb_check(fb, i, s, rx);
	}
	fb->conn = conn;
}

static void *
fb_thread(void *arg)
{
	struct fake_backend *fb = arg;
	struct fb_rx *rx;
	unsigned int i;
	int rc;

	if (fb->client) {
		fb->conn = fb_connect(fb);
		if (fb->conn < 0) {
			fb_error(fb, "the frontend never listened on %s", fb->path);
			return NULL;
		}
	} else if (!fb_wait_in(fb->listen_fd, tu_now_ms() + FB_WAIT_MS)) {
		fb_error(fb, "the frontend never connected");
		return NULL;
	} else {
		fb->conn = accept4(fb->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	}
	if (fb->conn < 0) {
		fb_error(fb, "accept: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < fb->nsteps; i++) {
		const struct fb_step *s = &fb->steps[i];

		switch (s->kind) {
		case FB_EXPECT:
			rc = fb_recv(fb, i, &rx);
			if (rc == 0)
				fb_error(fb, "step %u: expected %s, the frontend closed", i,
					 vu_vhost_request_name(s->request));
			if (rc <= 0)
				goto out;
			fb_check(fb, i, s, rx);
			break;
		case FB_SEND:
			fb_send(fb, i, s);
			break;
		case FB_SLEEP:
			poll(NULL, 0, s->ms);
			break;
		case FB_CHAN_SEND:
		case FB_CHAN_EXPECT:
		case FB_CHAN_SILENCE:
			fb_channel_step(fb, i, s);
			break;
		case FB_CLOSE:
			goto out;
		}
	}
	/* End of the script: the frontend must send nothing more and close. */
	while ((rc = fb_recv(fb, i, &rx)) > 0)
		fb_error(fb, "after the script: unexpected %s (flags 0x%x, size %u)",
			 vu_vhost_request_name(rx->hdr.request), rx->hdr.flags, rx->hdr.size);
out:
	close(fb->conn);
	fb->conn = -1;
	if (fb->channel >= 0)
		close(fb->channel);
	fb->channel = -1;
	return NULL;
}

int
fb_start(struct fake_backend *fb)
{
	if (fb->script_overflow)
		return -E2BIG;
	if (pthread_create(&fb->thread, NULL, fb_thread, fb) != 0)
		return -1;
	fb->running = true;
	return 0;
}

int
fb_finish(struct fake_backend *fb)
{
	if (fb->running) {
		pthread_join(fb->thread, NULL);
		fb->running = false;
		for (unsigned int i = 0; i < fb->nerrors && i < FB_MAX_ERRORS; i++)
			fprintf(stderr, "fake backend: %s\n", fb->errors[i]);
	}
	return (int)fb->nerrors + (fb->script_overflow ? 1 : 0);
}

unsigned int
fb_nrx(const struct fake_backend *fb)
{
	return fb->nrx;
}

const struct fb_rx *
fb_rx(const struct fake_backend *fb, unsigned int i)
{
	return i < fb->nrx ? &fb->rx[i] : NULL;
}

void
fb_destroy(struct fake_backend *fb)
{
	if (!fb)
		return;
	fb_finish(fb);
	for (unsigned int i = 0; i < fb->nsteps; i++)
		if (fb->steps[i].has_memfd)
			close(fb->steps[i].memfd);
	if (fb->listen_fd >= 0)
		close(fb->listen_fd);
	if (fb->path[0] && !fb->client)
		unlink(fb->path);
	if (fb->dir[0])
		rmdir(fb->dir);
	free(fb);
}
