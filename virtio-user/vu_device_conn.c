/* SPDX-License-Identifier: BSD-3-Clause */
/* The device's backend connection: handing it the rings, watching it, resuming after a return. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vu_device_priv.h"
#include "vu_log.h"
#include "vu_ring.h"
#include "vu_ring_packed.h"

static bool
vu_conn_backend_connected(const struct vu_device *dev)
{
	return !dev->ops->connected || dev->ops->connected(dev->backend);
}

/* Keep epfd watching fd in the slot *watched. */
static void
vu_conn_watch_fd(struct vu_device *dev, int fd, int *watched, const char *what)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (fd == *watched)
		return;
	/* A closed fd already left the set by itself: errors are expected here. */
	if (*watched >= 0)
		epoll_ctl(dev->epfd, EPOLL_CTL_DEL, *watched, NULL);
	*watched = -1;
	if (fd < 0)
		return;
	if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST) {
		VU_ERR("%s: cannot watch the %s (fd %d): %s", dev->name, what, fd, strerror(errno));
		return;
	}
	*watched = fd;
}

/* Keep epfd watching the fds the backend names now: the listen socket or connection, and
 * its backend channel. */
static void
vu_conn_watch(struct vu_device *dev)
{
	int channel = dev->ops->channel_fd ? dev->ops->channel_fd(dev->backend) : -1;

	vu_conn_watch_fd(dev, dev->ops->event_fd(dev->backend), &dev->watched_fd,
			 "backend connection");
	vu_conn_watch_fd(dev, channel, &dev->watched_channel, "backend channel");
}

int
vu_device_conn_init(struct vu_device *dev)
{
	dev->connected = vu_conn_backend_connected(dev);
	if (!dev->ops->event_fd || !dev->ops->handle_event)
		return 0; /* nothing ever changes: no event fd */
	dev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dev->epfd < 0) {
		int err = errno;

		VU_ERR("%s: epoll_create1: %s", dev->name, strerror(err));
		return -err;
	}
	vu_conn_watch(dev);
	return 0;
}

void
vu_device_conn_fini(struct vu_device *dev)
{
	if (dev->epfd >= 0)
		close(dev->epfd);
	dev->epfd = -1;
	dev->watched_fd = -1;
	dev->watched_channel = -1;
}

int
vu_device_event_fd(const struct vu_device *dev)
{
	return dev->epfd;
}

bool
vu_device_connected(const struct vu_device *dev)
{
	return dev->connected;
}

/* The link is up while a backend has the rings (vu_device_start_backend). */
bool
vu_device_link_up(const struct vu_device *dev)
{
	return dev->config.status & VU_NET_S_LINK_UP;
}

