/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend (client and server mode): the backend ops over an AF_UNIX socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_backend.h"
#include "vu_iotlb.h"
#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_virtio.h"

/* Protocol features we use when the backend offers them. */
#define VU_VHOST_USER_WANTED_PROTOCOL_FEATURES                                                  \
	((1ull << VU_VHOST_USER_PROTOCOL_F_MQ) | (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_NET_MTU) |                                           \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ) |                                       \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIG) |                                            \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |                                    \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                                      \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                               \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_STATUS))

/* Largest inflight region taken from a backend: the packed layout of 16 rings of 32768
 * entries fits well below it. */
#define VU_VHOST_USER_INFLIGHT_MAX (64ull << 20)

/* IOTLB mode (iotlb=1) has no protocol feature of its own: VIRTIO_F_ACCESS_PLATFORM turns
 * it on, and the spec wants BACKEND_REQ (the channel misses come on) and REPLY_ACK with it
 * ("... REPLY_ACK and BACKEND_REQ protocol features must be negotiated"). */
#define VU_VHOST_USER_IOTLB_PROTOCOL_FEATURES           \
	((1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ))

/* REPLY_ACK status the frontend answers a backend request it does not take with. */
#define VU_VHOST_USER_REFUSED 1u

struct vu_backend {
	int sock;      /* the connection, -1 while there is none */
	int listen_fd; /* server mode: the listening socket */
	bool server;
	dev_t sock_dev; /* server mode: the socket file we created, so that */
	ino_t sock_ino; /* close removes it only if it is still ours */
	unsigned int timeout_ms;
	uint64_t features;	    /* as offered by GET_FEATURES */
	uint64_t acked_features;    /* as sent by SET_FEATURES */
	uint64_t protocol_features; /* negotiated */
	uint32_t max_queue_pairs;
	/* Our end of the backend channel (SET_BACKEND_REQ_FD), -1 without one. */
	int channel;
	/* Backend request types already logged as refused: each is said once. */
	uint64_t refused_logged;
	bool config_changed; /* a CONFIG_CHANGE_MSG came since handle_event last said so */
	/* The inflight region a backend gave (GET_INFLIGHT_FD): kept across connections so
	 * that the next backend gets it (SET_INFLIGHT_FD). fd -1: none. */
	struct {
		int fd;
		void *addr;
		uint64_t size;
		uint64_t offset;
		uint16_t num_queues;
		uint16_t queue_size;
		bool shared; /* the current connection has it */
	} inflight;
	/* CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS capped at what a table holds (0 without),
	 * and the regions the backend has mapped, from ADD_MEM_REG less REM_MEM_REG. */
	uint32_t mem_slots;
	struct vu_mem_table sent;
	/* IOTLB mode: the ranges the device may touch (iova == our address), kept across
	 * connections; sent once the backend has a memory table to resolve them in. */
	bool iotlb;
	bool mem_sent;
	uint64_t iotlb_refused; /* misses the table did not cover */
	struct vu_iotlb allowed;
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void vu_vhost_drop(struct vu_backend *b);

static bool
vu_has_protocol_feature(const struct vu_backend *b, unsigned int bit)
{
	return b->protocol_features & (1ull << bit);
}

/* Send one request; when the backend acks (REPLY_ACK) and the request has no reply of its
 * own, wait for the ack. fds are only borrowed. */
static int
vu_vhost_request(struct vu_backend *b, struct vu_vhost_msg *msg, bool has_reply)
{
	const char *req = vu_vhost_request_name(msg->hdr.request);
	bool want_ack =
		!has_reply && vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK);
	struct vu_vhost_msg ack;
	const char *why;
	int rc;

	if (b->sock < 0) {
		VU_ERR("%s: %s: not connected to %s", b->name, req, b->path);
		return -ENOTCONN;
	}
	if (want_ack)
		msg->hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	/* A request half sent, or whose answer is late or garbled, leaves the stream out of
	 * step (a late ack would pass for the next request's): the connection is dropped. */
	rc = vu_vhost_msg_send(b->sock, msg, (int)b->timeout_ms);
	if (rc < 0) {
		VU_ERR("%s: %s: send to %s failed: %s", b->name, req, b->path, strerror(-rc));
		vu_vhost_drop(b);
		return rc;
	}
	if (!want_ack)
		return 0;
	rc = vu_vhost_msg_recv(b->sock, &ack, (int)b->timeout_ms);
	if (rc < 0) {
		VU_ERR("%s: %s: no ack from %s: %s", b->name, req, b->path, strerror(-rc));
		vu_vhost_drop(b);
		return rc;
	}
	rc = vu_vhost_msg_check_reply(&ack, msg->hdr.request, sizeof(uint64_t), &why);
	if (rc < 0) {
		VU_ERR("%s: %s: bad ack from %s: %s", b->name, req, b->path, why);
		vu_vhost_msg_close_fds(&ack);
		vu_vhost_drop(b);
		return rc;
	}
	if (ack.payload.u64 != 0) {
		VU_ERR("%s: %s: backend %s refused (status %llu)", b->name, req, b->path,
		       (unsigned long long)ack.payload.u64);
		return -EIO;
	}
	return 0;
}

/* Receive and validate the reply to a request sent with has_reply. */
static int
vu_vhost_reply(struct vu_backend *b, uint32_t request, uint32_t size, struct vu_vhost_msg *reply)
{
	const char *req = vu_vhost_request_name(request);
	const char *why;
	int rc;

	rc = vu_vhost_msg_recv(b->sock, reply, (int)b->timeout_ms);
	if (rc < 0) {
		VU_ERR("%s: %s: no reply from %s: %s", b->name, req, b->path,
		       rc == -EPROTO ? "malformed message" : strerror(-rc));
		vu_vhost_drop(b);
		return rc;
	}
	rc = vu_vhost_msg_check_reply(reply, request, size, &why);
	if (rc < 0) {
		VU_ERR("%s: %s: bad reply from %s: %s (request %u, size %u, flags 0x%x)", b->name,
		       req, b->path, why, reply->hdr.request, reply->hdr.size, reply->hdr.flags);
		vu_vhost_msg_close_fds(reply);
		vu_vhost_drop(b);
	}
	return rc;
}

static int
vu_vhost_get_u64(struct vu_backend *b, uint32_t request, uint64_t *value)
{
	struct vu_vhost_msg msg;
	int rc;

	vu_vhost_msg_init(&msg, request, 0);
	rc = vu_vhost_request(b, &msg, true);
	if (rc == 0)
		rc = vu_vhost_reply(b, request, sizeof(uint64_t), &msg);
	if (rc == 0)
		*value = msg.payload.u64;
	return rc;
}

