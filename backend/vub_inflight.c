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

/* The rings and their size must be ones this device can have; "queue size" a power of 2
 * (split rings, virtio 1.2, 2.7). */
static bool
vub_inflight_shape_ok(const struct vub_dev *dev, const struct vu_vhost_inflight *in)
{
	/* "Only valid if VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD protocol feature has been
	 * successfully negotiated." */
	return vub_has_protocol(dev, VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) &&
		vub_inflight_rings_stopped(dev) && in->num_queues >= 1 &&
		in->num_queues <= 2u * dev->queue_pairs && in->queue_size >= 1 &&
		in->queue_size <= VUB_MAX_QUEUE_SIZE && !(in->queue_size & (in->queue_size - 1));
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
 * queue_size. Packed rings or a shape this device cannot have: an empty region (size 0,
 * no fd), the frontend's sign to go on without one. */
int
vub_msg_get_inflight_fd(struct vub_dev *dev, struct vu_vhost_msg *msg, struct vu_vhost_msg *reply)
{
	struct vu_vhost_inflight in = msg->payload.inflight;
	int fd;

	reply->hdr.size = sizeof(in);
	in.mmap_size = 0;
	in.mmap_offset = 0;
	reply->payload.inflight = in;
	if (vub_packed_negotiated(dev) || !vub_inflight_shape_ok(dev, &in)) {
		VU_WARN("%s: GET_INFLIGHT_FD for %u %s rings of %u: no region kept (only split "
			"rings this device can have, asked before they start, with "
			"INFLIGHT_SHMFD negotiated)",
			dev->name, in.num_queues, vub_packed_negotiated(dev) ? "packed" : "split",
			in.queue_size);
		return 0;
	}
	in.mmap_size = (uint64_t)in.num_queues * vu_inflight_split_queue_size(in.queue_size);
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
	    in->mmap_size != in->num_queues * vu_inflight_split_queue_size(in->queue_size) ||
	    fstat(msg->fds[0], &st) < 0 || (uint64_t)st.st_size < in->mmap_offset ||
	    (uint64_t)st.st_size - in->mmap_offset < in->mmap_size) {
		VU_ERR("%s: SET_INFLIGHT_FD: %llu bytes at %llu for %u rings of %u is not a split "
		       "inflight region this device can use with its rings stopped: refused",
		       dev->name, (unsigned long long)in->mmap_size,
		       (unsigned long long)in->mmap_offset, in->num_queues, in->queue_size);
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

static int
vub_inflight_by_counter(const void *a, const void *b, void *arg)
{
	const struct vu_inflight_split *r = arg;
	uint64_t ca = r->desc[*(const uint16_t *)a].counter;
	uint64_t cb = r->desc[*(const uint16_t *)b].counter;

	return ca < cb ? -1 : ca > cb;
}

/*
 * A split ring starting with a region: the spec's recovery. "If the value of used_idx
 * does not match the idx value of used ring", the last batch was published but not
 * cleared: clear it, from last_batch_head through next. Then the heads still in flight
 * are resubmitted "in order of their counter value", and the ring goes on after them.
 * Returns 0, or -ENOMEM (the ring then runs untracked, from its used index).
 */
int
vub_inflight_resume(struct vub_vq *vq)
{
	struct vub_dev *dev = vq->dev;
	struct vu_inflight_split *r;
	uint16_t used, n = 0;

	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->nresubmit = vq->resubmit_pos = 0;
	vq->inflight = NULL;
	if (!dev->inflight.addr || vq->index >= dev->inflight.num_queues ||
	    vq->size != dev->inflight.queue_size)
		return 0;
	r = (struct vu_inflight_split *)((uint8_t *)dev->inflight.addr +
					 vq->index * vu_inflight_split_queue_size(vq->size));
	used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	vq->inflight_counter = 0;
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
	qsort_r(vq->resubmit, n, sizeof(*vq->resubmit), vub_inflight_by_counter, r);
	vq->nresubmit = n;
	vq->inflight = r;
	vq->last_avail = (uint16_t)(used + n);
	/* No avail entry past them is known yet: the index is read at the first pop. */
	vq->avail_idx = vq->last_avail;
	vq->used_idx = vq->published = used;
	if (n)
		VU_INFO("%s: vring %u resubmits %u buffers left in flight, then goes on at %u",
			dev->name, vq->index, n, vq->last_avail);
	return 0;
}
