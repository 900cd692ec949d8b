/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: libvub's device-side ring walker over rings a hostile frontend wrote. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz_vub_in.h"
#include "fuzz_vub_transport.h"
#include "vub_priv.h"

/*
 * The input: a header (features, ring size, start indexes), an image of the two rings of
 * queue pair 0 (descriptors, avail/used or the packed event areas: all the frontend
 * writes), then ops: dequeue and enqueue bursts, writes into the rings and buffers
 * between them, kick mode changes, a ring set up again. The memory table has two regions
 * with a hole between them; every region is a heap buffer of its exact size (the fuzz
 * transport), so ASan reports any access outside the table. After every call the
 * target checks what the caller relies on: counts and buffers within bounds, the used
 * index moved by what was used and no more, a stopped ring stays stopped.
 */
#define FR_FILE_SIZE 0x3000u
#define FR_REGION0_SIZE 0x2000u /* rings and buffers, gpa 0 */
#define FR_REGION1_GPA 0x4000u	/* after a hole of 0x2000 */
#define FR_REGION1_SIZE 0x1000u
#define FR_UVA 0x7f0000000000ull /* uva = FR_UVA + gpa */
#define FR_RING_STRIDE 0x400u	 /* vring i's parts at i * stride */
#define FR_AVAIL_OFF 0x200u	 /* split avail ring, packed driver event area */
#define FR_USED_OFF 0x280u	 /* split used ring, packed device event area */
#define FR_IMAGE_LEN (2 * FR_RING_STRIDE)
#define FR_HDR_LEN 8u
#define FR_MAX_STEPS 48
#define FR_BURST_MAX 8u
#define FR_FRAME_MAX 3000u

enum fr_hdr_bit {
	FR_PACKED = 1u << 0,
	FR_MRG = 1u << 1,
	FR_INDIRECT = 1u << 2,
	FR_EVENT_IDX = 1u << 3,
	FR_IN_ORDER = 1u << 4,
	FR_CSUM = 1u << 5,
};

struct fr {
	struct vub_dev *dev;
	struct fin in;
	int memfd;
	uint16_t size;
	bool stopped[2]; /* the ring broke and was not set up again */
};

static int
fr_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void
fr_must(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_vub_ring: invariant broken: %s\n", what);
		abort();
	}
}

static uint64_t
fr_features(uint8_t h)
{
	uint64_t f = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_VHOST_USER_F_PROTOCOL_FEATURES);

	f |= h & FR_PACKED ? VU_BIT(VU_F_RING_PACKED) : 0;
	f |= h & FR_MRG ? VU_BIT(VU_NET_F_MRG_RXBUF) : 0;
	f |= h & FR_INDIRECT ? VU_BIT(VU_F_RING_INDIRECT_DESC) : 0;
	f |= h & FR_EVENT_IDX ? VU_BIT(VU_F_RING_EVENT_IDX) : 0;
	f |= h & FR_IN_ORDER ? VU_BIT(VU_F_IN_ORDER) : 0;
	f |= h & FR_CSUM ? VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_GUEST_CSUM) : 0;
	return f;
}

static void
fr_state(struct fr *r, uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vhost_vring_state s = { .index = index, .num = num };

	fvt_send(r->dev, request, 0, &s, sizeof(s), NULL, 0);
}

