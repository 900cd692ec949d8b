/* SPDX-License-Identifier: BSD-3-Clause */
/* A fake backend ops table for device tests: records every call, fails one on request. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_ops.h"

const char *const op_names[] = {
	"NONE",		"OPEN",		 "CLOSE",      "GET_FEATURES", "GET_MAX_QP",
	"SET_FEATURES", "SET_MEM_TABLE", "NUM",	       "BASE",	       "GET_BASE",
	"ADDR",		"KICK",		 "CALL",       "ENABLE",       "RESET",
	"MTU",		"SET_STATUS",	 "GET_STATUS", "GET_CONFIG",
};

struct vu_backend {
	int unused;
};

static struct vu_backend fake_backend_obj;

struct fake_state fk;

void
fake_reset(uint64_t features, uint32_t max_pairs)
{
	memset(&fk, 0, sizeof(fk));
	fk.features = features;
	fk.max_pairs = max_pairs;
}

static int
record(enum op op, uint32_t idx, uint64_t val)
{
	if (fk.ncalls < FAKE_MAX_CALLS)
		fk.calls[fk.ncalls++] = (struct call){ op, idx, val };
	if (fk.fail_op == op && fk.fail_idx == idx)
		return fk.fail_rc;
	return 0;
}

static int
fake_open(const struct vu_backend_params *params, struct vu_backend **out)
{
	fk.params = *params;
	snprintf(fk.name, sizeof(fk.name), "%s", params->name ? params->name : "");
	snprintf(fk.path, sizeof(fk.path), "%s", params->path ? params->path : "");
	if (params->mac)
		memcpy(fk.mac, params->mac, sizeof(fk.mac));
	fk.params.name = fk.name;
	fk.params.path = fk.path;
	fk.params.mac = params->mac ? fk.mac : NULL;
	record(OP_OPEN, 0, 0);
	if (fk.open_rc)
		return fk.open_rc;
	fk.is_open = true;
	*out = &fake_backend_obj;
	return 0;
}

static void
fake_close(struct vu_backend *b)
{
	assert_ptr_equal(b, &fake_backend_obj);
	record(OP_CLOSE, 0, 0);
	fk.is_open = false;
}

static int
fake_get_features(struct vu_backend *b, uint64_t *features)
{
	(void)b;
	*features = fk.features;
	return record(OP_GET_FEATURES, 0, 0);
}

static int
fake_get_max_queue_pairs(struct vu_backend *b, uint32_t *pairs)
{
	(void)b;
	*pairs = fk.max_pairs;
	return record(OP_GET_MAX_QP, 0, 0);
}

static int
fake_set_features(struct vu_backend *b, uint64_t features)
{
	(void)b;
	return record(OP_SET_FEATURES, 0, features);
}

static int
fake_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	(void)b;
	fk.mem = *mem;
	return record(OP_SET_MEM_TABLE, 0, mem->nregions);
}

static int
fake_set_vring_num(struct vu_backend *b, uint32_t idx, uint32_t num)
{
	(void)b;
	return record(OP_NUM, idx, num);
}

static int
fake_set_vring_base(struct vu_backend *b, uint32_t idx, uint32_t base)
{
	(void)b;
	return record(OP_BASE, idx, base);
}

static int
fake_get_vring_base(struct vu_backend *b, uint32_t idx, uint32_t *base)
{
	(void)b;
	*base = 42;
	return record(OP_GET_BASE, idx, 0);
}

static int
fake_set_vring_addr(struct vu_backend *b, uint32_t idx, const struct vu_vring_addr *addr)
{
	(void)b;
	if (idx < FAKE_MAX_QUEUES)
		fk.addr[idx] = *addr;
	return record(OP_ADDR, idx, 0);
}

static int
fake_set_vring_kick(struct vu_backend *b, uint32_t idx, int fd)
{
	(void)b;
	return record(OP_KICK, idx, (uint64_t)(int64_t)fd);
}

static int
fake_set_vring_call(struct vu_backend *b, uint32_t idx, int fd)
{
	(void)b;
	return record(OP_CALL, idx, (uint64_t)(int64_t)fd);
}

static int
fake_set_vring_enable(struct vu_backend *b, uint32_t idx, bool enable)
{
	(void)b;
	return record(OP_ENABLE, idx, enable);
}

static int
fake_backend_reset(struct vu_backend *b)
{
	(void)b;
	return record(OP_RESET, 0, 0);
}

static int
fake_set_mtu(struct vu_backend *b, uint32_t mtu)
{
	(void)b;
	return record(OP_MTU, 0, mtu);
}

/* A backend without the status or a config space sends nothing: no call recorded. */
static int
fake_set_status(struct vu_backend *b, uint8_t status)
{
	(void)b;
	if (!fk.status)
		return -EOPNOTSUPP;
	fk.backend_status = status & (uint8_t)~fk.clear_status;
	return record(OP_SET_STATUS, 0, status);
}

