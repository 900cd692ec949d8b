/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-user message layer: encoding, framing, fd passing, validation. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vu_vhost_user_msg.h"

#define HDR_SIZE 12u

static void
make_pair(int sv[2], bool nonblock)
{
	int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);

	assert_int_equal(socketpair(AF_UNIX, type, 0, sv), 0);
}

static void
close_pair(int sv[2])
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
}

/* Write raw bytes with nfds fds riding on the first byte. */
static void
write_raw(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 32)];
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds <= 32);
	if (nfds) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* A header as raw little-endian bytes. */
static void
put_hdr(uint8_t *buf, uint32_t request, uint32_t flags, uint32_t size)
{
	struct vu_vhost_hdr hdr = { request, flags, size };

	memcpy(buf, &hdr, sizeof(hdr));
}

/* Everything readable on sock right now, fds discarded (counted). */
static size_t
read_available(int sock, uint8_t *buf, size_t cap, unsigned int *nfds)
{
	size_t got = 0;

	*nfds = 0;
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 16)];
		} control;
		struct iovec iov = { .iov_base = buf + got, .iov_len = cap - got };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT);

		if (n <= 0)
			return got;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
			*nfds += (unsigned int)k;
		}
		got += (size_t)n;
		if (got == cap)
			return got;
	}
}

/* Send msg with the library and return the bytes that reached the peer. */
static size_t
wire_bytes(const struct vu_vhost_msg *msg, uint8_t *buf, size_t cap, unsigned int *nfds)
{
	int sv[2];
	size_t n;

	make_pair(sv, true);
	assert_int_equal(vu_vhost_msg_send(sv[0], msg, 1000), 0);
	n = read_available(sv[1], buf, cap, nfds);
	close_pair(sv);
	return n;
}

static uint64_t
le64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
test_payload_sizes(void **state)
{
	static const struct {
		uint32_t request;
		int size;
	} cases[] = {
		{ VU_VHOST_USER_SET_OWNER, 0 },
		{ VU_VHOST_USER_RESET_OWNER, 0 },
		{ VU_VHOST_USER_GET_FEATURES, 8 },
		{ VU_VHOST_USER_SET_FEATURES, 8 },
		{ VU_VHOST_USER_GET_PROTOCOL_FEATURES, 8 },
		{ VU_VHOST_USER_SET_PROTOCOL_FEATURES, 8 },
		{ VU_VHOST_USER_GET_QUEUE_NUM, 8 },
		{ VU_VHOST_USER_SET_VRING_KICK, 8 },
		{ VU_VHOST_USER_SET_VRING_CALL, 8 },
		{ VU_VHOST_USER_SET_VRING_ERR, 8 },
		{ VU_VHOST_USER_SET_LOG_FD, 8 },
		{ VU_VHOST_USER_SET_VRING_NUM, 8 },
		{ VU_VHOST_USER_SET_VRING_BASE, 8 },
		{ VU_VHOST_USER_GET_VRING_BASE, 8 },
		{ VU_VHOST_USER_SET_VRING_ENABLE, 8 },
		{ VU_VHOST_USER_SET_VRING_ADDR, 40 },
		{ VU_VHOST_USER_NET_SET_MTU, 8 },
		{ VU_VHOST_USER_SET_BACKEND_REQ_FD, 0 },
		{ VU_VHOST_USER_RESET_DEVICE, 0 },
		{ VU_VHOST_USER_SET_STATUS, 8 },
		{ VU_VHOST_USER_GET_STATUS, 8 },
		{ VU_VHOST_USER_GET_MAX_MEM_SLOTS, 8 },
		{ VU_VHOST_USER_GET_CONFIG, -1 }, /* header + the window asked for */
		{ 23, -1 },			  /* SET_VRING_ENDIAN: legacy devices only */
		{ VU_VHOST_USER_SET_MEM_TABLE, -1 },
		{ VU_VHOST_USER_NONE, -1 },
		{ VU_VHOST_USER_REQUEST_MAX, -1 },
		{ 0xffffffffu, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = vu_vhost_request_payload_size(cases[i].request);

		if (got != cases[i].size)
			fail_msg("%s (%u): payload size %d, expected %d",
				 vu_vhost_request_name(cases[i].request), cases[i].request, got,
				 cases[i].size);
	}
}

static void
test_request_names(void **state)
{
	(void)state;
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_GET_FEATURES), "GET_FEATURES");
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_SET_VRING_ENABLE),
			    "SET_VRING_ENABLE");
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_SET_MEM_TABLE), "SET_MEM_TABLE");
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_NET_SET_MTU), "NET_SET_MTU");
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_GET_STATUS), "GET_STATUS");
	assert_string_equal(vu_vhost_request_name(23), "UNKNOWN");
	assert_string_equal(vu_vhost_backend_request_name(VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG),
			    "CONFIG_CHANGE_MSG");
	assert_string_equal(vu_vhost_backend_request_name(VU_VHOST_USER_BACKEND_REQUEST_MAX),
			    "UNKNOWN");
	assert_string_equal(vu_vhost_request_name(VU_VHOST_USER_REQUEST_MAX), "UNKNOWN");
	assert_string_equal(vu_vhost_request_name(1000), "UNKNOWN");
}

