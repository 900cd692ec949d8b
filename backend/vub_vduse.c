/* SPDX-License-Identifier: BSD-3-Clause */
/* The VDUSE transport: the device served as a vDPA device in userspace (/dev/vduse). */
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vu_log.h"
#include "vu_virtio.h"
#include "vub_transport.h"

#define VUB_VDUSE_CONTROL "/dev/vduse/control"
#define VUB_VDUSE_DIR "/dev/vduse/"
/* virtio device ID of a network card (virtio 1.2, 5: "Device Types"). */
#define VUB_VIRTIO_ID_NET 1
/* Ring entries the driver may ask for (VDUSE_VQ_SETUP max_size). */
#define VUB_VDUSE_MAX_RING 1024
/* Ring alignment the device reports (VIRTIO_PCI_VRING_ALIGN, as QEMU's VDUSE devices). */
#define VUB_VDUSE_VQ_ALIGN 4096
/* Bytes of the net config space the core serves (mac, status, pairs, mtu). */
#define VUB_VDUSE_CONFIG_SIZE 12
#define VUB_VDUSE_MAX_VQS (2 * 128)
/*
 * Features the core's GET_FEATURES offers that a VDUSE device does not pass on: the
 * vhost-user protocol bit, and packed rings (the device reads split ring state only,
 * VDUSE_VQ_GET_INFO's split.avail_index). ACCESS_PLATFORM is added: VDUSE refuses a
 * device without it (every address is an IOVA of its IOTLB).
 */
#define VUB_VDUSE_DROPPED (VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES) | VU_BIT(VU_F_RING_PACKED))
/* The core's protocol features this transport uses: the status, the config space, and
 * acks, so that a refusal of a synthesized request is seen. */
#define VUB_VDUSE_PROTOCOL                                                                   \
	(VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIG) | \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_REPLY_ACK))

struct vub_vduse {
	struct vub_transport t;
	char name[VDUSE_NAME_MAX];
	uint16_t queue_pairs;
	int ctrl_fd;
	int dev_fd;
	uint8_t status;
	bool created;
	bool reattached;	   /* the device existed: a restarted backend serves it again */
	struct vu_vhost_msg reply; /* the core's reply to the request synthesized last */
	bool replied;
	bool acks; /* REPLY_ACK negotiated with the core */
	int kick_fd[VUB_VDUSE_MAX_VQS];
};

static struct vub_vduse *
vub_vd(struct vub_transport *t)
{
	return (struct vub_vduse *)t;
}

static uint32_t
vub_vd_nvqs(const struct vub_vduse *v)
{
	return 2u * v->queue_pairs;
}

static bool
vub_vd_is_get(uint32_t request)
{
	return request == VU_VHOST_USER_GET_FEATURES || request == VU_VHOST_USER_GET_CONFIG ||
		request == VU_VHOST_USER_GET_VRING_BASE;
}

/* A request to the core; its reply lands in v->reply. A set-type request asks for an
 * ack once REPLY_ACK is on: a non-zero one is a refusal. */
static int
vub_vd_deliver(struct vub_vduse *v, struct vu_vhost_msg *msg)
{
	uint32_t request = msg->hdr.request;
	bool ack = v->acks && !vub_vd_is_get(request);

	if (ack)
		msg->hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	v->replied = false;
	if (vub_dev_on_message(v->t.dev, msg) < 0) {
		VU_ERR("%s: %s refused by the device", v->name, vu_vhost_request_name(request));
		return -EPROTO;
	}
	if (ack && (!v->replied || v->reply.payload.u64 != 0)) {
		VU_ERR("%s: %s refused by the device (ack %llu)", v->name,
		       vu_vhost_request_name(request),
		       v->replied ? (unsigned long long)v->reply.payload.u64 : 0ull);
		return -EIO;
	}
	return 0;
}

static int
vub_vd_send(struct vub_vduse *v, uint32_t request, const void *payload, uint32_t size, int fd)
{
	struct vu_vhost_msg msg;

	vu_vhost_msg_init(&msg, request, size);
	if (size)
		memcpy(&msg.payload, payload, size);
	if (fd >= 0) {
		msg.fds[0] = fd;
		msg.nfds = 1;
	}
	return vub_vd_deliver(v, &msg);
}

static int
vub_vd_send_u64(struct vub_vduse *v, uint32_t request, uint64_t value)
{
	return vub_vd_send(v, request, &value, sizeof(value), -1);
}

