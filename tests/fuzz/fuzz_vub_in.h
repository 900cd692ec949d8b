/* SPDX-License-Identifier: BSD-3-Clause */
/* The libvub fuzz targets' input reader: bytes, then zeros once the input runs out. */
#ifndef FUZZ_VUB_IN_H
#define FUZZ_VUB_IN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline void
fin_take(struct fin *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memset(dst, 0, len);
	memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
}

static inline uint8_t
fin_u8(struct fin *in)
{
	uint8_t v;

	fin_take(in, &v, sizeof(v));
	return v;
}

static inline uint16_t
fin_u16(struct fin *in)
{
	uint16_t v;

	fin_take(in, &v, sizeof(v));
	return v;
}

static inline uint64_t
fin_u64(struct fin *in)
{
	uint64_t v;

	fin_take(in, &v, sizeof(v));
	return v;
}

#endif /* FUZZ_VUB_IN_H */
