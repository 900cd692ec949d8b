/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: libvub's message handler fed a hostile frontend's request sequence. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz_vub_in.h"
#include "fuzz_vub_transport.h"
#include "vub_priv.h"

/*
 * The input is a script: each step is an op byte and its operands. Besides raw messages
 * (any request, flags and payload, with eventfds or the memory file as fds), ops build
 * well-formed requests from a few operand bytes (features, a memory table over a memfd,
 * a ring's NUM/ADDR/BASE/CALL/ERR/KICK, GET_VRING_BASE, RESET_DEVICE, ...) so the
 * fuzzer reaches started rings, and run bursts and poke the mapped memory so the control
 * path meets a data path in every state. A dropped frontend is followed by the next one,
 * on the same device, as the AF_UNIX transport does.
 */
#define FM_PAIRS 2u
#define FM_VRINGS (2u * FM_PAIRS + 1u) /* one index past the device's rings */
#define FM_MEM_SIZE (16u << 10)
#define FM_REGION_SIZE (8u << 10)
#define FM_UVA0 0x100000ull
#define FM_UVA1 0x200000ull
#define FM_STEPS 64
#define FM_BURST 4

enum fm_op {
	FM_RAW,
	FM_FEATURES,
	FM_PROTOCOL,
	FM_MEM,
	FM_RING,
	FM_STATE,
	FM_SIMPLE,
	FM_BURSTS,
	FM_POKE,
	FM_DROP,
	FM_KICK_MODE,
	FM_NOPS
};

struct fm {
	struct vub_dev *dev;
	int memfd;
	struct fin in;
};

/* The features and protocol features a frontend can pick from, one operand bit each. */
static const uint8_t fm_feature_bits[] = {
	VU_F_VERSION_1,	     VU_F_RING_PACKED,
	VU_NET_F_MRG_RXBUF,  VU_F_RING_INDIRECT_DESC,
	VU_F_RING_EVENT_IDX, VU_F_IN_ORDER,
	VU_NET_F_MQ,	     VU_NET_F_CSUM,
	VU_NET_F_GUEST_CSUM, VU_NET_F_HOST_TSO4,
	VU_NET_F_GUEST_TSO4, VU_NET_F_HOST_TSO6,
	VU_NET_F_GUEST_TSO6, VU_VHOST_USER_F_PROTOCOL_FEATURES,
};
static const uint8_t fm_protocol_bits[] = {
	VU_VHOST_USER_PROTOCOL_F_MQ,	       VU_VHOST_USER_PROTOCOL_F_REPLY_ACK,
	VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE, VU_VHOST_USER_PROTOCOL_F_NET_MTU,
	VU_VHOST_USER_PROTOCOL_F_STATUS,       VU_VHOST_USER_PROTOCOL_F_CONFIG,
	VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ,
};

