/* SPDX-License-Identifier: BSD-3-Clause */
/* vub-net: a vhost-user virtio-net backend program forwarding between its frontend and a TAP. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vu_log.h"
#include "vub.h"
#include "vub_transport.h"
#include "vubnet_opts.h"
#include "vubnet_tap.h"

#define VUBNET_NAME "vub-net"
/* One queue pair: receive ring 0, transmit ring 1 (virtio-net, spec 5.1.2). */
#define VUBNET_PAIR 0
#define VUBNET_RX_VRING 0
#define VUBNET_TX_VRING 1
#define VUBNET_VRINGS 2
/* Frames per direction before the other direction and the socket get a turn. */
#define VUBNET_BUDGET 256
/* The largest frame a TAP hands over: 64 KiB MTU plus the Ethernet and VLAN headers. */
#define VUBNET_FRAME_MAX (65536 + 18)
#define VUBNET_MAX_EVENTS 8
#define VUBNET_EXIT_USAGE 2

/* What an epoll event is about. */
enum vubnet_src {
	VUBNET_SRC_DEV,
	VUBNET_SRC_SIGNAL,
	VUBNET_SRC_TAP,
	VUBNET_SRC_KICK_RX,
	VUBNET_SRC_KICK_TX,
};

struct vubnet {
	struct vubnet_opts opts;
	struct vub_dev *dev;
	struct vubnet_tap tap;
	int epfd;
	int sigfd;
	int kick_fd
		[VUBNET_VRINGS]; /* dups of the kick fds in epfd, per vring of the pair; -1: none */
	bool tap_watched;	 /* TAP readable is waited for: Rx has room (or drops) */
	bool ready;
	bool carrier;	 /* the TAP's carrier as last set: follows ready */
	bool rx_waiting; /* the Rx ring was out of buffers: kicks asked for */
	bool served;	 /* a frontend was connected (--fd: the program ends when it leaves) */
	bool tap_gone;	 /* the TAP interface was deleted: the program ends, exit 1 */
	bool stop;
	uint32_t pending; /* bytes of a TAP frame in frame[] waiting for Rx buffers */
	uint64_t dropped; /* TAP frames no Rx buffer could hold, or with the Rx ring down */
	struct vub_pkt pkt;
	struct iovec iov[VUB_PKT_MAX_IOV];
	uint8_t frame[VUBNET_FRAME_MAX];
};

