/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's device status, virtio-net config space and backend channel. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"
#include "vub_transport.h"

#define VC_STATUS_BIT VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS)
#define VC_CONFIG_BITS \
	(VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIG) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ))
#define VC_ALL_PROTOCOL (VF_PROTOCOL | VC_STATUS_BIT | VC_CONFIG_BITS)
#define VC_MTU 9000
/* The ack timeout of the AF_UNIX transport, and how late past it counts as unbounded. */
#define VC_ACK_TIMEOUT_MS 1000
#define VC_ACK_SLACK_MS 500
#define VC_NO_ACK UINT64_MAX

static const uint8_t vc_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* A device with a MAC, an MTU and two pairs, handshaken with every protocol feature. */
static void
vc_open(struct vf *f, uint64_t protocol)
{
	struct vub_dev_params dp = {
		.queue_pairs = 2, .has_mac = true, .mtu = VC_MTU, .inflight = true
	};

	memcpy(dp.mac, vc_mac, sizeof(dp.mac));
	vf_open_params(f, &dp);
	vf_handshake(f, VF_FEATURES);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, protocol), 0);
}

static void
test_offered(void **state)
{
	struct vf f;

	(void)state;
	vc_open(&f, VF_PROTOCOL);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_PROTOCOL_FEATURES),
			 VC_ALL_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
				 VU_BIT(VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
				 VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES) &
				 (VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_MTU) |
				  VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_NET_F_MQ)),
			 VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_MTU) | VU_BIT(VU_NET_F_STATUS) |
				 VU_BIT(VU_NET_F_MQ));
	vf_close(&f);
}

/* The driver's sequence of virtio 1.2, 3.1.1, each step read back; 0 resets. */
static void
test_status_transitions(void **state)
{
	static const uint8_t steps[] = { 0x01, 0x03, 0x0b, 0x0f };
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0);
	for (size_t i = 0; i < sizeof(steps); i++) {
		assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, steps[i]), 0);
		assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), steps[i]);
		assert_int_equal(vub_dev_status(f.dev), steps[i]);
	}
	assert_true(tu_log_contains("vub-ut: device status 0x0b -> 0x0f "
				    "(ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)"));
	assert_int_equal(tu_log_errors(), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x100), EINVAL);
	vf_assert_error_logged("the device status is 8 bits");
	assert_int_equal(vub_dev_status(f.dev), 0x0f);
	/* "Writing 0 into this field resets the device": rings, features (not the memory). */
	assert_true(f.ready);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0), 0);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0);
	assert_false(f.ready);
	assert_int_equal(vub_dev_features(f.dev), 0);
	assert_true(tu_log_contains("device status 0x0f -> 0x00 (reset)"));
	vf_close(&f);
}

static void
test_status_not_negotiated(void **state)
{
	struct vf f;

	(void)state;
	vc_open(&f, VF_PROTOCOL);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x0f), ENOTSUP);
	vf_assert_error_logged("SET_STATUS without VHOST_USER_PROTOCOL_F_STATUS negotiated");
	assert_int_equal(vub_dev_status(f.dev), 0);
	vf_close(&f);
}

/* "otherwise it MUST fail to set the FEATURES_OK device status bit" (virtio 1.2, 2.2.2). */
static void
test_features_ok_refused(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VC_ALL_PROTOCOL),
			 VF_NO_ACK);
	f.acks = true;
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x03), 0);
	assert_int_equal(
		vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ)),
		EINVAL);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x0b), 0);
	vf_assert_error_logged("SET_STATUS 0x0b: FEATURES_OK refused");
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0x03);
	/* An acceptable set makes it stick. */
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x0b), 0);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0x0b);
	vf_close(&f);
}