static int
fm_fd(struct fm *m, bool memory)
{
	return memory ? dup(m->memfd) : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void
fm_send(struct fm *m, uint32_t request, uint8_t flags, const void *payload, uint32_t size,
	const int *fds, unsigned int nfds)
{
	fvt_send(m->dev, request, flags, payload, size, fds, nfds);
}

static void
fm_send_u64(struct fm *m, uint32_t request, uint8_t flags, uint64_t v)
{
	fm_send(m, request, flags, &v, sizeof(v), NULL, 0);
}

static void
fm_send_state(struct fm *m, uint32_t request, uint8_t flags, uint32_t index, uint32_t num)
{
	struct vu_vhost_vring_state s = { .index = index, .num = num };

	fm_send(m, request, flags, &s, sizeof(s), NULL, 0);
}

/* A ring file request (KICK, CALL, ERR): an eventfd, or "invalid FD" when bit 7 is set. */
static void
fm_send_file(struct fm *m, uint32_t request, uint8_t flags, uint32_t index, uint8_t how)
{
	uint64_t v = index;
	int fd = -1;

	if (how & 0x80)
		v |= VU_VHOST_USER_VRING_NOFD;
	else
		fd = fm_fd(m, false);
	fm_send(m, request, flags, &v, sizeof(v), &fd, 1);
}

static void
fm_raw(struct fm *m)
{
	uint32_t request = fin_u8(&m->in) % (VU_VHOST_USER_GET_STATUS + 1);
	uint8_t flags = fin_u8(&m->in);
	uint32_t size = fin_u16(&m->in) % (sizeof(union vu_vhost_payload) + 1);
	uint8_t payload[sizeof(union vu_vhost_payload)];
	uint8_t fdspec = fin_u8(&m->in);
	int fds[3];
	unsigned int nfds = fdspec % 4;

	fin_take(&m->in, payload, size);
	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = fm_fd(m, fdspec & (0x10 << i));
	fm_send(m, request, flags, payload, size, fds, nfds);
}

static uint64_t
fm_bits(struct fin *in, const uint8_t *bits, size_t n)
{
	uint16_t pick = fin_u16(in);
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		if (pick & (1u << i))
			v |= VU_BIT(bits[i]);
	return v;
}

/* One or two regions of the memfd, each field replaced by operand bytes when asked. */
static void
fm_mem(struct fm *m)
{
	uint8_t flags = fin_u8(&m->in);
	uint8_t how = fin_u8(&m->in);
	struct vu_vhost_memory mem = { .nregions = 1 + (how & 1) };
	uint32_t size;
	int fds[2];

	for (uint32_t i = 0; i < mem.nregions; i++) {
		struct vu_vhost_mem_region *r = &mem.regions[i];

		r->guest_phys_addr = i * FM_REGION_SIZE * 2;
		r->memory_size = FM_REGION_SIZE;
		r->userspace_addr = i ? FM_UVA1 : FM_UVA0;
		r->mmap_offset = i * FM_REGION_SIZE;
		if (how & (2u << i)) {
			uint64_t *field = (uint64_t *)r + fin_u8(&m->in) % 4;

			*field = fin_u64(&m->in);
		}
		fds[i] = fm_fd(m, !(how & (0x10u << i)));
	}
	size = offsetof(struct vu_vhost_memory, regions) + mem.nregions * sizeof(mem.regions[0]);
	if (how & 0x40) {
		mem.nregions = fin_u8(&m->in);
		size = sizeof(mem);
	}
	/* Bit 7: only the first region's fd travels (the other is the harness's to close). */
	if ((how & 0x81) == 0x81)
		close(fds[1]);
	fm_send(m, VU_VHOST_USER_SET_MEM_TABLE, flags, &mem, size, fds,
		how & 0x80 ? 1 : 2 - !(how & 1));
}

/* NUM, ADDR (offsets into region 0's user addresses), BASE, CALL, ERR, KICK. */
static void
fm_ring(struct fm *m)
{
	uint32_t index = fin_u8(&m->in) % FM_VRINGS;
	uint8_t flags = fin_u8(&m->in);
	uint32_t num = 1u << (fin_u8(&m->in) % 10);
	struct vu_vhost_vring_addr a = { .index = index };

	a.desc_user_addr = FM_UVA0 + fin_u16(&m->in) % (2 * FM_REGION_SIZE);
	a.avail_user_addr = FM_UVA0 + fin_u16(&m->in) % (2 * FM_REGION_SIZE);
	a.used_user_addr = FM_UVA0 + fin_u16(&m->in) % (2 * FM_REGION_SIZE);
	fm_send_state(m, VU_VHOST_USER_SET_VRING_NUM, flags, index, num);
	fm_send(m, VU_VHOST_USER_SET_VRING_ADDR, flags, &a, sizeof(a), NULL, 0);
	fm_send_state(m, VU_VHOST_USER_SET_VRING_BASE, flags, index, fin_u16(&m->in));
	fm_send_file(m, VU_VHOST_USER_SET_VRING_CALL, flags, index, fin_u8(&m->in));
	fm_send_file(m, VU_VHOST_USER_SET_VRING_ERR, flags, index, fin_u8(&m->in));
	fm_send_file(m, VU_VHOST_USER_SET_VRING_KICK, flags, index, fin_u8(&m->in) & 0x81);
}

static void
fm_state(struct fm *m)
{
	static const uint32_t requests[] = {
		VU_VHOST_USER_GET_VRING_BASE,
		VU_VHOST_USER_SET_VRING_ENABLE,
		VU_VHOST_USER_SET_VRING_NUM,
		VU_VHOST_USER_SET_VRING_BASE,
	};
	uint32_t request = requests[fin_u8(&m->in) % 4];
	uint8_t flags = fin_u8(&m->in);
	uint32_t index = fin_u8(&m->in) % FM_VRINGS;

	fm_send_state(m, request, flags, index, fin_u16(&m->in) % 3 ? 1 : fin_u16(&m->in));
}

static void
fm_simple(struct fm *m)
{
	static const uint32_t requests[] = {
		VU_VHOST_USER_RESET_DEVICE,
		VU_VHOST_USER_RESET_OWNER,
		VU_VHOST_USER_SET_OWNER,
		VU_VHOST_USER_GET_FEATURES,
		VU_VHOST_USER_GET_PROTOCOL_FEATURES,
		VU_VHOST_USER_GET_QUEUE_NUM,
		VU_VHOST_USER_GET_STATUS,
	};
	uint32_t request = requests[fin_u8(&m->in) % (sizeof(requests) / sizeof(requests[0]))];

	fm_send(m, request, fin_u8(&m->in), NULL, 0, NULL, 0);
}

/* Dequeue then enqueue up to FM_BURST packets on a pair, as a PMD burst does. */
static void
fm_bursts(struct fm *m)
{
	uint16_t pair = fin_u8(&m->in) % (FM_PAIRS + 1);
	uint32_t len = fin_u16(&m->in) % 2048;
	struct vub_pkt pkt;
	uint8_t frame[2048];
	struct vub_vq *vq;

	memset(frame, 0x5a, sizeof(frame));
	vq = vub_dequeue_enter(m->dev, pair);
	if (vq) {
		for (int i = 0; i < FM_BURST && vub_dequeue_begin(vq, &pkt) == 1; i++) {
			vub_pkt_read(&pkt, 0, frame, sizeof(frame));
			vub_dequeue_end(vq, &pkt);
		}
		vub_vq_flush(vq);
		vub_vq_leave(vq);
	}
	vq = vub_enqueue_enter(m->dev, pair);
	if (vq) {
		for (int i = 0; i < FM_BURST && vub_enqueue_begin(vq, len, &pkt) == 1; i++) {
			vub_pkt_write(&pkt, 0, frame, len);
			vub_enqueue_end(vq, &pkt);
		}
		vub_vq_flush(vq);
		vub_vq_leave(vq);
	}
}

/* Bytes into the mapped memory, as a frontend writes its rings between requests. */
static void
fm_poke(struct fm *m)
{
	uint8_t r = fin_u8(&m->in);
	uint16_t off = fin_u16(&m->in);
	uint8_t bytes[16];
	uint8_t len = fin_u8(&m->in) % sizeof(bytes);
	struct vub_region *reg;

	fin_take(&m->in, bytes, len);
	if (r >= m->dev->mem.nregions)
		return;
	reg = &m->dev->mem.regions[r];
	if (off < reg->size && len <= reg->size - off)
		memcpy(reg->host + off, bytes, len);
}

static void
fm_kick_mode(struct fm *m)
{
	uint8_t b = fin_u8(&m->in);
	struct vub_vq *vq = b & 1 ? vub_dequeue_enter(m->dev, (b >> 1) % FM_PAIRS) :
				    vub_enqueue_enter(m->dev, (b >> 1) % FM_PAIRS);

	if (!vq)
		return;
	vub_vq_kick_mode(vq, b & 0x80 ? VUB_KICK_NOTIFY : VUB_KICK_POLLED);
	vub_vq_leave(vq);
}

static void
fm_step(struct fm *m, enum fm_op op)
{
	uint8_t flags;

	switch (op) {
	case FM_RAW:
		fm_raw(m);
		break;
	case FM_FEATURES:
		flags = fin_u8(&m->in);
		fm_send_u64(m, VU_VHOST_USER_SET_FEATURES, flags,
			    fm_bits(&m->in, fm_feature_bits, sizeof(fm_feature_bits)));
		break;
	case FM_PROTOCOL:
		flags = fin_u8(&m->in);
		fm_send_u64(m, VU_VHOST_USER_SET_PROTOCOL_FEATURES, flags,
			    fm_bits(&m->in, fm_protocol_bits, sizeof(fm_protocol_bits)));
		break;
	case FM_MEM:
		fm_mem(m);
		break;
	case FM_RING:
		fm_ring(m);
		break;
	case FM_STATE:
		fm_state(m);
		break;
	case FM_SIMPLE:
		fm_simple(m);
		break;
	case FM_BURSTS:
		fm_bursts(m);
		break;
	case FM_POKE:
		fm_poke(m);
		break;
	case FM_DROP:
		vub_dev_on_disconnect(m->dev);
		vub_dev_on_connect(m->dev);
		break;
	case FM_KICK_MODE:
		fm_kick_mode(m);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm m = { .in = { data, size } };
	int mark = fvt_fd_mark();

	m.memfd = fvt_memfd(NULL, 0, FM_MEM_SIZE);
	if (m.memfd < 0)
		return 0;
	m.dev = fvt_dev(FM_PAIRS);
	for (int i = 0; i < FM_STEPS && m.in.n > 0; i++)
		fm_step(&m, (enum fm_op)(fin_u8(&m.in) % FM_NOPS));
	vub_dev_destroy(m.dev);
	close(m.memfd);
	fvt_fd_check(mark);
	return 0;
}