static void
vubnet_log(enum vu_log_level level, const char *fmt, va_list ap)
{
	if (level > VU_LOG_INFO)
		return;
	fputs(VUBNET_NAME ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int
vubnet_epoll(struct vubnet *v, int op, int fd, enum vubnet_src src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = src };

	if (epoll_ctl(v->epfd, op, fd, &ev) < 0) {
		int err = errno;

		VU_ERR("epoll_ctl %d on fd %d: %s", op, fd, strerror(err));
		return -err;
	}
	return 0;
}

/* Wait for the TAP only while its frames have somewhere to go: while a frame waits for
 * Rx buffers the kernel queues the rest (and drops past txqueuelen), as for any NIC. */
static void
vubnet_watch_tap(struct vubnet *v)
{
	bool want = v->ready && v->pending == 0;

	if (want == v->tap_watched)
		return;
	if (vubnet_epoll(v, EPOLL_CTL_MOD, v->tap.fd, VUBNET_SRC_TAP, want ? EPOLLIN : 0) == 0)
		v->tap_watched = want;
}

/* A kick eventfd stays readable until read. The frontend made it, maybe blocking, and
 * the fd may have changed since epoll said readable: read only what poll sees. */
static void
vubnet_drain_kick(struct vubnet *v, uint16_t vring)
{
	struct pollfd p = { .fd = v->kick_fd[vring], .events = POLLIN };
	uint64_t n;

	if (p.fd >= 0 && poll(&p, 1, 0) == 1 && read(p.fd, &n, sizeof(n)) < 0)
		VU_ERR("read of vring %u's kick: %s", vring, strerror(errno));
}

/* A failed TAP read or write, logged. EBADFD: the interface was deleted under the open
 * fd, and the kernel answers so to every read and write from then on (and epoll reports
 * an error whatever it watches): nothing can be forwarded any more, the program ends. */
static void
vubnet_tap_error(struct vubnet *v, const char *what, int err)
{
	if (err == EBADFD) {
		if (!v->tap_gone)
			VU_ERR("tap %s: %s: the interface is gone: ending", v->tap.name, what);
		v->tap_gone = v->stop = true;
		return;
	}
	VU_ERR("tap %s: %s: %s", v->tap.name, what, strerror(err));
}

/* One frame of the frontend's to the TAP, without its virtio-net header (the TAP takes
 * plain frames). */
static void
vubnet_write_tap(struct vubnet *v)
{
	uint32_t skip = v->pkt.hdr_len;
	int cnt = 0;

	for (uint16_t i = 0; i < v->pkt.niov; i++) {
		const struct vub_iov *b = &v->pkt.iov[i];

		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		v->iov[cnt].iov_base = b->base + skip;
		v->iov[cnt++].iov_len = b->len - skip;
		skip = 0;
	}
	if (writev(v->tap.fd, v->iov, cnt) < 0)
		vubnet_tap_error(v, "write", errno);
}

/* Guest to host: every frame the frontend transmits goes to the TAP; once the ring is
 * empty the frontend is asked to kick for the next one. Returns true when the budget ran
 * out with frames left. */
static bool
vubnet_guest_to_tap(struct vubnet *v)
{
	struct vub_vq *vq = vub_dequeue_enter(v->dev, VUBNET_PAIR);
	int n = 0;

	if (!vq)
		return false;
	do {
		for (; n < VUBNET_BUDGET && !v->stop && vub_dequeue_begin(vq, &v->pkt) == 1; n++) {
			vubnet_write_tap(v);
			vub_dequeue_end(vq, &v->pkt);
		}
	} while (!v->stop && n < VUBNET_BUDGET && vub_vq_kick_mode(vq, VUB_KICK_NOTIFY) == 1);
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	return n == VUBNET_BUDGET;
}

/* Read the next TAP frame into frame[] unless one waits there. Returns false when the TAP
 * has none. */
static bool
vubnet_tap_read(struct vubnet *v)
{
	ssize_t r;

	if (v->pending)
		return true;
	r = read(v->tap.fd, v->frame, sizeof(v->frame));
	if (r <= 0) {
		if (r < 0 && errno != EAGAIN)
			vubnet_tap_error(v, "read", errno);
		return false;
	}
	v->pending = (uint32_t)r;
	return true;
}

/* Room for the waiting frame: 1, 0 when the frontend has no Rx buffers (then it is asked
 * to kick when it adds some), or what else vub_enqueue_begin says. */
static int
vubnet_rx_room(struct vubnet *v, struct vub_vq *vq)
{
	int rc;

	if (!vq)
		return -EIO;
	while ((rc = vub_enqueue_begin(vq, v->pending, &v->pkt)) == 0) {
		if (vub_vq_kick_mode(vq, VUB_KICK_NOTIFY) != 1) {
			v->rx_waiting = true;
			return 0;
		}
	}
	/* Buffers again: kicks for each refill would only wake the program for nothing. */
	if (v->rx_waiting && vub_vq_kick_mode(vq, VUB_KICK_POLLED) >= 0)
		v->rx_waiting = false;
	return rc;
}

/* Host to guest: TAP frames into the frontend's Rx ring while it has buffers; a frame
 * that finds none waits in frame[] for the frontend's kick. Returns true when the budget
 * ran out with frames left. */
static bool
vubnet_tap_to_guest(struct vubnet *v)
{
	struct vub_vq *vq = vub_enqueue_enter(v->dev, VUBNET_PAIR);
	int n = 0;

	for (; n < VUBNET_BUDGET && vubnet_tap_read(v); n++) {
		int rc = vubnet_rx_room(v, vq);

		if (rc == 0)
			break;
		if (rc == 1) {
			vub_pkt_write(&v->pkt, 0, v->frame, v->pending);
			vub_enqueue_end(vq, &v->pkt);
		} else {
			/* Too big for the buffers, or the ring is down (libvub logged why). */
			v->dropped++;
		}
		v->pending = 0;
	}
	if (vq) {
		vub_vq_flush(vq);
		vub_vq_leave(vq);
	}
	vubnet_watch_tap(v);
	return n == VUBNET_BUDGET;
}

/* Follow the kick eventfds SET_VRING_KICK passes, after every message: epoll watches a
 * dup of its own, removed before it is closed (libvub closes its fd while the frontend
 * still holds the eventfd, which would leave a registration nobody can remove). */
static void
vubnet_sync_kicks(struct vubnet *v)
{
	for (uint16_t r = 0; r < VUBNET_VRINGS; r++) {
		int fd = vub_dev_kick_fd(v->dev, r);
		int dup_fd;

		if (v->kick_fd[r] >= 0) {
			epoll_ctl(v->epfd, EPOLL_CTL_DEL, v->kick_fd[r], NULL);
			close(v->kick_fd[r]);
			v->kick_fd[r] = -1;
		}
		if (fd < 0)
			continue;
		dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dup_fd < 0) {
			VU_ERR("dup of vring %u's kick: %s", r, strerror(errno));
			continue;
		}
		if (vubnet_epoll(v, EPOLL_CTL_ADD, dup_fd,
				 r == VUBNET_RX_VRING ? VUBNET_SRC_KICK_RX : VUBNET_SRC_KICK_TX,
				 EPOLLIN) == 0)
			v->kick_fd[r] = dup_fd;
		else
			close(dup_fd);
	}
}

