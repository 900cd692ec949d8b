/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the net_vuser devargs: the same keys and meanings as DPDK's virtio_user. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vuser_devargs.h"

/* Boolean keys, with where their value goes. */
static bool *
vuser_flag_field(const char *key, struct vuser_devargs *out)
{
	if (strcmp(key, "mrg_rxbuf") == 0)
		return &out->mrg_rxbuf;
	if (strcmp(key, "in_order") == 0)
		return &out->in_order;
	if (strcmp(key, "packed_vq") == 0)
		return &out->packed_vq;
	if (strcmp(key, "vectorized") == 0)
		return &out->vectorized;
	if (strcmp(key, "cq") == 0)
		return &out->cq;
	if (strcmp(key, "server") == 0)
		return &out->server;
	return NULL;
}

/* Values the ethdev API names in RTE_ETH_SPEED_NUM_* (Mbps). */
static const uint32_t vuser_speeds[] = {
	10, 100, 1000, 2500, 5000, 10000, 20000, 25000, 40000, 50000, 56000, 100000, 200000, 400000,
};

#define VUSER_KNOWN_KEYS                                                                     \
	"path, queues, queue_size, mac, speed, cq, server, mrg_rxbuf, in_order, packed_vq, " \
	"vectorized, iface, interface_name"

/* Keys remembered to find duplicates: more than there are keys, each longer than any. */
#define VUSER_KEYS_MAX 16
#define VUSER_KEY_MAX 32

static int
vuser_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal unsigned integer within [min, max], nothing else allowed. */
static bool
vuser_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

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
vuser_parse_pair(const char *key, const char *val, struct vuser_devargs *out, char *err,
		 size_t errlen)
{
	unsigned long v;

	if (strcmp(key, "path") == 0) {
		if (val[0] == '\0')
			return vuser_fail(err, errlen, "path: empty");
		if (strlen(val) >= sizeof(out->path))
			return vuser_fail(err, errlen, "path: longer than %zu bytes",
					  sizeof(out->path) - 1);
		strcpy(out->path, val);
		return 0;
	}
	if (strcmp(key, "queues") == 0) {
		if (!vuser_parse_uint(val, 1, VUSER_MAX_QUEUE_PAIRS, &v))
			return vuser_fail(err, errlen, "queues=%s: not a number from 1 to %d", val,
					  VUSER_MAX_QUEUE_PAIRS);
		out->queues = (uint16_t)v;
		return 0;
	}
	if (strcmp(key, "queue_size") == 0) {
		if (!vuser_parse_uint(val, 1, VUSER_MAX_QUEUE_SIZE, &v))
			return vuser_fail(err, errlen, "queue_size=%s: not a number from 1 to %d",
					  val, VUSER_MAX_QUEUE_SIZE);
		out->queue_size = (uint16_t)v;
		return 0;
	}
	if (strcmp(key, "mac") == 0) {
		if (!vuser_parse_mac(val, out->mac))
			return vuser_fail(err, errlen,
					  "mac=%s: not an address of the form xx:xx:xx:xx:xx:xx",
					  val);
		if (out->mac[0] & 1)
			return vuser_fail(err, errlen, "mac=%s: a multicast address", val);
		if (!(out->mac[0] | out->mac[1] | out->mac[2] | out->mac[3] | out->mac[4] |
		      out->mac[5]))
			return vuser_fail(err, errlen, "mac=%s: the zero address", val);
		out->mac_set = true;
		return 0;
	}
	if (strcmp(key, "speed") == 0) {
		if (vuser_parse_uint(val, 1, UINT32_MAX, &v))
			for (size_t i = 0; i < sizeof(vuser_speeds) / sizeof(vuser_speeds[0]); i++)
				if (vuser_speeds[i] == v) {
					out->speed = (uint32_t)v;
					return 0;
				}
		return vuser_fail(
			err, errlen,
			"speed=%s: not a link speed in Mbps (10, 100, 1000, 2500, 5000, "
			"10000, 20000, 25000, 40000, 50000, 56000, 100000, 200000, 400000)",
			val);
	}
	bool *flag = vuser_flag_field(key, out);

	if (flag) {
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
			return vuser_fail(err, errlen, "%s=%s: expected 0 or 1", key, val);
		*flag = val[0] == '1';
		return 0;
	}
	if (strcmp(key, "iface") == 0 || strcmp(key, "interface_name") == 0) {
		/* An interface name: what the kernel's dev_valid_name() takes, plus %d for
		 * "the first free number", as DPDK's virtio_user allows. */
		if (out->iface[0] != '\0')
			return vuser_fail(err, errlen,
					  "%s=%s: the TAP name is already given (iface and "
					  "interface_name are the same key)",
					  key, val);
		if (val[0] == '\0' || strlen(val) >= sizeof(out->iface) || strcmp(val, ".") == 0 ||
		    strcmp(val, "..") == 0 || strpbrk(val, "/: \t\n"))
			return vuser_fail(
				err, errlen,
				"%s=%s: not an interface name (1 to %zu bytes, no '/', ':' "
				"or spaces)",
				key, val, sizeof(out->iface) - 1);
		strcpy(out->iface, val);
		return 0;
	}
	return vuser_fail(err, errlen, "unknown devarg '%s' (known: " VUSER_KNOWN_KEYS ")", key);
}

