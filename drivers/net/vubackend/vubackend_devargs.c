/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the net_vubackend devargs: DPDK net_vhost's keys where they apply. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vub.h"
#include "vubackend_devargs.h"

#define VUBACKEND_MAX_KEYS 16
#define VUBACKEND_KEY_MAX 32
#define VUBACKEND_ITEM_MAX (VUBACKEND_IFACE_MAX + VUBACKEND_KEY_MAX)

typedef int (*vubackend_key_fn)(const char *val, struct vubackend_devargs *out, char *err,
				size_t errlen);

struct vubackend_key {
	const char *name;
	vubackend_key_fn parse; /* NULL: a net_vhost key this driver does not implement yet */
	const char *missing;	/* then: what it would need */
};

static int
vubackend_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal unsigned integer within [min, max], nothing else allowed. */
static bool
vubackend_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
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

static int
vubackend_parse_iface(const char *val, struct vubackend_devargs *out, char *err, size_t errlen)
{
	if (val[0] == '\0' || strlen(val) >= sizeof(out->iface))
		return vubackend_fail(err, errlen,
				      "iface=%s: a socket path of 1 to %zu bytes expected", val,
				      sizeof(out->iface) - 1);
	memcpy(out->iface, val, strlen(val) + 1);
	return 0;
}

static int
vubackend_parse_queues(const char *val, struct vubackend_devargs *out, char *err, size_t errlen)
{
	unsigned long v;

	if (!vubackend_uint(val, 1, VUB_MAX_QUEUE_PAIRS, &v))
		return vubackend_fail(err, errlen, "queues=%s: not a number from 1 to %d", val,
				      VUB_MAX_QUEUE_PAIRS);
	out->queues = (uint16_t)v;
	return 0;
}

static int
vubackend_parse_client(const char *val, struct vubackend_devargs *out, char *err, size_t errlen)
{
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return vubackend_fail(err, errlen, "client=%s: expected 0 or 1", val);
	out->client = val[0] == '1';
	return 0;
}

static int
vubackend_parse_tso(const char *val, struct vubackend_devargs *out, char *err, size_t errlen)
{
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return vubackend_fail(err, errlen, "tso=%s: expected 0 or 1", val);
	out->tso = val[0] == '1';
	return 0;
}

static const struct vubackend_key vubackend_keys[] = {
	{ "iface", vubackend_parse_iface, NULL },
	{ "queues", vubackend_parse_queues, NULL },
	{ "client", vubackend_parse_client, NULL },
	{ "iommu-support", NULL, "VIRTIO_F_IOMMU_PLATFORM and IOTLB messages" },
	{ "postcopy-support", NULL, "postcopy live migration" },
	{ "tso", vubackend_parse_tso, NULL },
	{ "linear-buffer", NULL, "a choice of mbuf layout" },
	{ "ext-buffer", NULL, "external mbuf buffers" },
	{ "legacy-ol-flags", NULL, "the mbuf offload flags of DPDK before 21.11" },
};

#define VUBACKEND_NKEYS (sizeof(vubackend_keys) / sizeof(vubackend_keys[0]))

static int
vubackend_parse_pair(const char *key, const char *val, struct vubackend_devargs *out, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < VUBACKEND_NKEYS; i++) {
		const struct vubackend_key *k = &vubackend_keys[i];

		if (strcmp(key, k->name) != 0)
			continue;
		if (!k->parse)
			return vubackend_fail(err, errlen,
					      "devarg '%s' of net_vhost is not implemented by "
					      "net_vubackend yet (needs %s)",
					      key, k->missing);
		return k->parse(val, out, err, errlen);
	}
	return vubackend_fail(err, errlen,
			      "unknown devarg '%s' (known: iface, queues, client, tso)", key);
}

/* Split "key=value" in item (modified); reject what is not of that form. */
static int
vubackend_split(char *item, char **val, char *err, size_t errlen)
{
	char *eq = strchr(item, '=');

	if (!eq || eq == item)
		return vubackend_fail(err, errlen, "devarg '%s' is not of the form key=value",
				      item);
	*eq = '\0';
	*val = eq + 1;
	if (strlen(item) >= VUBACKEND_KEY_MAX)
		return vubackend_fail(err, errlen, "unknown devarg '%s'", item);
	return 0;
}

int
vubackend_devargs_parse(const char *args, struct vubackend_devargs *out, char *err, size_t errlen)
{
	char seen[VUBACKEND_MAX_KEYS][VUBACKEND_KEY_MAX];
	unsigned int nseen = 0;
	const char *p = args ? args : "";

	memset(out, 0, sizeof(*out));
	out->queues = 1;
	while (*p) {
		size_t len = strcspn(p, ",");
		char item[VUBACKEND_ITEM_MAX], *val = NULL;
		int rc;

		if (len == 0)
			return vubackend_fail(err, errlen, "empty devarg in '%s'", args);
		if (len >= sizeof(item))
			return vubackend_fail(err, errlen, "devarg of %zu bytes is too long", len);
		memcpy(item, p, len);
		item[len] = '\0';
		rc = vubackend_split(item, &val, err, errlen);
		for (unsigned int i = 0; rc == 0 && i < nseen; i++)
			if (strcmp(seen[i], item) == 0)
				rc = vubackend_fail(err, errlen, "devarg '%s' given twice", item);
		if (rc == 0)
			rc = vubackend_parse_pair(item, val, out, err, errlen);
		if (rc < 0)
			return rc;
		if (nseen < VUBACKEND_MAX_KEYS)
			strcpy(seen[nseen++], item);
		p += len;
		if (*p == ',')
			p++;
	}
	if (out->iface[0] == '\0')
		return vubackend_fail(err, errlen, "iface is required (iface=<vhost-user socket>)");
	return 0;
}
