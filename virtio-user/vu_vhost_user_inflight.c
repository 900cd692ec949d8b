/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user frontend: the inflight region (INFLIGHT_SHMFD) kept across backends. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vu_log.h"
#include "vu_vhost_user_msg.h"
#include "vu_vhost_user_priv.h"

/* Largest inflight region taken from a backend: the packed layout of 16 rings of 32768
 * entries fits well below it. */
#define VU_VHOST_USER_INFLIGHT_MAX (64ull << 20)

/* The frontend only keeps the region alive between backends: the spec's tracking and
 * resubmission run in the backend, which alone reads and writes it. */
void
vu_vhost_inflight_release(struct vu_backend *b)
{
	if (b->inflight.addr)
		munmap(b->inflight.addr, b->inflight.size);
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	b->inflight.addr = NULL;
	b->inflight.fd = -1;
	b->inflight.size = 0;
	b->inflight.shared = false;
}

/* Map the region a GET_INFLIGHT_FD reply describes; it must lie inside the fd. */
static int
vu_vhost_inflight_map(struct vu_backend *b, int fd, const struct vu_vhost_inflight *in)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *addr;

	if (in->mmap_size > VU_VHOST_USER_INFLIGHT_MAX || in->mmap_offset % (uint64_t)page ||
	    fstat(fd, &st) < 0 || (uint64_t)st.st_size < in->mmap_offset ||
	    (uint64_t)st.st_size - in->mmap_offset < in->mmap_size) {
		VU_ERR("%s: GET_INFLIGHT_FD: backend %s gave a region of %llu bytes at offset "
		       "%llu that its fd does not hold: going on without inflight tracking",
		       b->name, b->path, (unsigned long long)in->mmap_size,
		       (unsigned long long)in->mmap_offset);
		return -EINVAL;
	}
	addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)in->mmap_offset);
	if (addr == MAP_FAILED) {
		int err = errno;

		VU_ERR("%s: GET_INFLIGHT_FD: mmap of %llu bytes from %s: %s", b->name,
		       (unsigned long long)in->mmap_size, b->path, strerror(err));
		return -err;
	}
	b->inflight.fd = fd;
	b->inflight.addr = addr;
	b->inflight.size = in->mmap_size;
	b->inflight.offset = in->mmap_offset;
	b->inflight.num_queues = in->num_queues;
	b->inflight.queue_size = in->queue_size;
	b->inflight.shared = true;
	return 0;
}

/* GET_INFLIGHT_FD: "the back-end allocates the shared buffer and returns its fd". A reply
 * out of step drops the connection; a refusal (size 0, no fd) leaves tracking off. */
static int
vu_vhost_get_inflight(struct vu_backend *b, uint16_t nqueues, uint16_t queue_size)
{
	const uint32_t size = sizeof(struct vu_vhost_inflight);
	struct vu_vhost_msg msg;
	struct vu_vhost_inflight in;
	int rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_INFLIGHT_FD, size);
	msg.payload.inflight.num_queues = nqueues;
	msg.payload.inflight.queue_size = queue_size;
	rc = vu_vhost_request(b, &msg, true);
	if (rc == 0)
		rc = vu_vhost_msg_recv(b->sock, &msg, (int)b->timeout_ms);
	if (rc == 0 &&
	    (msg.hdr.request != VU_VHOST_USER_GET_INFLIGHT_FD ||
	     !(msg.hdr.flags & VU_VHOST_USER_FLAG_REPLY) || msg.hdr.size != size || msg.nfds > 1))
		rc = -EPROTO;
	if (rc < 0) {
		VU_ERR("%s: GET_INFLIGHT_FD: %s from %s: %s", b->name,
		       rc == -EPROTO ? "bad reply" : "no reply", b->path, strerror(-rc));
		vu_vhost_msg_close_fds(&msg);
		vu_vhost_drop(b);
		return rc;
	}
	in = msg.payload.inflight;
	if (in.mmap_size == 0 || msg.nfds == 0) {
		VU_INFO("%s: backend %s keeps no inflight region for %u rings of %u: a reconnect "
			"resumes after the last used buffer",
			b->name, b->path, nqueues, queue_size);
		vu_vhost_msg_close_fds(&msg);
		return 0;
	}
	in.num_queues = nqueues;
	in.queue_size = queue_size;
	if (vu_vhost_inflight_map(b, msg.fds[0], &in) < 0) {
		vu_vhost_msg_close_fds(&msg);
		return 0;
	}
	VU_INFO("%s: inflight region of %llu bytes from %s for %u rings of %u", b->name,
		(unsigned long long)in.mmap_size, b->path, nqueues, queue_size);
	return 0;
}

/* SET_INFLIGHT_FD: the region the previous backend filled, "before the rings are set up"
 * (the backend resubmits from it when the rings start). */
static int
vu_vhost_set_inflight(struct vu_backend *b)
{
	struct vu_vhost_msg msg;
	int rc;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_INFLIGHT_FD, sizeof(struct vu_vhost_inflight));
	msg.payload.inflight = (struct vu_vhost_inflight){
		.mmap_size = b->inflight.size,
		.mmap_offset = b->inflight.offset,
		.num_queues = b->inflight.num_queues,
		.queue_size = b->inflight.queue_size,
	};
	msg.fds[0] = b->inflight.fd;
	msg.nfds = 1;
	rc = vu_vhost_request(b, &msg, false);
	if (rc == 0) {
		b->inflight.shared = true;
		VU_INFO("%s: inflight region of %llu bytes handed to %s", b->name,
			(unsigned long long)b->inflight.size, b->path);
	}
	return rc;
}

int
vu_vhost_share_inflight(struct vu_backend *b, uint32_t nqueues, uint32_t queue_size, bool fresh)
{
	if (!vu_has_protocol_feature(b, VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return -EOPNOTSUPP;
	if (nqueues > UINT16_MAX || queue_size > UINT16_MAX)
		return -EINVAL;
	/* A region for other rings, or for rings started afresh, describes nothing now. */
	if (fresh || b->inflight.num_queues != nqueues || b->inflight.queue_size != queue_size)
		vu_vhost_inflight_release(b);
	if (b->inflight.fd < 0)
		return vu_vhost_get_inflight(b, (uint16_t)nqueues, (uint16_t)queue_size);
	if (b->inflight.shared)
		return 0;
	return vu_vhost_set_inflight(b);
}