static int
vub_vd_send_state(struct vub_vduse *v, uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vhost_vring_state s = { .index = index, .num = num };

	return vub_vd_send(v, request, &s, sizeof(s), -1);
}

/* What the core offers, and its config space, become the VDUSE device's. */
static int
vub_vd_create_dev(struct vub_vduse *v)
{
	struct vduse_dev_config *c = calloc(1, sizeof(*c) + VUB_VDUSE_CONFIG_SIZE);
	struct vu_vhost_config win = { .offset = 0, .size = VUB_VDUSE_CONFIG_SIZE };
	uint64_t api = VDUSE_API_VERSION;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = vub_vd_send(v, VU_VHOST_USER_GET_FEATURES, NULL, 0, -1);
	if (rc == 0 && v->replied)
		c->features =
			(v->reply.payload.u64 & ~VUB_VDUSE_DROPPED) | VU_BIT(VU_F_ACCESS_PLATFORM);
	if (rc == 0)
		rc = vub_vd_send_u64(v, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VUB_VDUSE_PROTOCOL);
	v->acks = rc == 0;
	if (rc == 0)
		rc = vub_vd_send(v, VU_VHOST_USER_GET_CONFIG, &win,
				 offsetof(struct vu_vhost_config, region) + VUB_VDUSE_CONFIG_SIZE,
				 -1);
	if (rc == 0 && (!v->replied || v->reply.payload.config.size != VUB_VDUSE_CONFIG_SIZE))
		rc = -EIO;
	if (rc < 0) {
		free(c);
		return rc;
	}
	snprintf(c->name, sizeof(c->name), "%s", v->name);
	c->device_id = VUB_VIRTIO_ID_NET;
	c->vq_num = vub_vd_nvqs(v);
	c->vq_align = VUB_VDUSE_VQ_ALIGN;
	c->config_size = VUB_VDUSE_CONFIG_SIZE;
	memcpy(c->config, v->reply.payload.config.region, VUB_VDUSE_CONFIG_SIZE);
	if (ioctl(v->ctrl_fd, VDUSE_SET_API_VERSION, &api) < 0 ||
	    ioctl(v->ctrl_fd, VDUSE_CREATE_DEV, c) < 0)
		rc = -errno;
	if (rc == -EEXIST) {
		/* The device outlives the process that served it (VDUSE keeps it until
		 * VDUSE_DESTROY_DEV): its new backend opens it again. */
		v->created = v->reattached = true;
		rc = 0;
		vu_log(VU_LOG_NOTICE, "%s: the VDUSE device exists: serving it again", v->name);
	} else if (rc < 0) {
		VU_ERR("%s: VDUSE_CREATE_DEV (features 0x%llx, %u virtqueues): %s", v->name,
		       (unsigned long long)c->features, c->vq_num, strerror(-rc));
	} else {
		v->created = true;
		VU_INFO("%s: VDUSE device created, features 0x%llx", v->name,
			(unsigned long long)c->features);
	}
	free(c);
	return rc;
}

