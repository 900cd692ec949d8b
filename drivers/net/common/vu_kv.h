/* SPDX-License-Identifier: BSD-3-Clause */
/* "key=value,..." devargs lists parsed against a PMD's key table; plain C, no DPDK. */
#ifndef VU_KV_H
#define VU_KV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Keys remembered to find duplicates: more than any table has, each longer than any key. */
#define VU_KV_KEYS_MAX 16
#define VU_KV_KEY_MAX 32
/* The longest item a table may take: a path and its key. */
#define VU_KV_ITEM_MAX (PATH_MAX + VU_KV_KEY_MAX)

struct vu_kv_key;

/* Store val into out (the PMD's devargs struct): 0, or -EINVAL with err naming the key. */
typedef int (*vu_kv_parse_fn)(const struct vu_kv_key *key, const char *val, void *out, char *err,
			      size_t errlen);

struct vu_kv_key {
	const char *name;
	vu_kv_parse_fn parse;	/* NULL: a key of the original driver not implemented */
	size_t offset;		/* vu_kv_bool, vu_kv_u16: where in out the value goes */
	unsigned long min, max; /* vu_kv_u16: the range taken */
	const char *missing;	/* parse == NULL: what the key would need */
};

struct vu_kv_table {
	const char *driver; /* this PMD, named when an unimplemented key is refused */
	const char *origin; /* the DPDK driver whose keys these are */
	const struct vu_kv_key *keys;
	size_t nkeys;
	size_t item_max; /* longest "key=value" taken, NUL included (at most VU_KV_ITEM_MAX) */
};

/* A bool key named as its field: "0" or "1". */
#define VU_KV_BOOL(type, field)                                                      \
	{                                                                            \
		.name = #field, .parse = vu_kv_bool, .offset = offsetof(type, field) \
	}
/* A uint16_t key named as its field: a decimal in [lo, hi]. */
#define VU_KV_U16(type, field, lo, hi)                                                            \
	{                                                                                         \
		.name = #field, .parse = vu_kv_u16, .offset = offsetof(type, field), .min = (lo), \
		.max = (hi)                                                                       \
	}

/* The keys a list gave, in order, so that a PMD can ask whether one was given. */
struct vu_kv_seen {
	char keys[VU_KV_KEYS_MAX][VU_KV_KEY_MAX];
	unsigned int n;
};

/*
 * Walk args ("key=value,key=value"; NULL is empty) and hand each value to its key's parse
 * function. Refuses empty items, items without a key, keys given twice and keys the table
 * does not know or does not implement. Returns 0, or -EINVAL with one line in err.
 */
int vu_kv_parse(const struct vu_kv_table *t, const char *args, void *out, struct vu_kv_seen *seen,
		char *err, size_t errlen);

/* Whether the list parsed into seen gave key. */
bool vu_kv_given(const struct vu_kv_seen *seen, const char *key);

/* Format the reason into err (truncated, NUL-terminated) and return -EINVAL. */
int vu_kv_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Decimal unsigned integer within [min, max], nothing else allowed. */
bool vu_kv_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* parse functions for a table: "0" or "1" into a bool; a decimal in [min, max] into a
 * uint16_t. */
int vu_kv_bool(const struct vu_kv_key *key, const char *val, void *out, char *err, size_t errlen);
int vu_kv_u16(const struct vu_kv_key *key, const char *val, void *out, char *err, size_t errlen);

#endif /* VU_KV_H */
