/* SPDX-License-Identifier: BSD-3-Clause */
/* An in-memory libvub transport for the fuzz targets: no sockets, regions on the heap. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_vub_transport.h"
#include "vu_log.h"
#include "vub.h"

static struct fvt *
fvt_of(struct vub_transport *t)
{
	return (struct fvt *)t;
}

static int
fvt_start(struct vub_transport *t)
{
	(void)t;
	return 0;
}

static void
fvt_cleanup(struct vub_transport *t)
{
	free(fvt_of(t));
}

static int
fvt_event_fd(const struct vub_transport *t)
{
	(void)t;
	return -1;
}

static int
fvt_process(struct vub_transport *t)
{
	(void)t;
	return 0;
}

/* A reply must be a well-formed message: the frontend's checks would drop anything else. */
static int
fvt_send_reply(struct vub_transport *t, const struct vu_vhost_msg *msg)
{
	struct fvt *f = fvt_of(t);

	if ((msg->hdr.flags & VU_VHOST_USER_VERSION_MASK) != VU_VHOST_USER_VERSION ||
	    !(msg->hdr.flags & VU_VHOST_USER_FLAG_REPLY) || msg->hdr.size > sizeof(msg->payload) ||
	    msg->nfds != 0)
		abort();
	f->replies++;
	f->last_reply = *msg;
	return 0;
}

static void
fvt_unmap_mem(struct vub_transport *t, struct vub_region *r)
{
	(void)t;
	free(r->map_addr);
	r->map_addr = NULL;
	r->host = NULL;
}

static int
fvt_map_region(const struct vu_vhost_mem_region *m, int fd, struct vub_region *r)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || m->memory_size > FVT_REGION_MAX ||
	    m->mmap_offset > (uint64_t)st.st_size ||
	    m->memory_size > (uint64_t)st.st_size - m->mmap_offset)
		return -EINVAL;
	r->map_addr = malloc(m->memory_size);
	if (!r->map_addr)
		return -ENOMEM;
	n = pread(fd, r->map_addr, m->memory_size, (off_t)m->mmap_offset);
	if (n != (ssize_t)m->memory_size) {
		free(r->map_addr);
		r->map_addr = NULL;
		return -EIO;
	}
	r->map_len = m->memory_size;
	r->host = r->map_addr;
	return 0;
}

static int
fvt_map_mem(struct vub_transport *t, const struct vu_vhost_msg *msg, struct vub_region *regions)
{
	const struct vu_vhost_memory *m = &msg->payload.memory;
	const char *why;
	uint32_t i;
	int rc = 0;

	if (vu_vhost_msg_check_mem_table(msg, &why) < 0)
		return -EINVAL;
	for (i = 0; i < m->nregions; i++) {
		rc = fvt_map_region(&m->regions[i], msg->fds[i], &regions[i]);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		while (i-- > 0)
			fvt_unmap_mem(t, &regions[i]);
	return rc;
}

static int
fvt_eventfd_write(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int
fvt_vring_call(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)t;
	(void)vring;
	return fvt_eventfd_write(fd);
}

static const struct vub_transport_ops fvt_ops = {
	.name = "fuzz",
	.passes_fds = true,
	.start = fvt_start,
	.cleanup = fvt_cleanup,
	.event_fd = fvt_event_fd,
	.process = fvt_process,
	.send_reply = fvt_send_reply,
	.map_mem = fvt_map_mem,
	.unmap_mem = fvt_unmap_mem,
	.vring_call = fvt_vring_call,
	.vring_err = fvt_vring_call,
};

struct fvt *
fvt_create(void)
{
	struct fvt *f = calloc(1, sizeof(*f));

	if (f)
		f->base.ops = &fvt_ops;
	return f;
}

/* Log lines are formatted (a bad format argument is a finding) but printed only with
 * FVT_LOG set in the environment (to see what an input does): a run makes millions. */
static void
fvt_log(enum vu_log_level level, const char *fmt, va_list ap)
{
	static int print = -1;
	char line[512];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (print < 0)
		print = getenv("FVT_LOG") != NULL;
	if (print)
		fprintf(stderr, "%s\n", line);
}

struct vub_dev *
fvt_dev(uint16_t pairs)
{
	struct vub_dev_params p = {
		.name = "fuzz",
		.queue_pairs = pairs,
		.offloads = VUB_OFFLOAD_FEATURES,
	};
	struct fvt *f = fvt_create();
	struct vub_dev *dev;

	vu_log_set_handler(fvt_log);
	if (!f || vub_dev_create(&p, &f->base, &dev) < 0)
		abort();
	vub_dev_on_connect(dev);
	return dev;
}

int
fvt_deliver(struct vub_dev *dev, struct vu_vhost_msg *msg)
{
	int rc = vub_dev_on_message(dev, msg);

	if (rc < 0) {
		vub_dev_on_disconnect(dev);
		vub_dev_on_connect(dev);
	}
	return rc;
}

int
fvt_send(struct vub_dev *dev, uint32_t request, uint8_t flags, const void *payload, uint32_t size,
	 const int *fds, unsigned int nfds)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, size);
	if (flags & 1)
		msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	if (flags & 2)
		msg.hdr.flags |= VU_VHOST_USER_FLAG_REPLY;
	if (size)
		memcpy(&msg.payload, payload, size);
	for (unsigned int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			msg.fds[msg.nfds++] = fds[i];
	return fvt_deliver(dev, &msg);
}

int
fvt_memfd(const uint8_t *data, size_t data_len, size_t len)
{
	int fd = memfd_create("fuzz-vub", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    (data_len && pwrite(fd, data, data_len < len ? data_len : len, 0) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
fvt_fd_mark(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

void
fvt_fd_check(int mark)
{
	int now = fvt_fd_mark();

	if (now != mark) {
		fprintf(stderr, "fuzz: %d fds open before the input, %d after\n", mark, now);
		abort();
	}
}
