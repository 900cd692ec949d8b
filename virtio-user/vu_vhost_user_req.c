/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend: requests, their replies and acks (REPLY_ACK), the connection's end. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_vhost_user_priv.h"

/* Send one request; when the backend acks (REPLY_ACK) and the request has no reply of its
 * own, wait for the ack. fds are only borrowed. */
int
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
int
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

int
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

int
vu_vhost_set_u64(struct vu_backend *b, uint32_t request, uint64_t value)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(uint64_t));
	msg.payload.u64 = value;
	return vu_vhost_request(b, &msg, false);
}

int
vu_vhost_set_state(struct vu_backend *b, uint32_t request, uint32_t idx, uint32_t num)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(struct vu_vhost_vring_state));
	msg.payload.state.index = idx;
	msg.payload.state.num = num;
	return vu_vhost_request(b, &msg, false);
}

int
vu_vhost_no_payload(struct vu_backend *b, uint32_t request)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, 0);
	return vu_vhost_request(b, &msg, false);
}

void
vu_vhost_close_channel(struct vu_backend *b)
{
	if (b->channel >= 0)
		close(b->channel);
	b->channel = -1;
	b->refused_logged = 0;
	b->config_changed = false;
}

/* Forget the connection and what was negotiated over it. */
void
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