/* The device node, its virtqueues, and a kick eventfd each (given at each DRIVER_OK). */
static int
vub_vd_setup_vqs(struct vub_vduse *v)
{
	char path[sizeof(VUB_VDUSE_DIR) + VDUSE_NAME_MAX];

	snprintf(path, sizeof(path), VUB_VDUSE_DIR "%s", v->name);
	v->dev_fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (v->dev_fd < 0) {
		VU_ERR("%s: cannot open %s: %s", v->name, path, strerror(errno));
		return -errno;
	}
	for (uint32_t i = 0; i < vub_vd_nvqs(v); i++) {
		struct vduse_vq_config vc = { .index = i, .max_size = VUB_VDUSE_MAX_RING };

		v->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick_fd[i] < 0 || ioctl(v->dev_fd, VDUSE_VQ_SETUP, &vc) < 0) {
			VU_ERR("%s: virtqueue %u: VDUSE_VQ_SETUP: %s", v->name, i, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int vub_vd_resume(struct vub_vduse *v);

static int
vub_vd_start(struct vub_transport *t)
{
	struct vub_vduse *v = vub_vd(t);
	int rc;

	v->ctrl_fd = open(VUB_VDUSE_CONTROL, O_RDWR | O_CLOEXEC);
	if (v->ctrl_fd < 0) {
		rc = -errno;
		VU_ERR("%s: cannot open %s: %s (modprobe vduse)", v->name, VUB_VDUSE_CONTROL,
		       strerror(-rc));
		return rc;
	}
	/* The core serves one frontend: the kernel's vDPA bus, from now on. */
	vub_dev_on_connect(t->dev);
	rc = vub_vd_create_dev(v);
	if (rc == 0)
		rc = vub_vd_setup_vqs(v);
	if (rc == 0 && v->reattached)
		return vub_vd_resume(v);
	if (rc == 0)
		vu_log(VU_LOG_NOTICE,
		       "%s: VDUSE device ready: add it with `vdpa dev add name %s mgmtdev vduse`",
		       v->name, v->name);
	return rc;
}

/*
 * The IOTLB as a memory table: every mapping VDUSE_IOTLB_GET_FD finds, in IOVA order,
 * each a region whose guest and user address are its IOVA (descriptors and ring
 * addresses are IOVAs). The fds go to the core with the message.
 */
static int
vub_vd_send_mem_table(struct vub_vduse *v)
{
	struct vu_vhost_msg msg;
	struct vu_vhost_memory *m = &msg.payload.memory;
	uint64_t iova = 0;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_SET_MEM_TABLE, sizeof(*m));
	for (;;) {
		struct vduse_iotlb_entry e = { .start = iova, .last = UINT64_MAX };
		int fd = ioctl(v->dev_fd, VDUSE_IOTLB_GET_FD, &e);

		if (fd < 0)
			break;
		if (m->nregions == VU_VHOST_USER_MAX_REGIONS) {
			close(fd);
			VU_ERR("%s: the IOTLB has more than %u mappings", v->name,
			       VU_VHOST_USER_MAX_REGIONS);
			goto fail;
		}
		m->regions[m->nregions] = (struct vu_vhost_mem_region){
			.guest_phys_addr = e.start,
			.memory_size = e.last - e.start + 1,
			.userspace_addr = e.start,
			.mmap_offset = e.offset,
		};
		msg.fds[m->nregions++] = fd;
		msg.nfds = m->nregions;
		if (e.last == UINT64_MAX)
			break;
		iova = e.last + 1;
	}
	if (m->nregions == 0) {
		VU_ERR("%s: DRIVER_OK with nothing in the IOTLB", v->name);
		return -EINVAL;
	}
	msg.hdr.size =
		offsetof(struct vu_vhost_memory, regions) + m->nregions * sizeof(m->regions[0]);
	return vub_vd_deliver(v, &msg);
fail:
	for (unsigned int i = 0; i < msg.nfds; i++)
		close(msg.fds[i]);
	return -E2BIG;
}

/* One ring as the driver set it up (VDUSE_VQ_GET_INFO), handed to the core. */
static int
vub_vd_start_vq(struct vub_vduse *v, uint32_t i)
{
	struct vduse_vq_info info = { .index = i };
	struct vu_vhost_vring_addr a = { .index = i };
	int rc, kick, call;

	if (ioctl(v->dev_fd, VDUSE_VQ_GET_INFO, &info) < 0) {
		VU_ERR("%s: VDUSE_VQ_GET_INFO %u: %s", v->name, i, strerror(errno));
		return -errno;
	}
	if (!info.ready)
		return 0;
	/* A device reset forgets the kick eventfd (vduse_dev_reset): given again at each
	 * start; kicks the driver made meanwhile are signalled on it at once. */
	if (ioctl(v->dev_fd, VDUSE_VQ_SETUP_KICKFD,
		  &(struct vduse_vq_eventfd){ .index = i, .fd = v->kick_fd[i] }) < 0) {
		VU_ERR("%s: VDUSE_VQ_SETUP_KICKFD %u: %s", v->name, i, strerror(errno));
		return -errno;
	}
	a.desc_user_addr = info.desc_addr;
	a.avail_user_addr = info.driver_addr;
	a.used_user_addr = info.device_addr;
	rc = vub_vd_send_state(v, VU_VHOST_USER_SET_VRING_NUM, i, info.num);
	if (rc == 0)
		rc = vub_vd_send_state(v, VU_VHOST_USER_SET_VRING_BASE, i, info.split.avail_index);
	if (rc == 0)
		rc = vub_vd_send(v, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1);
	/* The core signals through vring_call (VDUSE_VQ_INJECT_IRQ); the eventfd it is given
	 * only says that the ring has someone to notify. */
	call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	kick = dup(v->kick_fd[i]);
	if (rc == 0 && (call < 0 || kick < 0))
		rc = -errno;
	if (rc == 0) {
		rc = vub_vd_send(v, VU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ i }, 8, call);
		call = -1;
	}
	if (rc == 0) {
		rc = vub_vd_send(v, VU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ i }, 8, kick);
		kick = -1;
	}
	if (rc == 0)
		rc = vub_vd_send_state(v, VU_VHOST_USER_SET_VRING_ENABLE, i, 1);
	if (call >= 0)
		close(call);
	if (kick >= 0)
		close(kick);
	return rc;
}

