/* SPDX-License-Identifier: BSD-3-Clause */
/* libvub AF_UNIX transport: one frontend over a UNIX socket, SCM_RIGHTS fds, mmap of memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "vub_priv.h"

/* Client mode: how often to try the frontend's socket while it is not there. */
#define VUB_RECONNECT_MS 1000
/* A message that started arriving must be whole within this; a reply must leave. */
#define VUB_MSG_TIMEOUT_MS 1000
/* Late replies dropped before a backend request: more than this is a flood, not lateness. */
#define VUB_STALE_REPLIES_MAX 16
/* Bound the work of one vub_dev_process call: epoll is level-triggered, the rest waits. */
#define VUB_EVENTS_PER_WAIT 8
#define VUB_WAITS_PER_PROCESS 64
#define VUB_MS_PER_S 1000
#define VUB_NS_PER_MS 1000000L

enum vub_source {
	VUB_SRC_LISTEN = 1,
	VUB_SRC_CONN,
	VUB_SRC_TIMER,
	VUB_SRC_WAKE,
	VUB_SRC_BACKEND,
};

struct vub_af_unix {
	struct vub_transport base;
	char name[VUB_NAME_MAX];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool client;
	bool waiting_logged; /* client mode: "frontend not there" said once per wait */
	uint32_t generation; /* counts connects and drops: stale epoll events are skipped */
	int epfd;
	int listen_fd;
	int conn_fd;
	int timer_fd;
	int adopted_fd; /* the connected socket given at create, until start */
	dev_t sock_dev; /* the socket file we created, to remove only that one */
	ino_t sock_ino;
};

static struct vub_af_unix *
vub_au(struct vub_transport *t)
{
	return (struct vub_af_unix *)t;
}

static int
vub_au_watch(struct vub_af_unix *u, int fd, enum vub_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		VU_ERR("%s: epoll_ctl: %s", u->name, strerror(err));
		return -err;
	}
	return 0;
}

static void
vub_au_close(struct vub_af_unix *u, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* Client mode: try again in VUB_RECONNECT_MS, and every VUB_RECONNECT_MS after. */
static void
vub_au_arm_timer(struct vub_af_unix *u, bool on)
{
	struct itimerspec its;
	long ns = (long)(VUB_RECONNECT_MS % VUB_MS_PER_S) * VUB_NS_PER_MS;

	memset(&its, 0, sizeof(its));
	if (on) {
		its.it_value.tv_sec = VUB_RECONNECT_MS / VUB_MS_PER_S;
		its.it_value.tv_nsec = ns;
		its.it_interval = its.it_value;
	}
	timerfd_settime(u->timer_fd, 0, &its, NULL);
}

static int
vub_au_socket(struct vub_af_unix *u, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		int err = errno;

		VU_ERR("%s: socket(): %s", u->name, strerror(err));
		return -err;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, u->path, strlen(u->path) + 1);
	return fd;
}

static void
vub_au_connected(struct vub_af_unix *u, int fd)
{
	if (vub_au_watch(u, fd, VUB_SRC_CONN) < 0) {
		close(fd);
		return;
	}
	u->conn_fd = fd;
	u->generation++;
	vub_dev_on_connect(u->base.dev);
}

/* The frontend is gone (or broke the protocol): forget it, wait for the next one. */
static void
vub_au_drop(struct vub_af_unix *u)
{
	vub_au_close(u, &u->conn_fd);
	u->generation++;
	vub_dev_on_disconnect(u->base.dev);
	if (u->client) {
		u->waiting_logged = false;
		vub_au_arm_timer(u, true);
	}
}

/* Does a process listen on the socket file at path? */
static bool
vub_au_path_in_use(struct vub_af_unix *u)
{
	struct sockaddr_un sa;
	int fd = vub_au_socket(u, &sa);
	bool used;

	if (fd < 0)
		return false;
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
	close(fd);
	return used;
}