static void
vubnet_on_ready(void *arg, bool ready)
{
	struct vubnet *v = arg;

	v->ready = ready;
	if (!ready && v->pending) {
		v->pending = 0;
		v->dropped++;
	}
	vubnet_watch_tap(v);
}

/* The TAP's carrier follows the device once the transport has answered: a VDUSE device
 * becomes ready inside the kernel's virtio_net probe, which holds the RTNL lock while it
 * waits for the answer, and TUNSETCARRIER takes that lock. */
static void
vubnet_sync_carrier(struct vubnet *v)
{
	if (v->carrier == v->ready)
		return;
	v->carrier = v->ready;
	vubnet_tap_set_carrier(&v->tap, v->ready);
}

/* Messages, connects and disconnects; then the kick fds the frontend may have replaced. */
static void
vubnet_process(struct vubnet *v)
{
	int rc = vub_dev_process(v->dev);

	if (rc < 0)
		VU_ERR("serving the socket: %s", strerror(-rc));
	if (vub_dev_connected(v->dev))
		v->served = true;
	else if (v->served && v->opts.fd >= 0) {
		VU_INFO("the frontend of --fd=%d left", v->opts.fd);
		v->stop = true;
	}
	vubnet_sync_carrier(v);
	vubnet_sync_kicks(v);
}