static void
test_get_config(void **state)
{
	const uint32_t hdr = VU_VHOST_USER_CONFIG_HDR_SIZE;
	/* mac, status LINK_UP, max_virtqueue_pairs 2, mtu 9000: little-endian. */
	const uint8_t want[12] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0, 2, 0, 0x28, 0x23 };
	uint8_t got[VU_VHOST_USER_MAX_CONFIG_SIZE];
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_get_config(&f, 0, 12, hdr + 12, got), 12);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(vf_get_config(&f, 6, 2, hdr + 2, got), 2);
	assert_memory_equal(got, want + 6, 2);
	assert_int_equal(vf_get_config(&f, 11, 1, hdr + 1, got), 1);
	assert_int_equal(got[0], 0x23);
	assert_int_equal(tu_log_errors(), 0);
	/* Bad windows: an empty reply and a line each; the connection stays. */
	assert_int_equal(vf_get_config(&f, 10, 4, hdr + 4, got), 0);
	vf_assert_error_logged("GET_CONFIG offset 10 size 4: the window is not inside the 12 "
			       "bytes of the virtio-net config space: replied with no payload");
	assert_int_equal(vf_get_config(&f, 13, 1, hdr + 1, got), 0);
	vf_assert_error_logged("not inside the 12 bytes");
	assert_int_equal(vf_get_config(&f, 0xffffffffu, 2, hdr + 2, got), 0);
	vf_assert_error_logged("not inside the 12 bytes");
	assert_int_equal(vf_get_config(&f, 0, 0, hdr, got), 0);
	vf_assert_error_logged("size is not 1 to 256");
	assert_int_equal(vf_get_config(&f, 0, 257, hdr, got), 0);
	vf_assert_error_logged("size is not 1 to 256");
	assert_int_equal(vf_get_config(&f, 0, 6, hdr + 4, got), 0);
	vf_assert_error_logged("the payload size does not match size");
	assert_int_equal(vf_get_config(&f, 0, 6, 8, got), 0);
	vf_assert_error_logged("the payload is shorter than offset, size and flags");
	assert_true(vub_dev_connected(f.dev));
	assert_true(f.ready);
	vf_close(&f);
}

static void
test_get_config_not_negotiated(void **state)
{
	uint8_t got[VU_VHOST_USER_MAX_CONFIG_SIZE];
	struct vf f;

	(void)state;
	vc_open(&f, VF_PROTOCOL);
	assert_int_equal(vf_get_config(&f, 0, 6, VU_VHOST_USER_CONFIG_HDR_SIZE + 6, got), 0);
	vf_assert_error_logged("VHOST_USER_PROTOCOL_F_CONFIG is not negotiated");
	vf_close(&f);
}

static int64_t
vc_set_config(struct vf *f, uint32_t offset, uint32_t size, uint32_t flags)
{
	struct vu_vhost_config c = { .offset = offset, .size = size, .flags = flags };

	memcpy(c.region, vc_mac, sizeof(vc_mac));
	return vf_request(f, VU_VHOST_USER_SET_CONFIG, &c, VU_VHOST_USER_CONFIG_HDR_SIZE + size,
			  NULL, 0);
}

static void
test_set_config_refused(void **state)
{
	uint8_t got[VU_VHOST_USER_MAX_CONFIG_SIZE];
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vc_set_config(&f, 0, 6, 0), EPERM);
	vf_assert_error_logged("SET_CONFIG offset 0 size 6 flags 0x0: the virtio-net config "
			       "space has no field the driver may write: refused");
	assert_int_equal(vc_set_config(&f, 0, 6, 1), EPERM);
	vf_assert_error_logged("live migration is not supported");
	assert_int_equal(vc_set_config(&f, 8, 6, 0), EPERM);
	vf_assert_error_logged("not inside the 12 bytes");
	assert_int_equal(vf_get_config(&f, 0, 6, VU_VHOST_USER_CONFIG_HDR_SIZE + 6, got), 6);
	assert_memory_equal(got, vc_mac, 6);
	vf_close(&f);
}

/* The frontend's side of one backend request: read it, answer with `ack` (VC_NO_ACK: do
 * not). Runs in its own thread while the device waits. */
struct vc_peer {
	int fd;
	uint64_t ack;
	int rc;
	struct vu_vhost_msg req;
	pthread_t thread;
};

static void *
vc_peer_run(void *arg)
{
	struct vc_peer *p = arg;
	struct vu_vhost_msg reply;

	p->rc = vu_vhost_msg_recv(p->fd, &p->req, 2 * VC_ACK_TIMEOUT_MS);
	if (p->rc < 0 || p->ack == VC_NO_ACK || !(p->req.hdr.flags & VU_VHOST_USER_FLAG_NEED_REPLY))
		return NULL;
	vu_vhost_msg_init(&reply, p->req.hdr.request, sizeof(uint64_t));
	reply.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	reply.payload.u64 = p->ack;
	p->rc = vu_vhost_msg_send(p->fd, &reply, VC_ACK_TIMEOUT_MS);
	return NULL;
}

/* vub_dev_set_link_up(up) with a frontend answering `ack`: its return, and the request the
 * frontend saw in p. */
