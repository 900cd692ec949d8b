/* SPDX-License-Identifier: BSD-3-Clause */
/* The devargs list walk both PMDs share: items, duplicates, the key table, refusals. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vu_kv.h"

int
vu_kv_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool
vu_kv_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
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

int
vu_kv_bool(const struct vu_kv_key *key, const char *val, void *out, char *err, size_t errlen)
{
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return vu_kv_fail(err, errlen, "%s=%s: expected 0 or 1", key->name, val);
	*(bool *)((char *)out + key->offset) = val[0] == '1';
	return 0;
}

int
vu_kv_u16(const struct vu_kv_key *key, const char *val, void *out, char *err, size_t errlen)
{
	unsigned long v;

	if (!vu_kv_uint(val, key->min, key->max, &v))
		return vu_kv_fail(err, errlen, "%s=%s: not a number from %lu to %lu", key->name,
				  val, key->min, key->max);
	*(uint16_t *)((char *)out + key->offset) = (uint16_t)v;
	return 0;
}

bool
vu_kv_given(const struct vu_kv_seen *seen, const char *key)
{
	for (unsigned int i = 0; i < seen->n; i++)
		if (strcmp(seen->keys[i], key) == 0)
			return true;
	return false;
}

/* The refusal of a key the table does not know lists the keys it takes, in table order. */
static int
vu_kv_unknown(const struct vu_kv_table *t, const char *key, char *err, size_t errlen)
{
	char known[512];
	size_t len = 0;

	known[0] = '\0';
	for (size_t i = 0; i < t->nkeys && len < sizeof(known); i++)
		if (t->keys[i].parse)
			len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s",
						len ? ", " : "", t->keys[i].name);
	return vu_kv_fail(err, errlen, "unknown devarg '%s' (known: %s)", key, known);
}

static int
vu_kv_pair(const struct vu_kv_table *t, const char *key, const char *val, void *out, char *err,
	   size_t errlen)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct vu_kv_key *k = &t->keys[i];

		if (strcmp(key, k->name) != 0)
			continue;
		if (!k->parse)
			return vu_kv_fail(err, errlen,
					  "devarg '%s' of %s is not implemented by %s yet "
					  "(needs %s)",
					  key, t->origin, t->driver, k->missing);
		return k->parse(k, val, out, err, errlen);
	}
	return vu_kv_unknown(t, key, err, errlen);
}

int
vu_kv_parse(const struct vu_kv_table *t, const char *args, void *out, struct vu_kv_seen *seen,
	    char *err, size_t errlen)
{
	size_t item_max = t->item_max < VU_KV_ITEM_MAX ? t->item_max : VU_KV_ITEM_MAX;
	const char *p = args ? args : "";

	seen->n = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		char item[VU_KV_ITEM_MAX];
		char *eq;
		int rc;

		if (len == 0)
			return vu_kv_fail(err, errlen, "empty devarg in '%s'", args);
		if (len >= item_max)
			return vu_kv_fail(err, errlen, "devarg of %zu bytes is too long", len);
		memcpy(item, p, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item)
			return vu_kv_fail(err, errlen, "devarg '%s' is not of the form key=value",
					  item);
		*eq = '\0';
		if (vu_kv_given(seen, item))
			return vu_kv_fail(err, errlen, "devarg '%s' given twice", item);
		/* A key too long to remember is longer than any in a table: refused below. */
		if (strlen(item) < sizeof(seen->keys[0]) && seen->n < VU_KV_KEYS_MAX)
			strcpy(seen->keys[seen->n++], item);
		rc = vu_kv_pair(t, item, eq + 1, out, err, errlen);
		if (rc < 0)
			return rc;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}