static void
vubnet_signal(struct vubnet *v)
{
	struct signalfd_siginfo si;

	if (read(v->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		VU_INFO("signal %u: ending", si.ssi_signo);
		v->stop = true;
	}
}

static void
vubnet_event(struct vubnet *v, enum vubnet_src src)
{
	switch (src) {
	case VUBNET_SRC_DEV:
		vubnet_process(v);
		break;
	case VUBNET_SRC_SIGNAL:
		vubnet_signal(v);
		break;
	case VUBNET_SRC_KICK_RX:
		vubnet_drain_kick(v, VUBNET_RX_VRING);
		break;
	case VUBNET_SRC_KICK_TX:
		vubnet_drain_kick(v, VUBNET_TX_VRING);
		break;
	case VUBNET_SRC_TAP:
		break;
	}
}

/* Sleep until something happens, then move what can move. Never polls: with work left
 * over (a budget ran out) the wait does not block, otherwise it waits for the socket, the
 * TAP (while Rx has room) and the kicks. */
static int
vubnet_run(struct vubnet *v)
{
	/* One pass before the first wait: a VDUSE device served again may hold buffers
	 * whose kicks went to the process before, and no kick comes for them. */
	bool more = true;

	while (!v->stop) {
		struct epoll_event ev[VUBNET_MAX_EVENTS];
		int n = epoll_wait(v->epfd, ev, VUBNET_MAX_EVENTS, more ? 0 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			VU_ERR("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			vubnet_event(v, (enum vubnet_src)ev[i].data.u32);
		if (v->stop)
			break;
		more = vubnet_guest_to_tap(v);
		more |= vubnet_tap_to_guest(v);
	}
	return 0;
}

/* SIGTERM and SIGINT end the program through the event loop: "The back-end program must
 * end (as quickly and cleanly as possible) when the SIGTERM signal is received". */
static int
vubnet_signals(struct vubnet *v)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* A frontend gone while a reply is written must not kill the program. */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (v->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		VU_ERR("signalfd: %s", strerror(errno));
		return -errno;
	}
	return vubnet_epoll(v, EPOLL_CTL_ADD, v->sigfd, VUBNET_SRC_SIGNAL, EPOLLIN);
}

/* The device on the socket: a path (listened on or connected to) or the --fd given; or
 * a VDUSE device (--vduse). */
static int
vubnet_device(struct vubnet *v)
{
	struct vub_af_unix_params up = {
		.name = v->tap.name,
		.path = v->opts.socket_path,
		.client = v->opts.client,
		.fd = v->opts.fd,
	};
	struct vub_dev_params dp = {
		.name = v->tap.name,
		.queue_pairs = 1,
		.on_ready = vubnet_on_ready,
		.arg = v,
		.has_mac = v->opts.has_mac,
		.mtu = v->opts.mtu,
		.iommu = v->opts.iommu,
	};
	struct vub_transport *t;
	struct stat st;
	int rc;

	memcpy(dp.mac, v->opts.mac, sizeof(dp.mac));
	if (v->opts.fd >= 0 && (fstat(v->opts.fd, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		VU_ERR("--fd=%d is not an open socket", v->opts.fd);
		return -EBADF;
	}
	if (v->opts.vduse[0] != '\0') {
		struct vub_vduse_params vp = { .name = v->opts.vduse, .queue_pairs = 1 };

		rc = vub_vduse_create(&vp, &t);
	} else {
		rc = vub_af_unix_create(&up, &t);
	}
	if (rc == 0)
		rc = vub_dev_create(&dp, t, &v->dev);
	if (rc == 0)
		rc = vub_dev_start(v->dev);
	/* A VDUSE device served again runs from its start on: its rings' kicks and the
	 * carrier are taken up now, not at the first message. */
	if (rc == 0) {
		vubnet_sync_carrier(v);
		vubnet_sync_kicks(v);
	}
	if (rc == 0)
		rc = vubnet_epoll(v, EPOLL_CTL_ADD, vub_dev_event_fd(v->dev), VUBNET_SRC_DEV,
				  EPOLLIN);
	return rc;
}

static int
vubnet_setup(struct vubnet *v)
{
	int rc;

	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0) {
		VU_ERR("epoll_create1: %s", strerror(errno));
		return -errno;
	}
	rc = vubnet_signals(v);
	if (rc == 0)
		rc = vubnet_tap_open(v->opts.tap, &v->tap);
	if (rc == 0)
		rc = vubnet_epoll(v, EPOLL_CTL_ADD, v->tap.fd, VUBNET_SRC_TAP, 0);
	if (rc == 0)
		rc = vubnet_device(v);
	return rc;
}

static void
vubnet_teardown(struct vubnet *v)
{
	vub_dev_destroy(v->dev);
	for (uint16_t r = 0; r < VUBNET_VRINGS; r++)
		if (v->kick_fd[r] >= 0)
			close(v->kick_fd[r]);
	vubnet_tap_close(&v->tap);
	if (v->sigfd >= 0)
		close(v->sigfd);
	if (v->epfd >= 0)
		close(v->epfd);
}

int
main(int argc, char **argv)
{
	static struct vubnet v = { .epfd = -1, .sigfd = -1, .tap.fd = -1, .kick_fd = { -1, -1 } };
	char err[256];
	int rc;

	vu_log_set_handler(vubnet_log);
	if (vubnet_opts_parse(argc, argv, &v.opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n%s", VUBNET_NAME, err, vubnet_usage());
		return VUBNET_EXIT_USAGE;
	}
	if (v.opts.print_capabilities || v.opts.help) {
		fputs(v.opts.help ? vubnet_usage() : vubnet_capabilities(), stdout);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	rc = vubnet_setup(&v);
	if (rc == 0) {
		VU_INFO("serving %s%s, tap %s",
			v.opts.vduse[0]	       ? v.opts.vduse :
				v.opts.fd >= 0 ? "--fd" :
						 v.opts.socket_path,
			v.opts.client ? " (client)" : "", v.tap.name);
		rc = vubnet_run(&v);
	}
	VU_INFO("%" PRIu64 " frames from the TAP dropped", v.dropped);
	vubnet_teardown(&v);
	return rc == 0 && !v.tap_gone ? EXIT_SUCCESS : EXIT_FAILURE;
}