static int
vu_vhost_set_u64(struct vu_backend *b, uint32_t request, uint64_t value)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(uint64_t));
	msg.payload.u64 = value;
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_set_state(struct vu_backend *b, uint32_t request, uint32_t idx, uint32_t num)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(struct vu_vhost_vring_state));
	msg.payload.state.index = idx;
	msg.payload.state.num = num;
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_no_payload(struct vu_backend *b, uint32_t request)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, 0);
	return vu_vhost_request(b, &msg, false);
}

/* SET_BACKEND_REQ_FD: "the back-end can send requests to the front-end" on a socket the
 * frontend creates and passes. A backend that refuses it (its ack says so) goes on
 * without the channel; any other failure is the connection's. */
static int
vu_vhost_open_channel(struct vu_backend *b)
{
	struct vu_vhost_msg msg;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		rc = -errno;
		VU_ERR("%s: socketpair for the backend channel: %s", b->name, strerror(-rc));
		return rc;
	}
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_BACKEND_REQ_FD, 0);
	msg.fds[0] = sv[1];
	msg.nfds = 1;
	rc = vu_vhost_request(b, &msg, false);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		if (rc == -EIO && b->sock >= 0) {
			VU_WARN("%s: backend %s refused the backend channel, going on without it",
				b->name, b->path);
			b->protocol_features &= ~(1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ);
			return 0;
		}
		return rc;
	}
	b->channel = sv[0];
	return 0;
}

static void
vu_vhost_close_channel(struct vu_backend *b)
{
	if (b->channel >= 0)
		close(b->channel);
	b->channel = -1;
	b->refused_logged = 0;
	b->config_changed = false;
}

/* Connect without ever blocking longer than the timeout (a full backlog blocks connect). */
static int
vu_vhost_connect(struct vu_backend *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = vu_now_ms() + b->timeout_ms;
	struct stat st;
	int fd;

	if (stat(b->path, &st) < 0) {
		int err = errno;

		/* Nothing there picks vhost-user (vu_backend.c): say what else it could be. */
		VU_ERR("%s: vhost-user socket %s: %s%s", b->name, b->path, strerror(err),
		       err == ENOENT ? " (no backend listens there: start it first, or server=1 "
				       "to listen; a vhost-net node needs modprobe vhost_net)" :
				       "");
		return -err;
	}
	if (S_ISDIR(st.st_mode)) {
		VU_ERR("%s: %s is a directory, not a vhost-user UNIX socket", b->name, b->path);
		return -EISDIR;
	}
	if (!S_ISSOCK(st.st_mode)) {
		VU_ERR("%s: %s is not a UNIX socket", b->name, b->path);
		return -ENOTSOCK;
	}
	memcpy(sa.sun_path, b->path, strlen(b->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int err = errno;

		VU_ERR("%s: socket(): %s", b->name, strerror(err));
		return -err;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if ((err == EAGAIN || err == EINTR) && vu_now_ms() < deadline) {
			poll(NULL, 0, 10);
			continue;
		}
		if (err == ECONNREFUSED)
			VU_ERR("%s: no vhost-user backend listening on %s (connection refused)",
			       b->name, b->path);
		else
			VU_ERR("%s: connect to vhost-user socket %s: %s", b->name, b->path,
			       strerror(err == EAGAIN ? ETIMEDOUT : err));
		close(fd);
		return -(err == EAGAIN ? ETIMEDOUT : err);
	}
	b->sock = fd;
	return 0;
}

/* GET_MAX_MEM_SLOTS: "the maximum number of memory slots" the backend maps. Fewer than
 * SET_MEM_TABLE's 8 would make the feature a loss; more than a table holds are not
 * used. */
static int
vu_vhost_get_mem_slots(struct vu_backend *b)
{
	uint64_t slots;
	int rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_MAX_MEM_SLOTS, &slots);

	if (rc < 0)
		return rc;
	if (slots < VU_VHOST_USER_MAX_REGIONS) {
		VU_ERR("%s: GET_MAX_MEM_SLOTS: backend %s reports %llu memory slots, fewer than "
		       "the %u of SET_MEM_TABLE",
		       b->name, b->path, (unsigned long long)slots, VU_VHOST_USER_MAX_REGIONS);
		return -EPROTO;
	}
	b->mem_slots = slots < VU_MEM_MAX_SLOTS ? (uint32_t)slots : VU_MEM_MAX_SLOTS;
	b->sent.nregions = 0;
	return 0;
}

/* iotlb=1 needs ACCESS_PLATFORM and the REPLY_ACK and BACKEND_REQ protocol features: a
 * backend without one would read our whole memory table, which is what iotlb=1 says not
 * to allow, so it is refused rather than used without. */
static int
vu_vhost_check_iotlb(struct vu_backend *b)
{
	const char *missing = NULL;

	if (!b->iotlb)
		return 0;
	if (!(b->features & (1ull << VU_F_ACCESS_PLATFORM)))
		missing = "VIRTIO_F_ACCESS_PLATFORM (feature bit 33)";
	else if (!(b->features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		missing = "VHOST_USER_F_PROTOCOL_FEATURES (feature bit 30)";
	else if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))
		missing = "VHOST_USER_PROTOCOL_F_REPLY_ACK (protocol feature bit 3)";
	else if (b->channel < 0)
		missing = "VHOST_USER_PROTOCOL_F_BACKEND_REQ (protocol feature bit 5) and its "
			  "channel";
	if (!missing)
		return 0;
	VU_ERR("%s: iotlb=1: backend %s does not offer %s; refusing it (no fallback to a "
	       "whole-memory table)",
	       b->name, b->path, missing);
	return -ENOTSUP;
}

/* Connection set-up: SET_OWNER, features, protocol features, queue count. */
static int
vu_vhost_handshake(struct vu_backend *b)
{
	uint64_t wanted = VU_VHOST_USER_WANTED_PROTOCOL_FEATURES |
		(b->iotlb ? VU_VHOST_USER_IOTLB_PROTOCOL_FEATURES : 0);
	int rc;

	rc = vu_vhost_no_payload(b, VU_VHOST_USER_SET_OWNER);
	if (rc == 0)
		rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_FEATURES, &b->features);
	if (rc < 0)
		return rc;
	b->max_queue_pairs = 1;
	if (!(b->features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		return vu_vhost_check_iotlb(b);

	uint64_t offered;

	rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_PROTOCOL_FEATURES, &offered);
	if (rc < 0)
		return rc;
	/* Set only after the SET is sent: the SET itself is not acked. */
	rc = vu_vhost_set_u64(b, VU_VHOST_USER_SET_PROTOCOL_FEATURES, offered & wanted);
	if (rc < 0)
		return rc;
	b->protocol_features = offered & wanted;
	if (vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_MQ)) {
		uint64_t num;

		rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_QUEUE_NUM, &num);
		if (rc < 0)
			return rc;
		if (num == 0 || num > VU_NET_CTRL_MQ_VQ_PAIRS_MAX) {
			VU_ERR("%s: GET_QUEUE_NUM: backend %s reports %llu queue pairs", b->name,
			       b->path, (unsigned long long)num);
			return -EPROTO;
		}
		b->max_queue_pairs = (uint32_t)num;
	}
	if (vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		rc = vu_vhost_get_mem_slots(b);
		if (rc < 0)
			return rc;
	}
	if (vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ)) {
		rc = vu_vhost_open_channel(b);
		if (rc < 0)
			return rc;
	}
	rc = vu_vhost_check_iotlb(b);
	if (rc < 0)
		return rc;
	VU_INFO("%s: vhost-user %s: features 0x%llx protocol features 0x%llx (offered 0x%llx), "
		"%u queue pairs, %u memory slots",
		b->name, b->path, (unsigned long long)b->features,
		(unsigned long long)b->protocol_features, (unsigned long long)offered,
		b->max_queue_pairs, b->mem_slots ? b->mem_slots : VU_VHOST_USER_MAX_REGIONS);
	return 0;
}

