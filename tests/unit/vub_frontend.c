/* SPDX-License-Identifier: BSD-3-Clause */
/* A scripted vhost-user frontend for libvub's unit tests: messages, memfd memory, rings. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"
#include "vub_transport.h"

#define VF_TIMEOUT_MS 1000

static void
vf_on_ready(void *arg, bool ready)
{
	struct vf *f = arg;

	f->ready = ready;
	f->ready_events++;
}

void
vf_open(struct vf *f, uint16_t pairs)
{
	vf_open_offloads(f, pairs, 0);
}

void
vf_open_offloads(struct vf *f, uint16_t pairs, uint64_t offloads)
{
	struct vub_dev_params dp = { .queue_pairs = pairs, .offloads = offloads, .inflight = true };

	vf_open_params(f, &dp);
}

void
vf_open_params(struct vf *f, const struct vub_dev_params *params)
{
	struct vub_af_unix_params ap = { .name = "vub-ut" };
	struct vub_dev_params dp = *params;
	struct vub_transport *t;
	int sv[2];

	dp.name = "vub-ut";
	dp.on_ready = vf_on_ready;
	dp.arg = f;
	memset(f, 0, sizeof(*f));
	f->backend = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	ap.fd = sv[1];
	assert_int_equal(vub_af_unix_create(&ap, &t), 0);
	assert_int_equal(vub_dev_create(&dp, t, &f->dev), 0);
	assert_int_equal(vub_dev_start(f->dev), 0);
	assert_true(vub_dev_connected(f->dev));
	f->memfd = tu_memfd(VF_MEM_SIZE);
	assert_true(f->memfd >= 0);
	f->mem = mmap(NULL, VF_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	for (unsigned int i = 0; i < VF_NRINGS; i++) {
		f->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->err[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(f->call[i] >= 0 && f->err[i] >= 0);
		f->kick[i] = -1;
	}
}

void
vf_close(struct vf *f)
{
	vub_dev_destroy(f->dev);
	if (f->sock >= 0)
		close(f->sock);
	if (f->backend >= 0)
		close(f->backend);
	munmap(f->mem, VF_MEM_SIZE);
	close(f->memfd);
	for (unsigned int i = 0; i < VF_NRINGS; i++) {
		close(f->call[i]);
		close(f->err[i]);
		if (f->kick[i] >= 0)
			close(f->kick[i]);
	}
}

uint64_t
vf_addr(const struct vf *f, size_t off)
{
	return (uint64_t)(uintptr_t)(f->mem + off);
}

int
vf_recv(struct vf *f, struct vu_vhost_msg *reply)
{
	return vu_vhost_msg_recv(f->sock, reply, VF_TIMEOUT_MS);
}

int64_t
vf_request(struct vf *f, uint32_t request, const void *payload, uint32_t size, const int *fds,
	   unsigned int nfds)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, request, size);
	if (size)
		memcpy(&msg.payload, payload, size);
	if (f->acks)
		msg.hdr.flags |= VU_VHOST_USER_FLAG_NEED_REPLY;
	if (nfds)
		memcpy(msg.fds, fds, sizeof(int) * nfds);
	msg.nfds = nfds;
	assert_int_equal(vu_vhost_msg_send(f->sock, &msg, VF_TIMEOUT_MS), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
	if (!f->acks)
		return VF_NO_ACK;
	assert_int_equal(vf_recv(f, &reply), 0);
	assert_int_equal(vu_vhost_msg_check_reply(&reply, request, sizeof(uint64_t), NULL), 0);
	return (int64_t)reply.payload.u64;
}

uint64_t
vf_get_u64(struct vf *f, uint32_t request)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, request, 0);
	assert_int_equal(vu_vhost_msg_send(f->sock, &msg, VF_TIMEOUT_MS), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vf_recv(f, &reply), 0);
	assert_int_equal(vu_vhost_msg_check_reply(&reply, request, sizeof(uint64_t), NULL), 0);
	return reply.payload.u64;
}

uint32_t
vf_get_vring_base(struct vf *f, uint32_t index)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_VRING_BASE, sizeof(msg.payload.state));
	msg.payload.state.index = index;
	assert_int_equal(vu_vhost_msg_send(f->sock, &msg, VF_TIMEOUT_MS), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vf_recv(f, &reply), 0);
	assert_int_equal(vu_vhost_msg_check_reply(&reply, VU_VHOST_USER_GET_VRING_BASE,
						  sizeof(reply.payload.state), NULL),
			 0);
	assert_int_equal(reply.payload.state.index, index);
	return reply.payload.state.num;
}

int64_t
vf_set_u64(struct vf *f, uint32_t request, uint64_t v)
{
	return vf_request(f, request, &v, sizeof(v), NULL, 0);
}

int64_t
vf_set_state(struct vf *f, uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vhost_vring_state s = { .index = index, .num = num };

	return vf_request(f, request, &s, sizeof(s), NULL, 0);
}

int64_t
vf_set_mem_table(struct vf *f)
{
	struct vu_vhost_memory m = { .nregions = 1 };

	m.regions[0].guest_phys_addr = vf_addr(f, 0);
	m.regions[0].userspace_addr = vf_addr(f, 0);
	m.regions[0].memory_size = VF_MEM_SIZE;
	m.regions[0].mmap_offset = 0;
	return vf_request(f, VU_VHOST_USER_SET_MEM_TABLE, &m,
			  offsetof(struct vu_vhost_memory, regions) + sizeof(m.regions[0]),
			  &f->memfd, 1);
}

static int64_t
vf_set_fd(struct vf *f, uint32_t request, uint32_t index, int fd)
{
	uint64_t v = index;

	return vf_request(f, request, &v, sizeof(v), &fd, 1);
}

/* Lay ring index out in its part of memory; the addresses SET_VRING_ADDR carries. */
static void
vf_layout_ring(struct vf *f, uint32_t index, uint16_t size, struct vu_vhost_vring_addr *a)
{
	uint8_t *mem = f->mem + index * VF_RING_STRIDE;

	if (f->packed) {
		struct vu_packed_ring *r = &f->pring[index];

		memset(mem, 0, vu_packed_ring_mem_size(size));
		vu_packed_ring_init(r, mem, size);
		a->desc_user_addr = (uint64_t)(uintptr_t)r->desc;
		a->avail_user_addr = (uint64_t)(uintptr_t)r->driver_event;
		a->used_user_addr = (uint64_t)(uintptr_t)r->device_event;
		return;
	}
	memset(mem, 0, vu_split_ring_mem_size(size));
	vu_split_ring_init(&f->ring[index], mem, size);
	/* As a ring that stopped there: its used index in memory says where it resumes. */
	f->ring[index].avail_idx = f->ring[index].last_used_idx = f->split_base;
	f->ring[index].avail->idx = f->ring[index].used->idx = f->split_base;
	a->desc_user_addr = (uint64_t)(uintptr_t)f->ring[index].desc;
	a->avail_user_addr = (uint64_t)(uintptr_t)f->ring[index].avail;
	a->used_user_addr = (uint64_t)(uintptr_t)f->ring[index].used;
}

