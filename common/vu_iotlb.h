/* SPDX-License-Identifier: BSD-3-Clause */
/* An IOTLB: I/O virtual address ranges with their user address and permissions. */
#ifndef VU_IOTLB_H
#define VU_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

/* Permissions, as IOTLB_MSG carries them (the kernel's VHOST_ACCESS_RO, _WO, _RW). */
#define VU_IOTLB_PERM_RO 0x1
#define VU_IOTLB_PERM_WO 0x2
#define VU_IOTLB_PERM_RW 0x3

/* Entries one table holds: rings and mempool chunks of a port, a few dozen at most. */
#define VU_IOTLB_MAX_ENTRIES 256

struct vu_iotlb_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm; /* VU_IOTLB_PERM_* */
};

/* Entries sorted by iova, never overlapping, so that a lookup is a binary search. */
struct vu_iotlb {
	uint32_t n;
	struct vu_iotlb_entry e[VU_IOTLB_MAX_ENTRIES];
};

void vu_iotlb_init(struct vu_iotlb *t);

/* Add [iova, iova + size) -> uaddr. Entries it overlaps are dropped first: the newest
 * update wins. Returns 0, -EINVAL (size 0, a range that wraps, no permission) or -ENOSPC. */
int vu_iotlb_insert(struct vu_iotlb *t, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm);

/* Drop every entry that shares a byte with [iova, iova + size), as an INVALIDATE does
 * (the kernel's vhost and DPDK's drop whole entries too). Returns how many went. */
uint32_t vu_iotlb_remove(struct vu_iotlb *t, uint64_t iova, uint64_t size);

/* The entry holding iova, or NULL. */
const struct vu_iotlb_entry *vu_iotlb_find(const struct vu_iotlb *t, uint64_t iova);

/* Translate [iova, iova + len) with permission perm into *uaddr. Returns 0; -ENOENT
 * when part of it has no entry (*miss: the first address without one, what to ask the
 * frontend for); -EACCES when the entry lacks perm; -EFAULT when the range runs past
 * its entry into another one (a buffer must lie in one mapping). */
int vu_iotlb_translate(const struct vu_iotlb *t, uint64_t iova, uint64_t len, uint8_t perm,
		       uint64_t *uaddr, uint64_t *miss);

#endif /* VU_IOTLB_H */