static void
vc_peer_start(struct vc_peer *p, struct vf *f, uint64_t ack)
{
	memset(p, 0, sizeof(*p));
	p->fd = f->backend;
	p->ack = ack;
	assert_int_equal(pthread_create(&p->thread, NULL, vc_peer_run, p), 0);
}

static void
vc_peer_join(struct vc_peer *p)
{
	assert_int_equal(pthread_join(p->thread, NULL), 0);
	assert_int_equal(p->rc, 0);
}

static int
vc_link(struct vf *f, bool up, uint64_t ack, struct vc_peer *p)
{
	int rc;

	vc_peer_start(p, f, ack);
	rc = vub_dev_set_link_up(f->dev, up);
	vc_peer_join(p);
	return rc;
}

static void
vc_assert_config_change(const struct vc_peer *p, uint32_t flags)
{
	assert_int_equal(p->req.hdr.request, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
	assert_int_equal(p->req.hdr.flags, flags);
	assert_int_equal(p->req.hdr.size, 0);
	assert_int_equal(p->req.nfds, 0);
}

static uint16_t
vc_link_status(struct vf *f)
{
	uint8_t st[2];

	assert_int_equal(vf_get_config(f, 6, 2, VU_VHOST_USER_CONFIG_HDR_SIZE + 2, st), 2);
	return (uint16_t)(st[0] | st[1] << 8);
}

static void
test_config_change_acked(void **state)
{
	const uint32_t need_reply = VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY;
	struct vc_peer p;
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_backend_channel(&f), 0);
	assert_int_equal(vc_link(&f, false, 0, &p), 0);
	vc_assert_config_change(&p, need_reply);
	assert_false(vub_dev_link_up(f.dev));
	assert_int_equal(vc_link_status(&f), 0);
	assert_true(tu_log_contains("vub-ut: link down in the config space"));
	assert_int_equal(vc_link(&f, true, 0, &p), 0);
	assert_int_equal(vc_link_status(&f), VU_NET_S_LINK_UP);
	assert_int_equal(tu_log_errors(), 0);
	/* The frontend failing it is an error for the caller; the link stays changed. */
	assert_int_equal(vc_link(&f, false, 1, &p), -EIO);
	vf_assert_error_logged("the frontend answered CONFIG_CHANGE_MSG with 1 (failure)");
	assert_int_equal(vc_link_status(&f), 0);
	/* Unchanged: nothing is sent. */
	assert_int_equal(vub_dev_set_link_up(f.dev, false), 0);
	assert_int_equal(vu_vhost_msg_recv(f.backend, &p.req, 0), -ETIMEDOUT);
	vf_close(&f);
}

/* No ack: the device waits a bounded time, and drops the late ack before the next. */
static void
test_config_change_ack_timeout(void **state)
{
	struct vu_vhost_msg late;
	struct vc_peer p;
	int64_t t0, waited;
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_backend_channel(&f), 0);
	t0 = tu_now_ms();
	assert_int_equal(vc_link(&f, false, VC_NO_ACK, &p), -ETIMEDOUT);
	waited = tu_now_ms() - t0;
	assert_true(waited >= VC_ACK_TIMEOUT_MS && waited < VC_ACK_TIMEOUT_MS + VC_ACK_SLACK_MS);
	vf_assert_error_logged("CONFIG_CHANGE_MSG on the backend channel: Connection timed out");
	vu_vhost_msg_init(&late, VU_VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, sizeof(uint64_t));
	late.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	assert_int_equal(vu_vhost_msg_send(f.backend, &late, VC_ACK_TIMEOUT_MS), 0);
	assert_int_equal(vc_link(&f, true, 0, &p), 0);
	assert_true(tu_log_contains("a late reply to backend request CONFIG_CHANGE_MSG"));
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

/* Without REPLY_ACK the request goes without NEED_REPLY and nothing is awaited; without
 * CONFIG nothing goes. */
static void
test_config_change_no_ack_no_config(void **state)
{
	struct vc_peer p;
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_backend_channel(&f), 0);
	f.acks = false;
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES,
				    VC_ALL_PROTOCOL & ~VU_BIT(VU_VHOST_USER_PROTOCOL_F_REPLY_ACK)),
			 VF_NO_ACK);
	assert_int_equal(vc_link(&f, false, VC_NO_ACK, &p), 0);
	vc_assert_config_change(&p, VU_VHOST_USER_VERSION);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES,
				    VF_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ)),
			 VF_NO_ACK);
	assert_int_equal(vub_dev_set_link_up(f.dev, true), 0);
	assert_int_equal(vu_vhost_msg_recv(f.backend, &p.req, 0), -ETIMEDOUT);
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