/* Forget the connection and what was negotiated over it. */
static void
vu_vhost_drop(struct vu_backend *b)
{
	if (b->sock >= 0) {
		char buf[4096];

		/* Closing a UNIX socket with unread data resets the peer's side; discard what
		 * is pending (bounded) so that it reads a clean end of stream instead. */
		for (int i = 0; i < 64 && recv(b->sock, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
			;
		close(b->sock);
	}
	b->sock = -1;
	vu_vhost_close_channel(b);
	b->features = 0;
	b->acked_features = 0;
	b->protocol_features = 0;
	b->max_queue_pairs = 0;
	b->inflight.shared = false;
	b->mem_slots = 0;
	b->sent.nregions = 0;
	b->mem_sent = false;
}

/* Is someone listening on the socket file at path? A stale file refuses the connection. */
static bool
vu_vhost_path_in_use(const struct vu_backend *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool in_use;

	if (fd < 0)
		return false;
	memcpy(sa.sun_path, b->path, strlen(b->path) + 1);
	/* Non-blocking: a full backlog (EAGAIN) also means a live listener. */
	in_use = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
	close(fd);
	return in_use;
}

/* Server mode: listen on path. A socket file left by a process that is gone is replaced;
 * anything else at path (a live listener, a file, a directory) is refused. */
static int
vu_vhost_listen(struct vu_backend *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (lstat(b->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			VU_ERR("%s: server mode: %s exists and is not a UNIX socket, not replacing it",
			       b->name, b->path);
			return -EEXIST;
		}
		if (vu_vhost_path_in_use(b)) {
			VU_ERR("%s: server mode: another process is listening on %s", b->name,
			       b->path);
			return -EADDRINUSE;
		}
		if (unlink(b->path) < 0 && errno != ENOENT) {
			err = errno;
			VU_ERR("%s: server mode: cannot remove the stale socket %s: %s", b->name,
			       b->path, strerror(err));
			return -err;
		}
	}
	memcpy(sa.sun_path, b->path, strlen(b->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = errno;
		VU_ERR("%s: socket(): %s", b->name, strerror(err));
		return -err;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		VU_ERR("%s: server mode: cannot listen on %s: %s", b->name, b->path, strerror(err));
		close(fd);
		return -err;
	}
	/* The file is ours from here: every failure removes it. */
	if (lstat(b->path, &st) < 0 || listen(fd, 1) < 0) {
		err = errno;
		VU_ERR("%s: server mode: cannot listen on %s: %s", b->name, b->path, strerror(err));
		close(fd);
		unlink(b->path);
		return -err;
	}
	b->listen_fd = fd;
	b->sock_dev = st.st_dev;
	b->sock_ino = st.st_ino;
	VU_INFO("%s: vhost-user server listening on %s", b->name, b->path);
	return 0;
}

static void vu_vhost_inflight_release(struct vu_backend *b);

static void
vu_vhost_close(struct vu_backend *b)
{
	if (!b)
		return;
	vu_vhost_inflight_release(b);
	if (b->sock >= 0)
		close(b->sock);
	vu_vhost_close_channel(b);
	if (b->listen_fd >= 0) {
		struct stat st;

		close(b->listen_fd);
		if (lstat(b->path, &st) == 0 && st.st_dev == b->sock_dev &&
		    st.st_ino == b->sock_ino)
			unlink(b->path);
	}
	free(b);
}

static int
vu_vhost_open(const struct vu_backend_params *params, struct vu_backend **out)
{
	struct vu_backend *b;
	int rc;

	if (strlen(params->path) >= sizeof(b->path)) {
		VU_ERR("%s: socket path is %zu bytes, longer than a UNIX socket allows (%zu): %s",
		       params->name, strlen(params->path), sizeof(b->path) - 1, params->path);
		return -ENAMETOOLONG;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->sock = -1;
	b->listen_fd = -1;
	b->channel = -1;
	b->inflight.fd = -1;
	b->server = params->server;
	b->iotlb = params->iotlb;
	vu_iotlb_init(&b->allowed);
	b->timeout_ms = params->timeout_ms;
	snprintf(b->name, sizeof(b->name), "%s", params->name);
	memcpy(b->path, params->path, strlen(params->path) + 1);

	if (b->server) {
		/* No connection yet: the backend connects when it comes up. */
		rc = vu_vhost_listen(b);
	} else {
		rc = vu_vhost_connect(b);
		if (rc == 0)
			rc = vu_vhost_handshake(b);
	}
	if (rc < 0) {
		vu_vhost_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

static int
vu_vhost_get_features(struct vu_backend *b, uint64_t *features)
{
	*features = b->features & ~(1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES);
	return 0;
}

static int
vu_vhost_get_max_queue_pairs(struct vu_backend *b, uint32_t *pairs)
{
	*pairs = b->max_queue_pairs;
	return 0;
}

static int
vu_vhost_set_features(struct vu_backend *b, uint64_t features)
{
	int rc;

	/* VIRTIO_NET_F_MTU promises NET_SET_MTU, which needs NET_MTU: without it the backend
	 * would have the feature and no MTU (DPDK's vhost then reports an MTU of 0). */
	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_NET_MTU))
		features &= ~VU_BIT(VU_NET_F_MTU);
	/* Keep PROTOCOL_FEATURES: with it, rings start disabled until SET_VRING_ENABLE. */
	features |= b->features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES);
	/* IOTLB mode is ours, not the driver's: ring and buffer addresses become IOVAs
	 * (equal to our addresses) that the backend translates through the IOTLB. */
	if (b->iotlb)
		features |= 1ull << VU_F_ACCESS_PLATFORM;
	rc = vu_vhost_set_u64(b, VU_VHOST_USER_SET_FEATURES, features);
	b->acked_features = rc == 0 ? features : 0;
	return rc;
}

/* "This request should be sent only when VIRTIO_NET_F_MTU feature has been successfully
 * negotiated, VHOST_USER_F_PROTOCOL_FEATURES is present in VHOST_USER_GET_FEATURES and
 * protocol feature bit VHOST_USER_PROTOCOL_F_NET_MTU is present" (vhost-user spec). With
 * REPLY_ACK the backend says whether it takes the value. */
static int
vu_vhost_net_set_mtu(struct vu_backend *b, uint32_t mtu)
{
	if (!(b->acked_features & VU_BIT(VU_NET_F_MTU)) ||
	    !vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_NET_MTU))
		return -EOPNOTSUPP;
	return vu_vhost_set_u64(b, VU_VHOST_USER_NET_SET_MTU, mtu);
}

/* ---- CONFIGURE_MEM_SLOTS: the table as ADD_MEM_REG and REM_MEM_REG ---- */

static bool
vu_region_overlap(const struct vu_mem_region *a, const struct vu_mem_region *b)
{
	return a->addr < b->addr + b->len && b->addr < a->addr + a->len;
}

/* The same file at the same offsets for the addresses both have. */
static bool
vu_region_same_map(const struct vu_mem_region *a, const struct vu_mem_region *b)
{
	return a->fd == b->fd && a->offset + b->addr == b->offset + a->addr;
}

/* A mapped region stays while it maps the file a new region has at its addresses and
 * maps no other region's: memory freed at its edges stays mapped until all of it is
 * gone, which costs the backend nothing and keeps a ring's region from going away. */
static bool
vu_slot_stays(const struct vu_mem_region *s, const struct vu_mem_table *mem)
{
	bool matched = false;

	for (uint32_t i = 0; i < mem->nregions; i++) {
		if (!vu_region_overlap(s, &mem->regions[i]))
			continue;
		if (!vu_region_same_map(s, &mem->regions[i]))
			return false;
		matched = true;
	}
	return matched;
}

static int
vu_vhost_mem_reg(struct vu_backend *b, uint32_t request, const struct vu_mem_region *r)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(struct vu_vhost_mem_reg));
	/* Descriptors carry process addresses, so "guest physical" == userspace. */
	msg.payload.mem_reg.region = (struct vu_vhost_mem_region){
		.guest_phys_addr = r->addr,
		.memory_size = r->len,
		.userspace_addr = r->addr,
		.mmap_offset = r->offset,
	};
	/* REM_MEM_REG: "No file descriptors SHOULD be passed". */
	if (request == VU_VHOST_USER_ADD_MEM_REG) {
		msg.fds[0] = r->fd;
		msg.nfds = 1;
	}
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_add_slot(struct vu_backend *b, const struct vu_mem_region *n, uint64_t start, uint64_t end)
{
	struct vu_mem_region piece = { .addr = start,
				       .len = end - start,
				       .fd = n->fd,
				       .offset = n->offset + (start - n->addr) };
	int rc;

	if (b->sent.nregions >= b->mem_slots) {
		VU_ERR("%s: ADD_MEM_REG: the memory needs more than the %u memory slots backend "
		       "%s has",
		       b->name, b->mem_slots, b->path);
		return -E2BIG;
	}
	rc = vu_vhost_mem_reg(b, VU_VHOST_USER_ADD_MEM_REG, &piece);
	if (rc == 0)
		b->sent.regions[b->sent.nregions++] = piece;
	return rc;
}

/* ADD_MEM_REG for the parts of n no mapped region covers. */
static int
vu_vhost_add_uncovered(struct vu_backend *b, const struct vu_mem_region *n)
{
	uint64_t cursor = n->addr, end = n->addr + n->len;
	uint32_t nsent = b->sent.nregions; /* what this call adds covers nothing else */

	while (cursor < end) {
		const struct vu_mem_region *first = NULL;
		struct vu_mem_region rest = { .addr = cursor, .len = end - cursor };

		for (uint32_t i = 0; i < nsent; i++)
			if (vu_region_overlap(&b->sent.regions[i], &rest) &&
			    (!first || b->sent.regions[i].addr < first->addr))
				first = &b->sent.regions[i];
		if (!first)
			return vu_vhost_add_slot(b, n, cursor, end);
		if (first->addr > cursor) {
			int rc = vu_vhost_add_slot(b, n, cursor, first->addr);

			if (rc < 0)
				return rc;
		}
		cursor = first->addr + first->len;
	}
	return 0;
}

/* The backend has what sent says: REM_MEM_REG what no longer stays, then ADD_MEM_REG
 * what is new, as QEMU does. A failure leaves sent true to what the backend took. */
static int
vu_vhost_update_slots(struct vu_backend *b, const struct vu_mem_table *mem)
{
	uint32_t i = 0;
	int rc;

	while (i < b->sent.nregions) {
		if (vu_slot_stays(&b->sent.regions[i], mem)) {
			i++;
			continue;
		}
		rc = vu_vhost_mem_reg(b, VU_VHOST_USER_REM_MEM_REG, &b->sent.regions[i]);
		if (rc < 0)
			return rc;
		b->sent.regions[i] = b->sent.regions[--b->sent.nregions];
	}
	for (i = 0; i < mem->nregions; i++) {
		rc = vu_vhost_add_uncovered(b, &mem->regions[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint32_t
vu_vhost_mem_slots(struct vu_backend *b)
{
	return b->mem_slots;
}

/* "Front-end sends such requests to update and invalidate entries in the device IOTLB
 * ... This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature has been
 * successfully negotiated." The ack is awaited where REPLY_ACK is negotiated. */
static int
vu_vhost_iotlb_send(struct vu_backend *b, uint8_t type, const struct vu_iotlb_entry *e)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_IOTLB_MSG, sizeof(struct vu_vhost_iotlb_msg));
	msg.payload.iotlb = (struct vu_vhost_iotlb_msg){
		.iova = e->iova,
		.size = e->size,
		.uaddr = e->uaddr,
		.perm = type == VU_VHOST_IOTLB_UPDATE ? e->perm : 0,
		.type = type,
	};
	return vu_vhost_request(b, &msg, false);
}

/* Every allowed range, to a backend that has our memory table. DPDK 22.11's vhost keeps an
 * IOTLB per ring and fills only the rings that exist, so this goes again before each
 * SET_VRING_ADDR; a range it still misses is answered on the backend channel. */
static int
vu_vhost_iotlb_flush(struct vu_backend *b, uint32_t idx)
{
	int rc = 0;

	if (!b->iotlb || !b->mem_sent || b->sock < 0)
		return 0;
	for (uint32_t i = 0; i < b->allowed.n && rc == 0; i++)
		rc = vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, &b->allowed.e[i]);
	if (rc == 0)
		VU_INFO("%s: IOTLB: %u ranges (rings and mempools) sent to %s for ring %u", b->name,
			b->allowed.n, b->path, idx);
	return rc;
}

static int
vu_vhost_iotlb_map(struct vu_backend *b, uint64_t iova, uint64_t len, uint8_t perm)
{
	int rc;

	if (!b->iotlb)
		return -EOPNOTSUPP;
	rc = vu_iotlb_insert(&b->allowed, iova, len, iova, perm);
	if (rc < 0) {
		VU_ERR("%s: IOTLB: cannot allow 0x%llx+0x%llx: %s", b->name,
		       (unsigned long long)iova, (unsigned long long)len, strerror(-rc));
		return rc;
	}
	if (!b->mem_sent || b->sock < 0)
		return 0;
	return vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, vu_iotlb_find(&b->allowed, iova));
}

/* Forget the allowed ranges overlapping [iova, iova + len) and have the backend drop them
 * (the memory goes away: a ring released, a port closed). */
static int
vu_vhost_iotlb_unmap(struct vu_backend *b, uint64_t iova, uint64_t len)
{
	uint32_t sent = 0;
	int rc = 0;

	if (!b->iotlb)
		return -EOPNOTSUPP;
	if (len == 0)
		return 0;
	for (uint32_t i = 0; i < b->allowed.n && rc == 0 && b->mem_sent && b->sock >= 0; i++) {
		const struct vu_iotlb_entry *e = &b->allowed.e[i];

		if (e->iova <= iova + (len - 1) && iova <= e->iova + (e->size - 1)) {
			rc = vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_INVALIDATE, e);
			sent += rc == 0;
		}
	}
	if (sent)
		VU_INFO("%s: IOTLB: %u ranges invalidated in %s", b->name, sent, b->path);
	vu_iotlb_remove(&b->allowed, iova, len);
	return rc;
}