/* The structs are the wire format: sizes and offsets from the vhost-user spec. */
static void
test_struct_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vu_vhost_hdr), 12);
	assert_int_equal(sizeof(struct vu_vhost_vring_state), 8);
	assert_int_equal(sizeof(struct vu_vhost_vring_addr), 40);
	assert_int_equal(offsetof(struct vu_vhost_vring_addr, flags), 4);
	assert_int_equal(offsetof(struct vu_vhost_vring_addr, desc_user_addr), 8);
	assert_int_equal(offsetof(struct vu_vhost_vring_addr, used_user_addr), 16);
	assert_int_equal(offsetof(struct vu_vhost_vring_addr, avail_user_addr), 24);
	assert_int_equal(offsetof(struct vu_vhost_vring_addr, log_guest_addr), 32);
	assert_int_equal(sizeof(struct vu_vhost_mem_region), 32);
	assert_int_equal(offsetof(struct vu_vhost_mem_region, memory_size), 8);
	assert_int_equal(offsetof(struct vu_vhost_mem_region, userspace_addr), 16);
	assert_int_equal(offsetof(struct vu_vhost_mem_region, mmap_offset), 24);
	assert_int_equal(offsetof(struct vu_vhost_memory, regions), 8);
	assert_int_equal(sizeof(struct vu_vhost_memory), 8 + 8 * 32);
	assert_int_equal(offsetof(struct vu_vhost_config, region), 12);
	assert_int_equal(VU_VHOST_USER_CONFIG_HDR_SIZE, 12);
	assert_int_equal(sizeof(struct vu_vhost_config), 12 + 256);
	/* The largest payload, rounded up to its u64 member's alignment. */
	assert_int_equal(sizeof(union vu_vhost_payload), 12 + 256 + 4);
}

static void
test_msg_init(void **state)
{
	struct vu_vhost_msg msg;
	static const uint8_t zero[sizeof(msg.payload)];

	(void)state;
	memset(&msg, 0xa5, sizeof(msg));
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_NUM, 8);
	assert_int_equal(msg.hdr.request, VU_VHOST_USER_SET_VRING_NUM);
	assert_int_equal(msg.hdr.flags, 1);
	assert_int_equal(msg.hdr.size, 8);
	assert_int_equal(msg.nfds, 0);
	assert_memory_equal(&msg.payload, zero, sizeof(zero));
}

