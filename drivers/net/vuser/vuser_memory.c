/* SPDX-License-Identifier: BSD-3-Clause */
/* Describes EAL memory to the device: one region per backing file, or per memory list when
 * the backend needs no fds (vhost-kernel) and the memory has none (--no-huge alone). */
#include <rte_memory.h>

#include "vuser.h"

struct vuser_memory_walk {
	struct vu_mem_table *mem;
	const struct vuser_memory_want *want;
	int error;
	unsigned int wanted;		  /* regions needed, even past the table's capacity */
	uintptr_t keys[VU_MEM_MAX_SLOTS]; /* the file or memory list of each region */
};

static struct vu_mem_region *
vuser_region_for(struct vuser_memory_walk *w, uintptr_t key)
{
	struct vu_mem_table *mem = w->mem;

	for (uint32_t i = 0; i < mem->nregions; i++)
		if (w->keys[i] == key)
			return &mem->regions[i];
	w->wanted++;
	if (mem->nregions == w->want->max)
		return NULL;
	w->keys[mem->nregions] = key;
	/* Zero length marks a region not seen yet (the table is not cleared in full). */
	mem->regions[mem->nregions] = (struct vu_mem_region){ .fd = -1 };
	return &mem->regions[mem->nregions++];
}

/* One region per file (or list), spanning its lowest to highest segment: a file maps its
 * memseg list linearly, so addr - offset is the same for every segment of it. */
static int
vuser_memory_walk_seg(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	struct vuser_memory_walk *w = arg;
	struct vu_mem_region *r;
	size_t offset = 0;
	uint64_t start = (uint64_t)(uintptr_t)ms->addr;
	uint64_t end = start + ms->len;
	uintptr_t key;
	int fd;

	if (msl->external || (start >= w->want->skip && start - w->want->skip < w->want->skip_len))
		return 0;
	fd = rte_memseg_get_fd_thread_unsafe(ms);
	if (fd >= 0 && rte_memseg_get_fd_offset_thread_unsafe(ms, &offset) < 0)
		fd = -1;
	if (fd < 0 && w->want->need_fds) {
		w->error = -ENOTSUP;
		return -1;
	}
	/* Files and lists as keys: a file's number, or the list's address (never small). */
	key = fd >= 0 ? (uintptr_t)fd : (uintptr_t)msl;
	r = vuser_region_for(w, key);
	if (!r)
		return 0;
	if (r->len == 0) {
		*r = (struct vu_mem_region){
			.addr = start, .len = ms->len, .fd = fd, .offset = offset
		};
		return 0;
	}
	if (start < r->addr) {
		r->len += r->addr - start;
		r->addr = start;
		r->offset = offset;
	}
	if (end > r->addr + r->len)
		r->len = end - r->addr;
	return 0;
}

int
vuser_memory_table(const struct vuser_port *port, const struct vuser_memory_want *want,
		   struct vu_mem_table *mem)
{
	struct vuser_memory_walk w = { .mem = mem, .want = want };

	mem->nregions = 0;
	if (want->locked)
		rte_memseg_walk_thread_unsafe(vuser_memory_walk_seg, &w);
	else
		rte_memseg_walk(vuser_memory_walk_seg, &w);
	if (w.error) {
		VUSER_LOG(ERR, port,
			  "EAL memory is not backed by files, a vhost backend cannot map it: run "
			  "with hugepages or with --no-huge --single-file-segments");
		return w.error;
	}
	if (w.wanted > want->max) {
		VUSER_LOG(ERR, port,
			  "EAL memory spans %u files, the backend takes at most %u regions%s: run "
			  "EAL with --single-file-segments",
			  w.wanted, want->max,
			  want->slots ? "" : " (it does not offer CONFIGURE_MEM_SLOTS)");
		return -E2BIG;
	}
	if (mem->nregions == 0) {
		VUSER_LOG(ERR, port, "no EAL memory to describe to the backend");
		return -ENOMEM;
	}
	return 0;
}