/* NUM, ADDR, BASE, CALL, ERR, KICK, ENABLE: the ring starts. */
static void
fr_ring_setup(struct fr *r, uint32_t index, uint16_t base)
{
	uint64_t at = FR_UVA + index * FR_RING_STRIDE;
	struct vu_vhost_vring_addr a = {
		.index = index,
		.desc_user_addr = at,
		.avail_user_addr = at + FR_AVAIL_OFF,
		.used_user_addr = at + FR_USED_OFF,
	};
	static const uint32_t files[] = { VU_VHOST_USER_SET_VRING_CALL, VU_VHOST_USER_SET_VRING_ERR,
					  VU_VHOST_USER_SET_VRING_KICK };
	uint64_t v = index;

	fr_state(r, VU_VHOST_USER_SET_VRING_NUM, index, r->size);
	fvt_send(r->dev, VU_VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	fr_state(r, VU_VHOST_USER_SET_VRING_BASE, index, base);
	for (unsigned int i = 0; i < 3; i++) {
		int fd = fr_eventfd();

		fvt_send(r->dev, files[i], 0, &v, sizeof(v), &fd, 1);
	}
	fr_state(r, VU_VHOST_USER_SET_VRING_ENABLE, index, 1);
	r->stopped[index] = false;
}

static bool
fr_setup(struct fr *r)
{
	struct vu_vhost_memory mem = { .nregions = 2 };
	uint8_t h[FR_HDR_LEN];
	uint8_t image[FR_IMAGE_LEN];
	uint64_t features, protocol = VU_BIT(VU_VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int fds[2];

	fin_take(&r->in, h, sizeof(h));
	fin_take(&r->in, image, sizeof(image));
	/* Split: a power of two up to 32; packed: any size up to 32. */
	r->size = h[1] & 0x80 && (h[0] & FR_PACKED) ? (h[1] & 31) + 1 : 1u << (h[1] % 6);
	r->memfd = fvt_memfd(image, sizeof(image), FR_FILE_SIZE);
	if (r->memfd < 0)
		return false;
	mem.regions[0] = (struct vu_vhost_mem_region){ 0, FR_REGION0_SIZE, FR_UVA, 0 };
	mem.regions[1] = (struct vu_vhost_mem_region){ FR_REGION1_GPA, FR_REGION1_SIZE,
						       FR_UVA + FR_REGION1_GPA, FR_REGION0_SIZE };
	features = fr_features(h[0]);
	r->dev = fvt_dev(1);
	fvt_send(r->dev, VU_VHOST_USER_SET_FEATURES, 0, &features, sizeof(features), NULL, 0);
	fvt_send(r->dev, VU_VHOST_USER_SET_PROTOCOL_FEATURES, 0, &protocol, sizeof(protocol), NULL,
		 0);
	fds[0] = dup(r->memfd);
	fds[1] = dup(r->memfd);
	fvt_send(r->dev, VU_VHOST_USER_SET_MEM_TABLE, 0, &mem,
		 offsetof(struct vu_vhost_memory, regions) + 2 * sizeof(mem.regions[0]), fds, 2);
	fr_ring_setup(r, 0, (uint16_t)(h[2] | h[3] << 8));
	fr_ring_setup(r, 1, (uint16_t)(h[4] | h[5] << 8));
	return r->dev->vqs[0].started && r->dev->vqs[1].started;
}

/* [p, p + len) lies wholly inside one region of the table. */
static bool
fr_in_table(const struct fr *r, const uint8_t *p, uint64_t len)
{
	const struct vub_mem *mem = &r->dev->mem;
	bool inside = false;

	for (uint32_t k = 0; k < mem->nregions; k++) {
		const struct vub_region *g = &mem->regions[k];

		inside |=
			p >= g->host && len <= g->size && (uint64_t)(p - g->host) <= g->size - len;
	}
	return inside;
}

/* Every piece of a packet lies wholly inside one region of the table. */
static void
fr_check_iovs(const struct fr *r, const struct vub_pkt *pkt)
{
	uint64_t total = 0, cap = 0;

	fr_must(pkt->niov >= 1 && pkt->niov <= VUB_PKT_MAX_IOV, "iov count out of bounds");
	fr_must(pkt->nchains >= 1 && pkt->nchains <= pkt->niov, "chain count out of bounds");
	for (uint16_t i = 0; i < pkt->niov; i++) {
		const struct vub_iov *v = &pkt->iov[i];

		fr_must(fr_in_table(r, v->base, v->len), "a buffer outside the memory table");
		total += v->len;
	}
	for (uint16_t i = 0; i < pkt->nchains; i++) {
		fr_must(pkt->chains[i].ndesc >= 1 && pkt->chains[i].ndesc <= r->size,
			"a chain of more descriptors than the ring");
		cap += pkt->chains[i].cap;
	}
	fr_must(total == cap, "chain capacities and buffers disagree");
}

/* Where the device writes its next used entry, as a position in 2 * size (packed) or
 * an index (split), and how far a packet's chains move it. */
static uint32_t
fr_used_pos(const struct fr *r, const struct vub_vq *vq)
{
	if (!vq->packed)
		return vq->used_idx;
	return vq->used_idx + (vq->used_wrap ? 0u : r->size);
}

static uint32_t
fr_used_delta(const struct fr *r, const struct vub_vq *vq, uint32_t before)
{
	uint32_t now = fr_used_pos(r, vq);

	if (!vq->packed)
		return (uint16_t)(now - before);
	return (now + 2u * r->size - before) % (2u * r->size);
}

static uint32_t
fr_used_expect(const struct fr *r, const struct vub_vq *vq, const struct vub_pkt *pkt)
{
	uint32_t n = 0;

	for (uint16_t i = 0; i < pkt->nchains; i++)
		n += vq->packed ? pkt->chains[i].ndesc : 1u;
	return vq->packed ? n % (2u * r->size) : n;
}

/* Ring i may be entered only if it did not break since it was last set up. */
static struct vub_vq *
fr_enter(struct fr *r, bool tx)
{
	struct vub_vq *vq = tx ? vub_dequeue_enter(r->dev, 0) : vub_enqueue_enter(r->dev, 0);

	fr_must(!vq || !r->stopped[tx], "a stopped ring runs again without a new setup");
	return vq;
}

static void
fr_leave(struct fr *r, struct vub_vq *vq)
{
	vub_vq_flush(vq);
	if (vq->packed)
		fr_must(vq->unflushed == 0, "packed ring: used descriptors left unflushed");
	else
		fr_must(vq->published == vq->used_idx, "split ring: used index not published");
	(void)r;
	vub_vq_leave(vq);
}

/* A begin that gave nothing moved nothing. */
static void
fr_check_none(const struct fr *r, const struct vub_vq *vq, uint16_t avail, uint32_t used)
{
	fr_must(vq->last_avail == avail, "a ring moved on without giving a packet");
	fr_must(fr_used_delta(r, vq, used) == 0, "used index moved without a packet");
}

/* The burst fast path first (op bit 0x20): what it reserves lies inside the table with
 * its header, holds the frame, moves the ring by exactly what it took and never stops it;
 * the per-frame calls take what it left. */
static void
fr_fast(struct fr *r, struct vub_vq *vq, bool tx, uint8_t op, uint32_t len)
{
	uint16_t n = (uint16_t)(1 + op % FR_BURST_MAX), avail = vq->last_avail, k;
	uint32_t used = fr_used_pos(r, vq), max_len = fin_u16(&r->in);
	uint32_t avail_pos = vq->packed ? avail + (vq->avail_wrap ? 0u : r->size) : avail;
	struct vub_buf b[FR_BURST_MAX];

	for (uint16_t i = 0; i < n; i++)
		b[i].len = len;
	k = tx ? vub_dequeue_reserve(vq, max_len, b, n) : vub_enqueue_reserve(vq, b, n);
	fr_must(k <= n && !vq->broken, "fast path: more than asked, or a ring stopped");
	for (uint16_t i = 0; i < k; i++) {
		fr_must(fr_in_table(r, b[i].frame - vq->hdr_len, (uint64_t)vq->hdr_len + b[i].len),
			"fast path: a buffer outside the memory table");
		fr_must(tx ? b[i].len <= max_len : b[i].len == len, "fast path: length");
	}
	if (vq->packed)
		fr_must((vq->last_avail + (vq->avail_wrap ? 0u : r->size) + 2u * r->size -
			 avail_pos) % (2u * r->size) ==
				k % (2u * r->size),
			"fast path: ring moved by other than what it took");
	else
		fr_must((uint16_t)(vq->last_avail - avail) == k,
			"fast path: ring moved by other than what it took");
	if (tx)
		vub_dequeue_commit(vq, b, k);
	else
		vub_enqueue_commit(vq, b, k);
	fr_must(fr_used_delta(r, vq, used) == (vq->packed ? k % (2u * r->size) : k),
		"fast path: used index moved by other than what it took");
}

static void
fr_dequeue(struct fr *r, uint8_t op)
{
	struct vub_vq *vq = fr_enter(r, true);
	uint8_t frame[FR_FRAME_MAX];
	struct vub_pkt pkt;

	if (!vq)
		return;
	if (op & 0x20)
		fr_fast(r, vq, true, op, 0);
	for (unsigned int i = 0; i < 1 + op % FR_BURST_MAX; i++) {
		uint16_t avail = vq->last_avail;
		uint32_t used = fr_used_pos(r, vq);
		int rc = vub_dequeue_begin(vq, &pkt);

		fr_must(rc == 1 || rc == 0 || rc == -EIO, "dequeue: unexpected return");
		if (rc == -EIO) {
			fr_must(vq->broken, "dequeue: -EIO from a ring not stopped");
			r->stopped[1] = true;
			break;
		}
		if (rc == 0) {
			fr_check_none(r, vq, avail, used);
			break;
		}
		fr_check_iovs(r, &pkt);
		fr_must(pkt.nchains == 1, "dequeue: a packet of several chains");
		fr_must(pkt.len + pkt.hdr_len == pkt.chains[0].cap, "dequeue: length");
		fr_must(vub_pkt_read(&pkt, 0, frame, sizeof(frame)) <= pkt.len, "read: length");
		if (op & 0x80) {
			vub_dequeue_abort(vq, &pkt);
			fr_check_none(r, vq, avail, used);
			continue;
		}
		vub_dequeue_end(vq, &pkt);
		fr_must(fr_used_delta(r, vq, used) == fr_used_expect(r, vq, &pkt),
			"dequeue: used index moved by other than the chain");
	}
	fr_leave(r, vq);
}

static void
fr_enqueue_one(struct fr *r, struct vub_vq *vq, struct vub_pkt *pkt, uint32_t len, uint8_t op)
{
	static const uint8_t frame[FR_FRAME_MAX];
	struct vu_net_hdr hdr;
	uint32_t used = fr_used_pos(r, vq);
	uint64_t cap = 0;

	fr_check_iovs(r, pkt);
	fr_must(pkt->len == len, "enqueue: length");
	fr_must(vq->mrg || pkt->nchains == 1, "enqueue: several chains without MRG_RXBUF");
	for (uint16_t i = 0; i < pkt->nchains; i++)
		cap += pkt->chains[i].cap;
	fr_must(cap >= (uint64_t)pkt->hdr_len + len, "enqueue: buffers smaller than the frame");
	fr_must(vub_pkt_write(pkt, 0, frame, len) == len, "write: length");
	fin_take(&r->in, &hdr, op & 0x40 ? sizeof(hdr) : 0);
	if (op & 0x40) {
		int rc = vub_enqueue_offload(vq, pkt, &hdr);

		fr_must(rc == 0 || rc == -ENOTSUP || rc == -EINVAL, "offload: return");
	}
	vub_enqueue_end(vq, pkt);
	fr_must(fr_used_delta(r, vq, used) == fr_used_expect(r, vq, pkt),
		"enqueue: used index moved by other than the chains");
}

static void
fr_enqueue(struct fr *r, uint8_t op)
{
	struct vub_vq *vq = fr_enter(r, false);
	uint32_t len = fin_u16(&r->in) % FR_FRAME_MAX;
	struct vub_pkt pkt;

	if (!vq)
		return;
	if (op & 0x20)
		fr_fast(r, vq, false, op, len);
	for (unsigned int i = 0; i < 1 + op % FR_BURST_MAX; i++) {
		uint16_t avail = vq->last_avail;
		uint32_t used = fr_used_pos(r, vq);
		int rc = vub_enqueue_begin(vq, len, &pkt);

		fr_must(rc == 1 || rc == 0 || rc == -EMSGSIZE || rc == -EIO,
			"enqueue: unexpected return");
		if (rc == -EIO) {
			fr_must(vq->broken, "enqueue: -EIO from a ring not stopped");
			r->stopped[0] = true;
			break;
		}
		if (rc <= 0) {
			fr_check_none(r, vq, avail, used);
			break;
		}
		if (op & 0x80) {
			vub_enqueue_abort(vq, &pkt);
			fr_check_none(r, vq, avail, used);
			continue;
		}
		fr_enqueue_one(r, vq, &pkt, len, op);
	}
	fr_leave(r, vq);
}

/* Bytes into a region between bursts, as the frontend fills its rings. */
static void
fr_poke(struct fr *r)
{
	uint8_t g = fin_u8(&r->in) & 1;
	uint16_t off = fin_u16(&r->in);
	uint8_t bytes[16];
	uint8_t len = fin_u8(&r->in) % sizeof(bytes);
	struct vub_region *reg;

	fin_take(&r->in, bytes, len);
	if (g >= r->dev->mem.nregions)
		return;
	reg = &r->dev->mem.regions[g];
	off %= reg->size;
	if (len > reg->size - off)
		len = (uint8_t)(reg->size - off);
	memcpy(reg->host + off, bytes, len);
}

static void
fr_kick_mode(struct fr *r, uint8_t op)
{
	struct vub_vq *vq = fr_enter(r, op & 1);
	int rc;

	if (!vq)
		return;
	rc = vub_vq_kick_mode(vq, op & 2 ? VUB_KICK_NOTIFY : VUB_KICK_POLLED);
	fr_must(rc == 0 || rc == 1, "kick mode: return");
	vub_vq_leave(vq);
}

/* GET_VRING_BASE stops the ring; set up again at a base from the input, it runs. */
static void
fr_restart(struct fr *r, uint8_t op)
{
	uint32_t index = op & 1;
	uint16_t base = fin_u16(&r->in);

	fr_state(r, VU_VHOST_USER_GET_VRING_BASE, index, 0);
	fr_must(!r->dev->vqs[index].started, "GET_VRING_BASE left the ring running");
	fr_ring_setup(r, index,
		      op & 2 ? base : ((struct fvt *)r->dev->t)->last_reply.payload.state.num);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr r = { .in = { data, size }, .memfd = -1 };
	int mark = fvt_fd_mark();

	if (fr_setup(&r)) {
		for (int i = 0; i < FR_MAX_STEPS && r.in.n > 0; i++) {
			uint8_t op = fin_u8(&r.in);

			switch (fin_u8(&r.in) % 5) {
			case 0:
				fr_dequeue(&r, op);
				break;
			case 1:
				fr_enqueue(&r, op);
				break;
			case 2:
				fr_poke(&r);
				break;
			case 3:
				fr_kick_mode(&r, op);
				break;
			default:
				fr_restart(&r, op);
				break;
			}
		}
	}
	if (r.dev)
		vub_dev_destroy(r.dev);
	if (r.memfd >= 0)
		close(r.memfd);
	fvt_fd_check(mark);
	return 0;
}
