/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend (client and server mode): the backend ops over an AF_UNIX socket. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_backend.h"
#include "vu_iotlb.h"
#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_vhost_user_priv.h"
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

/* IOTLB mode (iotlb=1) has no protocol feature of its own: VIRTIO_F_ACCESS_PLATFORM turns
 * it on, and the spec wants BACKEND_REQ (the channel misses come on) and REPLY_ACK with it
 * ("... REPLY_ACK and BACKEND_REQ protocol features must be negotiated"). */
#define VU_VHOST_USER_IOTLB_PROTOCOL_FEATURES           \
	((1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ))

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
