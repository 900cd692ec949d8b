/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend: the memory table, whole (SET_MEM_TABLE) or in slots (ADD/REM_MEM_REG). */
#include <errno.h>
#include <stddef.h>

#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_vhost_user_priv.h"

/* GET_MAX_MEM_SLOTS: "the maximum number of memory slots" the backend maps. Fewer than
 * SET_MEM_TABLE's 8 would make the feature a loss; more than a table holds are not
 * used. */
int
vu_vhost_get_mem_slots(struct vu_backend *b)
{
	uint64_t slots;
	int rc = vu_vhost_get_u64(b, VU_VHOST_USER_GET_MAX_MEM_SLOTS, &slots);

	if (rc < 0)
		return rc;
	if (slots < VU_VHOST_USER_MAX_REGIONS) {
		VU_ERR("%s: GET_MAX_MEM_SLOTS: backend %s reports %llu memory slots, fewer than "
		       "the %u of SET_MEM_TABLE",
		       b->name, b->path, (unsigned long long)slots, VU_VHOST_USER_MAX_REGIONS);
		return -EPROTO;
	}
	b->mem_slots = slots < VU_MEM_MAX_SLOTS ? (uint32_t)slots : VU_MEM_MAX_SLOTS;
	b->sent.nregions = 0;
	return 0;
}

static bool
vu_region_overlap(const struct vu_mem_region *a, const struct vu_mem_region *b)
{
	return a->addr < b->addr + b->len && b->addr < a->addr + a->len;
}

/* The same file at the same offsets for the addresses both have. */
static bool
vu_region_same_map(const struct vu_mem_region *a, const struct vu_mem_region *b)
{
	return a->fd == b->fd && a->offset + b->addr == b->offset + a->addr;
}

/* A mapped region stays while it maps the file a new region has at its addresses and
 * maps no other region's: memory freed at its edges stays mapped until all of it is
 * gone, which costs the backend nothing and keeps a ring's region from going away. */
static bool
vu_slot_stays(const struct vu_mem_region *s, const struct vu_mem_table *mem)
{
	bool matched = false;

	for (uint32_t i = 0; i < mem->nregions; i++) {
		if (!vu_region_overlap(s, &mem->regions[i]))
			continue;
		if (!vu_region_same_map(s, &mem->regions[i]))
			return false;
		matched = true;
	}
	return matched;
}

static int
vu_vhost_mem_reg(struct vu_backend *b, uint32_t request, const struct vu_mem_region *r)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, sizeof(struct vu_vhost_mem_reg));
	/* Descriptors carry process addresses, so "guest physical" == userspace. */
	msg.payload.mem_reg.region = (struct vu_vhost_mem_region){
		.guest_phys_addr = r->addr,
		.memory_size = r->len,
		.userspace_addr = r->addr,
		.mmap_offset = r->offset,
	};
	/* REM_MEM_REG: "No file descriptors SHOULD be passed". */
	if (request == VU_VHOST_USER_ADD_MEM_REG) {
		msg.fds[0] = r->fd;
		msg.nfds = 1;
	}
	return vu_vhost_request(b, &msg, false);
}

static int
vu_vhost_add_slot(struct vu_backend *b, const struct vu_mem_region *n, uint64_t start, uint64_t end)
{
	struct vu_mem_region piece = { .addr = start,
				       .len = end - start,
				       .fd = n->fd,
				       .offset = n->offset + (start - n->addr) };
	int rc;

	if (b->sent.nregions >= b->mem_slots) {
		VU_ERR("%s: ADD_MEM_REG: the memory needs more than the %u memory slots backend "
		       "%s has",
		       b->name, b->mem_slots, b->path);
		return -E2BIG;
	}
	rc = vu_vhost_mem_reg(b, VU_VHOST_USER_ADD_MEM_REG, &piece);
	if (rc == 0)
		b->sent.regions[b->sent.nregions++] = piece;
	return rc;
}

/* ADD_MEM_REG for the parts of n no mapped region covers. */
static int
vu_vhost_add_uncovered(struct vu_backend *b, const struct vu_mem_region *n)
{
	uint64_t cursor = n->addr, end = n->addr + n->len;
	uint32_t nsent = b->sent.nregions; /* what this call adds covers nothing else */

	while (cursor < end) {
		const struct vu_mem_region *first = NULL;
		struct vu_mem_region rest = { .addr = cursor, .len = end - cursor };

		for (uint32_t i = 0; i < nsent; i++)
			if (vu_region_overlap(&b->sent.regions[i], &rest) &&
			    (!first || b->sent.regions[i].addr < first->addr))
				first = &b->sent.regions[i];
		if (!first)
			return vu_vhost_add_slot(b, n, cursor, end);
		if (first->addr > cursor) {
			int rc = vu_vhost_add_slot(b, n, cursor, first->addr);

			if (rc < 0)
				return rc;
		}
		cursor = first->addr + first->len;
	}
	return 0;
}

/* The backend has what sent says: REM_MEM_REG what no longer stays, then ADD_MEM_REG
 * what is new, as QEMU does. A failure leaves sent true to what the backend took. */
static int
vu_vhost_update_slots(struct vu_backend *b, const struct vu_mem_table *mem)
{
	uint32_t i = 0;
	int rc;

	while (i < b->sent.nregions) {
		if (vu_slot_stays(&b->sent.regions[i], mem)) {
			i++;
			continue;
		}
		rc = vu_vhost_mem_reg(b, VU_VHOST_USER_REM_MEM_REG, &b->sent.regions[i]);
		if (rc < 0)
			return rc;
		b->sent.regions[i] = b->sent.regions[--b->sent.nregions];
	}
	for (i = 0; i < mem->nregions; i++) {
		rc = vu_vhost_add_uncovered(b, &mem->regions[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint32_t
vu_vhost_mem_slots(struct vu_backend *b)
{
	return b->mem_slots;
}

int
vu_vhost_set_mem_table(struct vu_backend *b, const struct vu_mem_table *mem)
{
	struct vu_vhost_msg msg;
	int rc;

	if (b->mem_slots && b->sock >= 0) {
		rc = vu_vhost_update_slots(b, mem);
		b->mem_sent = rc == 0;
		return rc;
	}
	if (mem->nregions == 0 || mem->nregions > VU_VHOST_USER_MAX_REGIONS) {
		VU_ERR("%s: SET_MEM_TABLE: %u memory regions, vhost-user takes 1 to %u "
		       "(backend %s does not offer CONFIGURE_MEM_SLOTS)",
		       b->name, mem->nregions, VU_VHOST_USER_MAX_REGIONS, b->path);
		return -E2BIG;
	}
	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_MEM_TABLE,
			  offsetof(struct vu_vhost_memory, regions) +
				  mem->nregions * sizeof(struct vu_vhost_mem_region));
	msg.payload.memory.nregions = mem->nregions;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->regions[i];

		/* Descriptors carry process addresses, so "guest physical" == userspace. */
		msg.payload.memory.regions[i] = (struct vu_vhost_mem_region){
			.guest_phys_addr = r->addr,
			.memory_size = r->len,
			.userspace_addr = r->addr,
			.mmap_offset = r->offset,
		};
		msg.fds[i] = r->fd;
	}
	msg.nfds = mem->nregions;
	rc = vu_vhost_request(b, &msg, false);
	/* A new table: "Flush IOTLB cache as previous HVAs are now invalid" (DPDK's vhost
	 * does): the ranges go again, with the next SET_VRING_ADDR. */
	b->mem_sent = rc == 0;
	return rc;
}