static uint64_t
vu_vhost_iotlb_refused(struct vu_backend *b)
{
	return b->iotlb_refused;
}

static int
vu_vhost_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	struct vu_vhost_msg msg;
	int rc;

	if (b->mem_slots && b->sock >= 0) {
		rc = vu_vhost_update_slots(b, mem);
		b->mem_sent = rc == 0;
		return rc;
	}
	if (mem->nregions == 0 || mem->nregions > VU_VHOST_USER_MAX_REGIONS) {
		VU_ERR("%s: SET_MEM_TABLE: %u memory regions, vhost-user takes 1 to %u "
		       "(backend %s does not offer CONFIGURE_MEM_SLOTS)",
		       b->name, mem->nregions, VU_VHOST_USER_MAX_REGIONS, b->path);
		return -E2BIG;
	}
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_MEM_TABLE,
			  offsetof(struct vu_vhost_memory, regions) +
				  mem->nregions * sizeof(struct vu_vhost_mem_region));
	msg.payload.memory.nregions = mem->nregions;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->regions[i];

		/* Descriptors carry process addresses, so "guest physical" == userspace. */
		msg.payload.memory.regions[i] = (struct vu_vhost_mem_region){
			.guest_phys_addr = r->addr,
			.memory_size = r->len,
			.userspace_addr = r->addr,
			.mmap_offset = r->offset,
		};
		msg.fds[i] = r->fd;
	}
	msg.nfds = mem->nregions;
	rc = vu_vhost_request(b, &msg, false);
	/* A new table: "Flush IOTLB cache as previous HVAs are now invalid" (DPDK's vhost
	 * does): the ranges go again, with the next SET_VRING_ADDR. */
	b->mem_sent = rc == 0;
	return rc;
}

