/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user message framing over a stream socket, fd passing and reply validation. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vu_vhost_user_msg.h"

static const char *const vu_vhost_request_names[VU_VHOST_USER_REQUEST_MAX] = {
	[VU_VHOST_USER_NONE] = "NONE",
	[VU_VHOST_USER_GET_FEATURES] = "GET_FEATURES",
	[VU_VHOST_USER_SET_FEATURES] = "SET_FEATURES",
	[VU_VHOST_USER_SET_OWNER] = "SET_OWNER",
	[VU_VHOST_USER_RESET_OWNER] = "RESET_OWNER",
	[VU_VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
	[VU_VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_VHOST_USER_SEND_RARP] = "SEND_RARP",
	[VU_VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
	[VU_VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VU_VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
	[VU_VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	[VU_VHOST_USER_SET_CONFIG] = "SET_CONFIG",
	[VU_VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VU_VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VU_VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
	[VU_VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VU_VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
	[VU_VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
	[VU_VHOST_USER_SET_STATUS] = "SET_STATUS",
	[VU_VHOST_USER_GET_STATUS] = "GET_STATUS",
};

static const char *const vu_vhost_backend_request_names[VU_VHOST_USER_BACKEND_REQUEST_MAX] = {
	[VU_VHOST_USER_BACKEND_NONE] = "NONE",
	[VU_VHOST_USER_BACKEND_IOTLB_MSG] = "IOTLB_MSG",
	[VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG] = "CONFIG_CHANGE_MSG",
	[VU_VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG] = "VRING_HOST_NOTIFIER_MSG",
};

const char *
vu_vhost_request_name(uint32_t request)
{
	if (request < VU_VHOST_USER_REQUEST_MAX && vu_vhost_request_names[request])
		return vu_vhost_request_names[request];
	return "UNKNOWN";
}

const char *
vu_vhost_backend_request_name(uint32_t request)
{
	if (request < VU_VHOST_USER_BACKEND_REQUEST_MAX && vu_vhost_backend_request_names[request])
		return vu_vhost_backend_request_names[request];
	return "UNKNOWN";
}

int
vu_vhost_request_payload_size(uint32_t request)
{
	switch (request) {
	case VU_VHOST_USER_SET_OWNER:
	case VU_VHOST_USER_RESET_OWNER:
	case VU_VHOST_USER_SET_BACKEND_REQ_FD:
	case VU_VHOST_USER_RESET_DEVICE:
		return 0;
	case VU_VHOST_USER_GET_FEATURES:
	case VU_VHOST_USER_SET_FEATURES:
	case VU_VHOST_USER_GET_PROTOCOL_FEATURES:
	case VU_VHOST_USER_SET_PROTOCOL_FEATURES:
	case VU_VHOST_USER_GET_QUEUE_NUM:
	case VU_VHOST_USER_SET_VRING_KICK:
	case VU_VHOST_USER_SET_VRING_CALL:
	case VU_VHOST_USER_SET_VRING_ERR:
	case VU_VHOST_USER_SET_LOG_FD:
	case VU_VHOST_USER_NET_SET_MTU:
	case VU_VHOST_USER_SET_STATUS:
	case VU_VHOST_USER_GET_STATUS:
	case VU_VHOST_USER_GET_MAX_MEM_SLOTS:
		return sizeof(uint64_t);
	case VU_VHOST_USER_SET_VRING_NUM:
	case VU_VHOST_USER_SET_VRING_BASE:
	case VU_VHOST_USER_GET_VRING_BASE:
	case VU_VHOST_USER_SET_VRING_ENABLE:
		return sizeof(struct vu_vhost_vring_state);
	case VU_VHOST_USER_GET_INFLIGHT_FD:
	case VU_VHOST_USER_SET_INFLIGHT_FD:
		return sizeof(struct vu_vhost_inflight);
	case VU_VHOST_USER_SET_VRING_ADDR:
		return sizeof(struct vu_vhost_vring_addr);
	case VU_VHOST_USER_ADD_MEM_REG:
	case VU_VHOST_USER_REM_MEM_REG:
		return sizeof(struct vu_vhost_mem_reg);
	case VU_VHOST_USER_IOTLB_MSG:
		return sizeof(struct vu_vhost_iotlb_msg);
	default:
		return -1;
	}
}

void
vu_vhost_msg_init(struct vu_vhost_msg *msg, uint32_t request, uint32_t size)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.request = request;
	msg->hdr.flags = VU_VHOST_USER_VERSION;
	msg->hdr.size = size;
}

void
vu_vhost_msg_close_fds(struct vu_vhost_msg *msg)
{
	for (unsigned int i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

int64_t
vu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until sock is ready for `events` or the deadline passes. */
static int
vu_wait(int sock, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = events };
		int64_t left = deadline - vu_now_ms();
		int rc;

		if (left < 0)
			left = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0) {
			/* Let the read or write report the exact error. */
			return 0;
		}
		if (rc == 0)
			return -ETIMEDOUT;
		/* Interrupted, or EAGAIN, which POSIX allows for kernel memory short for a
		 * moment: wait again for what is left of the timeout, never past it. */
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
		if (left == 0)
			return -ETIMEDOUT;
	}
}

int
vu_vhost_msg_send(int sock, const struct vu_vhost_msg *msg, int timeout_ms)
{
	uint8_t buf[sizeof(msg->hdr) + sizeof(msg->payload)];
	size_t total = sizeof(msg->hdr) + msg->hdr.size;
	size_t sent = 0;
	int64_t deadline = vu_now_ms() + timeout_ms;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VU_VHOST_USER_MAX_FDS)];
	} control;

	if (msg->hdr.size > sizeof(msg->payload) || msg->nfds > VU_VHOST_USER_MAX_FDS)
		return -EINVAL;
	/* On the wire the payload follows the header without the struct's padding. */
	memcpy(buf, &msg->hdr, sizeof(msg->hdr));
	memcpy(buf + sizeof(msg->hdr), &msg->payload, msg->hdr.size);

	while (sent < total) {
		struct iovec iov = { .iov_base = (void *)(buf + sent), .iov_len = total - sent };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		/* The fds ride with the first byte of the message. */
		if (sent == 0 && msg->nfds > 0) {
			size_t fdlen = sizeof(int) * msg->nfds;
			struct cmsghdr *cm;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(fdlen);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(fdlen);
			memcpy(CMSG_DATA(cm), msg->fds, fdlen);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = vu_wait(sock, POLLOUT, deadline);

			if (rc < 0)
				return rc;
			continue;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* Take the fds of one recvmsg into msg; false when there were more than fit. */
static bool
vu_collect_fds(struct msghdr *mh, struct vu_vhost_msg *msg)
{
	bool fit = !(mh->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		/* Every fd the kernel installed is ours to keep or close: none may leak. */
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (msg->nfds < VU_VHOST_USER_MAX_FDS) {
				msg->fds[msg->nfds++] = fd;
			} else {
				close(fd);
				fit = false;
			}
		}
	}
	return fit;
}

/* Read exactly len bytes into buf before the deadline, collecting fds. */
static int
vu_recv_exact(int sock, void *buf, size_t len, struct vu_vhost_msg *msg, int64_t deadline,
	      bool *fds_fit)
{
	size_t got = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * (VU_VHOST_USER_MAX_FDS + 1))];
	} control;

	while (got < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + got, .iov_len = len - got };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

		if (n > 0) {
			if (!vu_collect_fds(&mh, msg))
				*fds_fit = false;
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = vu_wait(sock, POLLIN, deadline);

			if (rc < 0)
				return rc;
			continue;
		}
		return -errno;
	}
	return 0;
}