static void
test_encode_no_payload(void **state)
{
	static const uint8_t want[] = { 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
	struct vu_vhost_msg msg;
	uint8_t buf[512];
	unsigned int nfds;

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_OWNER, 0);
	assert_int_equal(wire_bytes(&msg, buf, sizeof(buf), &nfds), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(nfds, 0);
}

static void
test_encode_u64(void **state)
{
	static const uint8_t want[] = {
		2,    0, 0, 0,	  0x09, 0, 0, 0,
		8,    0, 0, 0,			    /* SET_FEATURES, v1 | NEED_REPLY, 8 */
		0x20, 0, 0, 0x40, 0x01, 0, 0, 0x80, /* 0x8000000140000020 */
	};
	struct vu_vhost_msg msg;
	uint8_t buf[512];
	unsigned int nfds;

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_FEATURES, 8);
	msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	msg.payload.u64 = 0x8000000140000020ull;
	assert_int_equal(wire_bytes(&msg, buf, sizeof(buf), &nfds), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_encode_vring_state(void **state)
{
	static const uint8_t want[] = {
		8, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, /* SET_VRING_NUM */
		3, 0, 0, 0, 0, 1, 0, 0,		    /* index 3, num 256 */
	};
	struct vu_vhost_msg msg;
	uint8_t buf[512];
	unsigned int nfds;

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_NUM, sizeof(msg.payload.state));
	msg.payload.state.index = 3;
	msg.payload.state.num = 256;
	assert_int_equal(wire_bytes(&msg, buf, sizeof(buf), &nfds), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* The vring address payload: index, flags, then desc, USED, AVAIL, log. */
static void
test_encode_vring_addr(void **state)
{
	struct vu_vhost_msg msg;
	uint8_t buf[512];
	unsigned int nfds;

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_ADDR, sizeof(msg.payload.addr));
	msg.payload.addr.index = 1;
	msg.payload.addr.desc_user_addr = 0x1111222233334444ull;
	msg.payload.addr.used_user_addr = 0x5555666677778888ull;
	msg.payload.addr.avail_user_addr = 0x99990000aaaabbbbull;
	assert_int_equal(wire_bytes(&msg, buf, sizeof(buf), &nfds), HDR_SIZE + 40);
	assert_int_equal(le32_at(buf), VU_VHOST_USER_SET_VRING_ADDR);
	assert_int_equal(le32_at(buf + 8), 40);
	assert_int_equal(le32_at(buf + HDR_SIZE), 1);
	assert_int_equal(le32_at(buf + HDR_SIZE + 4), 0);
	assert_int_equal(le64_at(buf + HDR_SIZE + 8), 0x1111222233334444ull);
	assert_int_equal(le64_at(buf + HDR_SIZE + 16), 0x5555666677778888ull);
	assert_int_equal(le64_at(buf + HDR_SIZE + 24), 0x99990000aaaabbbbull);
	assert_int_equal(le64_at(buf + HDR_SIZE + 32), 0);
}

/* SET_MEM_TABLE carries 8 + n * 32 bytes, one fd per region. */
static void
test_encode_mem_table(void **state)
{
	static const unsigned int counts[] = { 1, 2, 8 };

	(void)state;
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		unsigned int n = counts[c];
		struct vu_vhost_msg msg;
		uint8_t buf[512];
		unsigned int nfds;

		vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_MEM_TABLE, 8 + n * 32);
		msg.payload.memory.nregions = n;
		for (unsigned int i = 0; i < n; i++) {
			msg.payload.memory.regions[i] = (struct vu_vhost_mem_region){
				.guest_phys_addr = 0x100000ull * (i + 1),
				.memory_size = 0x2000ull + i,
				.userspace_addr = 0x7f0000000000ull + i,
				.mmap_offset = 0x40ull * i,
			};
			msg.fds[i] = eventfd(0, EFD_CLOEXEC);
			assert_true(msg.fds[i] >= 0);
		}
		msg.nfds = n;
		assert_int_equal(wire_bytes(&msg, buf, sizeof(buf), &nfds), HDR_SIZE + 8 + n * 32);
		assert_int_equal(nfds, n);
		assert_int_equal(le32_at(buf + 8), 8 + n * 32);
		assert_int_equal(le32_at(buf + HDR_SIZE), n);
		assert_int_equal(le32_at(buf + HDR_SIZE + 4), 0);
		for (unsigned int i = 0; i < n; i++) {
			const uint8_t *r = buf + HDR_SIZE + 8 + 32 * i;

			assert_int_equal(le64_at(r), 0x100000ull * (i + 1));
			assert_int_equal(le64_at(r + 8), 0x2000ull + i);
			assert_int_equal(le64_at(r + 16), 0x7f0000000000ull + i);
			assert_int_equal(le64_at(r + 24), 0x40ull * i);
		}
		vu_vhost_msg_close_fds(&msg);
	}
}