/* A socket file left by a backend that died is replaced; anything else is not. */
static int
vub_au_clear_path(struct vub_af_unix *u)
{
	struct stat st;
	int err;

	if (lstat(u->path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		VU_ERR("%s: %s exists and is not a UNIX socket, not replacing it", u->name,
		       u->path);
		return -EEXIST;
	}
	if (vub_au_path_in_use(u)) {
		VU_ERR("%s: another process is listening on %s", u->name, u->path);
		return -EADDRINUSE;
	}
	if (unlink(u->path) < 0 && errno != ENOENT) {
		err = errno;
		VU_ERR("%s: cannot remove the stale socket %s: %s", u->name, u->path,
		       strerror(err));
		return -err;
	}
	return 0;
}

static int
vub_au_listen(struct vub_af_unix *u)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, err, rc;

	rc = vub_au_clear_path(u);
	if (rc < 0)
		return rc;
	fd = vub_au_socket(u, &sa);
	if (fd < 0)
		return fd;
	/* One frontend at a time: a backlog of one is enough. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
	    lstat(u->path, &st) < 0) {
		err = errno;
		VU_ERR("%s: cannot listen on %s: %s", u->name, u->path, strerror(err));
		close(fd);
		return -err;
	}
	u->sock_dev = st.st_dev;
	u->sock_ino = st.st_ino;
	rc = vub_au_watch(u, fd, VUB_SRC_LISTEN);
	if (rc < 0) {
		close(fd);
		unlink(u->path);
		return rc;
	}
	u->listen_fd = fd;
	VU_INFO("%s: vhost-user backend listening on %s", u->name, u->path);
	return 0;
}

static void
vub_au_accept(struct vub_af_unix *u)
{
	int fd = accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			VU_ERR("%s: accept on %s: %s", u->name, u->path, strerror(errno));
		return;
	}
	/* One connection per device: a second frontend is turned away at once rather
	 * than left waiting for replies that never come. */
	if (u->conn_fd >= 0) {
		VU_ERR("%s: a second frontend connected to %s while one is served: closed", u->name,
		       u->path);
		close(fd);
		return;
	}
	vub_au_connected(u, fd);
}

/* Client mode: one attempt; on failure the timer tries again. */
static void
vub_au_try_connect(struct vub_af_unix *u)
{
	struct sockaddr_un sa;
	int fd = vub_au_socket(u, &sa);

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!u->waiting_logged)
			VU_INFO("%s: no frontend at %s yet (%s): trying every %d ms", u->name,
				u->path, strerror(errno), VUB_RECONNECT_MS);
		u->waiting_logged = true;
		close(fd);
		vub_au_arm_timer(u, true);
		return;
	}
	vub_au_arm_timer(u, false);
	VU_INFO("%s: connected to the frontend at %s", u->name, u->path);
	vub_au_connected(u, fd);
}

static int
vub_au_start(struct vub_transport *t)
{
	struct vub_af_unix *u = vub_au(t);
	int rc;

	rc = vub_au_watch(u, vub_dev_wake_fd(u->base.dev), VUB_SRC_WAKE);
	if (rc < 0)
		return rc;
	if (u->adopted_fd >= 0) {
		int fd = u->adopted_fd;

		u->adopted_fd = -1;
		vub_au_connected(u, fd);
		return u->conn_fd >= 0 ? 0 : -EIO;
	}
	if (!u->client)
		return vub_au_listen(u);
	u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (u->timer_fd < 0) {
		rc = -errno;
		VU_ERR("%s: timerfd_create: %s", u->name, strerror(-rc));
		return rc;
	}
	rc = vub_au_watch(u, u->timer_fd, VUB_SRC_TIMER);
	if (rc < 0)
		return rc;
	vub_au_try_connect(u);
	return 0;
}

/* One message from the frontend; a broken connection or message drops the frontend. */
static void
vub_au_receive(struct vub_af_unix *u)
{
	struct vu_vhost_msg msg;
	int rc = vu_vhost_msg_recv(u->conn_fd, &msg, VUB_MSG_TIMEOUT_MS);

	if (rc == -ECONNRESET) {
		vub_au_drop(u);
		return;
	}
	if (rc < 0) {
		VU_ERR("%s: reading a message from the frontend: %s: dropping it", u->name,
		       rc == -EPROTO ? "malformed (bad version or size, or too many fds)" :
				       strerror(-rc));
		vub_au_drop(u);
		return;
	}
	if (vub_dev_on_message(u->base.dev, &msg) < 0)
		vub_au_drop(u);
}