int
vu_vhost_msg_recv(int sock, struct vu_vhost_msg *msg, int timeout_ms)
{
	int64_t deadline = vu_now_ms() + timeout_ms;
	bool fds_fit = true;
	int rc;

	memset(msg, 0, sizeof(*msg));
	rc = vu_recv_exact(sock, &msg->hdr, sizeof(msg->hdr), msg, deadline, &fds_fit);
	if (rc < 0)
		goto fail;
	if ((msg->hdr.flags & VU_VHOST_USER_VERSION_MASK) != VU_VHOST_USER_VERSION ||
	    msg->hdr.size > sizeof(msg->payload)) {
		/* Framing is lost: the stream cannot be trusted any more. */
		rc = -EPROTO;
		goto fail;
	}
	rc = vu_recv_exact(sock, &msg->payload, msg->hdr.size, msg, deadline, &fds_fit);
	if (rc < 0)
		goto fail;
	if (!fds_fit) {
		rc = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	vu_vhost_msg_close_fds(msg);
	return rc;
}

int
vu_vhost_msg_check_reply(const struct vu_vhost_msg *msg, uint32_t request, uint32_t size,
			 const char **why)
{
	const char *problem = NULL;

	if (msg->hdr.request != request)
		problem = "reply to a different request";
	else if (!(msg->hdr.flags & VU_VHOST_USER_FLAG_REPLY))
		problem = "reply flag not set";
	else if (msg->hdr.size != size)
		problem = "wrong payload size";
	else if (msg->nfds != 0)
		problem = "unexpected file descriptors";
	if (why)
		*why = problem;
	return problem ? -EPROTO : 0;
}

int
vu_vhost_msg_check_mem_table(const struct vu_vhost_msg *msg, const char **why)
{
	const struct vu_vhost_memory *mem = &msg->payload.memory;
	const size_t fixed = offsetof(struct vu_vhost_memory, regions);
	const char *problem = NULL;

	if (msg->hdr.size < fixed)
		problem = "payload shorter than the region count";
	else if (mem->nregions == 0 || mem->nregions > VU_VHOST_USER_MAX_REGIONS)
		problem = "region count out of range";
	else if (msg->hdr.size != fixed + mem->nregions * sizeof(mem->regions[0]))
		problem = "payload size does not match the region count";
	else if (msg->nfds != mem->nregions)
		problem = "fd count does not match the region count";
	if (why)
		*why = problem;
	return problem ? -EPROTO : 0;
}