static void
test_send_rejects_bad_msg(void **state)
{
	struct vu_vhost_msg msg;
	int sv[2];
	uint8_t buf[64];
	unsigned int nfds;

	(void)state;
	make_pair(sv, true);
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_FEATURES, sizeof(msg.payload) + 1);
	assert_int_equal(vu_vhost_msg_send(sv[0], &msg, 100), -EINVAL);
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_FEATURES, 8);
	msg.nfds = VU_VHOST_USER_MAX_FDS + 1;
	assert_int_equal(vu_vhost_msg_send(sv[0], &msg, 100), -EINVAL);
	/* Nothing went out. */
	assert_int_equal(read_available(sv[1], buf, sizeof(buf), &nfds), 0);
	close_pair(sv);
}

static void
test_send_peer_gone(void **state)
{
	struct vu_vhost_msg msg;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	close(sv[1]);
	sv[1] = -1;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_OWNER, 0);
	/* MSG_NOSIGNAL: an error, not a SIGPIPE that kills the process. */
	assert_int_equal(vu_vhost_msg_send(sv[0], &msg, 100), -EPIPE);
	close_pair(sv);
}

static void
test_send_timeout(void **state)
{
	struct vu_vhost_msg msg;
	uint8_t junk[4096] = { 0 };
	int sndbuf = 4096;
	int64_t t0, elapsed;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (send(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_ADDR, sizeof(msg.payload.addr));
	t0 = tu_now_ms();
	assert_int_equal(vu_vhost_msg_send(sv[0], &msg, 150), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_in_range(elapsed, 140, 1500);
	close_pair(sv);
}

static void
test_recv_roundtrip(void **state)
{
	struct vu_vhost_msg out, in;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	vu_vhost_msg_init(&out, VU_VHOST_USER_GET_VRING_BASE, sizeof(out.payload.state));
	out.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	out.payload.state.index = 1;
	out.payload.state.num = 0xbeef;
	assert_int_equal(vu_vhost_msg_send(sv[0], &out, 1000), 0);
	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.hdr.request, VU_VHOST_USER_GET_VRING_BASE);
	assert_int_equal(in.hdr.flags, VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_REPLY);
	assert_int_equal(in.hdr.size, 8);
	assert_int_equal(in.payload.state.index, 1);
	assert_int_equal(in.payload.state.num, 0xbeef);
	assert_int_equal(in.nfds, 0);
	close_pair(sv);
}

/* Two messages back to back: each recv takes exactly one. */
static void
test_recv_keeps_framing(void **state)
{
	uint8_t buf[2 * HDR_SIZE + 8];
	struct vu_vhost_msg in;
	uint64_t v = 0x1122334455667788ull;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_GET_FEATURES, 5, 8);
	memcpy(buf + HDR_SIZE, &v, 8);
	put_hdr(buf + HDR_SIZE + 8, VU_VHOST_USER_SET_OWNER, 1, 0);
	write_raw(sv[0], buf, sizeof(buf), NULL, 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.hdr.request, VU_VHOST_USER_GET_FEATURES);
	assert_int_equal(in.payload.u64, v);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.hdr.request, VU_VHOST_USER_SET_OWNER);
	assert_int_equal(in.hdr.size, 0);
	close_pair(sv);
}

/* fds arrive as new, distinct, valid, close-on-exec fds for the same files. */
static void
test_fd_passing(void **state)
{
	struct vu_vhost_msg out, in;
	int before = tu_count_fds();
	int sv[2];

	(void)state;
	make_pair(sv, true);
	vu_vhost_msg_init(&out, VU_VHOST_USER_SET_MEM_TABLE, 8 + 3 * 32);
	out.payload.memory.nregions = 3;
	for (unsigned int i = 0; i < 3; i++) {
		out.fds[i] = i == 1 ? eventfd(0, EFD_CLOEXEC) : tu_memfd(4096);
		assert_true(out.fds[i] >= 0);
	}
	out.nfds = 3;
	assert_int_equal(vu_vhost_msg_send(sv[0], &out, 1000), 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.nfds, 3);
	for (unsigned int i = 0; i < 3; i++) {
		uint64_t dev_out, ino_out, dev_in, ino_in;

		assert_true(in.fds[i] >= 0);
		assert_true(fcntl(in.fds[i], F_GETFD) & FD_CLOEXEC);
		for (unsigned int j = 0; j < 3; j++) {
			assert_int_not_equal(in.fds[i], out.fds[j]);
			if (j != i)
				assert_int_not_equal(in.fds[i], in.fds[j]);
		}
		assert_int_equal(tu_fd_ino(out.fds[i], &dev_out, &ino_out), 0);
		assert_int_equal(tu_fd_ino(in.fds[i], &dev_in, &ino_in), 0);
		assert_int_equal(dev_in, dev_out);
		assert_int_equal(ino_in, ino_out);
	}
	assert_int_equal(vu_vhost_msg_check_mem_table(&in, NULL), 0);
	vu_vhost_msg_close_fds(&in);
	assert_int_equal(in.nfds, 0);
	vu_vhost_msg_close_fds(&out);
	close_pair(sv);
	assert_int_equal(tu_count_fds(), before);
}