/* The driver's status: features at FEATURES_OK, memory and rings at DRIVER_OK, then the
 * status itself; 0 resets the core's device. */
static int
vub_vd_set_status(struct vub_vduse *v, uint8_t status)
{
	uint8_t added = status & (uint8_t)~v->status;
	uint64_t features = 0;
	int rc = 0;

	if (added & VU_STATUS_FEATURES_OK) {
		if (ioctl(v->dev_fd, VDUSE_DEV_GET_FEATURES, &features) < 0)
			return -errno;
		rc = vub_vd_send_u64(v, VU_VHOST_USER_SET_FEATURES,
				     (features & ~VU_BIT(VU_F_ACCESS_PLATFORM)) |
					     VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES));
	}
	if (rc == 0 && (added & VU_STATUS_DRIVER_OK)) {
		rc = vub_vd_send_mem_table(v);
		for (uint32_t i = 0; rc == 0 && i < vub_vd_nvqs(v); i++)
			rc = vub_vd_start_vq(v, i);
	}
	if (rc == 0)
		rc = vub_vd_send_u64(v, VU_VHOST_USER_SET_STATUS, status);
	if (rc == 0)
		v->status = status;
	return rc;
}

/*
 * A device another process served: what the driver negotiated stays in the kernel (its
 * features, the rings' addresses) and the device's ring positions do not: the core
 * resumes each started split ring at its used index (vub_split_resume), so buffers the
 * old device took without returning them are taken again. A driver not that far (no features, no ready ring) goes on with status
 * requests as usual; one that was (VDUSE has no status to read back) is resumed at
 * DRIVER_OK, and a DRIVER_OK request still queued then changes nothing.
 */
static int
vub_vd_resume(struct vub_vduse *v)
{
	const uint8_t running = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK |
		VU_STATUS_DRIVER_OK;
	struct vduse_vq_info info = { .index = 0 };
	uint64_t features = 0;
	int rc;

	if (ioctl(v->dev_fd, VDUSE_DEV_GET_FEATURES, &features) < 0 ||
	    ioctl(v->dev_fd, VDUSE_VQ_GET_INFO, &info) < 0) {
		VU_ERR("%s: reading the device back: %s", v->name, strerror(errno));
		return -errno;
	}
	if (!(features & VU_BIT(VU_F_VERSION_1)) || !info.ready) {
		VU_INFO("%s: no driver ran the device: nothing to resume", v->name);
		return 0;
	}
	rc = vub_vd_set_status(v, running);
	if (rc == 0)
		vu_log(VU_LOG_NOTICE, "%s: resumed: features 0x%llx, rings running", v->name,
		       (unsigned long long)features);
	return rc;
}

/* A request of the kernel's VDUSE device; the response says whether it was served. */
static int
vub_vd_request(struct vub_vduse *v, const struct vduse_dev_request *req,
	       struct vduse_dev_response *resp)
{
	switch (req->type) {
	case VDUSE_GET_VQ_STATE:
		resp->vq_state.index = req->vq_state.index;
		if (req->vq_state.index >= vub_vd_nvqs(v))
			return -EINVAL;
		if (vub_vd_send_state(v, VU_VHOST_USER_GET_VRING_BASE, req->vq_state.index, 0) <
			    0 ||
		    !v->replied)
			return -EIO;
		resp->vq_state.split.avail_index = (uint16_t)v->reply.payload.state.num;
		return 0;
	case VDUSE_SET_STATUS:
		return vub_vd_set_status(v, req->s.status);
	case VDUSE_UPDATE_IOTLB:
		/* A mapping changed while the rings run: the core swaps in the new table. */
		return (v->status & VU_STATUS_DRIVER_OK) ? vub_vd_send_mem_table(v) : 0;
	default:
		VU_ERR("%s: VDUSE request type %u is not implemented: failed", v->name, req->type);
		return -ENOTSUP;
	}
}

