/* SPDX-License-Identifier: BSD-3-Clause */
/* write() of a binary linked with -Wl,--wrap=write: IOTLB messages to the fake vDPA fd kept,
 * and the fake device's control queue served when its kick fd is written. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fake_kernel.h"
#include "vu_ring.h"

ssize_t __real_write(int fd, const void *buf, size_t count);
ssize_t __wrap_write(int fd, const void *buf, size_t count);

/* The vDPA fd stands on FK_NODE (/dev/null), which takes any write: a write of exactly a
 * struct vhost_msg_v2 of type VHOST_IOTLB_MSG_V2 is the frontend's IOTLB message. Kicks
 * (8-byte eventfd writes) and everything else go to the real write(). */
/* The last record of request for ring idx (and fd, if not -1), or NULL. */
static const struct fk_rec *
last_ring_rec(unsigned long request, uint32_t idx, int fd)
{
	for (unsigned int i = fk.nrecs; i-- > 0;) {
		const struct fk_rec *r = &fk.recs[i];

		if (r->request != request)
			continue;
		if (request == VHOST_SET_VRING_KICK && r->file.index == idx &&
		    (fd < 0 || r->file.fd == fd))
			return r;
		if (request == VHOST_SET_VRING_ADDR && r->addr.index == idx)
			return r;
		if (request == VHOST_SET_VRING_NUM && r->state.index == idx)
			return r;
	}
	return NULL;
}

/* A kick of the control queue: use every chain made available (header, data, ack), as a
 * device does, in the frontend's own address space. */
static void
serve_cvq(void)
{
	const struct fk_rec *a = last_ring_rec(VHOST_SET_VRING_ADDR, fk.vdpa.cvq_index, -1);
	const struct fk_rec *n = last_ring_rec(VHOST_SET_VRING_NUM, fk.vdpa.cvq_index, -1);
	struct vu_desc *desc = (struct vu_desc *)(uintptr_t)a->addr.desc_user_addr;
	struct vu_avail *avail = (struct vu_avail *)(uintptr_t)a->addr.avail_user_addr;
	struct vu_used *used = (struct vu_used *)(uintptr_t)a->addr.used_user_addr;
	uint16_t mask = (uint16_t)(n->state.num - 1);

	while (!fk.vdpa.cvq_silent && fk.vdpa.cvq_last_avail != avail->idx) {
		uint16_t head = avail->ring[fk.vdpa.cvq_last_avail++ & mask];
		const struct vu_desc *hdr = &desc[head], *data = &desc[hdr->next];
		const struct vu_desc *ack = &desc[data->next];
		const uint8_t *h = (const uint8_t *)(uintptr_t)hdr->addr;
		uint16_t v = 0;

		memcpy(&v, (const void *)(uintptr_t)data->addr, data->len < 2 ? data->len : 2);
		if (fk.vdpa.ncmds < 8) {
			fk.vdpa.cmds[fk.vdpa.ncmds].cls = h[0];
			fk.vdpa.cmds[fk.vdpa.ncmds].cmd = h[1];
			fk.vdpa.cmds[fk.vdpa.ncmds++].value = le16toh(v);
		}
		*(uint8_t *)(uintptr_t)ack->addr = fk.vdpa.cvq_ack;
		used->ring[used->idx & mask].id = head;
		used->ring[used->idx & mask].len = 1;
		__atomic_store_n(&used->idx, (uint16_t)(used->idx + 1), __ATOMIC_RELEASE);
	}
}

ssize_t
__wrap_write(int fd, const void *buf, size_t count)
{
	const struct vhost_msg_v2 *msg = buf;
	ssize_t n;

	if (count == sizeof(uint64_t)) {
		n = __real_write(fd, buf, count);
		if (n > 0 && last_ring_rec(VHOST_SET_VRING_KICK, fk.vdpa.cvq_index, fd))
			serve_cvq();
		return n;
	}
	if (count != sizeof(*msg) || msg->type != VHOST_IOTLB_MSG_V2)
		return __real_write(fd, buf, count);
	if (fk.vdpa.write_errno) {
		errno = fk.vdpa.write_errno;
		return -1;
	}
	if (fk.vdpa.niotlb < FK_MAX_IOTLB)
		fk.vdpa.iotlb[fk.vdpa.niotlb++] = *msg;
	return (ssize_t)count;
}