static void
test_close_fds(void **state)
{
	struct vu_vhost_msg msg;
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_CALL, 8);
	msg.fds[0] = a;
	msg.fds[1] = b;
	msg.nfds = 2;
	vu_vhost_msg_close_fds(&msg);
	assert_int_equal(msg.nfds, 0);
	assert_int_equal(fcntl(a, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fcntl(b, F_GETFD), -1);
}

/* Peer closes after part of a header, or after part of a payload with fds. */
static void
test_recv_short_then_close(void **state)
{
	uint8_t buf[HDR_SIZE + 8] = { 0 };
	struct vu_vhost_msg in;
	int before = tu_count_fds();
	int sv[2], fds[2];

	(void)state;
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_GET_FEATURES, 5, 8);
	write_raw(sv[0], buf, 6, NULL, 0);
	close(sv[0]);
	sv[0] = -1;
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), -ECONNRESET);
	close_pair(sv);

	make_pair(sv, true);
	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	write_raw(sv[0], buf, HDR_SIZE + 3, fds, 2);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	sv[0] = -1;
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), -ECONNRESET);
	assert_int_equal(in.nfds, 0);
	close_pair(sv);
	assert_int_equal(tu_count_fds(), before);
}

/* A clean close between messages is a reset too (nothing half-read). */
static void
test_recv_eof(void **state)
{
	struct vu_vhost_msg in;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	close(sv[0]);
	sv[0] = -1;
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), -ECONNRESET);
	close_pair(sv);
}

static void
test_recv_size_exceeds_payload(void **state)
{
	uint8_t buf[HDR_SIZE + sizeof(union vu_vhost_payload) + 1] = { 0 };
	struct vu_vhost_msg in;
	int sv[2];

	(void)state;
	/* Largest legal size: accepted. */
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_SET_MEM_TABLE, 1, sizeof(union vu_vhost_payload));
	write_raw(sv[0], buf, HDR_SIZE + sizeof(union vu_vhost_payload), NULL, 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.hdr.size, sizeof(union vu_vhost_payload));
	close_pair(sv);

	/* One byte more: the header is refused before any payload is read into msg. */
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_SET_MEM_TABLE, 1, sizeof(union vu_vhost_payload) + 1);
	write_raw(sv[0], buf, sizeof(buf), NULL, 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), -EPROTO);
	close_pair(sv);

	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_GET_FEATURES, 5, 0xffffffffu);
	write_raw(sv[0], buf, HDR_SIZE, NULL, 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), -EPROTO);
	close_pair(sv);
}

static void
test_recv_bad_version(void **state)
{
	static const uint32_t bad[] = { 0x0, 0x2, 0x3, 0x4, 0x6 };
	int before = tu_count_fds();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t buf[HDR_SIZE + 8] = { 0 };
		struct vu_vhost_msg in;
		int sv[2], fd = eventfd(0, EFD_CLOEXEC);

		make_pair(sv, true);
		put_hdr(buf, VU_VHOST_USER_GET_FEATURES, bad[i], 8);
		write_raw(sv[0], buf, sizeof(buf), &fd, 1);
		close(fd);
		if (vu_vhost_msg_recv(sv[1], &in, 1000) != -EPROTO)
			fail_msg("flags 0x%x accepted", bad[i]);
		assert_int_equal(in.nfds, 0);
		close_pair(sv);
	}
	assert_int_equal(tu_count_fds(), before);
}

