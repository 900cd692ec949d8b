/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's memory slots: GET_MAX_MEM_SLOTS, ADD_MEM_REG and REM_MEM_REG. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"

/* libvub's slot count (vub_priv.h), as a frontend reads it. */
#define MS_MAX_SLOTS 509u
#define MS_PROTOCOL (VF_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
/* More regions than SET_MEM_TABLE can carry: the memfd cut in 16. */
#define MS_NREGIONS 16u
#define MS_REGION (VF_MEM_SIZE / MS_NREGIONS)
#define MS_PAGE 4096u
/* Addresses far from the test's memory, for regions that only fill slots. */
#define MS_FAR (1ull << 44)
#define FRAME_LEN 200u

static struct vu_vhost_mem_reg
ms_region(uint64_t addr, uint64_t size, uint64_t offset)
{
	struct vu_vhost_mem_reg r = { 0 };

	r.region.guest_phys_addr = addr;
	r.region.userspace_addr = addr;
	r.region.memory_size = size;
	r.region.mmap_offset = offset;
	return r;
}

static int64_t
ms_req(struct vf *f, uint32_t request, const struct vu_vhost_mem_reg *r, const int *fds,
       unsigned int nfds)
{
	return vf_request(f, request, r, sizeof(*r), fds, nfds);
}

/* The handshake of vf_handshake with the memory in MS_NREGIONS slots. */
static void
ms_handshake_with(struct vf *f, uint64_t protocol)
{
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, protocol), VF_NO_ACK);
	f->acks = true;
	assert_int_equal(vf_request(f, VU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vf_set_u64(f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES), 0);
	for (uint32_t i = 0; i < MS_NREGIONS; i++) {
		struct vu_vhost_mem_reg r =
			ms_region(vf_addr(f, i * MS_REGION), MS_REGION, i * MS_REGION);

		assert_int_equal(ms_req(f, VU_VHOST_USER_ADD_MEM_REG, &r, &f->memfd, 1), 0);
	}
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
}

static void
ms_handshake(struct vf *f)
{
	ms_handshake_with(f, MS_PROTOCOL);
}

static void
test_slots_offered(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	assert_true(vf_get_u64(&f, VU_VHOST_USER_GET_PROTOCOL_FEATURES) &
		    VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_MAX_MEM_SLOTS), MS_MAX_SLOTS);
	vf_close(&f);
}

/* Sixteen regions, frames through buffers in several of them; a region is removed and
 * added back while the rings run. */
static void
test_traffic_in_many_regions(void **state)
{
	uint8_t in[FRAME_LEN], out[FRAME_LEN];
	struct vu_vhost_mem_reg r;
	struct vub_pkt pkt;
	uint32_t len;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	ms_handshake(&f);
	assert_true(f.ready);
	for (uint8_t i = 0; i < VF_RING_SIZE; i++) {
		vf_fill(in, FRAME_LEN, i);
		vf_post_tx(&f, in, FRAME_LEN);
		assert_int_equal(vf_dequeue(&f, &pkt, out, sizeof(out), &len), 1);
		assert_int_equal(len, FRAME_LEN);
		assert_memory_equal(in, out, FRAME_LEN);
	}
	/* The last region holds no ring: out and back in. */
	r = ms_region(vf_addr(&f, VF_MEM_SIZE - MS_REGION), MS_REGION, VF_MEM_SIZE - MS_REGION);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0), 0);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0), ENOENT);
	vf_assert_error_logged("no such region is mapped");
	assert_int_equal(ms_req(&f, VU_VHOST_USER_ADD_MEM_REG, &r, &f.memfd, 1), 0);
	vf_fill(in, FRAME_LEN, 99);
	vf_post_tx(&f, in, FRAME_LEN);
	assert_int_equal(vf_dequeue(&f, &pkt, out, sizeof(out), &len), 1);
	assert_memory_equal(in, out, FRAME_LEN);
	/* The first region holds ring 0: it stays. */
	r = ms_region(vf_addr(&f, 0), MS_REGION, 0);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0), EBUSY);
	vf_assert_error_logged("a started ring lies in it");
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

/* One ADD or REM that must be refused with a log line; no fd is kept, the connection
 * goes on. */
static void
ms_refused(struct vf *f, uint32_t request, const struct vu_vhost_mem_reg *r, const int *fds,
	   unsigned int nfds, int64_t err, const char *needle)
{
	int before = tu_count_fds();

	assert_int_equal(ms_req(f, request, r, fds, nfds), err);
	vf_assert_error_logged(needle);
	assert_int_equal(tu_count_fds(), before);
	assert_true(vub_dev_connected(f->dev));
}