int64_t
vf_setup_ring(struct vf *f, uint32_t index, uint16_t size)
{
	struct vu_vhost_vring_addr a = { .index = index };
	/* "initialized to 1": a packed ring starts at slot 0 of wrap counter 1. */
	uint32_t base = f->packed ? vu_packed_ring_base(0, true) : f->split_base;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int64_t ack;

	vf_layout_ring(f, index, size, &a);
	assert_true(kick >= 0);
	assert_true(vf_set_state(f, VU_VHOST_USER_SET_VRING_NUM, index, size) <= 0);
	assert_true(vf_set_state(f, VU_VHOST_USER_SET_VRING_BASE, index, base) <= 0);
	assert_true(vf_request(f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) <= 0);
	assert_true(vf_set_fd(f, VU_VHOST_USER_SET_VRING_CALL, index, f->call[index]) <= 0);
	assert_true(vf_set_fd(f, VU_VHOST_USER_SET_VRING_ERR, index, f->err[index]) <= 0);
	ack = vf_set_fd(f, VU_VHOST_USER_SET_VRING_KICK, index, kick);
	if (index < VF_NRINGS) {
		if (f->kick[index] >= 0)
			close(f->kick[index]);
		f->kick[index] = kick;
	} else {
		close(kick);
	}
	return ack;
}