static int
vub_vd_process(struct vub_transport *t)
{
	struct vub_vduse *v = vub_vd(t);
	struct vduse_dev_request req;
	ssize_t n;

	while ((n = read(v->dev_fd, &req, sizeof(req))) == (ssize_t)sizeof(req)) {
		struct vduse_dev_response resp = { .request_id = req.request_id };

		if (vub_vd_request(v, &req, &resp) < 0) {
			resp.result = VDUSE_REQ_RESULT_FAILED;
			VU_ERR("%s: VDUSE request type %u failed", v->name, req.type);
		}
		if (write(v->dev_fd, &resp, sizeof(resp)) != (ssize_t)sizeof(resp)) {
			VU_ERR("%s: VDUSE response: %s", v->name, strerror(errno));
			return -errno;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		VU_ERR("%s: reading VDUSE requests: %s", v->name, strerror(errno));
		return -errno;
	}
	return 0;
}

static int
vub_vd_event_fd(const struct vub_transport *t)
{
	return ((const struct vub_vduse *)t)->dev_fd;
}

static int
vub_vd_send_reply(struct vub_transport *t, const struct vu_vhost_msg *msg)
{
	struct vub_vduse *v = vub_vd(t);

	v->reply = *msg;
	v->replied = true;
	return 0;
}

static int
vub_vd_map_mem(struct vub_transport *t, const struct vu_vhost_msg *msg, struct vub_region *regions)
{
	const struct vu_vhost_memory *m = &msg->payload.memory;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct vu_vhost_mem_region *r = &m->regions[i];
		uint64_t start = r->mmap_offset & ~(page - 1);
		size_t len = (size_t)(r->mmap_offset - start + r->memory_size);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, msg->fds[i],
			       (off_t)start);

		if (p == MAP_FAILED) {
			int err = errno;

			VU_ERR("%s: IOTLB mapping %u (iova 0x%llx, %llu bytes): mmap: %s",
			       vub_vd(t)->name, i, (unsigned long long)r->guest_phys_addr,
			       (unsigned long long)r->memory_size, strerror(err));
			while (i-- > 0)
				t->ops->unmap_mem(t, &regions[i]);
			return -err;
		}
		regions[i].map_addr = p;
		regions[i].map_len = len;
		regions[i].host = (uint8_t *)p + (r->mmap_offset - start);
	}
	return 0;
}

static void
vub_vd_unmap_mem(struct vub_transport *t, struct vub_region *r)
{
	(void)t;
	if (r->map_addr)
		munmap(r->map_addr, r->map_len);
	r->map_addr = NULL;
	r->host = NULL;
}

/* VDUSE's access bits as mmap protections (VDUSE_IOTLB_GET_FD's fd is opened to match). */
static int
vub_vd_prot(uint8_t perm)
{
	switch (perm) {
	case VDUSE_ACCESS_RO:
		return PROT_READ;
	case VDUSE_ACCESS_WO:
		return PROT_WRITE;
	default:
		return PROT_READ | PROT_WRITE;
	}
}

/*
 * An IOVA outside the table: bound to virtio_vdpa, the kernel adds its bounce buffer
 * to the IOTLB at the driver's first streaming DMA mapping, after DRIVER_OK, without a
 * VDUSE_UPDATE_IOTLB message; the mapping holding it is looked up now.
 */
static int
vub_vd_mem_miss(struct vub_transport *t, uint64_t addr, uint64_t len, struct vub_region *r)
{
	struct vub_vduse *v = vub_vd(t);
	struct vduse_iotlb_entry e = { .start = addr, .last = addr + len - 1 };
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start;
	size_t maplen;
	int fd = ioctl(v->dev_fd, VDUSE_IOTLB_GET_FD, &e);
	void *p;
	int err;

	if (fd < 0) {
		VU_ERR("%s: iova 0x%llx (%llu bytes) is in no IOTLB mapping: %s", v->name,
		       (unsigned long long)addr, (unsigned long long)len, strerror(errno));
		return -EFAULT;
	}
	start = e.offset & ~(page - 1);
	maplen = (size_t)(e.offset - start + (e.last - e.start + 1));
	p = mmap(NULL, maplen, vub_vd_prot(e.perm), MAP_SHARED, fd, (off_t)start);
	err = errno;
	close(fd);
	if (p == MAP_FAILED) {
		VU_ERR("%s: IOTLB mapping of iova 0x%llx (%llu bytes): mmap: %s", v->name,
		       (unsigned long long)e.start, (unsigned long long)(e.last - e.start + 1),
		       strerror(err));
		return -err;
	}
	*r = (struct vub_region){ .gpa = e.start,
				  .uva = e.start,
				  .size = e.last - e.start + 1,
				  .host = (uint8_t *)p + (e.offset - start),
				  .map_addr = p,
				  .map_len = maplen };
	VU_INFO("%s: IOTLB mapping of iova 0x%llx-0x%llx added on a miss", v->name,
		(unsigned long long)e.start, (unsigned long long)e.last);
	return 0;
}

