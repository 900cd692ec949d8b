/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the vhost-user message layer and the frontend's reply handling, fed a byte stream. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_vhost_user_msg.h"

/*
 * The input is what a backend writes on the socket: messages back to back. The first byte
 * picks how the bytes arrive (one write, or split in small writes), the rest is the
 * stream. Every message is received and run through the checks the frontend applies to
 * replies and to a SET_MEM_TABLE; nothing may crash, leak an fd, or read past the message.
 */
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

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		int size = vu_vhost_request_payload_size(requests[i]);

		vu_vhost_msg_check_reply(msg, requests[i], (uint32_t)size, &why);
	}
	vu_vhost_msg_check_reply(msg, msg->hdr.request, msg->hdr.size, &why);
	vu_vhost_msg_check_mem_table(msg, &why);
	(void)vu_vhost_request_name(msg->hdr.request);
	(void)vu_vhost_request_payload_size(msg->hdr.request);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	size_t chunk;

	/* Messages are at most a few hundred bytes: larger inputs only cost time. */
	if (size < 1 || size > 4096)
		return 0;
	chunk = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : size;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* Write, then read back. Non-blocking: many one-byte writes fill the socket's buffer
	 * accounting (each is a buffer of its own) long before 4 KiB; the stream is then cut
	 * short, which the reader must survive too. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t w = write(sv[1], data + off, n);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(sv[1]);
	for (int i = 0; i < 256; i++) {
		struct vu_vhost_msg msg;
		int rc = vu_vhost_msg_recv(sv[0], &msg, 0);

		if (rc < 0)
			break;
		vu_fuzz_checks(&msg);
		vu_vhost_msg_close_fds(&msg);
	}
	close(sv[0]);
	return 0;
}