void
vf_handshake(struct vf *f, uint64_t features)
{
	/* Acked already when the frontend set it up before (after a reset). */
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL),
			 f->acks ? 0 : VF_NO_ACK);
	f->acks = true;
	f->packed = features & VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_FEATURES, features), 0);
	assert_int_equal(vf_set_mem_table(f), 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
}

uint8_t *
vf_buf(const struct vf *f, uint32_t ring, uint16_t slot)
{
	return f->mem + VF_BUF_BASE + (ring * VF_SLOTS_PER_RING + slot) * VF_BUF_SIZE;
}

void
vf_put_desc(struct vf *f, uint32_t ring, uint16_t slot, uint64_t addr, uint32_t len, uint16_t flags,
	    uint16_t next)
{
	struct vu_desc *d = &f->ring[ring].desc[slot];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void
vf_avail(struct vf *f, uint32_t ring, uint16_t head)
{
	vu_split_ring_avail_add(&f->ring[ring], head);
	vu_split_ring_avail_publish(&f->ring[ring]);
}

void
vf_put_pdesc(struct vf *f, uint32_t ring, uint16_t slot, uint64_t addr, uint32_t len, uint16_t id,
	     uint16_t flags)
{
	struct vu_packed_ring *r = &f->pring[ring];

	vu_packed_desc_fill(r, &r->desc[slot], addr, len, id,
			    flags | vu_packed_ring_avail_flags(r));
	f->ndesc[ring][id % VF_SLOTS_PER_RING] = 1;
}

void
vf_pavail_advance(struct vf *f, uint32_t ring, uint16_t n)
{
	vu_packed_ring_avail_advance(&f->pring[ring], n);
}

/* One buffer of one descriptor in the next slot: split or packed, id = slot. */
static void
vf_post_one(struct vf *f, uint32_t ring, uint8_t *buf, uint32_t len, uint16_t flags)
{
	uint16_t slot;

	if (f->packed) {
		slot = f->pring[ring].avail_idx;
		vf_put_pdesc(f, ring, slot, (uint64_t)(uintptr_t)buf, len, slot, flags);
		vf_pavail_advance(f, ring, 1);
		return;
	}
	slot = f->ring[ring].avail_idx & f->ring[ring].mask;
	vf_put_desc(f, ring, slot, (uint64_t)(uintptr_t)buf, len, flags, 0);
	vf_avail(f, ring, slot);
}

static uint16_t
vf_next_slot(const struct vf *f, uint32_t ring)
{
	if (f->packed)
		return f->pring[ring].avail_idx;
	return f->ring[ring].avail_idx & f->ring[ring].mask;
}

void
vf_post_tx(struct vf *f, const void *data, uint32_t len)
{
	uint8_t *buf = vf_buf(f, VF_TX, vf_next_slot(f, VF_TX));

	memset(buf, 0, VF_HDR_LEN);
	memcpy(buf + VF_HDR_LEN, data, len);
	vf_post_one(f, VF_TX, buf, VF_HDR_LEN + len, 0);
}

void
vf_post_rx(struct vf *f, unsigned int n, uint32_t len)
{
	for (unsigned int i = 0; i < n; i++)
		vf_post_one(f, VF_RX, vf_buf(f, VF_RX, vf_next_slot(f, VF_RX)), len,
			    VU_DESC_F_WRITE);
}

/* Packed: the used descriptor at the driver's used position, then past its buffer. */
static bool
vf_pused(struct vf *f, uint32_t ring, uint32_t *id, uint32_t *len)
{
	struct vu_packed_ring *r = &f->pring[ring];
	uint16_t uid;

	if (!vu_packed_desc_is_used(&r->desc[r->used_idx], r->used_wrap))
		return false;
	vu_packed_desc_read(&r->desc[r->used_idx], &uid, len);
	*id = uid;
	vu_packed_ring_used_advance(r, f->ndesc[ring][uid % VF_SLOTS_PER_RING]);
	return true;
}

bool
vf_used(struct vf *f, uint32_t ring, uint32_t *id, uint32_t *len)
{
	struct vu_split_ring *r = &f->ring[ring];
	const struct vu_used_elem *e;

	if (f->packed)
		return vf_pused(f, ring, id, len);
	if (vu_split_ring_used_pending(r) == 0)
		return false;
	e = vu_split_ring_used_elem(r, 0);
	*id = e->id;
	*len = e->len;
	r->last_used_idx++;
	return true;
}

uint64_t
vf_eventfd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

int
vf_dequeue(struct vf *f, struct vub_pkt *pkt, void *frame, uint32_t cap, uint32_t *len)
{
	struct vub_vq *vq = vub_dequeue_enter(f->dev, 0);
	int rc;

	if (!vq)
		return -EAGAIN;
	rc = vub_dequeue_begin(vq, pkt);
	if (rc == 1) {
		*len = vub_pkt_read(pkt, 0, frame, cap);
		vub_dequeue_end(vq, pkt);
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	return rc;
}

int
vf_enqueue(struct vf *f, const void *frame, uint32_t len)
{
	static struct vub_pkt pkt;
	struct vub_vq *vq = vub_enqueue_enter(f->dev, 0);
	int rc;

	if (!vq)
		return -EAGAIN;
	rc = vub_enqueue_begin(vq, len, &pkt);
	if (rc == 1) {
		assert_int_equal(vub_pkt_write(&pkt, 0, frame, len), len);
		vub_enqueue_end(vq, &pkt);
	}
	vub_vq_flush(vq);
	vub_vq_leave(vq);
	return rc;
}

int
vf_log_setup(void **state)
{
	(void)state;
	tu_log_capture();
	return 0;
}

void
vf_fill(uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

void
vf_assert_error_logged(const char *needle)
{
	if (!strstr(tu_log_last_error(), needle))
		fail_msg("expected an error line with \"%s\", last error: \"%s\"", needle,
			 tu_log_last_error());
	tu_log_reset();
}

int64_t
vf_backend_channel(struct vf *f)
{
	int sv[2];
	int64_t ack;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ack = vf_request(f, VU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
	close(sv[1]);
	if (f->backend >= 0)
		close(f->backend);
	f->backend = sv[0];
	return ack;
}

uint32_t
vf_get_config(struct vf *f, uint32_t offset, uint32_t size, uint32_t msg_size, uint8_t *out)
{
	struct vu_vhost_msg msg, reply;

	vu_vhost_msg_init(&msg, VU_VHOST_USER_GET_CONFIG, msg_size);
	msg.payload.config.offset = offset;
	msg.payload.config.size = size;
	assert_int_equal(vu_vhost_msg_send(f->sock, &msg, VF_TIMEOUT_MS), 0);
	assert_int_equal(vub_dev_process(f->dev), 0);
	assert_int_equal(vf_recv(f, &reply), 0);
	assert_int_equal(reply.hdr.request, VU_VHOST_USER_GET_CONFIG);
	assert_int_equal(reply.hdr.flags, VU_VHOST_USER_VERSION | VU_VHOST_USER_FLAG_REPLY);
	if (reply.hdr.size == 0)
		return 0;
	assert_int_equal(reply.hdr.size, VU_VHOST_USER_CONFIG_HDR_SIZE + size);
	assert_int_equal(reply.payload.config.offset, offset);
	assert_int_equal(reply.payload.config.size, size);
	memcpy(out, reply.payload.config.region, size);
	return size;
}
