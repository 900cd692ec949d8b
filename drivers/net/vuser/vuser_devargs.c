/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the net_vuser devargs: the same keys and meanings as DPDK's virtio_user. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "vu_kv.h"
#include "vuser_devargs.h"

/* Values the ethdev API names in RTE_ETH_SPEED_NUM_* (Mbps). */
static const uint32_t vuser_speeds[] = {
	10, 100, 1000, 2500, 5000, 10000, 20000, 25000, 40000, 50000, 56000, 100000, 200000, 400000,
};

static bool
vuser_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return false;
		mac[i] = (uint8_t)b[i];
	}
	return true;
}

static int
vuser_key_path(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vuser_devargs *out = arg;

	(void)key;
	if (val[0] == '\0')
		return vu_kv_fail(err, errlen, "path: empty");
	if (strlen(val) >= sizeof(out->path))
		return vu_kv_fail(err, errlen, "path: longer than %zu bytes",
				  sizeof(out->path) - 1);
	strcpy(out->path, val);
	return 0;
}

static int
vuser_key_mac(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vuser_devargs *out = arg;

	(void)key;
	if (!vuser_parse_mac(val, out->mac))
		return vu_kv_fail(err, errlen,
				  "mac=%s: not an address of the form xx:xx:xx:xx:xx:xx", val);
	if (out->mac[0] & 1)
		return vu_kv_fail(err, errlen, "mac=%s: a multicast address", val);
	if (!(out->mac[0] | out->mac[1] | out->mac[2] | out->mac[3] | out->mac[4] | out->mac[5]))
		return vu_kv_fail(err, errlen, "mac=%s: the zero address", val);
	out->mac_set = true;
	return 0;
}

static int
vuser_key_speed(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vuser_devargs *out = arg;
	unsigned long v;

	(void)key;
	if (vu_kv_uint(val, 1, UINT32_MAX, &v))
		for (size_t i = 0; i < sizeof(vuser_speeds) / sizeof(vuser_speeds[0]); i++)
			if (vuser_speeds[i] == v) {
				out->speed = (uint32_t)v;
				return 0;
			}
	return vu_kv_fail(err, errlen,
			  "speed=%s: not a link speed in Mbps (10, 100, 1000, 2500, 5000, "
			  "10000, 20000, 25000, 40000, 50000, 56000, 100000, 200000, 400000)",
			  val);
}

/* iface and interface_name: the same key under two names, as in DPDK's virtio_user. */
static int
vuser_key_iface(const struct vu_kv_key *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct vuser_devargs *out = arg;

	/* An interface name: what the kernel's dev_valid_name() takes, plus %d for
	 * "the first free number", as DPDK's virtio_user allows. */
	if (out->iface[0] != '\0')
		return vu_kv_fail(err, errlen,
				  "%s=%s: the TAP name is already given (iface and "
				  "interface_name are the same key)",
				  key->name, val);
	if (val[0] == '\0' || strlen(val) >= sizeof(out->iface) || strcmp(val, ".") == 0 ||
	    strcmp(val, "..") == 0 || strpbrk(val, "/: \t\n"))
		return vu_kv_fail(err, errlen,
				  "%s=%s: not an interface name (1 to %zu bytes, no '/', ':' "
				  "or spaces)",
				  key->name, val, sizeof(out->iface) - 1);
	strcpy(out->iface, val);
	return 0;
}

/* In the order an unknown key's refusal lists them. */
static const struct vu_kv_key vuser_keys[] = {
	{ .name = "path", .parse = vuser_key_path },
	VU_KV_U16(struct vuser_devargs, queues, 1, VUSER_MAX_QUEUE_PAIRS),
	VU_KV_U16(struct vuser_devargs, queue_size, 1, VUSER_MAX_QUEUE_SIZE),
	{ .name = "mac", .parse = vuser_key_mac },
	{ .name = "speed", .parse = vuser_key_speed },
	VU_KV_BOOL(struct vuser_devargs, cq),
	VU_KV_BOOL(struct vuser_devargs, server),
	VU_KV_BOOL(struct vuser_devargs, mrg_rxbuf),
	VU_KV_BOOL(struct vuser_devargs, in_order),
	VU_KV_BOOL(struct vuser_devargs, packed_vq),
	VU_KV_BOOL(struct vuser_devargs, vectorized),
	VU_KV_BOOL(struct vuser_devargs, iotlb),
	{ .name = "iface", .parse = vuser_key_iface },
	{ .name = "interface_name", .parse = vuser_key_iface },
};

static const struct vu_kv_table vuser_kv_table = {
	.driver = "net_vuser",
	.origin = "net_virtio_user",
	.keys = vuser_keys,
	.nkeys = sizeof(vuser_keys) / sizeof(vuser_keys[0]),
	.item_max = PATH_MAX + VU_KV_KEY_MAX,
};

int
vuser_devargs_parse(const char *args, struct vuser_devargs *out, char *err, size_t errlen)
{
	struct vu_kv_seen seen;
	int rc;

	memset(out, 0, sizeof(*out));
	out->queues = 1;
	out->queue_size = VUSER_DEFAULT_QUEUE_SIZE;
	/* DPDK's virtio_user defaults, so that command lines mean the same. */
	out->mrg_rxbuf = true;
	out->in_order = true;

	rc = vu_kv_parse(&vuser_kv_table, args, out, &seen, err, errlen);
	if (rc < 0)
		return rc;
	if (out->path[0] == '\0')
		return vu_kv_fail(
			err, errlen,
			"path is required (path=<vhost-user socket> or path=/dev/vhost-net)");
	/* Multi-queue needs the control queue to enable the pairs (VIRTIO_NET_F_MQ
	 * requires VIRTIO_NET_F_CTRL_VQ): on unless cq=0 is given, which is refused, as
	 * DPDK's virtio_user does ("multi-q requires ctrl-q"). */
	if (out->queues > 1 && !out->cq) {
		if (vu_kv_given(&seen, "cq"))
			return vu_kv_fail(
				err, errlen,
				"cq=0: queues=%u needs the control queue (VIRTIO_NET_F_MQ "
				"requires VIRTIO_NET_F_CTRL_VQ): set cq=1 or leave cq out",
				out->queues);
		out->cq = true;
	}
	/* Checked last: packed_vq may come after queue_size. */
	if (!out->packed_vq && (out->queue_size & (out->queue_size - 1)))
		return vu_kv_fail(
			err, errlen,
			"queue_size=%u: a split ring needs a power of two (a packed ring, "
			"packed_vq=1, takes any size)",
			out->queue_size);
	return 0;
}