static int
vu_vhost_set_vring_num(struct vu_backend *b, uint32_t idx, uint32_t num)
{
	return vu_vhost_set_state(b, VU_VHOST_USER_SET_VRING_NUM, idx, num);
}

static int
vu_vhost_set_vring_base(struct vu_backend *b, uint32_t idx, uint32_t base)
{
	return vu_vhost_set_state(b, VU_VHOST_USER_SET_VRING_BASE, idx, base);
}

static int
vu_vhost_get_vring_base(struct vu_backend *b, uint32_t idx, uint32_t *base)
{
	struct vu_vhost_msg msg;
	int rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_VRING_BASE, sizeof(struct vu_vhost_vring_state));
	msg.payload.state.index = idx;
	rc = vu_vhost_request(b, &msg, true);
	if (rc == 0)
		rc = vu_vhost_reply(b, VU_VHOST_USER_GET_VRING_BASE,
				    sizeof(struct vu_vhost_vring_state), &msg);
	if (rc < 0)
		return rc;
	if (msg.payload.state.index != idx) {
		VU_ERR("%s: GET_VRING_BASE: backend %s answered for ring %u, asked %u", b->name,
		       b->path, msg.payload.state.index, idx);
		vu_vhost_drop(b);
		return -EPROTO;
	}
	*base = msg.payload.state.num;
	return 0;
}

static int
vu_vhost_set_vring_addr(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *addr)
{
	struct vu_vhost_msg msg;
	int rc;

	/* With ACCESS_PLATFORM "the ring addresses are IOVAs": ours, mapped first. */
	rc = vu_vhost_iotlb_flush(b, idx);
	if (rc < 0)
		return rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_VRING_ADDR, sizeof(struct vu_vhost_vring_addr));
	msg.payload.addr = (struct vu_vhost_vring_addr){
		.index = idx,
		.desc_user_addr = addr->desc,
		.used_user_addr = addr->used,
		.avail_user_addr = addr->avail,
	};
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_set_vring_fd(struct vu_backend *b, uint32_t request, uint32_t idx, int fd)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(uint64_t));
	msg.payload.u64 = idx & VU_VHOST_USER_VRING_IDX_MASK;
	if (fd < 0) {
		msg.payload.u64 |= VU_VHOST_USER_VRING_NOFD;
	} else {
		msg.fds[0] = fd;
		msg.nfds = 1;
	}
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_set_vring_kick(struct vu_backend *b, uint32_t idx, int fd)
{
	return vu_vhost_set_vring_fd(b, VU_VHOST_USER_SET_VRING_KICK, idx, fd);
}

static int
vu_vhost_set_vring_call(struct vu_backend *b, uint32_t idx, int fd)
{
	return vu_vhost_set_vring_fd(b, VU_VHOST_USER_SET_VRING_CALL, idx, fd);
}

static int
vu_vhost_set_vring_enable(struct vu_backend *b, uint32_t idx, bool enable)
{
	/* "If VHOST_USER_F_PROTOCOL_FEATURES has not been negotiated, the ring starts
	 * directly in the enabled state": there is nothing to send then. */
	if (b->sock >= 0 && !(b->features & (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)))
		return 0;
	return vu_vhost_set_state(b, VU_VHOST_USER_SET_VRING_ENABLE, idx, enable ? 1 : 0);
}

