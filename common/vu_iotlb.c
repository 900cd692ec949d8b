/* SPDX-License-Identifier: BSD-3-Clause */
/* An IOTLB: a sorted table of I/O virtual address ranges, shared by both ends. */
#include <errno.h>
#include <string.h>

#include "vu_iotlb.h"
#include "vu_vhost_user_msg.h"

void
vu_iotlb_init(struct vu_iotlb *t)
{
	t->n = 0;
}

/* Index of the first entry whose end lies above iova (n if none). */
static uint32_t
vu_iotlb_lower(const struct vu_iotlb *t, uint64_t iova)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct vu_iotlb_entry *e = &t->e[mid];

		if (e->iova + (e->size - 1) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
vu_iotlb_remove(struct vu_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t last;
	uint32_t first, end;

	if (size == 0)
		return 0;
	last = iova + (size - 1) < iova ? UINT64_MAX : iova + (size - 1);
	first = vu_iotlb_lower(t, iova);
	end = first;
	while (end < t->n && t->e[end].iova <= last)
		end++;
	if (end == first)
		return 0;
	memmove(&t->e[first], &t->e[end], (t->n - end) * sizeof(t->e[0]));
	t->n -= end - first;
	return end - first;
}

int
vu_iotlb_insert(struct vu_iotlb *t, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm)
{
	uint32_t at;

	if (size == 0 || iova + (size - 1) < iova || uaddr + (size - 1) < uaddr ||
	    !(perm & VU_IOTLB_PERM_RW) || (perm & ~VU_IOTLB_PERM_RW))
		return -EINVAL;
	vu_iotlb_remove(t, iova, size);
	if (t->n == VU_IOTLB_MAX_ENTRIES)
		return -ENOSPC;
	at = vu_iotlb_lower(t, iova);
	memmove(&t->e[at + 1], &t->e[at], (t->n - at) * sizeof(t->e[0]));
	t->e[at] =
		(struct vu_iotlb_entry){ .iova = iova, .size = size, .uaddr = uaddr, .perm = perm };
	t->n++;
	return 0;
}

const struct vu_iotlb_entry *
vu_iotlb_find(const struct vu_iotlb *t, uint64_t iova)
{
	uint32_t at = vu_iotlb_lower(t, iova);

	if (at < t->n && t->e[at].iova <= iova)
		return &t->e[at];
	return NULL;
}

int
vu_iotlb_translate(const struct vu_iotlb *t, uint64_t iova, uint64_t len, uint8_t perm,
		   uint64_t *uaddr, uint64_t *miss)
{
	const struct vu_iotlb_entry *e = vu_iotlb_find(t, iova);
	uint64_t off;

	if (!e) {
		*miss = iova;
		return -ENOENT;
	}
	if ((e->perm & perm) != perm)
		return -EACCES;
	off = iova - e->iova;
	if (len > e->size - off) {
		/* Past the entry's end: a miss if nothing maps the next byte. */
		uint64_t next = e->iova + e->size;

		if (next != 0 && !vu_iotlb_find(t, next)) {
			*miss = next;
			return -ENOENT;
		}
		return -EFAULT;
	}
	*uaddr = e->uaddr + off;
	return 0;
}