static void
test_bad_regions(void **state)
{
	int fds[2], efd = eventfd(0, EFD_CLOEXEC);
	struct vu_vhost_mem_reg r;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	fds[0] = fds[1] = f.memfd;
	r = ms_region(MS_FAR, MS_PAGE, 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL),
			 VF_NO_ACK);
	f.acks = true;
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL,
		   "without VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS");
	ms_refused(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0, EINVAL,
		   "without VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS");
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, MS_PROTOCOL), 0);
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, NULL, 0, EINVAL, "expected 1");
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 2, EINVAL, "expected 1");
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, &efd, 1, EINVAL, "not a regular file");
	r.region.mmap_offset = VF_MEM_SIZE;
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL, "past the end of its file");
	r = ms_region(MS_FAR, 0, 0);
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL, "size 0");
	r = ms_region(UINT64_MAX - MS_PAGE, 2 * MS_PAGE, 0);
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL, "wraps around");
	r = ms_region(MS_FAR, 2 * MS_PAGE, 0);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1), 0);
	r.region.guest_phys_addr += MS_PAGE;
	r.region.userspace_addr += 4 * MS_PAGE;
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL, "guest addresses overlap");
	r.region.guest_phys_addr += 4 * MS_PAGE;
	r.region.userspace_addr = MS_FAR + MS_PAGE;
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, fds, 1, EINVAL, "user addresses overlap");
	/* REM names the region by guest address, user address and size. */
	r = ms_region(MS_FAR, MS_PAGE, 0);
	ms_refused(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0, ENOENT, "no such region");
	r = ms_region(MS_FAR, 2 * MS_PAGE, 0);
	r.region.userspace_addr += MS_PAGE;
	ms_refused(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0, ENOENT, "no such region");
	ms_refused(&f, VU_VHOST_USER_REM_MEM_REG, &r, fds, 2, EINVAL, "expected 0");
	/* "the back-end MAY accept messages with one file descriptor ... MUST close it". */
	r = ms_region(MS_FAR, 2 * MS_PAGE, 4096);
	{
		int before = tu_count_fds();

		assert_int_equal(ms_req(&f, VU_VHOST_USER_REM_MEM_REG, &r, fds, 1), 0);
		assert_int_equal(tu_count_fds(), before);
	}
	close(efd);
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

/* Every slot taken, then one more: refused, and the table is whole. */
static void
test_slots_full(void **state)
{
	struct vu_vhost_mem_reg r;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, MS_PROTOCOL),
			 VF_NO_ACK);
	f.acks = true;
	for (uint32_t i = 0; i < MS_MAX_SLOTS; i++) {
		r = ms_region(MS_FAR + (uint64_t)i * MS_PAGE, MS_PAGE, (i * MS_PAGE) % VF_MEM_SIZE);
		assert_int_equal(ms_req(&f, VU_VHOST_USER_ADD_MEM_REG, &r, &f.memfd, 1), 0);
	}
	r = ms_region(MS_FAR + (uint64_t)MS_MAX_SLOTS * MS_PAGE, MS_PAGE, 0);
	ms_refused(&f, VU_VHOST_USER_ADD_MEM_REG, &r, &f.memfd, 1, ENOSPC,
		   "every memory slot is taken");
	/* One out makes room for one in. */
	r = ms_region(MS_FAR, MS_PAGE, 0);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_REM_MEM_REG, &r, NULL, 0), 0);
	r = ms_region(MS_FAR + (uint64_t)MS_MAX_SLOTS * MS_PAGE, MS_PAGE, 0);
	assert_int_equal(ms_req(&f, VU_VHOST_USER_ADD_MEM_REG, &r, &f.memfd, 1), 0);
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

/* "Writing 0 into this field resets the device": the device, not the frontend's memory.
 * After SET_STATUS 0 the features again and the rings set up with no ADD_MEM_REG (a
 * frontend keeps its slots, as QEMU and net_vuser do) start and carry frames;
 * RESET_DEVICE ("all internal device state") forgets the memory. */
static void
test_status_reset_keeps_slots(void **state)
{
	const uint64_t protocol = MS_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS) |
		VU_BIT(VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE);
	uint8_t in[FRAME_LEN], out[FRAME_LEN];
	static struct vub_pkt pkt;
	uint32_t len = 0;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	ms_handshake_with(&f, protocol);
	assert_true(f.ready);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_STATUS, 0), 0);
	assert_false(f.ready);
	assert_int_equal(vub_dev_features(f.dev), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES), 0);
	for (uint32_t i = 0; i < VF_NRINGS; i++) {
		assert_int_equal(vf_setup_ring(&f, i, VF_RING_SIZE), 0);
		assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
	}
	assert_true(f.ready);
	for (uint8_t i = 0; i < 2 * VF_RING_SIZE; i++) {
		vf_fill(in, FRAME_LEN, i);
		vf_post_tx(&f, in, FRAME_LEN);
		assert_int_equal(vf_dequeue(&f, &pkt, out, sizeof(out), &len), 1);
		assert_int_equal(len, FRAME_LEN);
		assert_memory_equal(in, out, FRAME_LEN);
	}
	assert_int_equal(tu_log_errors(), 0);

	assert_int_equal(vf_request(&f, VU_VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES), 0);
	assert_int_equal(vf_setup_ring(&f, 0, VF_RING_SIZE), EINVAL);
	vf_assert_error_logged("SET_VRING_KICK on vring 0 before SET_MEM_TABLE");
	vf_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_slots_offered, vf_log_setup),
		cmocka_unit_test_setup(test_traffic_in_many_regions, vf_log_setup),
		cmocka_unit_test_setup(test_bad_regions, vf_log_setup),
		cmocka_unit_test_setup(test_slots_full, vf_log_setup),
		cmocka_unit_test_setup(test_status_reset_keeps_slots, vf_log_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
