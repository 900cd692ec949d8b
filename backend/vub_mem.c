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
	mem->nregions = 0;
	mem->last_hit = 0;
	for (uint32_t i = 0; i < m->nregions; i++) {
		mem->regions[i] = (struct vub_region){
			.gpa = m->regions[i].guest_phys_addr,
			.uva = m->regions[i].userspace_addr,
			.size = m->regions[i].memory_size,
		};
	}
	rc = dev->t->ops->map_mem(dev->t, msg, mem->regions);
	if (rc < 0)
		return rc;
	mem->nregions = m->nregions;
	return 0;
}

bool
vub_region_holds(const struct vub_region *r, uint64_t addr, uint64_t len, bool by_gpa)
{
	uint64_t start = by_gpa ? r->gpa : r->uva;
	uint64_t off = addr - start;

	return addr >= start && off < r->size && len <= r->size - off;
}

/* The last region hit is tried first: with hundreds of slots a linear walk per
 * descriptor would cost more than the copy. The count is read once, acquired: a miss
 * appends a region while other bursts translate. */
static void *
vub_mem_find(struct vub_mem *mem, uint64_t addr, uint64_t len, bool by_gpa)
{
	uint32_t n = __atomic_load_n(&mem->nregions, __ATOMIC_ACQUIRE);
	uint32_t hint = __atomic_load_n(&mem->last_hit, __ATOMIC_RELAXED);

	if (hint < n && vub_region_holds(&mem->regions[hint], addr, len, by_gpa))
		return mem->regions[hint].host +
			(addr - (by_gpa ? mem->regions[hint].gpa : mem->regions[hint].uva));
	for (uint32_t i = 0; i < n; i++) {
		const struct vub_region *r = &mem->regions[i];

		if (vub_region_holds(r, addr, len, by_gpa)) {
			__atomic_store_n(&mem->last_hit, i, __ATOMIC_RELAXED);
			return r->host + (addr - (by_gpa ? r->gpa : r->uva));
		}
	}
	return NULL;
}

/*
 * A translation outside the table, on a transport whose frontend maps memory without
 * telling (VDUSE's bounce buffer appears at the kernel driver's first streaming DMA
 * mapping, after DRIVER_OK, with no message): the transport looks the address up and
 * the region found is appended. Misses of bursts on different rings are serialized by
 * miss_lock; the control path replaces the table only with every ring locked.
 */
static void *
vub_mem_miss(struct vub_dev *dev, uint64_t addr, uint64_t len, bool by_gpa)
{
	struct vub_mem *mem = &dev->mem;
	struct vub_region r = { 0 };
	void *p;

	if (!dev->t->ops->mem_miss)
		return NULL;
	while (__atomic_exchange_n(&dev->miss_lock, 1, __ATOMIC_ACQUIRE))
		;
	p = vub_mem_find(mem, addr, len, by_gpa); /* another ring's miss may have added it */
	if (!p && mem->nregions < VUB_MAX_MEM_SLOTS &&
	    dev->t->ops->mem_miss(dev->t, addr, len, &r) == 0) {
		if (vub_region_holds(&r, addr, len, by_gpa)) {
			mem->regions[mem->nregions] = r;
			__atomic_store_n(&mem->nregions, mem->nregions + 1, __ATOMIC_RELEASE);
			p = vub_mem_find(mem, addr, len, by_gpa);
		} else {
			dev->t->ops->unmap_mem(dev->t, &r);
		}
	}
	__atomic_store_n(&dev->miss_lock, 0, __ATOMIC_RELEASE);
	return p;
}

void *
vub_mem_gpa(struct vub_dev *dev, uint64_t gpa, uint64_t len)
{
	void *p = vub_mem_find(&dev->mem, gpa, len, true);

	return p ? p : vub_mem_miss(dev, gpa, len, true);
}

void *
vub_mem_uva(struct vub_dev *dev, uint64_t uva, uint64_t len)
{
	void *p = vub_mem_find(&dev->mem, uva, len, false);

	return p ? p : vub_mem_miss(dev, uva, len, false);
}

/* ---- CONFIGURE_MEM_SLOTS: one region at a time ---- */

static const char *
vub_mem_slot_problem(const struct vub_dev *dev, const struct vu_vhost_mem_region *r)
{
	const char *why = vub_mem_check_region(r);

	if (why)
		return why;
	for (uint32_t j = 0; j < dev->mem.nregions; j++) {
		const struct vub_region *o = &dev->mem.regions[j];

		if (vub_overlap(r->guest_phys_addr, r->memory_size, o->gpa, o->size))
			return "guest addresses overlap a region already mapped";
		if (vub_overlap(r->userspace_addr, r->memory_size, o->uva, o->size))
			return "user addresses overlap a region already mapped";
	}
	return NULL;
}

void
vub_mem_slot_refused(const struct vub_dev *dev, const char *req,
		     const struct vu_vhost_mem_region *r, const char *why)
{
	VU_ERR("%s: %s refused: region (guest 0x%llx, user 0x%llx, size 0x%llx): %s", dev->name,
	       req, (unsigned long long)r->guest_phys_addr, (unsigned long long)r->userspace_addr,
	       (unsigned long long)r->memory_size, why);
}

/* ADD_MEM_REG's region, checked against the table and mapped through the transport as
 * a one-region table into slot; the table is left alone (the caller appends it while
 * no burst runs). */
int
vub_mem_map_slot(struct vub_dev *dev, const struct vu_vhost_msg *msg, struct vub_region *slot)
{
	const struct vu_vhost_mem_region *r = &msg->payload.mem_reg.region;
	bool full = dev->mem.nregions >= VUB_MAX_MEM_SLOTS;
	const char *why = full ? "every memory slot is taken" : vub_mem_slot_problem(dev, r);
	struct vu_vhost_msg one;

	if (why) {
		vub_mem_slot_refused(dev, "ADD_MEM_REG", r, why);
		return full ? -ENOSPC : -EINVAL;
	}
	vu_vhost_msg_init(&one, VU_VHOST_USER_SET_MEM_TABLE,
			  offsetof(struct vu_vhost_memory, regions) + sizeof(*r));
	one.payload.memory.nregions = 1;
	one.payload.memory.regions[0] = *r;
	one.fds[0] = msg->fds[0];
	one.nfds = 1;
	*slot = (struct vub_region){ .gpa = r->guest_phys_addr,
				     .uva = r->userspace_addr,
				     .size = r->memory_size };
	return dev->t->ops->map_mem(dev->t, &one, slot);
}

/* REM_MEM_REG: "The memory region to be removed is identified by its guest address,
 * user address and size. The mmap offset is ignored." Its index, or -1 (logged). */
int
vub_mem_find_slot(const struct vub_dev *dev, const struct vu_vhost_mem_region *r)
{
	for (uint32_t i = 0; i < dev->mem.nregions; i++) {
		const struct vub_region *o = &dev->mem.regions[i];

		if (o->gpa == r->guest_phys_addr && o->uva == r->userspace_addr &&
		    o->size == r->memory_size)
			return (int)i;
	}
	vub_mem_slot_refused(dev, "REM_MEM_REG", r, "no such region is mapped");
	return -1;
}
