/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the IOTLB table both ends share (common/vu_iotlb.c). */
#include <errno.h>
#include <stdint.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vu_iotlb.h"
#include "vu_vhost_user_msg.h"

static struct vu_iotlb t;

static int
reset(void **state)
{
	(void)state;
	vu_iotlb_init(&t);
	return 0;
}

static void
test_wire_size(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vu_vhost_iotlb_msg), 32);
	assert_int_equal(vu_vhost_request_payload_size(VU_VHOST_USER_IOTLB_MSG), 32);
}

static void
test_insert_translate(void **state)
{
	uint64_t ua = 0, miss = 0;

	(void)state;
	assert_int_equal(vu_iotlb_insert(&t, 0x3000, 0x1000, 0x93000, VU_IOTLB_PERM_RW), 0);
	assert_int_equal(vu_iotlb_insert(&t, 0x1000, 0x1000, 0x91000, VU_IOTLB_PERM_RO), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.e[0].iova, 0x1000); /* kept sorted */
	assert_int_equal(vu_iotlb_translate(&t, 0x3010, 0x20, VU_IOTLB_PERM_WO, &ua, &miss), 0);
	assert_int_equal(ua, 0x93010);
	/* the last byte of an entry, exactly */
	assert_int_equal(vu_iotlb_translate(&t, 0x1fff, 1, VU_IOTLB_PERM_RO, &ua, &miss), 0);
	assert_int_equal(ua, 0x91fff);
	/* a hole: a miss at its first byte */
	assert_int_equal(vu_iotlb_translate(&t, 0x2000, 8, VU_IOTLB_PERM_RO, &ua, &miss), -ENOENT);
	assert_int_equal(miss, 0x2000);
	/* running past the end into the hole: a miss where the entry ends */
	assert_int_equal(vu_iotlb_translate(&t, 0x1ff0, 0x20, VU_IOTLB_PERM_RO, &ua, &miss),
			 -ENOENT);
	assert_int_equal(miss, 0x2000);
}

static void
test_permissions(void **state)
{
	uint64_t ua, miss;

	(void)state;
	assert_int_equal(vu_iotlb_insert(&t, 0x1000, 0x1000, 0x1000, VU_IOTLB_PERM_RO), 0);
	assert_int_equal(vu_iotlb_insert(&t, 0x2000, 0x1000, 0x2000, VU_IOTLB_PERM_WO), 0);
	assert_int_equal(vu_iotlb_translate(&t, 0x1000, 4, VU_IOTLB_PERM_WO, &ua, &miss), -EACCES);
	assert_int_equal(vu_iotlb_translate(&t, 0x2000, 4, VU_IOTLB_PERM_RO, &ua, &miss), -EACCES);
	assert_int_equal(vu_iotlb_translate(&t, 0x2000, 4, VU_IOTLB_PERM_RW, &ua, &miss), -EACCES);
	/* adjacent entries still do not make one buffer */
	assert_int_equal(vu_iotlb_translate(&t, 0x1ffc, 8, VU_IOTLB_PERM_RO, &ua, &miss), -EFAULT);
	assert_int_equal(vu_iotlb_insert(&t, 0x5000, 0x10, 0x5000, 0), -EINVAL);
	assert_int_equal(vu_iotlb_insert(&t, 0x5000, 0x10, 0x5000, 0x4), -EINVAL);
}

static void
test_overlap_replaces(void **state)
{
	uint64_t ua, miss;

	(void)state;
	assert_int_equal(vu_iotlb_insert(&t, 0x1000, 0x1000, 0x11000, VU_IOTLB_PERM_RW), 0);
	assert_int_equal(vu_iotlb_insert(&t, 0x3000, 0x1000, 0x13000, VU_IOTLB_PERM_RW), 0);
	/* spans the tail of the first and the head of the second: both go */
	assert_int_equal(vu_iotlb_insert(&t, 0x1800, 0x2000, 0x21800, VU_IOTLB_PERM_RO), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(vu_iotlb_translate(&t, 0x1000, 4, VU_IOTLB_PERM_RO, &ua, &miss), -ENOENT);
	assert_int_equal(vu_iotlb_translate(&t, 0x3000, 4, VU_IOTLB_PERM_RO, &ua, &miss), 0);
	assert_int_equal(ua, 0x23000);
	assert_int_equal(vu_iotlb_insert(&t, 0, 0, 0, VU_IOTLB_PERM_RO), -EINVAL);
	assert_int_equal(vu_iotlb_insert(&t, UINT64_MAX - 1, 4, 0, VU_IOTLB_PERM_RO), -EINVAL);
}

static void
test_invalidate(void **state)
{
	uint64_t ua, miss;

	(void)state;
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(vu_iotlb_insert(&t, 0x1000 * (i + 1), 0x1000, 0x1000 * (i + 1),
						 VU_IOTLB_PERM_RW),
				 0);
	/* one byte of the second and one of the third: whole entries go */
	assert_int_equal(vu_iotlb_remove(&t, 0x2fff, 2), 2);
	assert_int_equal(t.n, 2);
	assert_int_equal(vu_iotlb_translate(&t, 0x2000, 4, VU_IOTLB_PERM_RO, &ua, &miss), -ENOENT);
	assert_int_equal(vu_iotlb_translate(&t, 0x4000, 4, VU_IOTLB_PERM_RO, &ua, &miss), 0);
	assert_int_equal(vu_iotlb_remove(&t, 0x9000, 0x1000), 0);
	/* everything, with a size that would wrap */
	assert_int_equal(vu_iotlb_remove(&t, 0, UINT64_MAX), 2);
	assert_int_equal(t.n, 0);
}

static void
test_full(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < VU_IOTLB_MAX_ENTRIES; i++)
		assert_int_equal(vu_iotlb_insert(&t, i * 0x100, 0x100, 0, VU_IOTLB_PERM_RW), 0);
	assert_int_equal(vu_iotlb_insert(&t, 0x100000, 0x100, 0, VU_IOTLB_PERM_RW), -ENOSPC);
	/* replacing one still fits */
	assert_int_equal(vu_iotlb_insert(&t, 0x100, 0x100, 0x5, VU_IOTLB_PERM_RO), 0);
	assert_int_equal(vu_iotlb_find(&t, 0x150)->uaddr, 0x5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_size),
		cmocka_unit_test_setup(test_insert_translate, reset),
		cmocka_unit_test_setup(test_permissions, reset),
		cmocka_unit_test_setup(test_overlap_replaces, reset),
		cmocka_unit_test_setup(test_invalidate, reset),
		cmocka_unit_test_setup(test_full, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