static bool
vuser_key_seen(const char seen[][VUSER_KEY_MAX], unsigned int nseen, const char *key)
{
	for (unsigned int i = 0; i < nseen; i++)
		if (strcmp(seen[i], key) == 0)
			return true;
	return false;
}

int
vuser_devargs_parse(const char *args, struct vuser_devargs *out, char *err, size_t errlen)
{
	char seen[VUSER_KEYS_MAX][VUSER_KEY_MAX];
	unsigned int nseen = 0;
	const char *p = args ? args : "";

	memset(out, 0, sizeof(*out));
	out->queues = 1;
	out->queue_size = VUSER_DEFAULT_QUEUE_SIZE;
	/* DPDK's virtio_user defaults, so that command lines mean the same. */
	out->mrg_rxbuf = true;
	out->in_order = true;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[PATH_MAX + 32];
		char *eq;
		int rc;

		if (len == 0)
			return vuser_fail(err, errlen, "empty devarg in '%s'", args);
		if (len >= sizeof(item))
			return vuser_fail(err, errlen, "devarg of %zu bytes is too long", len);
		memcpy(item, p, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item)
			return vuser_fail(err, errlen, "devarg '%s' is not of the form key=value",
					  item);
		*eq = '\0';
		if (vuser_key_seen(seen, nseen, item))
			return vuser_fail(err, errlen, "devarg '%s' given twice", item);
		if (strlen(item) < sizeof(seen[0]) && nseen < VUSER_KEYS_MAX)
			strcpy(seen[nseen++], item);
		rc = vuser_parse_pair(item, eq + 1, out, err, errlen);
		if (rc < 0)
			return rc;
		p += len;
		if (*p == ',')
			p++;
	}
	if (out->path[0] == '\0')
		return vuser_fail(
			err, errlen,
			"path is required (path=<vhost-user socket> or path=/dev/vhost-net)");
	/* Multi-queue needs the control queue to enable the pairs (VIRTIO_NET_F_MQ
	 * requires VIRTIO_NET_F_CTRL_VQ): on unless cq=0 is given, which is refused, as
	 * DPDK's virtio_user does ("multi-q requires ctrl-q"). */
	if (out->queues > 1 && !out->cq) {
		if (vuser_key_seen(seen, nseen, "cq"))
			return vuser_fail(
				err, errlen,
				"cq=0: queues=%u needs the control queue (VIRTIO_NET_F_MQ "
				"requires VIRTIO_NET_F_CTRL_VQ): set cq=1 or leave cq out",
				out->queues);
		out->cq = true;
	}
	/* Checked last: packed_vq may come after queue_size. */
	if (!out->packed_vq && (out->queue_size & (out->queue_size - 1)))
		return vuser_fail(
			err, errlen,
			"queue_size=%u: a split ring needs a power of two (a packed ring, "
			"packed_vq=1, takes any size)",
			out->queue_size);
	return 0;
}