/* More fds than a message may carry: -EPROTO, and every one of them closed. */
static void
test_recv_too_many_fds(void **state)
{
	static const unsigned int counts[] = { 9, 10, 11, 16 };
	char problems[256] = "";
	size_t used = 0;

	(void)state;
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint8_t buf[HDR_SIZE + 8] = { 0 };
		struct vu_vhost_msg in;
		int fds[16], sv[2], before, rc;

		make_pair(sv, true);
		before = tu_count_fds();
		for (unsigned int i = 0; i < counts[c]; i++)
			fds[i] = eventfd(0, EFD_CLOEXEC);
		put_hdr(buf, VU_VHOST_USER_SET_VRING_KICK, 1, 8);
		write_raw(sv[0], buf, sizeof(buf), fds, counts[c]);
		for (unsigned int i = 0; i < counts[c]; i++)
			close(fds[i]);
		rc = vu_vhost_msg_recv(sv[1], &in, 1000);
		if (rc != -EPROTO && used < sizeof(problems))
			used += (size_t)snprintf(problems + used, sizeof(problems) - used,
						 " [%u fds: recv returned %d, not -EPROTO]",
						 counts[c], rc);
		if (tu_count_fds() != before && used < sizeof(problems))
			used += (size_t)snprintf(problems + used, sizeof(problems) - used,
						 " [%u fds: %d fd(s) leaked]", counts[c],
						 tu_count_fds() - before);
		close_pair(sv);
	}
	if (problems[0])
		fail_msg("%s", problems);
}

/* Exactly the maximum is fine. */
static void
test_recv_max_fds(void **state)
{
	uint8_t buf[HDR_SIZE + 8] = { 0 };
	struct vu_vhost_msg in;
	int fds[VU_VHOST_USER_MAX_FDS], sv[2];
	int before = tu_count_fds();

	(void)state;
	make_pair(sv, true);
	for (unsigned int i = 0; i < VU_VHOST_USER_MAX_FDS; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	put_hdr(buf, VU_VHOST_USER_SET_VRING_KICK, 1, 8);
	write_raw(sv[0], buf, sizeof(buf), fds, VU_VHOST_USER_MAX_FDS);
	for (unsigned int i = 0; i < VU_VHOST_USER_MAX_FDS; i++)
		close(fds[i]);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 1000), 0);
	assert_int_equal(in.nfds, VU_VHOST_USER_MAX_FDS);
	vu_vhost_msg_close_fds(&in);
	close_pair(sv);
	assert_int_equal(tu_count_fds(), before);
}

static void
test_recv_timeout(void **state)
{
	uint8_t buf[HDR_SIZE] = { 0 };
	struct vu_vhost_msg in;
	int64_t t0, elapsed;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	t0 = tu_now_ms();
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 200), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_in_range(elapsed, 190, 1500);

	/* A header whose payload never comes. */
	put_hdr(buf, VU_VHOST_USER_GET_FEATURES, 5, 8);
	write_raw(sv[0], buf, HDR_SIZE, NULL, 0);
	t0 = tu_now_ms();
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 200), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_in_range(elapsed, 190, 1500);
	close_pair(sv);
}

struct trickle {
	int sock;
	const uint8_t *buf;
	size_t len;
	size_t chunk;
	int delay_ms;
	int fd; /* rides on the first chunk when >= 0 */
};

