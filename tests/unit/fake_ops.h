/* SPDX-License-Identifier: BSD-3-Clause */
/* A fake backend ops table for device tests: records every call, fails one on request. */
#ifndef FAKE_OPS_H
#define FAKE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_backend.h"
#include "vu_virtio.h"

enum op {
	OP_NONE,
	OP_OPEN,
	OP_CLOSE,
	OP_GET_FEATURES,
	OP_GET_MAX_QP,
	OP_SET_FEATURES,
	OP_SET_MEM_TABLE,
	OP_NUM,
	OP_BASE,
	OP_GET_BASE,
	OP_ADDR,
	OP_KICK,
	OP_CALL,
	OP_ENABLE,
	OP_RESET,
	OP_MTU,
	OP_SET_STATUS,
	OP_GET_STATUS,
	OP_GET_CONFIG,
};

extern const char *const op_names[];

struct call {
	enum op op;
	uint32_t idx;
	uint64_t val; /* features, num, base, fd, enable, nregions, mtu */
};

#define FAKE_MAX_CALLS 512
#define FAKE_MAX_QUEUES 16

struct fake_state {
	/* What the backend offers. */
	uint64_t features;
	uint32_t max_pairs;
	int open_rc;
	/* Make the call (fail_op, fail_idx) return fail_rc. */
	enum op fail_op;
	uint32_t fail_idx;
	int fail_rc;
	/* A backend that takes the status (vhost-user STATUS): GET_STATUS answers what the
	 * last SET_STATUS said without clear_status, with add_status. */
	bool status;
	uint8_t clear_status;
	uint8_t add_status;
	uint8_t backend_status;
	/* A backend with a config space (vhost-user CONFIG); config_rc: GET_CONFIG fails. */
	bool config;
	int config_rc;
	struct vu_net_config cfg;
	/* What the device passed. */
	struct vu_backend_params params;
	char name[64];
	char path[256];
	uint8_t mac[6];
	struct vu_vring_addr addr[FAKE_MAX_QUEUES];
	struct vu_mem_table mem;
	bool is_open;
	struct call calls[FAKE_MAX_CALLS];
	unsigned int ncalls;
};

extern struct fake_state fk;
extern const struct vu_backend_ops fake_ops;

/* Forget everything; the backend offers `features` and `max_pairs`. */
void fake_reset(uint64_t features, uint32_t max_pairs);

/* Fail (with a table of got | expected) unless the calls recorded from index `from` on
 * are exactly want[0..n). */
void expect_calls_what(const char *what, unsigned int from, const struct call *want,
		       unsigned int n);
#define expect_calls(from, want, n) expect_calls_what(__func__, from, want, n)

#endif /* FAKE_OPS_H */