static void
vub_au_timer(struct vub_af_unix *u)
{
	uint64_t expirations;

	if (read(u->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		VU_ERR("%s: reading the reconnect timer: %s", u->name, strerror(errno));
	if (u->conn_fd < 0)
		vub_au_try_connect(u);
	else
		vub_au_arm_timer(u, false);
}

static int
vub_au_process(struct vub_transport *t)
{
	struct vub_af_unix *u = vub_au(t);
	struct epoll_event ev[VUB_EVENTS_PER_WAIT];

	for (int round = 0; round < VUB_WAITS_PER_PROCESS; round++) {
		int n = epoll_wait(u->epfd, ev, VUB_EVENTS_PER_WAIT, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		/* After a connect or a drop the rest of the batch may be about the old
		 * connection: wait again. */
		uint32_t generation = u->generation;

		for (int i = 0; i < n && generation == u->generation; i++) {
			if (ev[i].data.u32 == VUB_SRC_LISTEN)
				vub_au_accept(u);
			else if (ev[i].data.u32 == VUB_SRC_CONN && u->conn_fd >= 0)
				vub_au_receive(u);
			else if (ev[i].data.u32 == VUB_SRC_TIMER)
				vub_au_timer(u);
			else if (ev[i].data.u32 == VUB_SRC_WAKE)
				vub_dev_on_wake(u->base.dev);
			else if (ev[i].data.u32 == VUB_SRC_BACKEND)
				vub_dev_on_backend(u->base.dev);
		}
	}
	return 0;
}

static int
vub_au_event_fd(const struct vub_transport *t)
{
	return ((const struct vub_af_unix *)t)->epfd;
}

static int
vub_au_send_reply(struct vub_transport *t, const struct vu_vhost_msg *msg)
{
	struct vub_af_unix *u = vub_au(t);

	if (u->conn_fd < 0)
		return -ENOTCONN;
	return vu_vhost_msg_send(u->conn_fd, msg, VUB_MSG_TIMEOUT_MS);
}

/* The mapping granule of fd: its block size when that is a larger power of two (a
 * hugetlbfs file reports its huge page size, and maps only whole ones). */
static uint64_t
vub_au_granule(const struct stat *st)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t blk = (uint64_t)st->st_blksize;

	if (blk > page && (blk & (blk - 1)) == 0)
		return blk;
	return page;
}

/* mmap region i: "mmap offset: 64-bit offset where region starts in the mapped memory".
 * The whole region must be inside the file: touching a page past its end would raise
 * SIGBUS here, not an error. */
static int
vub_au_map_region(struct vub_af_unix *u, const struct vu_vhost_mem_region *m, int fd,
		  struct vub_region *r, uint32_t i)
{
	struct stat st;
	uint64_t granule, start, len;
	void *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		VU_ERR("%s: SET_MEM_TABLE region %u: fd is not a regular file (memfd, hugetlbfs "
		       "or shared memory file): refused",
		       u->name, i);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < m->mmap_offset + m->memory_size) {
		VU_ERR("%s: SET_MEM_TABLE region %u: offset 0x%llx + size 0x%llx is past the end "
		       "of its file (%lld bytes): refused",
		       u->name, i, (unsigned long long)m->mmap_offset,
		       (unsigned long long)m->memory_size, (long long)st.st_size);
		return -EINVAL;
	}
	granule = vub_au_granule(&st);
	start = m->mmap_offset & ~(granule - 1);
	len = (m->mmap_offset - start + m->memory_size + granule - 1) & ~(granule - 1);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED) {
		int err = errno;

		VU_ERR("%s: SET_MEM_TABLE region %u: mmap of %llu bytes: %s", u->name, i,
		       (unsigned long long)len, strerror(err));
		return -err;
	}
	r->map_addr = p;
	r->map_len = len;
	r->host = (uint8_t *)p + (m->mmap_offset - start);
	return 0;
}

static void
vub_au_unmap_mem(struct vub_transport *t, struct vub_region *r)
{
	(void)t;
	if (r->map_addr)
		munmap(r->map_addr, r->map_len);
	r->map_addr = NULL;
	r->host = NULL;
}

