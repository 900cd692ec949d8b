/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the vhost-vdpa frontend: its ioctls and IOTLB messages against the fake
 * kernel (fake_kernel.c answers the ioctls, fake_vdpa_write.c keeps the IOTLB writes;
 * the device node is /dev/null). */
#include <endian.h>
#include <errno.h>
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_kernel_rec.h"
#include "test_util.h"
#include "vu_backend.h"
#include "vu_device.h"

#define MEM_LEN (1u << 20)
#define RING_SIZE 256 /* fk_start_device's queues */

/* What the test driver accepts of FK_VDPA_FEATURES (the device layer adds MAC, STATUS). */
#define DRIVER_FEATURES                                                               \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) | VU_BIT(VU_NET_F_MAC) | \
	 VU_BIT(VU_NET_F_STATUS))

static int
setup(void **state)
{
	(void)state;
	fk_reset_vdpa();
	tu_log_capture();
	tu_log_reset();
	return 0;
}

static struct vu_device_params
vdpa_params(uint16_t pairs)
{
	struct vu_device_params p = {
		.name = "vdpa0",
		.path = FK_NODE,
		.ops = &vu_vhost_vdpa_ops,
		.queue_pairs = pairs,
	};

	return p;
}

/* An error was logged, and a line says word (the device may add its own line after the
 * backend op's). */
static void
assert_error_mentions(const char *word)
{
	if (tu_log_errors() == 0)
		fail_msg("no error line, expected one that says \"%s\"", word);
	if (!tu_log_contains(word))
		fail_msg("no line says \"%s\" (last error: \"%s\")", word, tu_log_last_error());
}

static void
assert_iotlb(unsigned int i, uint8_t type, uint64_t iova, uint64_t size)
{
	const struct vhost_msg_v2 *m = &fk.vdpa.iotlb[i];

	assert_true(i < fk.vdpa.niotlb);
	assert_int_equal(m->type, VHOST_IOTLB_MSG_V2);
	assert_int_equal(m->asid, 0);
	assert_int_equal(m->iotlb.type, type);
	if (type == VHOST_IOTLB_UPDATE || type == VHOST_IOTLB_INVALIDATE) {
		assert_int_equal(m->iotlb.iova, iova);
		assert_int_equal(m->iotlb.size, size);
	}
	if (type == VHOST_IOTLB_UPDATE) {
		/* descriptors carry process addresses: the IOVA is the address */
		assert_int_equal(m->iotlb.uaddr, iova);
		assert_int_equal(m->iotlb.perm, VHOST_ACCESS_RW);
	}
}

/* ---- tests ---- */

static void
test_backend_selection(void **state)
{
	char dir[256], file[300];
	struct stat null_st, file_st;
	FILE *f;

	(void)state;
	assert_non_null(tu_mkdtemp(dir, sizeof(dir)));
	snprintf(file, sizeof(file), "%s/devices", dir);
	assert_int_equal(stat(FK_NODE, &null_st), 0);
	/* /dev/null's major (1) listed as vhost-vdpa's: a vDPA device */
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "Character devices:\n  1 vhost-vdpa\n 10 misc\n\nBlock devices:\n  7 loop\n");
	fclose(f);
	assert_int_equal(vu_char_major(file, "vhost-vdpa"), 1);
	assert_int_equal(vu_char_major(file, "loop"), -1); /* a block device's */
	assert_ptr_equal(vu_backend_ops_for_stat(&null_st, file, false), &vu_vhost_vdpa_ops);
	assert_ptr_equal(vu_backend_ops_for_stat(&null_st, file, true), &vu_vhost_user_ops);
	assert_int_equal(stat(file, &file_st), 0);
	assert_ptr_equal(vu_backend_ops_for_stat(&file_st, file, false), &vu_vhost_user_ops);
	/* vhost-vdpa at another major: /dev/null stays a vhost-kernel node */
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "Character devices:\n  1 mem\n236 vhost-vdpa\n");
	fclose(f);
	assert_int_equal(vu_char_major(file, "vhost-vdpa"), 236);
	assert_ptr_equal(vu_backend_ops_for_stat(&null_st, file, false), &vu_vhost_kernel_ops);
	/* no vhost-vdpa module at all */
	assert_int_equal(vu_char_major("/nonexistent/devices", "vhost-vdpa"), -1);
	assert_ptr_equal(vu_backend_ops_for_stat(&null_st, "/nonexistent/devices", false),
			 &vu_vhost_kernel_ops);
	unlink(file);
	rmdir(dir);
}