static int
vu_vhost_reset(struct vu_backend *b)
{
	/* Either reset forgets the features: nothing is negotiated until the next SET.
	 * RESET_OWNER is deprecated by the spec; RESET_DEVICE replaces it where offered. */
	b->acked_features = 0;
	b->mem_sent = false;
	/* RESET_DEVICE resets "all internal device state", the memory table with it;
	 * RESET_OWNER's backend should only disable the rings, so its regions stay. */
	if (vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE)) {
		b->sent.nregions = 0;
		return vu_vhost_no_payload(b, VU_VHOST_USER_RESET_DEVICE);
	}
	return vu_vhost_no_payload(b, VU_VHOST_USER_RESET_OWNER);
}

static int
vu_vhost_set_status(struct vu_backend *b, uint8_t status)
{
	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_STATUS))
		return -EOPNOTSUPP;
	return vu_vhost_set_u64(b, VU_VHOST_USER_SET_STATUS, status);
}

static int
vu_vhost_get_status(struct vu_backend *b, uint8_t *status)
{
	uint64_t v;
	int rc;

	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_STATUS))
		return -EOPNOTSUPP;
	rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_STATUS, &v);
	if (rc < 0)
		return rc;
	/* "the device status is 8 bits": anything above is not a status. */
	if (v > UINT8_MAX) {
		VU_ERR("%s: GET_STATUS: backend %s reports status 0x%llx, wider than 8 bits",
		       b->name, b->path, (unsigned long long)v);
		return -EPROTO;
	}
	*status = (uint8_t)v;
	return 0;
}

/* GET_CONFIG: "the back-end's payload size MUST match the front-end's request", and a
 * zero-length payload is its way to refuse. Either way the stream stays framed, so a bad
 * answer costs this read, not the connection. */
static int
vu_vhost_get_config(struct vu_backend *b, uint32_t offset, void *buf, uint32_t len)
{
	const uint32_t size = (uint32_t)VU_VHOST_USER_CONFIG_HDR_SIZE + len;
	struct vu_vhost_msg msg;
	int rc;

	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_CONFIG))
		return -EOPNOTSUPP;
	if (len == 0 || len > VU_VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_CONFIG, size);
	msg.payload.config.offset = offset;
	msg.payload.config.size = len;
	rc = vu_vhost_request(b, &msg, true);
	if (rc == 0)
		rc = vu_vhost_msg_recv(b->sock, &msg, (int)b->timeout_ms);
	if (rc < 0) {
		VU_ERR("%s: GET_CONFIG: no reply from %s: %s", b->name, b->path, strerror(-rc));
		vu_vhost_drop(b);
		return rc;
	}
	if (msg.hdr.request != VU_VHOST_USER_GET_CONFIG ||
	    !(msg.hdr.flags & VU_VHOST_USER_FLAG_REPLY) || msg.nfds) {
		VU_ERR("%s: GET_CONFIG: bad reply from %s (request %u, flags 0x%x, %u fds)",
		       b->name, b->path, msg.hdr.request, msg.hdr.flags, msg.nfds);
		vu_vhost_msg_close_fds(&msg);
		vu_vhost_drop(b);
		return -EPROTO;
	}
	if (msg.hdr.size != size || msg.payload.config.offset != offset ||
	    msg.payload.config.size != len) {
		VU_WARN("%s: GET_CONFIG: backend %s %s (%u bytes, window %u+%u; asked %u+%u)",
			b->name, b->path, msg.hdr.size ? "answered a different window" : "refused",
			msg.hdr.size, msg.payload.config.offset, msg.payload.config.size, offset,
			len);
		return -EIO;
	}
	memcpy(buf, msg.payload.config.region, len);
	return 0;
}

/* ---- inflight I/O tracking (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) ---- */

/* The frontend only keeps the region alive between backends: the spec's tracking and
 * resubmission run in the backend, which alone reads and writes it. */
static void
vu_vhost_inflight_release(struct vu_backend *b)
{
	if (b->inflight.addr)
		munmap(b->inflight.addr, b->inflight.size);
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	b->inflight.addr = NULL;
	b->inflight.fd = -1;
	b->inflight.size = 0;
	b->inflight.shared = false;
}

/* Map the region a GET_INFLIGHT_FD reply describes; it must lie inside the fd. */
static int
vu_vhost_inflight_map(struct vu_backend *b, int fd, const struct vu_vhost_inflight *in)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *addr;

	if (in->mmap_size > VU_VHOST_USER_INFLIGHT_MAX || in->mmap_offset % (uint64_t)page ||
	    fstat(fd, &st) < 0 || (uint64_t)st.st_size < in->mmap_offset ||
	    (uint64_t)st.st_size - in->mmap_offset < in->mmap_size) {
		VU_ERR("%s: GET_INFLIGHT_FD: backend %s gave a region of %llu bytes at offset "
		       "%llu that its fd does not hold: going on without inflight tracking",
		       b->name, b->path, (unsigned long long)in->mmap_size,
		       (unsigned long long)in->mmap_offset);
		return -EINVAL;
	}
	addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)in->mmap_offset);
	if (addr == MAP_FAILED) {
		int err = errno;

		VU_ERR("%s: GET_INFLIGHT_FD: mmap of %llu bytes from %s: %s", b->name,
		       (unsigned long long)in->mmap_size, b->path, strerror(err));
		return -err;
	}
	b->inflight.fd = fd;
	b->inflight.addr = addr;
	b->inflight.size = in->mmap_size;
	b->inflight.offset = in->mmap_offset;
	b->inflight.num_queues = in->num_queues;
	b->inflight.queue_size = in->queue_size;
	b->inflight.shared = true;
	return 0;
}

/* GET_INFLIGHT_FD: "the back-end allocates the shared buffer and returns its fd". A reply
 * out of step drops the connection; a refusal (size 0, no fd) leaves tracking off. */
static int
vu_vhost_get_inflight(struct vu_backend *b, uint16_t nqueues, uint16_t queue_size)
{
	const uint32_t size = sizeof(struct vu_vhost_inflight);
	struct vu_vhost_msg msg;
	struct vu_vhost_inflight in;
	int rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_INFLIGHT_FD, size);
	msg.payload.inflight.num_queues = nqueues;
	msg.payload.inflight.queue_size = queue_size;
	rc = vu_vhost_request(b, &msg, true);
	if (rc == 0)
		rc = vu_vhost_msg_recv(b->sock, &msg, (int)b->timeout_ms);
	if (rc == 0 &&
	    (msg.hdr.request != VU_VHOST_USER_GET_INFLIGHT_FD ||
	     !(msg.hdr.flags & VU_VHOST_USER_FLAG_REPLY) || msg.hdr.size != size || msg.nfds > 1))
		rc = -EPROTO;
	if (rc < 0) {
		VU_ERR("%s: GET_INFLIGHT_FD: %s from %s: %s", b->name,
		       rc == -EPROTO ? "bad reply" : "no reply", b->path, strerror(-rc));
		vu_vhost_msg_close_fds(&msg);
		vu_vhost_drop(b);
		return rc;
	}
	in = msg.payload.inflight;
	if (in.mmap_size == 0 || msg.nfds == 0) {
		VU_INFO("%s: backend %s keeps no inflight region for %u rings of %u: a reconnect "
			"resumes after the last used buffer",
			b->name, b->path, nqueues, queue_size);
		vu_vhost_msg_close_fds(&msg);
		return 0;
	}
	in.num_queues = nqueues;
	in.queue_size = queue_size;
	if (vu_vhost_inflight_map(b, msg.fds[0], &in) < 0) {
		vu_vhost_msg_close_fds(&msg);
		return 0;
	}
	VU_INFO("%s: inflight region of %llu bytes from %s for %u rings of %u", b->name,
		(unsigned long long)in.mmap_size, b->path, nqueues, queue_size);
	return 0;
}

