/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the vhost-user message layer and the frontend's reply handling, fed a byte stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vu_vhost_user_msg.h"

/*
 * The input is what a backend writes on the socket: messages back to back, some with file
 * descriptors. Byte 0 picks how the bytes arrive (one write, or split in small writes);
 * bytes 1 and 2 each attach fds to one write (SCM_RIGHTS): the low 4 bits say how many,
 * 0 to 15 (more than a message may carry included), the high 4 bits to which write; the
 * rest is the stream. Every message is received and run through the checks the frontend
 * applies to replies and to a SET_MEM_TABLE; nothing may crash or read past the message,
 * the fds of a message must be within the limit, close-on-exec, refused on a reply and
 * match a memory table's region count, and after the input the process must have exactly
 * the fds it had before: none received may be left open, whatever the stream held.
 */
#define FUZZ_SEND_FDS 15
#define FUZZ_FD_GROUPS 2
#define FUZZ_FD_WINDOW 256 /* fds checked for leaks: 0 .. FUZZ_FD_WINDOW-1 */

#define FUZZ_FAIL(...)                                           \
	do {                                                     \
		fprintf(stderr, "fuzz_vhost_msg: " __VA_ARGS__); \
		fprintf(stderr, "\n");                           \
		abort();                                         \
	} while (0)

static int send_fds[FUZZ_SEND_FDS];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (int i = 0; i < FUZZ_SEND_FDS; i++) {
		send_fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (send_fds[i] < 0)
			FUZZ_FAIL("open /dev/null: %s", strerror(errno));
	}
	return 0;
}

static void
fuzz_open_fds(bool *open_fds)
{
	for (int fd = 0; fd < FUZZ_FD_WINDOW; fd++)
		open_fds[fd] = fcntl(fd, F_GETFD) >= 0;
}

static void
vu_fuzz_checks(const struct vu_vhost_msg *msg)
{
	static const uint32_t requests[] = {
		VU_VHOST_USER_GET_FEATURES,
		VU_VHOST_USER_GET_PROTOCOL_FEATURES,
		VU_VHOST_USER_GET_QUEUE_NUM,
		VU_VHOST_USER_GET_VRING_BASE,
	};
	const char *why;

	if (msg->nfds > VU_VHOST_USER_MAX_FDS)
		FUZZ_FAIL("a message kept %u fds, at most %u allowed", msg->nfds,
			  VU_VHOST_USER_MAX_FDS);
	for (unsigned int i = 0; i < msg->nfds; i++)
		if (!(fcntl(msg->fds[i], F_GETFD) & FD_CLOEXEC))
			FUZZ_FAIL("received fd %d is not open with close-on-exec", msg->fds[i]);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		int size = vu_vhost_request_payload_size(requests[i]);

		vu_vhost_msg_check_reply(msg, requests[i], (uint32_t)size, &why);
	}
	/* A reply never carries fds (vhost-user spec). */
	if (vu_vhost_msg_check_reply(msg, msg->hdr.request, msg->hdr.size, &why) == 0 &&
	    msg->nfds != 0)
		FUZZ_FAIL("a reply with %u fds accepted", msg->nfds);
	if (vu_vhost_msg_check_mem_table(msg, &why) == 0 &&
	    msg->nfds != msg->payload.memory.nregions)
		FUZZ_FAIL("a memory table of %u regions accepted with %u fds",
			  msg->payload.memory.nregions, msg->nfds);
	(void)vu_vhost_request_name(msg->hdr.request);
	(void)vu_vhost_request_payload_size(msg->hdr.request);
}

/* Write n bytes, with nfds of our fds attached when nfds > 0. */
static ssize_t
fuzz_write(int sock, const uint8_t *buf, size_t n, unsigned int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FUZZ_SEND_FDS)];
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (nfds == 0)
		return write(sock, buf, n);
	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cm), send_fds, sizeof(int) * nfds);
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* Receive every message of the stream, check it, close its fds. */
static void
fuzz_read_all(int sock)
{
	for (int i = 0; i < 256; i++) {
		struct vu_vhost_msg msg;
		int rc = vu_vhost_msg_recv(sock, &msg, 0);

		if (rc < 0) {
			if (msg.nfds != 0)
				FUZZ_FAIL("a refused message (%s) still holds %u fds",
					  strerror(-rc), msg.nfds);
			break;
		}
		vu_fuzz_checks(&msg);
		vu_vhost_msg_close_fds(&msg);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool fds_before[FUZZ_FD_WINDOW], fds_after[FUZZ_FD_WINDOW];
	unsigned int fd_at[FUZZ_FD_GROUPS], fd_count[FUZZ_FD_GROUPS];
	int sv[2];
	size_t chunk;

	/* Messages are at most a few hundred bytes: larger inputs only cost time. */
	if (size < 1 + FUZZ_FD_GROUPS || size > 4096)
		return 0;
	chunk = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : size;
	for (int g = 0; g < FUZZ_FD_GROUPS; g++) {
		fd_count[g] = data[1 + g] & 0x0f;
		fd_at[g] = data[1 + g] >> 4;
	}
	data += 1 + FUZZ_FD_GROUPS;
	size -= 1 + FUZZ_FD_GROUPS;
	fuzz_open_fds(fds_before);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* Write, then read back. Non-blocking: many one-byte writes fill the socket's buffer
	 * accounting (each is a buffer of its own) long before 4 KiB; the stream is then cut
	 * short, which the reader must survive too. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (size_t off = 0, w = 0; off < size; w++) {
		size_t n = size - off < chunk ? size - off : chunk;
		unsigned int nfds = 0;
		ssize_t got;

		for (int g = 0; g < FUZZ_FD_GROUPS; g++)
			if (fd_at[g] == w)
				nfds += fd_count[g];
		got = fuzz_write(sv[1], data + off, n, nfds > FUZZ_SEND_FDS ? FUZZ_SEND_FDS : nfds);
		if (got <= 0)
			break;
		off += (size_t)got;
	}
	close(sv[1]);
	fuzz_read_all(sv[0]);
	/* The fds of messages never read go with the socket. */
	close(sv[0]);
	fuzz_open_fds(fds_after);
	for (int fd = 0; fd < FUZZ_FD_WINDOW; fd++)
		if (fds_after[fd] != fds_before[fd])
			FUZZ_FAIL("fd %d is %s after the input", fd,
				  fds_after[fd] ? "open" : "closed");
	return 0;
}