/* Kicks: the backend's side of a notification is its kick eventfd. */
int
vu_device_notify_fd(int kick_fd)
{
	uint64_t one = 1;
	ssize_t n;

	/* Interrupted (EINTR): nothing was written, so the kick is written again. EAGAIN means
	 * the counter is saturated: the backend has a kick pending anyway. */
	n = TEMP_FAILURE_RETRY(write(kick_fd, &one, sizeof(one)));
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int
vu_device_notify(struct vu_device *dev, uint32_t idx)
{
	if (idx >= dev->nqueues)
		return -EINVAL;
	return vu_device_notify_fd(dev->queues[idx].kick_fd);
}

/* ---- where a ring resumes ---- */

/*
 * After a reconnect each ring resumes right after the last buffer marked used, read from
 * the rings in the driver's memory; right for backends that complete in order
 * (docs/server-mode.md, "Where the rings resume", quotes the spec's inflight rules).
 */

/* Split ring: "idx field indicates where the device would put the next descriptor entry in
 * the ring" (spec 2.7.8); one used entry per chain (in order, no batching) makes it the
 * number of available entries consumed, which is what SET_VRING_BASE takes. A backend
 * given the inflight region counts the buffers still in flight on top of it ("last_avail_idx
 * = used_idx + inflight count" in the spec's recovery), as QEMU sends the same base. */
static uint32_t
vu_conn_split_base(const struct vu_queue *q)
{
	const struct vu_used *used = (const struct vu_used *)(uintptr_t)q->addr.used;

	return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
}

/*
 * Packed ring: no used index in memory. Walk on from the driver's own used position over
 * the used groups it has not read; a group ends at the descriptor carrying its buffer id
 * without NEXT (spec 2.8.2, 2.8.6; the walk is in docs/server-mode.md).
 */
static uint32_t
vu_conn_packed_base(const struct vu_device *dev, uint32_t idx, const struct vu_queue *q)
{
	const struct vu_packed_desc *desc = (const struct vu_packed_desc *)(uintptr_t)q->addr.desc;
	uint64_t used_pos_at = q->addr.desc + vu_packed_ring_used_pos_offset(q->size);
	const uint32_t *used_pos = (const uint32_t *)(uintptr_t)used_pos_at;
	uint32_t word = __atomic_load_n(used_pos, __ATOMIC_ACQUIRE);
	uint32_t size = q->size, pos = vu_packed_base_slot(word), seen = 0, skipped = 0;
	bool wrap = vu_packed_base_wrap(word);

	if (pos >= size) {
		VU_ERR("%s: queue %u: the driver's used position %u is past the ring (%u): "
		       "resuming at slot 0",
		       dev->name, idx, pos, size);
		return vu_packed_ring_base(0, true);
	}
	while (seen < size) {
		uint32_t n = 1, p = pos, len;
		uint16_t id, flags = vu_packed_desc_read(&desc[pos], &id, &len);
		bool w = wrap;

		if ((flags & VU_PACKED_DESC_F_AVAIL_USED) != vu_packed_used_bits(wrap))
			break;
		for (uint32_t k = 1; seen + k < size; k++) {
			uint16_t f, next_id;

			if (++p == size) {
				p = 0;
				w = !w;
			}
			f = vu_packed_desc_read(&desc[p], &next_id, &len);
			if ((f & VU_PACKED_DESC_F_AVAIL_USED) != vu_packed_avail_bits(w))
				break;
			if (next_id == id && !(f & VU_DESC_F_NEXT)) {
				n = k + 1;
				break;
			}
		}
		seen += n;
		skipped++;
		pos += n;
		if (pos >= size) {
			pos -= size;
			wrap = !wrap;
		}
	}
	if (skipped)
		VU_DEBUG("%s: queue %u: %u used descriptors the driver has not read yet", dev->name,
			 idx, skipped);
	return vu_packed_ring_base((uint16_t)pos, wrap);
}

uint32_t
vu_device_resume_base(const struct vu_device *dev, uint32_t idx)
{
	const struct vu_queue *q = &dev->queues[idx];
	uint32_t base;

	if (vu_ring_is_packed(dev->driver_features)) {
		base = vu_conn_packed_base(dev, idx, q);
		VU_INFO("%s: queue %u resumes at slot %u, wrap counter %u", dev->name, idx,
			vu_packed_base_slot(base), vu_packed_base_wrap(base));
	} else {
		base = vu_conn_split_base(q);
		VU_INFO("%s: queue %u resumes at avail index %u", dev->name, idx, base);
	}
	return base;
}

/* ---- handing the rings to the backend ---- */

/* What the device offers of a backend's features, besides what it emulates. */
void
vu_device_take_backend_features(struct vu_device *dev, uint64_t offered)
{
	const uint64_t passed = VU_DEVICE_DATA_PATH_FEATURES | VU_DEVICE_MTU_FEATURE;

	dev->backend_features = offered;
	dev->device_features = (dev->device_features & ~passed) | (offered & passed);
	/* A vhost-user backend can state a smaller MTU only in its own config space
	 * (VHOST_USER_GET_CONFIG, not negotiated): the device offers the field's whole
	 * range, and a backend refuses an MTU it cannot carry in its NET_SET_MTU ack. */
	dev->config.mtu = offered & VU_DEVICE_MTU_FEATURE ? VU_NET_MAX_MTU : 0;
}

/* Tell the backend the driver's MTU (a failure is logged by the op); one that cannot be
 * told is not an error. */
int
vu_device_tell_mtu(struct vu_device *dev, uint32_t mtu)
{
	int rc = dev->ops->set_mtu ? dev->ops->set_mtu(dev->backend, mtu) : -EOPNOTSUPP;

	if (rc == -EOPNOTSUPP) {
		VU_INFO("%s: MTU %u stays the driver's: the %s backend takes none", dev->name, mtu,
			dev->ops->name);
		return 0;
	}
	return rc;
}

/*
 * Before the rings, the inflight region (vhost-user INFLIGHT_SHMFD): rings no backend has
 * run get a new one; rings resumed get the one the previous backend filled, from which
 * the new one resubmits the buffers it left in flight, whatever their order.
 */
static int
vu_conn_share_inflight(struct vu_device *dev)
{
	bool fresh = true;
	int rc;

	if (!dev->ops->share_inflight)
		return 0;
	for (uint32_t i = 0; i < dev->nqueues; i++)
		if (dev->queues[i].ran)
			fresh = false;
	rc = dev->ops->share_inflight(dev->backend, dev->nqueues, dev->queues[0].size, fresh);
	return rc == -EOPNOTSUPP ? 0 : rc;
}

/* Hand the memory table and every ready queue to the backend, then enable the rings. */
int
vu_device_start_backend(struct vu_device *dev, uint8_t status)
{
	const struct vu_backend_ops *ops = dev->ops;
	struct vu_backend *b = dev->backend;
	/* A packed ring starts at slot 0 with both wrap counters at 1 (spec 2.8.1). */
	uint32_t base = vu_ring_is_packed(dev->driver_features) ? vu_packed_ring_base(0, true) : 0;
	int rc = 0;

	if (dev->mem.nregions == 0) {
		VU_ERR("%s: DRIVER_OK without a memory table", dev->name);
		return -EINVAL;
	}
	/* A backend that takes the status got the features at FEATURES_OK. */
	if (!dev->features_told)
		rc = ops->set_features(b, vu_device_features_for_backend(dev));
	if (rc == 0)
		rc = vu_device_tell_mtu(dev, dev->mtu);
	if (rc == 0)
		rc = ops->set_mem_table(b, &dev->mem);
	if (rc == 0)
		rc = vu_conn_share_inflight(dev);
	if (rc < 0) {
		vu_device_conn_lost(dev);
		return rc;
	}
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];

		if (!q->ready) {
			/* Pairs past the first may stay unused (fewer queues configured). */
			if (i >= 2)
				continue;
			VU_ERR("%s: DRIVER_OK with queue %u not set up", dev->name, i);
			return -EINVAL;
		}
		/* A ring a previous backend ran goes on from where it is (vu_device_conn.c). */
		bool resume = q->ran;

		/* Mark first: a ring the backend saw at all must be stopped on failure. */
		q->started = true;
		q->ran = true;
		q->enabled = false;
		rc = ops->set_vring_call(b, i, q->call_fd);
		if (rc == 0)
			rc = ops->set_vring_num(b, i, q->size);
		if (rc == 0)
			rc = ops->set_vring_base(b, i,
						 resume ? vu_device_resume_base(dev, i) : base);
		if (rc == 0)
			rc = ops->set_vring_addr(b, i, &q->addr);
		if (rc == 0)
			rc = ops->set_vring_kick(b, i, q->kick_fd);
		if (rc < 0) {
			vu_device_conn_lost(dev);
			return rc;
		}
	}
	/* Without MQ there is one pair; with it, the driver enables more with VQ_PAIRS_SET. */
	rc = vu_device_enable_pairs(dev, 1);
	if (rc < 0)
		return rc;
	/* DRIVER_OK last: a backend that takes the status starts the device on it (DPDK's
	 * vhost is not ready before it). */
	rc = vu_device_tell_status(dev, status);
	if (rc < 0) {
		vu_device_conn_lost(dev);
		return rc;
	}
	if (!dev->backend_link_down)
		dev->config.status |= VU_NET_S_LINK_UP;
	return 0;
}