static int
fake_get_status(struct vu_backend *b, uint8_t *status)
{
	(void)b;
	if (!fk.status)
		return -EOPNOTSUPP;
	*status = fk.backend_status | fk.add_status;
	return record(OP_GET_STATUS, 0, *status);
}

static int
fake_get_config(struct vu_backend *b, uint32_t offset, void *buf, uint32_t len)
{
	int rc;

	(void)b;
	if (!fk.config)
		return -EOPNOTSUPP;
	rc = record(OP_GET_CONFIG, offset, len);
	if (rc == 0 && fk.config_rc)
		rc = fk.config_rc;
	if (rc == 0)
		memcpy(buf, (const uint8_t *)&fk.cfg + offset, len);
	return rc;
}

const struct vu_backend_ops fake_ops = {
	.name = "fake",
	.maps_memory_by_fd = true, /* like vhost-user: regions without fds are refused */
	.takes_ifname = true,	   /* like vhost-kernel: params->ifname reaches open */
	.open = fake_open,
	.close = fake_close,
	.get_features = fake_get_features,
	.get_max_queue_pairs = fake_get_max_queue_pairs,
	.set_features = fake_set_features,
	.set_mem_table = fake_set_mem_table,
	.set_vring_num = fake_set_vring_num,
	.set_vring_base = fake_set_vring_base,
	.get_vring_base = fake_get_vring_base,
	.set_vring_addr = fake_set_vring_addr,
	.set_vring_kick = fake_set_vring_kick,
	.set_vring_call = fake_set_vring_call,
	.set_vring_enable = fake_set_vring_enable,
	.reset = fake_backend_reset,
	.set_mtu = fake_set_mtu,
	.set_status = fake_set_status,
	.get_status = fake_get_status,
	.get_config = fake_get_config,
};

void
expect_calls_what(const char *what, unsigned int from, const struct call *want, unsigned int n)
{
	unsigned int got = fk.ncalls - from;
	bool same = got == n;

	for (unsigned int i = 0; same && i < n; i++)
		same = fk.calls[from + i].op == want[i].op &&
			fk.calls[from + i].idx == want[i].idx &&
			fk.calls[from + i].val == want[i].val;
	if (same)
		return;
	fprintf(stderr, "%s: backend calls (got | expected):\n", what);
	for (unsigned int i = 0; i < got || i < n; i++) {
		if (i < got)
			fprintf(stderr, "  %-13s %3u 0x%-10llx", op_names[fk.calls[from + i].op],
				fk.calls[from + i].idx, (unsigned long long)fk.calls[from + i].val);
		else
			fprintf(stderr, "  %-30s", "-");
		if (i < n)
			fprintf(stderr, " | %-13s %3u 0x%llx\n", op_names[want[i].op], want[i].idx,
				(unsigned long long)want[i].val);
		else
			fprintf(stderr, " | -\n");
	}
	fail_msg("%s: backend call sequence differs", what);
}