/* Used buffers: the device's interrupt, injected by the kernel into the driver. */
static int
vub_vd_vring_call(struct vub_transport *t, uint16_t vring, int fd)
{
	uint32_t idx = vring;

	(void)fd;
	if (ioctl(vub_vd(t)->dev_fd, VDUSE_VQ_INJECT_IRQ, &idx) < 0)
		return -errno;
	return 0;
}

/* VDUSE has no error notification: the core's log line is what is left. */
static int
vub_vd_vring_err(struct vub_transport *t, uint16_t vring, int fd)
{
	(void)t;
	(void)vring;
	(void)fd;
	return 0;
}

static int
vub_vd_send_backend_req(struct vub_transport *t, int fd, const struct vu_vhost_msg *msg,
			uint64_t *ack)
{
	(void)fd;
	(void)ack;
	VU_ERR("%s: back-end request %s: VDUSE has no backend channel", vub_vd(t)->name,
	       vu_vhost_backend_request_name(msg->hdr.request));
	return -ENOTSUP;
}

static void
vub_vd_cleanup(struct vub_transport *t)
{
	struct vub_vduse *v = vub_vd(t);

	for (uint32_t i = 0; i < VUB_VDUSE_MAX_VQS; i++)
		if (v->kick_fd[i] >= 0)
			close(v->kick_fd[i]);
	if (v->dev_fd >= 0)
		close(v->dev_fd);
	/* Refused (EBUSY) while the vDPA device still exists: `vdpa dev del` first. */
	if (v->created && ioctl(v->ctrl_fd, VDUSE_DESTROY_DEV, v->name) < 0)
		VU_ERR("%s: VDUSE_DESTROY_DEV: %s (vdpa dev del %s first)", v->name,
		       strerror(errno), v->name);
	if (v->ctrl_fd >= 0)
		close(v->ctrl_fd);
	free(v);
}

static const struct vub_transport_ops vub_vduse_ops = {
	.name = "vduse",
	.passes_fds = true,
	.start = vub_vd_start,
	.cleanup = vub_vd_cleanup,
	.event_fd = vub_vd_event_fd,
	.process = vub_vd_process,
	.send_reply = vub_vd_send_reply,
	.map_mem = vub_vd_map_mem,
	.unmap_mem = vub_vd_unmap_mem,
	.mem_miss = vub_vd_mem_miss,
	.vring_call = vub_vd_vring_call,
	.vring_err = vub_vd_vring_err,
	.send_backend_req = vub_vd_send_backend_req,
};

int
vub_vduse_create(const struct vub_vduse_params *params, struct vub_transport **out)
{
	struct vub_vduse *v;

	if (!params->name || params->name[0] == '\0' || strlen(params->name) >= sizeof(v->name) ||
	    strchr(params->name, '/')) {
		VU_ERR("VDUSE device name must be 1 to %zu bytes without '/': %s",
		       sizeof(v->name) - 1, params->name ? params->name : "(none)");
		return -EINVAL;
	}
	if (params->queue_pairs != 1) {
		VU_ERR("%s: VDUSE with %u queue pairs: multi-queue needs a control queue, which "
		       "the VDUSE transport does not serve (1 pair)",
		       params->name, params->queue_pairs);
		return -ENOTSUP;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->t.ops = &vub_vduse_ops;
	snprintf(v->name, sizeof(v->name), "%s", params->name);
	v->queue_pairs = params->queue_pairs;
	v->ctrl_fd = -1;
	v->dev_fd = -1;
	for (uint32_t i = 0; i < VUB_VDUSE_MAX_VQS; i++)
		v->kick_fd[i] = -1;
	*out = &v->t;
	return 0;
}