int
vu_device_enable_pairs(struct vu_device *dev, uint16_t pairs)
{
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];
		bool enable = i / 2 < pairs;
		int rc;

		if (!q->started || q->enabled == enable)
			continue;
		rc = dev->ops->set_vring_enable(dev->backend, i, enable);
		if (rc < 0) {
			vu_device_conn_lost(dev);
			return rc;
		}
		q->enabled = enable;
	}
	dev->active_pairs = pairs;
	return 0;
}

/*
 * Stop the backend's rings: disable every enabled one, then GET_VRING_BASE each, which is
 * what makes a vhost backend stop a ring (DPDK's virtio_user stops in the same order). A
 * request that makes the backend drop the connection forgets the rings: nothing more is
 * sent, and a backend that does not answer costs one timeout, not one per ring.
 */
void
vu_device_stop_backend(struct vu_device *dev)
{
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];

		if (!q->started || !q->enabled)
			continue;
		if (dev->ops->set_vring_enable(dev->backend, i, false) < 0 &&
		    vu_device_conn_lost(dev))
			break;
		q->enabled = false;
	}
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];
		uint32_t base;

		if (!q->started)
			continue;
		if (dev->ops->get_vring_base(dev->backend, i, &base) == 0)
			VU_DEBUG("%s: queue %u stopped at %u", dev->name, i, base);
		else if (vu_device_conn_lost(dev))
			break;
		q->started = false;
		q->enabled = false;
	}
	dev->config.status &= (uint16_t)~VU_NET_S_LINK_UP;
}