static void
test_open_sequence(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	const struct fk_rec *r;
	unsigned int pos = 0;
	uint8_t mac[6];
	uint16_t mtu;
	uint64_t f;
	int fds = tu_count_fds();

	(void)state;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(tu_log_errors(), 0);
	r = next_rec(&pos, VHOST_SET_OWNER, "VHOST_SET_OWNER");
	assert_int_equal(pos, 1); /* the first request on the fd */
	next_rec(&pos, VHOST_VDPA_GET_DEVICE_ID, "GET_DEVICE_ID");
	next_rec(&pos, VHOST_GET_BACKEND_FEATURES, "GET_BACKEND_FEATURES");
	/* IOTLB V2 and batches, not SUSPEND, which the frontend does not use */
	assert_int_equal(next_rec(&pos, VHOST_SET_BACKEND_FEATURES, "SET_BACKEND_FEATURES")->u64,
			 (1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) |
				 (1ull << VHOST_BACKEND_F_IOTLB_BATCH));
	next_rec(&pos, VHOST_GET_FEATURES, "GET_FEATURES");
	next_rec(&pos, VHOST_VDPA_GET_VRING_NUM, "GET_VRING_NUM");
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS")->u64, 0);
	/* the config space read whole (12 bytes) */
	r = next_rec(&pos, VHOST_VDPA_GET_CONFIG, "GET_CONFIG");
	assert_int_equal(r->state.index, 0);
	assert_int_equal(r->state.num, 12);

	/* Offered: the device's data path and MTU, the device layer's own MAC and STATUS;
	 * never ACCESS_PLATFORM (the frontend's IOTLB), the device's control queue or MQ. */
	f = vu_device_get_features(dev);
	assert_true(f & VU_BIT(VU_NET_F_MRG_RXBUF));
	assert_true(f & VU_BIT(VU_NET_F_CSUM));
	assert_true(f & VU_BIT(VU_NET_F_MTU));
	assert_true(f & VU_BIT(VU_NET_F_MAC));
	assert_false(f & VU_BIT(VU_F_ACCESS_PLATFORM));
	assert_false(f & VU_BIT(VU_NET_F_CTRL_VQ));
	assert_false(f & VU_BIT(VU_NET_F_MQ));
	/* The MAC and MTU of the device's config space reach the driver. */
	assert_int_equal(vu_device_read_config(dev, 0, mac, sizeof(mac)), 0);
	assert_memory_equal(mac, fk_test_mac, sizeof(mac));
	assert_int_equal(vu_device_read_config(dev, 10, &mtu, sizeof(mtu)), 0);
	assert_int_equal(mtu, 1500);
	vu_device_destroy(dev);
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_start_stop_sequence(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base = (uint64_t)(uintptr_t)mem;
	const struct fk_rec *r;
	unsigned int pos;

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	pos = fk.nrecs;
	assert_int_equal(fk_start_device(dev, DRIVER_FEATURES, -1, mem, MEM_LEN), 0);
	assert_int_equal(tu_log_errors(), 0);

	/* The status steps go to the device (the driver's reset, then ACKNOWLEDGE
	 * and DRIVER at once, as fk_start_device writes them), features before
	 * FEATURES_OK, which is read back. */
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 0")->u64, 0);
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 3")->u64,
			 VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER);
	/* the driver's data path features, and what the frontend needs of the device */
	assert_int_equal(next_rec(&pos, VHOST_SET_FEATURES, "SET_FEATURES")->u64,
			 VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) |
				 VU_BIT(VU_F_ACCESS_PLATFORM) | VU_BIT(VU_NET_F_MAC) |
				 VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_NET_F_MTU));
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 0xb")->u64,
			 VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER | VU_STATUS_FEATURES_OK);
	next_rec(&pos, VHOST_VDPA_GET_STATUS, "GET_STATUS");
	assert_int_equal(count_rec(VHOST_SET_FEATURES), 1);

	/* Memory as one batch of IOTLB updates, iova == address. */
	assert_int_equal(fk.vdpa.niotlb, 3);
	assert_iotlb(0, VHOST_IOTLB_BATCH_BEGIN, 0, 0);
	assert_iotlb(1, VHOST_IOTLB_UPDATE, base, MEM_LEN);
	assert_iotlb(2, VHOST_IOTLB_BATCH_END, 0, 0);

	/* Each ring: call, num, base, addr, kick, with the virtqueue index as is. */
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t ring = base + q * 0x4000;

		assert_int_equal(next_rec(&pos, VHOST_SET_VRING_CALL, "CALL")->file.index, q);
		r = next_rec(&pos, VHOST_SET_VRING_NUM, "NUM");
		assert_int_equal(r->state.index, q);
		assert_int_equal(r->state.num, RING_SIZE);
		r = next_rec(&pos, VHOST_SET_VRING_BASE, "BASE");
		assert_int_equal(r->state.index, q);
		assert_int_equal(r->state.num, 0);
		r = next_rec(&pos, VHOST_SET_VRING_ADDR, "ADDR");
		assert_int_equal(r->addr.index, q);
		assert_int_equal(r->addr.desc_user_addr, ring);
		assert_int_equal(r->addr.avail_user_addr, ring + 0x1000);
		assert_int_equal(r->addr.used_user_addr, ring + 0x2000);
		r = next_rec(&pos, VHOST_SET_VRING_KICK, "KICK");
		assert_int_equal(r->file.index, q);
		assert_true(r->file.fd >= 0);
	}
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_VDPA_SET_VRING_ENABLE, "ENABLE 1");
		assert_int_equal(r->state.index, q);
		assert_int_equal(r->state.num, 1);
	}
	/* DRIVER_OK last: the device starts on it */
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 0xf")->u64, 0xf);
	assert_int_equal(pos, fk.nrecs);
	assert_true(vu_device_link_up(dev));

	/* Reset: rings disabled and their bases read, then the device reset. */
	assert_int_equal(vu_device_set_status(dev, 0), 0);
	for (uint32_t q = 0; q < 2; q++) {
		r = next_rec(&pos, VHOST_VDPA_SET_VRING_ENABLE, "ENABLE 0");
		assert_int_equal(r->state.num, 0);
	}
	assert_int_equal(count_rec(VHOST_GET_VRING_BASE), 2);
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 0")->u64, 0);
	assert_int_equal(fk.vdpa.status, 0);
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