static void *
trickle_thread(void *arg)
{
	struct trickle *t = arg;

	for (size_t off = 0; off < t->len; off += t->chunk) {
		size_t n = t->len - off < t->chunk ? t->len - off : t->chunk;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} control;
		struct iovec iov = { .iov_base = (void *)(t->buf + off), .iov_len = n };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (off == 0 && t->fd >= 0) {
			struct cmsghdr *cm;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = sizeof(control.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &t->fd, sizeof(int));
		}
		if (sendmsg(t->sock, &mh, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		poll(NULL, 0, t->delay_ms);
	}
	return NULL;
}

/* A message written a few bytes at a time is reassembled, fd included. */
static void
test_recv_split_writes(void **state)
{
	uint8_t buf[HDR_SIZE + 40];
	struct vu_vhost_vring_addr addr = {
		.index = 7,
		.desc_user_addr = 0x1000,
		.used_user_addr = 0x3000,
		.avail_user_addr = 0x2000,
	};
	struct trickle t;
	struct vu_vhost_msg in;
	pthread_t th;
	int sv[2];
	uint64_t dev_out, ino_out, dev_in, ino_in;

	(void)state;
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_SET_VRING_ADDR, 1, 40);
	memcpy(buf + HDR_SIZE, &addr, sizeof(addr));
	t = (struct trickle){ sv[0], buf, sizeof(buf), 5, 3, eventfd(0, EFD_CLOEXEC) };
	assert_int_equal(pthread_create(&th, NULL, trickle_thread, &t), 0);
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 3000), 0);
	pthread_join(th, NULL);
	assert_int_equal(in.hdr.request, VU_VHOST_USER_SET_VRING_ADDR);
	assert_int_equal(in.hdr.size, 40);
	assert_memory_equal(&in.payload.addr, &addr, sizeof(addr));
	assert_int_equal(in.nfds, 1);
	assert_int_equal(tu_fd_ino(t.fd, &dev_out, &ino_out), 0);
	assert_int_equal(tu_fd_ino(in.fds[0], &dev_in, &ino_in), 0);
	assert_int_equal(ino_in, ino_out);
	vu_vhost_msg_close_fds(&in);
	close(t.fd);
	close_pair(sv);
}

/* The timeout bounds the whole message, not each read: a peer trickling bytes cannot
 * stretch it. */
static void
test_recv_deadline_covers_message(void **state)
{
	uint8_t buf[HDR_SIZE + 40] = { 0 };
	struct trickle t;
	struct vu_vhost_msg in;
	pthread_t th;
	int64_t t0, elapsed;
	int sv[2];

	(void)state;
	make_pair(sv, true);
	put_hdr(buf, VU_VHOST_USER_SET_VRING_ADDR, 1, 40);
	/* 52 bytes, one every 100 ms: the header alone takes 1.2 s. */
	t = (struct trickle){ sv[0], buf, sizeof(buf), 1, 100, -1 };
	assert_int_equal(pthread_create(&th, NULL, trickle_thread, &t), 0);
	t0 = tu_now_ms();
	assert_int_equal(vu_vhost_msg_recv(sv[1], &in, 300), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	shutdown(sv[1], SHUT_RDWR); /* the writer fails and stops */
	pthread_join(th, NULL);
	assert_in_range(elapsed, 290, 900);
	close_pair(sv);
}

/* The timeout must hold on a blocking socket too (a backend reusing this layer may not
 * set O_NONBLOCK). Run in a child so that a hang is a failure, not a stuck suite. */
static void
test_recv_timeout_blocking_socket(void **state)
{
	int sv[2], status = 0;
	pid_t pid;
	int64_t deadline;

	(void)state;
	make_pair(sv, false);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vu_vhost_msg in;
		struct vu_vhost_msg out;
		int rc = vu_vhost_msg_recv(sv[1], &in, 100);
		uint8_t junk[4096] = { 0 };
		int sndbuf = 4096;

		if (rc != -ETIMEDOUT)
			_exit(1);
		/* And send: fill the buffer, then one more message must time out. */
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		while (send(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		vu_vhost_msg_init(&out, VU_VHOST_USER_SET_VRING_ADDR, 40);
		rc = vu_vhost_msg_send(sv[0], &out, 100);
		_exit(rc == -ETIMEDOUT ? 0 : 2);
	}
	deadline = tu_now_ms() + 3000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (tu_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close_pair(sv);
			fail_msg("recv/send on a blocking socket ignored the timeout (hung)");
		}
		poll(NULL, 0, 10);
	}
	close_pair(sv);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s on a blocking socket did not return -ETIMEDOUT",
			 WEXITSTATUS(status) == 1 ? "recv" : "send");
}

