/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub memory table: SET_MEM_TABLE checks, mapping through the transport, translation. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vub_priv.h"

/* [a, a + alen) and [b, b + blen) share a byte; neither wraps (checked before). */
static bool
vub_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool
vub_wraps(uint64_t start, uint64_t len)
{
	return start + len < start;
}

static const char *
vub_mem_check_region(const struct vu_vhost_mem_region *r)
{
	if (r->memory_size == 0)
		return "size 0";
	if (vub_wraps(r->guest_phys_addr, r->memory_size))
		return "guest address + size wraps around";
	if (vub_wraps(r->userspace_addr, r->memory_size))
		return "user address + size wraps around";
	if (vub_wraps(r->mmap_offset, r->memory_size))
		return "mmap offset + size wraps around";
	return NULL;
}

/* Each address must fall in one region only: no two regions may overlap, in guest
 * addresses (descriptors) nor in user addresses (ring addresses). */
static const char *
vub_mem_check_overlap(const struct vu_vhost_memory *m, uint32_t i)
{
	const struct vu_vhost_mem_region *r = &m->regions[i];

	for (uint32_t j = 0; j < i; j++) {
		const struct vu_vhost_mem_region *o = &m->regions[j];

		if (vub_overlap(r->guest_phys_addr, r->memory_size, o->guest_phys_addr,
				o->memory_size))
			return "guest addresses overlap an earlier region";
		if (vub_overlap(r->userspace_addr, r->memory_size, o->userspace_addr,
				o->memory_size))
			return "user addresses overlap an earlier region";
	}
	return NULL;
}

static int
vub_mem_check(const struct vub_dev *dev, const struct vu_vhost_msg *msg)
{
	const struct vu_vhost_memory *m = &msg->payload.memory;
	const size_t fixed = offsetof(struct vu_vhost_memory, regions);
	const char *why = NULL;
	uint32_t i;

	if (msg->hdr.size < fixed)
		why = "payload shorter than the region count";
	else if (m->nregions == 0 || m->nregions > VU_VHOST_USER_MAX_REGIONS)
		why = "region count out of range (1 to 8)";
	else if (msg->hdr.size != fixed + m->nregions * sizeof(m->regions[0]))
		why = "payload size does not match the region count";
	if (why) {
		VU_ERR("%s: SET_MEM_TABLE refused: %s", dev->name, why);
		return -EINVAL;
	}
	for (i = 0; i < m->nregions; i++) {
		why = vub_mem_check_region(&m->regions[i]);
		if (!why)
			why = vub_mem_check_overlap(m, i);
		if (why) {
			VU_ERR("%s: SET_MEM_TABLE refused: region %u (guest 0x%llx, size "
			       "0x%llx): %s",
			       dev->name, i, (unsigned long long)m->regions[i].guest_phys_addr,
			       (unsigned long long)m->regions[i].memory_size, why);
			return -EINVAL;
		}
	}
	return 0;
}

void
vub_mem_unmap(struct vub_dev *dev, struct vub_mem *mem)
{
	for (uint32_t i = 0; i < mem->nregions; i++)
		dev->t->ops->unmap_mem(dev->t, &mem->regions[i]);
	mem->nregions = 0;
}

void
vub_mem_unmap_all(struct vub_dev *dev)
{
	vub_mem_unmap(dev, &dev->mem);
}

/* The regions of a SET_MEM_TABLE, checked and mapped into mem; the device's table is
 * left alone (the caller swaps it in while no burst runs). */
int
vub_mem_map(struct vub_dev *dev, const struct vu_vhost_msg *msg, struct vub_mem *mem)
{
	const struct vu_vhost_memory *m = &msg->payload.memory;
	int rc;

	rc = vub_mem_check(dev, msg);
	if (rc < 0)
		return rc;
	memset(mem, 0, sizeof(*mem));
	for (uint32_t i = 0; i < m->nregions; i++) {
		mem->regions[i].gpa = m->regions[i].guest_phys_addr;
		mem->regions[i].uva = m->regions[i].userspace_addr;
		mem->regions[i].size = m->regions[i].memory_size;
	}
	rc = dev->t->ops->map_mem(dev->t, msg, mem->regions);
	if (rc < 0)
		return rc;
	mem->nregions = m->nregions;
	return 0;
}

static void *
vub_mem_find(const struct vub_mem *mem, uint64_t addr, uint64_t len, bool by_gpa)
{
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct vub_region *r = &mem->regions[i];
		uint64_t start = by_gpa ? r->gpa : r->uva;
		uint64_t off = addr - start;

		/* Wholly inside this region, written so that nothing can wrap. */
		if (addr >= start && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

void *
vub_mem_gpa(const struct vub_mem *mem, uint64_t gpa, uint64_t len)
{
	return vub_mem_find(mem, gpa, len, true);
}

void *
vub_mem_uva(const struct vub_mem *mem, uint64_t uva, uint64_t len)
{
	return vub_mem_find(mem, uva, len, false);
}