/* New memory while running (EAL's memory events): the old mapping goes first. */
static void
test_memory_replaced(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	void *mem =
		mmap(NULL, 2 * MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base = (uint64_t)(uintptr_t)mem;
	struct vu_mem_table two = {
		.nregions = 2,
		.regions = { { .addr = base, .len = MEM_LEN, .fd = -1 },
			     { .addr = base + MEM_LEN, .len = MEM_LEN, .fd = -1 } },
	};

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(fk_start_device(dev, DRIVER_FEATURES, -1, mem, MEM_LEN), 0);
	fk.vdpa.niotlb = 0;
	assert_int_equal(vu_device_set_memory(dev, &two), 0);
	assert_int_equal(fk.vdpa.niotlb, 5);
	assert_iotlb(0, VHOST_IOTLB_BATCH_BEGIN, 0, 0);
	assert_iotlb(1, VHOST_IOTLB_INVALIDATE, base, MEM_LEN);
	assert_iotlb(2, VHOST_IOTLB_UPDATE, base, MEM_LEN);
	assert_iotlb(3, VHOST_IOTLB_UPDATE, base + MEM_LEN, MEM_LEN);
	assert_iotlb(4, VHOST_IOTLB_BATCH_END, 0, 0);
	vu_device_destroy(dev);
	munmap(mem, 2 * MEM_LEN);
}

/* Without IOTLB batches each update is a message of its own. */
static void
test_memory_without_batches(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int pos = 0;

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	fk.vdpa.backend_features = 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(next_rec(&pos, VHOST_SET_BACKEND_FEATURES, "SET_BACKEND_FEATURES")->u64,
			 1ull << VHOST_BACKEND_F_IOTLB_MSG_V2);
	assert_int_equal(fk_start_device(dev, DRIVER_FEATURES, -1, mem, MEM_LEN), 0);
	assert_int_equal(fk.vdpa.niotlb, 1);
	assert_iotlb(0, VHOST_IOTLB_UPDATE, (uint64_t)(uintptr_t)mem, MEM_LEN);
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

static void
test_device_refuses_features(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	uint8_t st = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;

	(void)state;
	fk.vdpa.status_refused = VU_STATUS_FEATURES_OK;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(vu_device_set_driver_features(dev, DRIVER_FEATURES), 0);
	assert_int_equal(vu_device_set_status(dev, st | VU_STATUS_FEATURES_OK), -ENOTSUP);
	assert_error_mentions("refused the features");
	assert_false(vu_device_get_status(dev) & VU_STATUS_FEATURES_OK);
	vu_device_destroy(dev);
}

static void
test_not_a_net_device(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	int fds = tu_count_fds();

	(void)state;
	fk.vdpa.device_id = 2; /* a block device */
	assert_int_equal(vu_device_create(&p, &dev), -ENODEV);
	assert_error_mentions("virtio type 2");
	assert_int_equal(tu_count_fds(), fds);
}

static void
test_no_iotlb_v2(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;

	(void)state;
	fk.vdpa.backend_features = 0;
	assert_int_equal(vu_device_create(&p, &dev), -ENOTSUP);
	assert_error_mentions("IOTLB_MSG_V2");
	assert_int_equal(count_rec(VHOST_SET_BACKEND_FEATURES), 0);
}

static void
test_multi_queue_not_offered(void **state)
{
	struct vu_device_params p = vdpa_params(2);
	struct vu_device *dev = NULL;

	(void)state;
	fk.vhost_features &= ~VU_BIT(VU_NET_F_MQ);
	assert_int_equal(vu_device_create(&p, &dev), -ENOTSUP);
	assert_error_mentions("offers no multi-queue");
	/* more pairs than the config space's max_virtqueue_pairs (2) */
	fk_reset_vdpa();
	tu_log_reset();
	p.queue_pairs = 3;
	assert_int_equal(vu_device_create(&p, &dev), -EINVAL);
	assert_error_mentions("serves 2 queue pairs");
}

/* The pairs the driver sets with its (emulated) control queue. */
static void
set_pairs(struct vu_device *dev, uint16_t pairs)
{
	uint16_t le = htole16(pairs);

	assert_int_equal(
		vu_device_ctrl(dev, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET, &le, sizeof(le)),
		VU_NET_OK);
}

static void
test_multi_queue(void **state)
{
	struct vu_device_params p = vdpa_params(2);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const struct fk_rec *r;
	unsigned int pos;

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	pos = fk.nrecs;
	assert_int_equal(
		fk_start_device(dev,
				DRIVER_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_MQ),
				-1, mem, MEM_LEN),
		0);
	assert_int_equal(tu_log_errors(), 0);
	/* The device's control queue and MQ negotiated by the frontend itself. */
	assert_int_equal(next_rec(&pos, VHOST_SET_FEATURES, "SET_FEATURES")->u64,
			 VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF) |
				 VU_BIT(VU_F_ACCESS_PLATFORM) | VU_BIT(VU_NET_F_MAC) |
				 VU_BIT(VU_NET_F_STATUS) | VU_BIT(VU_NET_F_MTU) |
				 VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_MQ));
	/* the port's memory, then the control queue's own */
	assert_int_equal(fk.vdpa.niotlb, 4);
	assert_iotlb(1, VHOST_IOTLB_UPDATE, (uint64_t)(uintptr_t)mem, MEM_LEN);
	assert_int_equal(fk.vdpa.iotlb[2].iotlb.type, VHOST_IOTLB_UPDATE);
	/* four data rings, then the control queue at 2 * max_virtqueue_pairs, before
	 * DRIVER_OK */
	assert_int_equal(count_rec(VHOST_SET_VRING_ADDR), 5);
	r = next_rec(&pos, VHOST_SET_VRING_NUM, "NUM");
	while (r->state.index != 4)
		r = next_rec(&pos, VHOST_SET_VRING_NUM, "NUM of the control queue");
	assert_int_equal(r->state.num, 64);
	assert_int_equal(next_rec(&pos, VHOST_SET_VRING_KICK, "KICK")->file.index, 4);
	r = next_rec(&pos, VHOST_SET_VRING_CALL, "CALL");
	assert_int_equal(r->file.index, 4);
	assert_int_equal(r->file.fd, -1);
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_VRING_ENABLE, "ENABLE")->state.index, 4);
	assert_int_equal(next_rec(&pos, VHOST_VDPA_SET_STATUS, "SET_STATUS 0xf")->u64, 0xf);
	/* one pair at start: nothing to tell the device */
	assert_int_equal(fk.vdpa.ncmds, 0);

	set_pairs(dev, 2);
	assert_int_equal(fk.vdpa.ncmds, 1);
	assert_int_equal(fk.vdpa.cmds[0].cls, VU_NET_CTRL_MQ);
	assert_int_equal(fk.vdpa.cmds[0].cmd, VU_NET_CTRL_MQ_VQ_PAIRS_SET);
	assert_int_equal(fk.vdpa.cmds[0].value, 2);
	set_pairs(dev, 1);
	assert_int_equal(fk.vdpa.ncmds, 2);
	assert_int_equal(fk.vdpa.cmds[1].value, 1);
	assert_int_equal(tu_log_errors(), 0);

	/* A refusal is the driver's error; a device that never answers costs one timeout. */
	fk.vdpa.cvq_ack = VU_NET_ERR;
	assert_int_equal(vu_device_ctrl(dev, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET,
					&(uint16_t){ htole16(2) }, 2),
			 VU_NET_ERR);
	assert_true(tu_log_contains("refused VQ_PAIRS_SET 2"));
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

