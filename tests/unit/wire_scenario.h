/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user start/stop sequence on the wire: fake_backend script, driven via vu_device. */
#ifndef WIRE_SCENARIO_H
#define WIRE_SCENARIO_H

#include <stdint.h>

#include "fake_backend.h"
#include "vu_device.h"

/*
 * The device layer over the real vhost-user frontend, in client mode, against the fake
 * backend: connect, SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (REPLY_ACK, MQ),
 * GET_QUEUE_NUM; at DRIVER_OK SET_FEATURES, SET_MEM_TABLE, per ring SET_VRING_CALL, _NUM,
 * _BASE, _ADDR, _KICK, then SET_VRING_ENABLE 1 each; at reset SET_VRING_ENABLE 0 and
 * GET_VRING_BASE per ring, RESET_OWNER. The backend checks each message and acks the ones
 * that ask for it (REPLY_ACK).
 *
 *	ws_script(fb); fb_start(fb);
 *	ws_start(&s, fb_path(fb), timeout);   ... the device is running ...
 *	ws_stop(&s); fb_finish(fb); ws_check_fds(&s, fb);
 */

struct wire_scenario {
	struct vu_device *dev;
	struct vu_mem_table mem;
	uint64_t call1_ino; /* queue 1's call eventfd, which the backend must have received */
};

/* What the backend expects and answers, in order. */
void ws_script(struct fake_backend *fb);
/* Create the device on path and bring it to DRIVER_OK (cmocka assertions on every step). */
void ws_start(struct wire_scenario *s, const char *path, unsigned int timeout_ms);
/* Reset the device, destroy it and release the memory. */
void ws_stop(struct wire_scenario *s);
/* After fb_finish: the fds the backend got were the device's eventfd and the memory fd. */
void ws_check_fds(const struct wire_scenario *s, const struct fake_backend *fb);

#endif /* WIRE_SCENARIO_H */