/* ---- connection events ---- */

/* "bits 15 (MRG_RXBUF) 35 (IN_ORDER)" for a log line. */
static void
vu_conn_bits(uint64_t bits, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ VU_NET_F_CSUM, "CSUM" },
		{ VU_NET_F_GUEST_CSUM, "GUEST_CSUM" },
		{ VU_NET_F_GUEST_TSO4, "GUEST_TSO4" },
		{ VU_NET_F_GUEST_TSO6, "GUEST_TSO6" },
		{ VU_NET_F_HOST_TSO4, "HOST_TSO4" },
		{ VU_NET_F_HOST_TSO6, "HOST_TSO6" },
		{ VU_NET_F_MRG_RXBUF, "MRG_RXBUF" },
		{ VU_F_RING_INDIRECT_DESC, "RING_INDIRECT_DESC" },
		{ VU_F_RING_EVENT_IDX, "RING_EVENT_IDX" },
		{ VU_F_VERSION_1, "VERSION_1" },
		{ VU_F_RING_PACKED, "RING_PACKED" },
		{ VU_F_IN_ORDER, "IN_ORDER" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int bit = 0; bit < 64 && off < len; bit++) {
		const char *name = "?";
		int n;

		if (!(bits & VU_BIT(bit)))
			continue;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (names[i].bit == bit)
				name = names[i].name;
		n = snprintf(buf + off, len - off, "%s%u (%s)", off ? " " : "", bit, name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Forget everything the backend knew about the rings; the link goes down. */
static void
vu_conn_forget(struct vu_device *dev)
{
	for (uint32_t i = 0; i < dev->nqueues; i++) {
		dev->queues[i].started = false;
		dev->queues[i].enabled = false;
	}
	dev->config.status &= (uint16_t)~VU_NET_S_LINK_UP;
	dev->connected = false;
	dev->status_told = false;
	dev->features_told = false;
	dev->backend_link_down = false;
}

/*
 * A backend connected (its features are read). It must serve the queue pairs and offer
 * every feature the driver accepted: features are negotiated once, before FEATURES_OK,
 * and only a device reset starts that over (spec 3.1.1). If the driver already set
 * DRIVER_OK, hand it the memory table and the rings where they are, and the pairs that
 * were enabled.
 */
static int
vu_conn_attach(struct vu_device *dev)
{
	const uint64_t data_path = VU_DEVICE_DATA_PATH_FEATURES;
	uint16_t pairs = dev->active_pairs;
	uint64_t offered = 0, missing;
	uint32_t max_pairs = 0;
	int rc;

	rc = dev->ops->get_features(dev->backend, &offered);
	if (rc == 0)
		rc = dev->ops->get_max_queue_pairs(dev->backend, &max_pairs);
	if (rc < 0)
		goto drop;
	if (max_pairs < dev->nqueues / 2) {
		VU_ERR("%s: the backend that connected serves %u queue pairs, the device has %u: "
		       "dropping the connection",
		       dev->name, max_pairs, dev->nqueues / 2);
		rc = -EINVAL;
		goto drop;
	}
	if (dev->status & VU_STATUS_FEATURES_OK) {
		missing = dev->driver_features & data_path & ~offered;
		if (missing) {
			char names[256];

			vu_conn_bits(missing, names, sizeof(names));
			VU_ERR("%s: the backend that connected does not offer feature bits %s "
			       "(0x%llx) the driver accepted: dropping the connection, the link "
			       "stays down",
			       dev->name, names, (unsigned long long)missing);
			rc = -ENOTSUP;
			goto drop;
		}
		/* The driver's features stay; what goes to this backend follows its offer. */
		dev->backend_features = offered;
	} else {
		/* Not negotiated yet: offer what this backend has. */
		vu_device_take_backend_features(dev, offered);
	}
	dev->connected = true;
	vu_device_read_backend_config(dev);
	rc = vu_device_replay_status(dev);
	if (rc < 0)
		goto drop;
	if (!(dev->status & VU_STATUS_DRIVER_OK))
		return 0;
	rc = vu_device_start_backend(dev, dev->status);
	if (rc == 0 && pairs > 1)
		rc = vu_device_enable_pairs(dev, pairs);
	if (rc < 0) {
		VU_ERR("%s: handing the rings to the backend that connected failed: %s; dropping "
		       "the connection",
		       dev->name, strerror(-rc));
		goto drop;
	}
	/* It may have missed kicks while there was no backend: have it look at every ring. */
	for (uint32_t i = 0; i < dev->nqueues; i++)
		if (dev->queues[i].started)
			vu_device_notify(dev, i);
	vu_log(VU_LOG_NOTICE, "%s: backend connected, rings resumed, link up", dev->name);
	return 0;
drop:
	vu_conn_forget(dev);
	dev->active_pairs = pairs;
	dev->ops->disconnect(dev->backend);
	return rc;
}

bool
vu_device_conn_lost(struct vu_device *dev)
{
	if (!dev->connected || vu_conn_backend_connected(dev))
		return false;
	vu_conn_forget(dev);
	vu_conn_watch(dev);
	vu_log(VU_LOG_NOTICE, "%s: the connection to the backend was dropped, link down%s",
	       dev->name, dev->server ? ", waiting for a backend" : "");
	return true;
}

int
vu_device_handle_event(struct vu_device *dev, bool *link_changed)
{
	bool was_up = vu_device_link_up(dev);
	struct epoll_event evs[4];
	int ev, rc = 0;

	*link_changed = false;
	if (dev->epfd < 0)
		return 0;
	/* Level-triggered: this only clears the epoll set's ready list; the backend's fd stays
	 * readable until handle_event consumes what is pending. */
	epoll_wait(dev->epfd, evs, sizeof(evs) / sizeof(evs[0]), 0);
	ev = dev->ops->handle_event(dev->backend);
	if (ev == VU_BACKEND_EV_CONNECTED) {
		rc = vu_conn_attach(dev);
	} else if (ev == VU_BACKEND_EV_DISCONNECTED) {
		vu_conn_forget(dev);
		vu_log(VU_LOG_NOTICE, "%s: backend gone, link down", dev->name);
	} else if (ev == VU_BACKEND_EV_CONFIG_CHANGED) {
		vu_device_backend_config_changed(dev);
		vu_device_conn_lost(dev);
	} else if (ev < 0) {
		rc = ev;
	}
	vu_conn_watch(dev);
	*link_changed = was_up != vu_device_link_up(dev);
	return rc;
}