static void
test_multi_queue_silent_device(void **state)
{
	struct vu_device_params p = vdpa_params(2);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t t0;

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	p.timeout_ms = 200;
	fk.vdpa.cvq_silent = true;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(
		fk_start_device(dev,
				DRIVER_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_MQ),
				-1, mem, MEM_LEN),
		0);
	t0 = tu_now_ms();
	assert_int_equal(vu_device_ctrl(dev, VU_NET_CTRL_MQ, VU_NET_CTRL_MQ_VQ_PAIRS_SET,
					&(uint16_t){ htole16(2) }, 2),
			 VU_NET_ERR);
	assert_true(tu_now_ms() - t0 >= 200);
	assert_true(tu_now_ms() - t0 < 2000);
	assert_true(tu_log_contains("no answer from the vDPA device in 200 ms"));
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

/* The control queue is a split ring: packed rings with queues>1 are refused by name. */
static void
test_multi_queue_packed_refused(void **state)
{
	struct vu_device_params p = vdpa_params(2);
	struct vu_device *dev = NULL;
	uint8_t st = VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER;

	(void)state;
	fk.vhost_features |= VU_BIT(VU_F_RING_PACKED);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(vu_device_set_status(dev, st), 0);
	assert_int_equal(
		vu_device_set_driver_features(dev, DRIVER_FEATURES | VU_BIT(VU_F_RING_PACKED)), 0);
	assert_true(vu_device_set_status(dev, st | VU_STATUS_FEATURES_OK) < 0);
	assert_error_mentions("packed_vq=1 with queues>1");
	assert_int_equal(count_rec(VHOST_SET_FEATURES), 0);
	vu_device_destroy(dev);
}