static int
vub_au_map_mem(struct vub_transport *t, const struct vu_vhost_msg *msg, struct vub_region *regions)
{
	struct vub_af_unix *u = vub_au(t);
	const struct vu_vhost_memory *m = &msg->payload.memory;
	const char *why;
	uint32_t i;
	int rc = 0;

	/* "In the ancillary data there is an array of file descriptors for each memory
	 * mapped region. The size and ordering of the fds matches the number and ordering
	 * of memory regions." */
	if (vu_vhost_msg_check_mem_table(msg, &why) < 0) {
		VU_ERR("%s: SET_MEM_TABLE refused: %s", u->name, why);
		return -EINVAL;
	}
	for (i = 0; i < m->nregions; i++) {
		rc = vub_au_map_region(u, &m->regions[i], msg->fds[i], &regions[i], i);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		while (i-- > 0)
			vub_au_unmap_mem(t, &regions[i]);
	return rc;
}

static int
vub_au_eventfd_write(int fd)
{
	uint64_t one = 1;

	if (fd < 0)
		return 0;
	/* EAGAIN: the counter is full, the frontend has a notification pending anyway. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int
vub_au_vring_call(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)t;
	(void)vring;
	return vub_au_eventfd_write(fd);
}

static int
vub_au_vring_err(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)t;
	(void)vring;
	return vub_au_eventfd_write(fd);
}

/* Replies that came after their request gave up waiting: not the ack of the next one. */
static void
vub_au_drain_stale(struct vub_af_unix *u, int fd)
{
	struct vu_vhost_msg stale;

	for (int i = 0; i < VUB_STALE_REPLIES_MAX && vu_vhost_msg_recv(fd, &stale, 0) == 0; i++) {
		if (vub_dev_backend_reply(u->base.dev, &stale))
			continue;
		VU_WARN("%s: a late reply to backend request %s on the backend channel: dropped",
			u->name, vu_vhost_backend_request_name(stale.hdr.request));
		vu_vhost_msg_close_fds(&stale);
	}
}

/* The ack blocks the control path for at most VUB_MSG_TIMEOUT_MS: a frontend that reads
 * the config space before acking (over the channel this thread serves) costs one timeout,
 * not a deadlock. */
static int
vub_au_send_backend_req(struct vub_transport *t, int fd, const struct vu_vhost_msg *msg,
			uint64_t *ack)
{
	struct vub_af_unix *u = vub_au(t);
	struct vu_vhost_msg reply;
	const char *why;
	int rc;

	if (fd < 0)
		return -ENOTCONN;
	vub_au_drain_stale(u, fd);
	rc = vu_vhost_msg_send(fd, msg, VUB_MSG_TIMEOUT_MS);
	if (rc < 0 || !ack)
		return rc;
	/* The acks of IOTLB misses sent before may come first. */
	do
		rc = vu_vhost_msg_recv(fd, &reply, VUB_MSG_TIMEOUT_MS);
	while (rc == 0 && vub_dev_backend_reply(u->base.dev, &reply));
	if (rc < 0)
		return rc;
	if (vu_vhost_msg_check_reply(&reply, msg->hdr.request, sizeof(uint64_t), &why) < 0) {
		VU_ERR("%s: the ack of backend request %s: %s", u->name,
		       vu_vhost_backend_request_name(msg->hdr.request), why);
		vu_vhost_msg_close_fds(&reply);
		return -EPROTO;
	}
	*ack = reply.payload.u64;
	return 0;
}

static void
vub_au_watch_backend(struct vub_transport *t, int fd, bool on)
{
	struct vub_af_unix *u = vub_au(t);

	if (on)
		vub_au_watch(u, fd, VUB_SRC_BACKEND);
	else
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void
vub_au_cleanup(struct vub_transport *t)
{
	struct vub_af_unix *u = vub_au(t);
	struct stat st;

	vub_au_close(u, &u->conn_fd);
	vub_au_close(u, &u->timer_fd);
	if (u->adopted_fd >= 0)
		close(u->adopted_fd);
	if (u->listen_fd >= 0) {
		vub_au_close(u, &u->listen_fd);
		/* Remove the socket file only if it is still the one this device created. */
		if (lstat(u->path, &st) == 0 && st.st_dev == u->sock_dev &&
		    st.st_ino == u->sock_ino)
			unlink(u->path);
	}
	if (u->epfd >= 0)
		close(u->epfd);
	free(u);
}

static const struct vub_transport_ops vub_af_unix_ops = {
	.name = "af_unix",
	.passes_fds = true,
	.start = vub_au_start,
	.cleanup = vub_au_cleanup,
	.event_fd = vub_au_event_fd,
	.process = vub_au_process,
	.send_reply = vub_au_send_reply,
	.map_mem = vub_au_map_mem,
	.unmap_mem = vub_au_unmap_mem,
	.vring_call = vub_au_vring_call,
	.vring_err = vub_au_vring_err,
	.send_backend_req = vub_au_send_backend_req,
	.watch_backend = vub_au_watch_backend,
};

int
vub_af_unix_create(const struct vub_af_unix_params *params, struct vub_transport **out)
{
	struct vub_af_unix *u;

	if (params->fd < 0 &&
	    (!params->path || params->path[0] == '\0' || strlen(params->path) >= sizeof(u->path))) {
		VU_ERR("%s: socket path must be 1 to %zu bytes: %s", params->name,
		       sizeof(u->path) - 1, params->path ? params->path : "(none)");
		return -ENAMETOOLONG;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		if (params->fd >= 0)
			close(params->fd);
		return -ENOMEM;
	}
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (u->epfd < 0) {
		int err = errno;

		VU_ERR("%s: epoll_create1: %s", params->name, strerror(err));
		if (params->fd >= 0)
			close(params->fd);
		free(u);
		return -err;
	}
	u->base.ops = &vub_af_unix_ops;
	snprintf(u->name, sizeof(u->name), "%s", params->name);
	snprintf(u->path, sizeof(u->path), "%s", params->fd < 0 ? params->path : "(fd)");
	u->client = params->fd < 0 && params->client;
	u->listen_fd = u->conn_fd = u->timer_fd = -1;
	u->adopted_fd = params->fd;
	*out = &u->base;
	return 0;
}
