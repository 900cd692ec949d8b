/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user start/stop sequence on the wire: fake_backend script, driven via vu_device. */
#include <string.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "wire_scenario.h"

#define F_PROTO (1ull << VU_VHOST_USER_F_PROTOCOL_FEATURES)
#define P_MQ (1ull << VU_VHOST_USER_PROTOCOL_F_MQ)
#define P_ACK (1ull << VU_VHOST_USER_PROTOCOL_F_REPLY_ACK)

static const uint64_t vers1 = 1ull << 32, csum = 1, mrg = 1ull << 15, ctrl_vq = 1ull << 17;
static const uint64_t mac = 1ull << 5, status = 1ull << 16;

static const struct vu_vring_addr ws_addr[2] = {
	{ .desc = 0x10000, .avail = 0x11000, .used = 0x12000 },
	{ .desc = 0x20000, .avail = 0x21000, .used = 0x22000 },
};

void
ws_script(struct fake_backend *fb)
{
	fb_script_handshake(fb, vers1 | csum | mrg | ctrl_vq | F_PROTO, P_ACK | P_MQ, 1);
	fb_expect_u64(fb, VU_VHOST_USER_SET_FEATURES, FB_FLAGS_ACK, vers1 | csum | F_PROTO);
	fb_ack(fb, VU_VHOST_USER_SET_FEATURES, 0);
	fb_expect(fb, VU_VHOST_USER_SET_MEM_TABLE, FB_FLAGS_ACK);
	fb_ack(fb, VU_VHOST_USER_SET_MEM_TABLE, 0);
	for (uint32_t q = 0; q < 2; q++) {
		uint8_t a[40] = { 0 };

		a[0] = (uint8_t)q;
		memcpy(a + 8, &ws_addr[q].desc, 8);
		memcpy(a + 16, &ws_addr[q].used, 8);
		memcpy(a + 24, &ws_addr[q].avail, 8);
		fb_expect_u64(fb, VU_VHOST_USER_SET_VRING_CALL, FB_FLAGS_ACK, q);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_CALL, 0);
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_NUM, FB_FLAGS_ACK, q, 256);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_NUM, 0);
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_BASE, FB_FLAGS_ACK, q, 0);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_BASE, 0);
		fb_expect_payload(fb, VU_VHOST_USER_SET_VRING_ADDR, FB_FLAGS_ACK, a, sizeof(a));
		fb_ack(fb, VU_VHOST_USER_SET_VRING_ADDR, 0);
		fb_expect_u64(fb, VU_VHOST_USER_SET_VRING_KICK, FB_FLAGS_ACK, q);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_KICK, 0);
	}
	for (uint32_t q = 0; q < 2; q++) {
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, q, 1);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	}
	/* Reset: every enabled ring disabled, then each stopped with GET_VRING_BASE. */
	for (uint32_t q = 0; q < 2; q++) {
		fb_expect_state(fb, VU_VHOST_USER_SET_VRING_ENABLE, FB_FLAGS_ACK, q, 0);
		fb_ack(fb, VU_VHOST_USER_SET_VRING_ENABLE, 0);
	}
	for (uint32_t q = 0; q < 2; q++) {
		fb_expect_state(fb, VU_VHOST_USER_GET_VRING_BASE, FB_FLAGS, q, 0);
		fb_reply_state(fb, VU_VHOST_USER_GET_VRING_BASE, q, 5);
	}
	fb_expect_payload(fb, VU_VHOST_USER_RESET_OWNER, FB_FLAGS_ACK, NULL, 0);
	fb_ack(fb, VU_VHOST_USER_RESET_OWNER, 0);
}

void
ws_start(struct wire_scenario *s, const char *path, unsigned int timeout_ms)
{
	struct vu_device_params p = {
		.name = "ut0",
		.path = path,
		.queue_pairs = 1,
		.timeout_ms = timeout_ms,
	};
	uint64_t fdev;

	memset(s, 0, sizeof(*s));
	s->mem.nregions = 1;
	s->mem.regions[0] =
		(struct vu_mem_region){ .addr = 0x10000, .len = 0x100000, .fd = tu_memfd(4096) };
	assert_true(s->mem.regions[0].fd >= 0);
	assert_int_equal(vu_device_create(&p, &s->dev), 0);
	assert_int_equal(vu_device_get_features(s->dev), vers1 | csum | mrg | mac | status);
	assert_int_equal(vu_device_set_status(s->dev, VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER), 0);
	assert_int_equal(vu_device_set_driver_features(s->dev, vers1 | csum | mac | status), 0);
	assert_int_equal(vu_device_set_status(s->dev,
					      VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER |
						      VU_STATUS_FEATURES_OK),
			 0);
	assert_int_equal(vu_device_set_memory(s->dev, &s->mem), 0);
	assert_int_equal(vu_device_setup_queue(s->dev, 0, 256, &ws_addr[0]), 0);
	assert_int_equal(vu_device_setup_queue(s->dev, 1, 256, &ws_addr[1]), 0);
	assert_int_equal(vu_device_set_status(s->dev,
					      VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER |
						      VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK),
			 0);
	assert_true(vu_device_link_up(s->dev));
	assert_int_equal(tu_fd_ino(vu_device_queue_call_fd(s->dev, 1), &fdev, &s->call1_ino), 0);
}

void
ws_stop(struct wire_scenario *s)
{
	assert_int_equal(vu_device_set_status(s->dev, 0), 0);
	vu_device_destroy(s->dev);
	s->dev = NULL;
	close(s->mem.regions[0].fd);
	s->mem.regions[0].fd = -1;
}

void
ws_check_fds(const struct wire_scenario *s, const struct fake_backend *fb)
{
	for (unsigned int i = 0; i < fb_nrx(fb); i++) {
		const struct fb_rx *rx = fb_rx(fb, i);
		uint64_t idx;

		memcpy(&idx, rx->payload, sizeof(idx));
		if (rx->hdr.request == VU_VHOST_USER_SET_VRING_CALL && idx == 1) {
			assert_int_equal(rx->nfds, 1);
			assert_int_equal(rx->fd_ino[0], s->call1_ino);
		}
		if (rx->hdr.request == VU_VHOST_USER_SET_MEM_TABLE)
			assert_int_equal(rx->nfds, 1);
	}
}
