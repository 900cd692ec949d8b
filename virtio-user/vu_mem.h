/* SPDX-License-Identifier: BSD-3-Clause */
/* Memory description handed to the device: regions of the driver's address space with their fds. */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stdint.h>

/* vhost-user's baseline limit without CONFIGURE_MEM_SLOTS (vhost-user spec). */
#define VU_MEM_MAX_REGIONS 8
/* What a table holds: the most regions a backend with CONFIGURE_MEM_SLOTS is asked to
 * take (509, what QEMU's libvhost-user and rust-vmm answer GET_MAX_MEM_SLOTS with). */
#define VU_MEM_MAX_SLOTS 509

struct vu_mem_region {
	uint64_t addr;	 /* start in the driver's address space (also what descriptors carry) */
	uint64_t len;	 /* bytes */
	int fd;		 /* file backing the region; the caller keeps it open */
	uint64_t offset; /* offset of addr inside fd */
};

struct vu_mem_table {
	uint32_t nregions;
	struct vu_mem_region regions[VU_MEM_MAX_SLOTS];
};

#endif /* VU_MEM_H */