/* SET_INFLIGHT_FD: the region the previous backend filled, "before the rings are set up"
 * (the backend resubmits from it when the rings start). */
static int
vu_vhost_set_inflight(struct vu_backend *b)
{
	struct vu_vhost_msg msg;
	int rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_INFLIGHT_FD, sizeof(struct vu_vhost_inflight));
	msg.payload.inflight = (struct vu_vhost_inflight){
		.mmap_size = b->inflight.size,
		.mmap_offset = b->inflight.offset,
		.num_queues = b->inflight.num_queues,
		.queue_size = b->inflight.queue_size,
	};
	msg.fds[0] = b->inflight.fd;
	msg.nfds = 1;
	rc = vu_vhost_request(b, &msg, false);
	if (rc == 0) {
		b->inflight.shared = true;
		VU_INFO("%s: inflight region of %llu bytes handed to %s", b->name,
			(unsigned long long)b->inflight.size, b->path);
	}
	return rc;
}

static int
vu_vhost_share_inflight(struct vu_backend *b, uint32_t nqueues, uint32_t queue_size, bool fresh)
{
	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return -EOPNOTSUPP;
	if (nqueues > UINT16_MAX || queue_size > UINT16_MAX)
		return -EINVAL;
	/* A region for other rings, or for rings started afresh, describes nothing now. */
	if (fresh || b->inflight.num_queues != nqueues || b->inflight.queue_size != queue_size)
		vu_vhost_inflight_release(b);
	if (b->inflight.fd < 0)
		return vu_vhost_get_inflight(b, (uint16_t)nqueues, (uint16_t)queue_size);
	if (b->inflight.shared)
		return 0;
	return vu_vhost_set_inflight(b);
}

static int
vu_vhost_event_fd(struct vu_backend *b)
{
	if (b->sock >= 0)
		return b->sock;
	return b->server ? b->listen_fd : -1;
}

static bool
vu_vhost_connected(struct vu_backend *b)
{
	return b->sock >= 0;
}

static void
vu_vhost_disconnect(struct vu_backend *b)
{
	vu_vhost_drop(b);
}

/* Server mode: take one pending connection and set it up. A connection whose set-up
 * fails is dropped and the server waits for the next one. */
static int
vu_vhost_accept(struct vu_backend *b)
{
	int fd, rc;

	fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		int err = errno;

		/* Nothing pending (or the client gave up before we got to it). */
		if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
			return VU_BACKEND_EV_NONE;
		VU_ERR("%s: accepting a connection on %s: %s", b->name, b->path, strerror(err));
		return -err;
	}
	b->sock = fd;
	rc = vu_vhost_handshake(b);
	if (rc < 0) {
		VU_ERR("%s: a backend connected to %s but the connection set-up failed (%s); "
		       "waiting for another",
		       b->name, b->path, strerror(-rc));
		vu_vhost_drop(b);
		return VU_BACKEND_EV_NONE;
	}
	VU_INFO("%s: backend connected to %s", b->name, b->path);
	return VU_BACKEND_EV_CONNECTED;
}

/* The connection is readable: the peer closed it, or sent something nobody asked for
 * (a reply that came after its request timed out, say), which is read and dropped. */
static int
vu_vhost_check_peer(struct vu_backend *b)
{
	struct pollfd pfd = { .fd = b->sock, .events = POLLIN | POLLRDHUP };
	struct vu_vhost_msg msg;
	char c;
	ssize_t n;
	int rc;

	if (poll(&pfd, 1, 0) <= 0)
		return VU_BACKEND_EV_NONE;
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		goto gone;
	if (!(pfd.revents & POLLIN))
		return VU_BACKEND_EV_NONE;
	n = recv(b->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		goto gone;
	if (n < 0)
		return VU_BACKEND_EV_NONE;
	rc = vu_vhost_msg_recv(b->sock, &msg, (int)b->timeout_ms);
	if (rc == -ECONNRESET)
		goto gone;
	if (rc < 0) {
		/* Framing is lost: the stream cannot be trusted any more. */
		VU_ERR("%s: unreadable message from the backend on %s (%s), dropping the "
		       "connection",
		       b->name, b->path, strerror(-rc));
		vu_vhost_drop(b);
		return VU_BACKEND_EV_DISCONNECTED;
	}
	VU_WARN("%s: unexpected %s (flags 0x%x, %u bytes) from the backend on %s, ignored", b->name,
		vu_vhost_request_name(msg.hdr.request), msg.hdr.flags, msg.hdr.size, b->path);
	vu_vhost_msg_close_fds(&msg);
	return VU_BACKEND_EV_NONE;
gone:
	VU_INFO("%s: the backend on %s closed the connection%s", b->name, b->path,
		b->server ? ", waiting for it to come back" : "");
	vu_vhost_drop(b);
	return VU_BACKEND_EV_DISCONNECTED;
}

/* ---- the backend channel (SET_BACKEND_REQ_FD) ---- */

/* Requests the backend may send before the channel is read again: the rest wait for the
 * next event (the fd stays readable). */
#define VU_VHOST_CHANNEL_BATCH 16
/* Refused IOTLB misses logged one by one; the rest are only counted. */
#define VU_VHOST_IOTLB_REFUSED_LOGGED 8

/* "If VHOST_USER_PROTOCOL_F_REPLY_ACK is negotiated, and the back-end set the
 * VHOST_USER_NEED_REPLY flag, the front-end must respond with zero when operation is
 * successfully completed, or non-zero otherwise." */
static int
vu_vhost_channel_answer(struct vu_backend *b, const struct vu_vhost_msg *req, uint64_t status)
{
	struct vu_vhost_msg ack;

	if (!(req->hdr.flags & VU_VHOST_USER_FLAG_NEED_REPLY) ||
	    !vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))
		return 0;
	vu_vhost_msg_init(&ack, req->hdr.request, sizeof(uint64_t));
	ack.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	ack.payload.u64 = status;
	return vu_vhost_msg_send(b->channel, &ack, (int)b->timeout_ms);
}

