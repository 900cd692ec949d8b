/* SPDX-License-Identifier: BSD-3-Clause */
/* The control virtqueue of a vDPA net device, driven by the vhost-vdpa frontend. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vu_log.h"
#include "vu_ring.h"
#include "vu_vdpa_cvq.h"
#include "vu_vhost_user_msg.h"
#include "vu_virtio.h"

/* Largest command data: VQ_PAIRS_SET's le16, MAC_ADDR_SET's 6 bytes (spec 5.1.6.5). */
#define VU_CVQ_MAX_DATA 64
/* How often the frontend looks at the used index while it waits for an ack. */
#define VU_CVQ_POLL_NS 50000L

/* The buffers of one command, after the ring in the same mapping. */
struct vu_cvq_buf {
	uint8_t hdr[2]; /* class, command */
	uint8_t data[VU_CVQ_MAX_DATA];
	uint8_t ack;
};

struct vu_vdpa_cvq {
	char name[64];
	void *mem;
	size_t len;
	struct vu_split_ring ring;
	struct vu_cvq_buf *buf;
	int kick_fd;
};

int
vu_vdpa_cvq_create(const char *name, uint16_t size, struct vu_vdpa_cvq **out)
{
	struct vu_vdpa_cvq *q = calloc(1, sizeof(*q));
	size_t ring_len = vu_split_ring_mem_size(size);

	if (!q)
		return -ENOMEM;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->len = ring_len + vu_align_up(sizeof(struct vu_cvq_buf), VU_RING_ALIGN);
	/* Shared: a VDUSE device reaches memory through the file behind the mapping
	 * (vhost_vdpa.c vhost_vdpa_va_map maps only VM_SHARED file mappings). */
	q->mem = mmap(NULL, q->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->mem == MAP_FAILED || q->kick_fd < 0) {
		int err = errno;

		VU_ERR("%s: control queue memory or kick eventfd: %s", name, strerror(err));
		if (q->mem == MAP_FAILED)
			q->mem = NULL;
		vu_vdpa_cvq_destroy(q);
		return -err;
	}
	vu_split_ring_init(&q->ring, q->mem, size);
	q->buf = (struct vu_cvq_buf *)((uint8_t *)q->mem + ring_len);
	*out = q;
	return 0;
}

void
vu_vdpa_cvq_destroy(struct vu_vdpa_cvq *q)
{
	if (!q)
		return;
	if (q->mem)
		munmap(q->mem, q->len);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	free(q);
}

void
vu_vdpa_cvq_region(const struct vu_vdpa_cvq *q, uint64_t *addr, uint64_t *len)
{
	*addr = (uint64_t)(uintptr_t)q->mem;
	*len = q->len;
}

struct vu_vring_addr
vu_vdpa_cvq_ring(const struct vu_vdpa_cvq *q)
{
	return (struct vu_vring_addr){ .desc = (uint64_t)(uintptr_t)q->ring.desc,
				       .avail = (uint64_t)(uintptr_t)q->ring.avail,
				       .used = (uint64_t)(uintptr_t)q->ring.used };
}

uint16_t
vu_vdpa_cvq_size(const struct vu_vdpa_cvq *q)
{
	return q->ring.size;
}

int
vu_vdpa_cvq_kick_fd(const struct vu_vdpa_cvq *q)
{
	return q->kick_fd;
}

void
vu_vdpa_cvq_reset(struct vu_vdpa_cvq *q)
{
	memset(q->mem, 0, vu_split_ring_mem_size(q->ring.size));
	vu_split_ring_init(&q->ring, q->mem, q->ring.size);
}

/* Wait until the device used the command; one command is in flight at a time. */
static int
vu_cvq_wait(struct vu_vdpa_cvq *q, unsigned int timeout_ms)
{
	const struct timespec pause = { .tv_nsec = VU_CVQ_POLL_NS };
	int64_t deadline = vu_now_ms() + timeout_ms;

	while (vu_split_ring_used_pending(&q->ring) == 0) {
		if (vu_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	return 0;
}

int
vu_vdpa_cvq_command(struct vu_vdpa_cvq *q, uint8_t cls, uint8_t cmd, const void *data, uint16_t len,
		    unsigned int timeout_ms, uint8_t *ack)
{
	struct vu_cvq_buf *b = q->buf;
	uint64_t one = 1;
	int rc;

	if (len > sizeof(b->data))
		return -EINVAL;
	b->hdr[0] = cls;
	b->hdr[1] = cmd;
	memcpy(b->data, data, len);
	b->ack = VU_NET_ERR;
	/* "The class, command and command-specific-data are set by the driver, and the
	 * device sets the ack byte" (spec 5.1.6.5): two read-only buffers, one writable. */
	q->ring.desc[0] =
		(struct vu_desc){ (uint64_t)(uintptr_t)b->hdr, sizeof(b->hdr), VU_DESC_F_NEXT, 1 };
	q->ring.desc[1] = (struct vu_desc){ (uint64_t)(uintptr_t)b->data, len, VU_DESC_F_NEXT, 2 };
	q->ring.desc[2] = (struct vu_desc){ (uint64_t)(uintptr_t)&b->ack, 1, VU_DESC_F_WRITE, 0 };
	vu_split_ring_avail_add(&q->ring, 0);
	vu_split_ring_avail_publish(&q->ring);
	if (TEMP_FAILURE_RETRY(write(q->kick_fd, &one, sizeof(one))) < 0 && errno != EAGAIN) {
		rc = -errno;
		VU_ERR("%s: control queue kick: %s", q->name, strerror(-rc));
		return rc;
	}
	rc = vu_cvq_wait(q, timeout_ms);
	if (rc < 0) {
		VU_ERR("%s: control queue command %u.%u: no answer from the vDPA device in %u ms",
		       q->name, cls, cmd, timeout_ms);
		return rc;
	}
	if (vu_split_ring_used_elem(&q->ring, 0)->id != 0) {
		VU_ERR("%s: control queue command %u.%u: the device used buffer %u, not ours",
		       q->name, cls, cmd, vu_split_ring_used_elem(&q->ring, 0)->id);
		return -EIO;
	}
	q->ring.last_used_idx++;
	*ack = __atomic_load_n(&b->ack, __ATOMIC_ACQUIRE);
	return 0;
}
