/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub inflight I/O tracking (vhost-user INFLIGHT_SHMFD): the region and a ring's restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vub_priv.h"

/* Forget the region (the frontend keeps its own fd to it). No ring uses it: they were
 * reset (vub_dev_reset), or none is started (vub_inflight_rings_stopped). */
void
vub_inflight_unmap(struct vub_dev *dev)
{
	if (dev->inflight.addr)
		munmap(dev->inflight.addr, dev->inflight.size);
	if (dev->inflight.fd >= 0)
		close(dev->inflight.fd);
	dev->inflight.addr = NULL;
	dev->inflight.fd = -1;
	dev->inflight.size = 0;
}

/* The region comes "before the rings are set up": one replaced under a running ring
 * would leave it tracking into memory gone. */
static bool
vub_inflight_rings_stopped(const struct vub_dev *dev)
{
	for (uint32_t i = 0; i < 2u * dev->queue_pairs; i++)
		if (dev->vqs[i].started)
			return false;
	return true;
}

/* Bytes of one ring's part of the region, by the layout negotiated. */
static uint64_t
vub_inflight_queue_bytes(const struct vub_dev *dev, uint16_t queue_size)
{
	return vub_packed_negotiated(dev) ? vu_inflight_packed_queue_size(queue_size) :
					    vu_inflight_split_queue_size(queue_size);
}

/* The rings and their size must be ones this device can have; a split ring's "Queue Size
 * value is always a power of 2" (virtio 1.2, 2.7), a packed one's need not be (2.8). */
static bool
vub_inflight_shape_ok(const struct vub_dev *dev, const struct vu_vhost_inflight *in)
{
	/* "Only valid if VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD protocol feature has been
	 * successfully negotiated." */
	return vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) &&
		vub_inflight_rings_stopped(dev) && in->num_queues >= 1 &&
		in->num_queues <= 2u * dev->queue_pairs && in->queue_size >= 1 &&
		in->queue_size <= VUB_MAX_QUEUE_SIZE &&
		(vub_packed_negotiated(dev) || !(in->queue_size & (in->queue_size - 1)));
}

static int
vub_inflight_map(struct vub_dev *dev, int fd, const struct vu_vhost_inflight *in)
{
	void *addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  (off_t)in->mmap_offset);

	if (addr == MAP_FAILED) {
		int err = errno;

		VU_ERR("%s: inflight region of %llu bytes: mmap: %s", dev->name,
		       (unsigned long long)in->mmap_size, strerror(err));
		return -err;
	}
	vub_inflight_unmap(dev);
	dev->inflight.fd = fd;
	dev->inflight.addr = addr;
	dev->inflight.size = in->mmap_size;
	dev->inflight.num_queues = in->num_queues;
	dev->inflight.queue_size = in->queue_size;
	return 0;
}

/* GET_INFLIGHT_FD: "the back-end allocates the shared buffer" for num_queues rings of
 * queue_size, in the layout of the rings negotiated; zeroed, "an uninitialized buffer"
 * until a ring starts on it. A shape this device cannot have: an empty region (size 0, no
 * fd), the frontend's sign to go on without one. */