/* A request the frontend does not take: refused, and said once per type and connection. */
static void
vu_vhost_channel_refused(struct vu_backend *b, uint32_t request)
{
	uint64_t bit = 1ull << (request < 63 ? request : 63);

	if (b->refused_logged & bit)
		return;
	b->refused_logged |= bit;
	VU_WARN("%s: backend %s sent %s (%u) on the backend channel: not supported, refused%s",
		b->name, b->path, vu_vhost_backend_request_name(request), request,
		request < 63 ? "" : " (further unknown requests are not logged)");
}

/* "VHOST_USER_BACKEND_IOTLB_MSG ... Back-end sends such requests to notify of an IOTLB
 * miss": answered with an IOTLB update of the allowed range holding the address, or
 * refused (non-zero ack when asked for one; counted, logged) when none does or it lacks
 * the permission. Returns the status to ack with. */
static uint64_t
vu_vhost_iotlb_miss(struct vu_backend *b, const struct vu_vhost_msg *msg)
{
	const struct vu_vhost_iotlb_msg *m = &msg->payload.iotlb;
	const struct vu_iotlb_entry *e = NULL;

	if (msg->hdr.size == sizeof(*m) && m->type == VU_VHOST_IOTLB_MISS)
		e = vu_iotlb_find(&b->allowed, m->iova);
	if (e && (e->perm & m->perm) == m->perm && m->perm) {
		if (vu_vhost_iotlb_send(b, VU_VHOST_IOTLB_UPDATE, e) == 0)
			return 0;
		return VU_VHOST_USER_REFUSED;
	}
	b->iotlb_refused++;
	if (b->iotlb_refused <= VU_VHOST_IOTLB_REFUSED_LOGGED)
		VU_WARN("%s: backend %s asked IOTLB type %u for 0x%llx (perm 0x%x), outside the "
			"memory it may touch: refused (%llu so far)",
			b->name, b->path, msg->hdr.size == sizeof(*m) ? m->type : 0,
			(unsigned long long)m->iova, m->perm, (unsigned long long)b->iotlb_refused);
	return VU_VHOST_USER_REFUSED;
}

/* Take one request from the backend channel, if one is there: CONFIG_CHANGE_MSG (F_CONFIG
 * negotiated) and IOTLB_MSG (IOTLB mode); host notifiers need a protocol feature the
 * frontend never negotiates. A config change is acked as accepted before the config is read again
 * (handle_event's caller does that), since a backend that waits for the ack cannot
 * answer GET_CONFIG meanwhile. Returns 1 when one was handled, 0 when none, -errno when
 * the channel was closed. */
static int
vu_vhost_channel_serve(struct vu_backend *b)
{
	struct pollfd pfd = { .fd = b->channel, .events = POLLIN };
	struct vu_vhost_msg msg;
	uint64_t status = 0;
	int rc;

	if (b->channel < 0 || poll(&pfd, 1, 0) <= 0)
		return 0;
	rc = vu_vhost_msg_recv(b->channel, &msg, (int)b->timeout_ms);
	if (rc == 0) {
		/* None of these requests passes an fd. */
		vu_vhost_msg_close_fds(&msg);
		if (msg.hdr.request == VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG &&
		    vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_CONFIG)) {
			VU_INFO("%s: backend %s: its config space changed", b->name, b->path);
			b->config_changed = true;
		} else if (msg.hdr.request == VU_VHOST_USER_BACKEND_IOTLB_MSG &&
			   (b->features & (1ull << VU_F_ACCESS_PLATFORM))) {
			status = vu_vhost_iotlb_miss(b, &msg);
			if (b->sock < 0)
				return -ECONNRESET;
		} else {
			vu_vhost_channel_refused(b, msg.hdr.request);
			status = VU_VHOST_USER_REFUSED;
		}
		rc = vu_vhost_channel_answer(b, &msg, status);
		if (rc == 0)
			return 1;
	}
	if (rc == -ECONNRESET)
		VU_INFO("%s: backend %s closed the backend channel", b->name, b->path);
	else
		VU_ERR("%s: backend channel of %s: %s, closing the channel", b->name, b->path,
		       rc == -EPROTO ? "malformed message" : strerror(-rc));
	vu_vhost_close_channel(b);
	return rc;
}

static int
vu_vhost_channel_fd(struct vu_backend *b)
{
	return b->sock >= 0 ? b->channel : -1;
}

static int
vu_vhost_handle_event(struct vu_backend *b)
{
	if (b->sock >= 0) {
		int ev;

		for (int i = 0; i < VU_VHOST_CHANNEL_BATCH; i++)
			if (vu_vhost_channel_serve(b) <= 0)
				break;
		ev = vu_vhost_check_peer(b);
		if (ev == VU_BACKEND_EV_NONE && b->config_changed) {
			b->config_changed = false;
			return VU_BACKEND_EV_CONFIG_CHANGED;
		}
		return ev;
	}
	if (b->server && b->listen_fd >= 0)
		return vu_vhost_accept(b);
	return VU_BACKEND_EV_NONE;
}

const struct vu_backend_ops vu_vhost_user_ops = {
	.name = "vhost-user",
	.maps_memory_by_fd = true,
	.takes_ifname = false,
	.open = vu_vhost_open,
	.close = vu_vhost_close,
	.get_features = vu_vhost_get_features,
	.get_max_queue_pairs = vu_vhost_get_max_queue_pairs,
	.set_features = vu_vhost_set_features,
	.set_mem_table = vu_vhost_set_mem_table,
	.mem_slots = vu_vhost_mem_slots,
	.set_vring_num = vu_vhost_set_vring_num,
	.set_vring_base = vu_vhost_set_vring_base,
	.get_vring_base = vu_vhost_get_vring_base,
	.set_vring_addr = vu_vhost_set_vring_addr,
	.set_vring_kick = vu_vhost_set_vring_kick,
	.set_vring_call = vu_vhost_set_vring_call,
	.set_vring_enable = vu_vhost_set_vring_enable,
	.reset = vu_vhost_reset,
	.set_mtu = vu_vhost_net_set_mtu,
	.set_status = vu_vhost_set_status,
	.get_status = vu_vhost_get_status,
	.get_config = vu_vhost_get_config,
	.share_inflight = vu_vhost_share_inflight,
	.iotlb_map = vu_vhost_iotlb_map,
	.iotlb_unmap = vu_vhost_iotlb_unmap,
	.iotlb_refused = vu_vhost_iotlb_refused,
	.event_fd = vu_vhost_event_fd,
	.channel_fd = vu_vhost_channel_fd,
	.handle_event = vu_vhost_handle_event,
	.connected = vu_vhost_connected,
	.disconnect = vu_vhost_disconnect,
};