static void
test_check_reply(void **state)
{
	struct vu_vhost_msg msg;
	const char *why = "unset";

	(void)state;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_FEATURES, 8);
	msg.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 8, &why), 0);
	assert_null(why);
	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 8, NULL), 0);

	assert_int_equal(
		vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_PROTOCOL_FEATURES, 8, &why),
		-EPROTO);
	assert_string_equal(why, "reply to a different request");

	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 4, &why),
			 -EPROTO);
	assert_string_equal(why, "wrong payload size");

	msg.hdr.flags = VU_VHOST_USER_VERSION;
	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 8, &why),
			 -EPROTO);
	assert_string_equal(why, "reply flag not set");
	/* NEED_REPLY is not REPLY. */
	msg.hdr.flags = VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY;
	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 8, NULL),
			 -EPROTO);

	msg.hdr.flags = VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_REPLY;
	msg.fds[0] = -1;
	msg.nfds = 1;
	assert_int_equal(vu_vhost_msg_check_reply(&msg, VU_VHOST_USER_GET_FEATURES, 8, &why),
			 -EPROTO);
	assert_string_equal(why, "unexpected file descriptors");
}

static void
mem_msg(struct vu_vhost_msg *msg, uint32_t nregions, uint32_t size, unsigned int nfds)
{
	vu_vhost_msg_init(msg, VU_VHOST_USER_SET_MEM_TABLE, size);
	msg->payload.memory.nregions = nregions;
	for (unsigned int i = 0; i < nfds; i++)
		msg->fds[i] = -1;
	msg->nfds = nfds;
}

static void
test_check_mem_table(void **state)
{
	struct vu_vhost_msg msg;
	const char *why = "unset";

	(void)state;
	for (uint32_t n = 1; n <= VU_VHOST_USER_MAX_REGIONS; n++) {
		mem_msg(&msg, n, 8 + n * 32, n);
		assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), 0);
		assert_null(why);
	}

	mem_msg(&msg, 1, 4, 1);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), -EPROTO);
	assert_string_equal(why, "payload shorter than the region count");

	mem_msg(&msg, 0, 8, 0);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), -EPROTO);
	assert_string_equal(why, "region count out of range");

	mem_msg(&msg, 9, 8 + 8 * 32, 8);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), -EPROTO);
	assert_string_equal(why, "region count out of range");

	/* A count that would wrap a 32-bit size computation. */
	mem_msg(&msg, 0x08000001u, 8 + 32, 1);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, NULL), -EPROTO);

	mem_msg(&msg, 2, 8 + 32, 2);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), -EPROTO);
	assert_string_equal(why, "payload size does not match the region count");
	mem_msg(&msg, 1, 8 + 2 * 32, 1);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, NULL), -EPROTO);

	mem_msg(&msg, 2, 8 + 2 * 32, 1);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, &why), -EPROTO);
	assert_string_equal(why, "fd count does not match the region count");
	mem_msg(&msg, 2, 8 + 2 * 32, 3);
	assert_int_equal(vu_vhost_msg_check_mem_table(&msg, NULL), -EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_sizes),
		cmocka_unit_test(test_request_names),
		cmocka_unit_test(test_struct_layout),
		cmocka_unit_test(test_msg_init),
		cmocka_unit_test(test_encode_no_payload),
		cmocka_unit_test(test_encode_u64),
		cmocka_unit_test(test_encode_vring_state),
		cmocka_unit_test(test_encode_vring_addr),
		cmocka_unit_test(test_encode_mem_table),
		cmocka_unit_test(test_send_rejects_bad_msg),
		cmocka_unit_test(test_send_peer_gone),
		cmocka_unit_test(test_send_timeout),
		cmocka_unit_test(test_recv_roundtrip),
		cmocka_unit_test(test_recv_keeps_framing),
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_close_fds),
		cmocka_unit_test(test_recv_short_then_close),
		cmocka_unit_test(test_recv_eof),
		cmocka_unit_test(test_recv_size_exceeds_payload),
		cmocka_unit_test(test_recv_bad_version),
		cmocka_unit_test(test_recv_too_many_fds),
		cmocka_unit_test(test_recv_max_fds),
		cmocka_unit_test(test_recv_timeout),
		cmocka_unit_test(test_recv_split_writes),
		cmocka_unit_test(test_recv_deadline_covers_message),
		cmocka_unit_test(test_recv_timeout_blocking_socket),
		cmocka_unit_test(test_check_reply),
		cmocka_unit_test(test_check_mem_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