int
vub_msg_get_inflight_fd(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	struct vu_vhost_inflight in = msg->payload.inflight;
	int fd;

	reply->hdr.size = sizeof(in);
	in.mmap_size = 0;
	in.mmap_offset = 0;
	reply->payload.inflight = in;
	if (!vub_inflight_shape_ok(dev, &in)) {
		VU_WARN("%s: GET_INFLIGHT_FD for %u %s rings of %u: no region kept (only rings "
			"this device can have, asked before they start, with INFLIGHT_SHMFD "
			"negotiated)",
			dev->name, in.num_queues, vub_packed_negotiated(dev) ? "packed" : "split",
			in.queue_size);
		return 0;
	}
	in.mmap_size = (uint64_t)in.num_queues * vub_inflight_queue_bytes(dev, in.queue_size);
	fd = memfd_create("vub-inflight", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)in.mmap_size) < 0 || vub_inflight_map(dev, fd, &in)) {
		VU_ERR("%s: GET_INFLIGHT_FD: a region of %llu bytes: %s", dev->name,
		       (unsigned long long)in.mmap_size, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	reply->payload.inflight = in;
	reply->fds[0] = fd; /* the region keeps it open; the reply only borrows it */
	reply->nfds = 1;
	VU_INFO("%s: inflight region of %llu bytes for %u rings of %u", dev->name,
		(unsigned long long)in.mmap_size, in.num_queues, in.queue_size);
	return 0;
}

/* SET_INFLIGHT_FD: the region a previous backend filled; the rings started next resubmit
 * what it left in flight. Its size must be the layout's for the rings it describes. */
int
vub_msg_set_inflight_fd(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	const struct vu_vhost_inflight *in = &msg->payload.inflight;
	struct stat st;
	int rc;

	(void)reply;
	if (!vub_inflight_shape_ok(dev, in) ||
	    in->mmap_size != in->num_queues * vub_inflight_queue_bytes(dev, in->queue_size) ||
	    fstat(msg->fds[0], &st) < 0 || (uint64_t)st.st_size < in->mmap_offset ||
	    (uint64_t)st.st_size - in->mmap_offset < in->mmap_size) {
		VU_ERR("%s: SET_INFLIGHT_FD: %llu bytes at %llu for %u rings of %u is not a %s "
		       "inflight region this device can use with its rings stopped: refused",
		       dev->name, (unsigned long long)in->mmap_size,
		       (unsigned long long)in->mmap_offset, in->num_queues, in->queue_size,
		       vub_packed_negotiated(dev) ? "packed" : "split");
		return -EINVAL;
	}
	rc = vub_inflight_map(dev, msg->fds[0], in);
	if (rc < 0)
		return rc;
	msg->fds[0] = -1; /* the region's now */
	msg->nfds = 0;
	VU_INFO("%s: inflight region of %llu bytes from the frontend", dev->name,
		(unsigned long long)in->mmap_size);
	return 0;
}

/* The resubmission list in order of taking: "Resubmit inflight ... entries in order of
 * their counter value". Both layouts' counters sit in the entries' 8-byte field. */
static int
vub_inflight_by_counter(const void *a, const void *b, void *arg)
{
	const struct vub_vq *vq = arg;
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	uint64_t ca = vq->packed ? vq->pinflight->desc[x].counter : vq->inflight->desc[x].counter;
	uint64_t cb = vq->packed ? vq->pinflight->desc[y].counter : vq->inflight->desc[y].counter;

	return ca < cb ? -1 : ca > cb;
}

/*
 * A split ring starting with a region: the spec's recovery. "If the value of used_idx
 * does not match the idx value of used ring", the last batch was published but not
 * cleared: clear it, from last_batch_head through next. Then the heads still in flight
 * are resubmitted "in order of their counter value", and the ring goes on after them.
 */
static int
vub_inflight_resume_split(struct vub_vq *vq, struct vu_inflight_split *r)
{
	uint16_t used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE), n = 0;

	if (r->version == 0) {
		r->version = VU_INFLIGHT_VERSION;
		r->desc_num = vq->size;
		r->used_idx = used;
		vq->inflight = r;
		return 0;
	}
	for (uint16_t k = 0, h = r->last_batch_head;
	     k < (uint16_t)(used - r->used_idx) && h < vq->size; k++, h = r->desc[h].next)
		r->desc[h].inflight = 0;
	r->used_idx = used;
	vq->resubmit = malloc(sizeof(*vq->resubmit) * vq->size);
	if (!vq->resubmit)
		return -ENOMEM;
	for (uint16_t h = 0; h < vq->size; h++) {
		if (!r->desc[h].inflight)
			continue;
		vq->resubmit[n++] = h;
		if (r->desc[h].counter >= vq->inflight_counter)
			vq->inflight_counter = r->desc[h].counter + 1;
	}
	vq->inflight = r;
	qsort_r(vq->resubmit, n, sizeof(*vq->resubmit), vub_inflight_by_counter, vq);
	vq->nresubmit = n;
	vq->last_avail = (uint16_t)(used + n);
	/* No avail entry past them is known yet: the index is read at the first pop. */
	vq->avail_idx = vq->last_avail;
	vq->used_idx = vq->published = used;
	return 0;
}

/* A packed region no ring has used: every entry free, in order (each "next" the one
 * after it), the used position the ring's base. */
static void
vub_inflight_packed_init(struct vub_vq *vq, struct vu_inflight_packed *r)
{
	memset(r, 0, vu_inflight_packed_queue_size(vq->size));
	r->version = VU_INFLIGHT_VERSION;
	r->desc_num = vq->size;
	for (uint16_t i = 0; i < vq->size; i++)
		r->desc[i].next = (uint16_t)(i + 1);
	r->used_idx = r->old_used_idx = vq->used_idx;
	r->used_wrap_counter = r->old_used_wrap_counter = vq->used_wrap;
}

/*
 * The packed recovery's first steps. "If used_idx does not match old_used_idx" a batch
 * was being published: if the descriptor at old_used_idx no longer carries the available
 * flags of old_used_wrap_counter, the driver can see it, so "commit the in-progress
 * update"; then "roll back any in-progress update" and "set the inflight field of each
 * DescStatePacked entry in free list to 0". False when the region is not one this ring
 * can have written (an index out of range, a free list longer than the ring).
 */
static bool
vub_inflight_packed_settle(struct vub_vq *vq, struct vu_inflight_packed *r)
{
	uint16_t e, n = 0;

	if (r->desc_num != vq->size || r->used_idx >= vq->size || r->old_used_idx >= vq->size)
		return false;
	if (r->used_idx != r->old_used_idx &&
	    (__atomic_load_n(&vq->pdesc[r->old_used_idx].flags, __ATOMIC_ACQUIRE) &
	     VU_PACKED_DESC_F_AVAIL_USED) != vu_packed_avail_bits(r->old_used_wrap_counter)) {
		r->old_free_head = r->free_head;
		r->old_used_idx = r->used_idx;
		r->old_used_wrap_counter = r->used_wrap_counter;
	}
	r->free_head = r->old_free_head;
	r->used_idx = r->old_used_idx;
	r->used_wrap_counter = r->old_used_wrap_counter;
	for (e = r->free_head; e < vq->size && n <= vq->size; e = r->desc[e].next, n++)
		r->desc[e].inflight = 0;
	return n <= vq->size;
}