static void
test_ring_too_large(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	fk.vdpa.vring_num = RING_SIZE / 2;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(fk_start_device(dev, DRIVER_FEATURES, -1, mem, MEM_LEN), -EINVAL);
	assert_error_mentions("at most 128");
	assert_int_equal(count_rec(VHOST_SET_VRING_NUM), 0);
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

static void
test_iotlb_write_fails(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	void *mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_ptr_not_equal(mem, MAP_FAILED);
	assert_int_equal(vu_device_create(&p, &dev), 0);
	fk.vdpa.write_errno = EFAULT;
	assert_int_equal(fk_start_device(dev, DRIVER_FEATURES, -1, mem, MEM_LEN), -EFAULT);
	assert_error_mentions("IOTLB message");
	/* no ring was handed over */
	assert_int_equal(count_rec(VHOST_SET_VRING_ADDR), 0);
	vu_device_destroy(dev);
	munmap(mem, MEM_LEN);
}

/* A device without MTU has a 10-byte config space: asked for no more, the mtu reads 0. */
static void
test_short_config_space(void **state)
{
	struct vu_device_params p = vdpa_params(1);
	struct vu_device *dev = NULL;
	unsigned int pos = 0;

	(void)state;
	fk.vhost_features &= ~VU_BIT(VU_NET_F_MTU);
	fk.vdpa.config_size = 10;
	assert_int_equal(vu_device_create(&p, &dev), 0);
	assert_int_equal(tu_log_errors(), 0);
	assert_int_equal(next_rec(&pos, VHOST_VDPA_GET_CONFIG, "GET_CONFIG")->state.num, 10);
	assert_false(vu_device_get_features(dev) & VU_BIT(VU_NET_F_MTU));
	vu_device_destroy(dev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_backend_selection, setup),
		cmocka_unit_test_setup(test_open_sequence, setup),
		cmocka_unit_test_setup(test_start_stop_sequence, setup),
		cmocka_unit_test_setup(test_memory_replaced, setup),
		cmocka_unit_test_setup(test_memory_without_batches, setup),
		cmocka_unit_test_setup(test_device_refuses_features, setup),
		cmocka_unit_test_setup(test_not_a_net_device, setup),
		cmocka_unit_test_setup(test_no_iotlb_v2, setup),
		cmocka_unit_test_setup(test_multi_queue_not_offered, setup),
		cmocka_unit_test_setup(test_multi_queue, setup),
		cmocka_unit_test_setup(test_multi_queue_silent_device, setup),
		cmocka_unit_test_setup(test_multi_queue_packed_refused, setup),
		cmocka_unit_test_setup(test_ring_too_large, setup),
		cmocka_unit_test_setup(test_iotlb_write_fails, setup),
		cmocka_unit_test_setup(test_short_config_space, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
