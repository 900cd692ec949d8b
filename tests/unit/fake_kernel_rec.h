/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka look-ups in the fake kernel's ioctl record, for the tests that assert on it. */
#ifndef FAKE_KERNEL_REC_H
#define FAKE_KERNEL_REC_H

#include "fake_kernel.h"

/* The next record at or after *pos with this request (*pos moves past it); fails if none. */
static inline const struct fk_rec *
next_rec(unsigned int *pos, unsigned long request, const char *name)
{
	for (; *pos < fk.nrecs; (*pos)++)
		if (fk.recs[*pos].request == request)
			return &fk.recs[(*pos)++];
	fail_msg("no %s after position %u (%u ioctls recorded)", name, *pos, fk.nrecs);
	return NULL;
}

/* How many records have this request. */
static inline unsigned int
count_rec(unsigned long request)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fk.nrecs; i++)
		n += fk.recs[i].request == request;
	return n;
}

#endif