/* The head entries still in flight, each chain's entries inside the region, and the
 * descriptors they hold in all into *ndesc; -EINVAL when they do not add up. */
static int
vub_inflight_packed_heads(struct vub_vq *vq, struct vu_inflight_packed *r, uint32_t *ndesc)
{
	uint16_t n = 0;

	*ndesc = 0;
	for (uint16_t h = 0; h < vq->size; h++) {
		uint16_t e = h;

		if (!r->desc[h].inflight)
			continue;
		if (r->desc[h].num == 0 || r->desc[h].num > vq->size)
			return -EINVAL;
		for (uint16_t k = 1; k < r->desc[h].num && e < vq->size; k++)
			e = r->desc[e].next;
		if (e >= vq->size || e != r->desc[h].last)
			return -EINVAL;
		*ndesc += r->desc[h].num;
		vq->resubmit[n++] = h;
		if (r->desc[h].counter >= vq->inflight_counter)
			vq->inflight_counter = r->desc[h].counter + 1;
	}
	vq->nresubmit = n;
	return *ndesc > vq->size ? -EINVAL : 0;
}

/*
 * A packed ring starting with a region: settle the last batch, resubmit the chains in
 * flight from their entries (the ring's slots they came from may hold used descriptors
 * by now), and go on at the used position the region keeps, the device's next available
 * descriptor past all they hold. With chains in flight that position is the region's,
 * not the base's: a frontend reads it from a ring completed out of order by guesswork.
 */
static int
vub_inflight_resume_packed(struct vub_vq *vq, struct vu_inflight_packed *r)
{
	struct vub_dev *dev = vq->dev;
	uint16_t base = vq->used_idx;
	bool base_wrap = vq->used_wrap;
	uint32_t ndesc;

	vq->pinflight = r;
	if (r->version == 0) {
		vub_inflight_packed_init(vq, r);
		return 0;
	}
	vq->resubmit = malloc(sizeof(*vq->resubmit) * vq->size);
	if (!vq->resubmit) {
		vq->pinflight = NULL;
		return -ENOMEM;
	}
	if (!vub_inflight_packed_settle(vq, r) || vub_inflight_packed_heads(vq, r, &ndesc) < 0) {
		VU_ERR("%s: vring %u: its packed inflight region does not describe a ring of %u: "
		       "nothing resubmitted, tracking starts again at the base",
		       dev->name, vq->index, vq->size);
		vq->nresubmit = 0;
		vub_inflight_packed_init(vq, r);
		return 0;
	}
	/* Nothing in flight: the base says where the ring is (a frontend may have laid it
	 * out afresh), and the region starts again there. */
	if (vq->nresubmit == 0) {
		vub_inflight_packed_init(vq, r);
		return 0;
	}
	qsort_r(vq->resubmit, vq->nresubmit, sizeof(*vq->resubmit), vub_inflight_by_counter, vq);
	vq->used_idx = r->used_idx;
	vq->used_wrap = r->used_wrap_counter;
	vq->last_avail = (uint16_t)((vq->used_idx + ndesc) % vq->size);
	vq->avail_wrap = vq->used_wrap ^ (vq->used_idx + ndesc >= vq->size);
	if (base != vq->used_idx || base_wrap != vq->used_wrap)
		VU_INFO("%s: vring %u: the region's used slot %u, wrap counter %u, not the base's "
			"%u, %u",
			dev->name, vq->index, vq->used_idx, vq->used_wrap, base, base_wrap);
	return 0;
}

/*
 * A ring starting: on its part of the region when there is one, resubmitting what a
 * previous backend left in flight. Returns 0, or -ENOMEM (the ring then runs untracked,
 * from its used position).
 */
int
vub_inflight_resume(struct vub_vq *vq)
{
	struct vub_dev *dev = vq->dev;
	uint8_t *part;
	int rc;

	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->nresubmit = vq->resubmit_pos = 0;
	vq->inflight = NULL;
	vq->pinflight = NULL;
	vq->inflight_counter = 0;
	vq->batch_len = 0;
	if (!dev->inflight.addr || vq->index >= dev->inflight.num_queues ||
	    vq->size != dev->inflight.queue_size)
		return 0;
	part = (uint8_t *)dev->inflight.addr + vq->index * vub_inflight_queue_bytes(dev, vq->size);
	rc = vq->packed ? vub_inflight_resume_packed(vq, (struct vu_inflight_packed *)part) :
			  vub_inflight_resume_split(vq, (struct vu_inflight_split *)part);
	if (rc == 0 && vq->nresubmit)
		VU_INFO("%s: vring %u resubmits %u buffers left in flight, then goes on at %u",
			dev->name, vq->index, vq->nresubmit, vq->last_avail);
	return rc;
}