/* A ring the frontend breaks: DEVICE_NEEDS_RESET set by the control path, and with
 * DRIVER_OK a CONFIG_CHANGE_MSG (virtio 1.2, 2.1.2), once; a reset clears it. */
static void
test_needs_reset(void **state)
{
	struct vub_pkt pkt;
	struct vc_peer p;
	uint8_t frame[64];
	uint32_t len;
	struct vf f;

	(void)state;
	vc_open(&f, VC_ALL_PROTOCOL);
	assert_int_equal(vf_backend_channel(&f), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x0f), 0);
	vf_put_desc(&f, VF_TX, 0, vf_addr(&f, VF_MEM_SIZE), 64, 0, 0);
	vf_avail(&f, VF_TX, 0);
	assert_int_equal(vf_dequeue(&f, &pkt, frame, sizeof(frame), &len), -EIO);
	vf_assert_error_logged("vring 1 stopped");
	vc_peer_start(&p, &f, 0);
	assert_int_equal(vub_dev_process(f.dev), 0);
	vc_peer_join(&p);
	vc_assert_config_change(&p, VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY);
	assert_true(tu_log_contains("device status 0x0f -> 0x4f (ACKNOWLEDGE|DRIVER|FEATURES_OK|"
				    "DRIVER_OK|DEVICE_NEEDS_RESET)"));
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0x4f);
	/* The driver's writes keep the device's bit; nothing more is sent. */
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0x0f), 0);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0x4f);
	assert_int_equal(vu_vhost_msg_recv(f.backend, &p.req, 0), -ETIMEDOUT);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0), 0);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_STATUS), 0);
	vf_close(&f);
}

/* Refused without the feature or without its fd (closed either way); a second replaces
 * the first; a reset keeps it; a disconnect closes it. */
static void
test_backend_channel_lifecycle(void **state)
{
	struct vu_vhost_msg msg;
	struct vc_peer p;
	struct vf f;
	int fds, old;

	(void)state;
	vc_open(&f, VF_PROTOCOL);
	fds = tu_count_fds();
	assert_int_equal(vf_backend_channel(&f), ENOTSUP);
	vf_assert_error_logged("SET_BACKEND_REQ_FD without VHOST_USER_PROTOCOL_F_BACKEND_REQ");
	assert_int_equal(tu_count_fds(), fds + 1); /* f.backend only */
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VC_ALL_PROTOCOL), 0);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, NULL, 0),
			 EINVAL);
	vf_assert_error_logged("SET_BACKEND_REQ_FD came with 0 file descriptors, expected 1");
	assert_int_equal(vf_backend_channel(&f), 0);
	old = f.backend;
	f.backend = -1;
	assert_int_equal(vf_backend_channel(&f), 0);
	/* The device closed its end of the first channel. */
	assert_int_equal(vu_vhost_msg_recv(old, &msg, VC_ACK_TIMEOUT_MS), -ECONNRESET);
	close(old);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(vc_link(&f, false, 0, &p), 0);
	vc_assert_config_change(&p, VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_NEED_REPLY);
	close(f.sock);
	f.sock = -1;
	assert_int_equal(vub_dev_process(f.dev), 0);
	assert_false(vub_dev_connected(f.dev));
	assert_int_equal(vu_vhost_msg_recv(f.backend, &msg, VC_ACK_TIMEOUT_MS), -ECONNRESET);
	assert_int_equal(vub_dev_status(f.dev), 0);
	vf_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_offered, vf_log_setup),
		cmocka_unit_test_setup(test_status_transitions, vf_log_setup),
		cmocka_unit_test_setup(test_status_not_negotiated, vf_log_setup),
		cmocka_unit_test_setup(test_features_ok_refused, vf_log_setup),
		cmocka_unit_test_setup(test_get_config, vf_log_setup),
		cmocka_unit_test_setup(test_get_config_not_negotiated, vf_log_setup),
		cmocka_unit_test_setup(test_set_config_refused, vf_log_setup),
		cmocka_unit_test_setup(test_config_change_acked, vf_log_setup),
		cmocka_unit_test_setup(test_config_change_ack_timeout, vf_log_setup),
		cmocka_unit_test_setup(test_config_change_no_ack_no_config, vf_log_setup),
		cmocka_unit_test_setup(test_needs_reset, vf_log_setup),
		cmocka_unit_test_setup(test_backend_channel_lifecycle, vf_log_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
