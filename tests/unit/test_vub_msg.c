/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of libvub's message handling: handshake, refusals, memory table, reset. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"
#include "vub_frontend.h"
#include "vub_transport.h"

/* LOG_SHMFD (protocol feature 1): dirty logging, which the device does not offer. */
#define VF_PROTOCOL_F_LOG_SHMFD 1
/* SET_VRING_ENDIAN: a request no net device here implements or names. */
#define VF_SET_VRING_ENDIAN 23u
#define VF_OFFERED_PROTOCOL                                                                  \
	(VF_PROTOCOL | VU_BIT(VU_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                       \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_STATUS) | VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIG) | \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_BACKEND_REQ) |                                      \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |                                   \
	 VU_BIT(VU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
#define VF_OFFERED                                                              \
	(VF_FEATURES | VU_BIT(VU_F_RING_PACKED) | VU_BIT(VU_F_RING_EVENT_IDX) | \
	 VU_BIT(VU_F_IN_ORDER) | VU_BIT(VU_NET_F_STATUS))

/* Mappings of the test's memfd in this process: ours, plus the device's while it maps. */
static int
memfd_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:vuser-ut"))
			n++;
	fclose(f);
	return n;
}

static void
test_handshake(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES), VF_OFFERED);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_PROTOCOL_FEATURES), VF_OFFERED_PROTOCOL);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_QUEUE_NUM), 1);
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vub_dev_features(f.dev), VF_FEATURES);
	assert_true(f.ready);
	assert_int_equal(f.ready_events, 1);
	assert_true(vub_dev_ready(f.dev));
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

static void
test_mq_offered(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 4);
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_FEATURES),
			 VF_OFFERED | VU_BIT(VU_NET_F_MQ));
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_QUEUE_NUM), 4);
	vf_close(&f);
}

/* GET_VRING_BASE stops the ring and tells where the frontend resumes. */
static void
test_get_vring_base_stops(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vf_get_vring_base(&f, VF_TX), 0);
	assert_false(f.ready);
	assert_int_equal(f.ready_events, 2);
	assert_null(vub_dequeue_enter(f.dev, 0));
	vf_close(&f);
}

static void
test_features_refused(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL);
	f.acks = true;
	assert_int_equal(
		vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES | VU_BIT(VU_NET_F_CTRL_VQ)),
		EINVAL);
	vf_assert_error_logged("does not offer");
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES,
				    VF_PROTOCOL | VU_BIT(VF_PROTOCOL_F_LOG_SHMFD)),
			 EINVAL);
	vf_assert_error_logged("does not offer");
	assert_int_equal(vub_dev_features(f.dev), 0);
	vf_close(&f);
}

/* One SET_MEM_TABLE that must be refused with a log line; the connection goes on. */
static void
mem_table_refused(struct vf *f, const struct vu_vhost_memory *m, uint32_t nregions, const int *fds,
		  unsigned int nfds, const char *needle)
{
	int before = tu_count_fds();
	uint32_t size =
		offsetof(struct vu_vhost_memory, regions) + nregions * sizeof(m->regions[0]);

	assert_int_not_equal(vf_request(f, VU_VHOST_USER_SET_MEM_TABLE, m, size, fds, nfds), 0);
	vf_assert_error_logged(needle);
	assert_int_equal(tu_count_fds(), before);
	assert_int_equal(memfd_mappings(), 1);
	assert_true(vub_dev_connected(f->dev));
}

static void
test_bad_mem_table(void **state)
{
	struct vu_vhost_memory m;
	struct vf f;
	int fds[2], efd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	vf_open(&f, 1);
	vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL);
	f.acks = true;
	fds[0] = fds[1] = f.memfd;
	memset(&m, 0, sizeof(m));
	m.nregions = 1;
	m.regions[0].guest_phys_addr = m.regions[0].userspace_addr = vf_addr(&f, 0);
	m.regions[0].memory_size = 2 * VF_MEM_SIZE;
	mem_table_refused(&f, &m, 1, fds, 1, "past the end of its file");
	m.regions[0].memory_size = VF_MEM_SIZE;
	m.regions[0].mmap_offset = 4096;
	mem_table_refused(&f, &m, 1, fds, 1, "past the end of its file");
	m.regions[0].mmap_offset = 0;
	mem_table_refused(&f, &m, 1, &efd, 1, "not a regular file");
	m.regions[0].guest_phys_addr = UINT64_MAX - 4096;
	mem_table_refused(&f, &m, 1, fds, 1, "wraps around");
	m.regions[0].guest_phys_addr = vf_addr(&f, 0);
	m.regions[0].memory_size = 0;
	mem_table_refused(&f, &m, 1, fds, 1, "size 0");
	m.regions[0].memory_size = VF_MEM_SIZE;
	m.nregions = 2;
	m.regions[1] = m.regions[0];
	m.regions[1].guest_phys_addr += VF_MEM_SIZE / 2;
	m.regions[1].userspace_addr += 2 * VF_MEM_SIZE;
	mem_table_refused(&f, &m, 2, fds, 2, "guest addresses overlap");
	m.regions[1].guest_phys_addr += VF_MEM_SIZE;
	m.regions[1].userspace_addr = m.regions[0].userspace_addr;
	mem_table_refused(&f, &m, 2, fds, 2, "user addresses overlap");
	m.regions[1].userspace_addr += 2 * VF_MEM_SIZE;
	mem_table_refused(&f, &m, 2, fds, 1, "fd count does not match");
	m.nregions = 0;
	mem_table_refused(&f, &m, 0, fds, 0, "region count out of range");
	m.nregions = 9;
	mem_table_refused(&f, &m, 8, fds, 1, "region count out of range");
	/* A good table after all that. */
	assert_int_equal(vf_set_mem_table(&f), 0);
	assert_int_equal(memfd_mappings(), 2);
	close(efd);
	vf_close(&f);
	assert_int_equal(memfd_mappings(), 0);
}

static void
test_unknown_request(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL);
	f.acks = true;
	assert_int_equal(vf_set_u64(&f, VF_SET_VRING_ENDIAN, 0), ENOTSUP);
	vf_assert_error_logged("request 23 (UNKNOWN) is not implemented");
	/* SET_LOG_FD is known to the message layer, not implemented by the device. */
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_LOG_FD, 0), ENOTSUP);
	vf_assert_error_logged("request 7 (SET_LOG_FD) is not implemented");
	assert_int_equal(vf_get_u64(&f, VU_VHOST_USER_GET_QUEUE_NUM), 1);
	vf_close(&f);
}

/* A payload of the wrong size for its request: the peer is broken, dropped. */
static void
test_wrong_size_drops(void **state)
{
	struct vu_vhost_msg msg;
	uint32_t num = 8;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_request(&f, VU_VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0);
	vf_assert_error_logged("payload of 4 bytes, expected 8");
	assert_false(vub_dev_connected(f.dev));
	assert_int_equal(vf_recv(&f, &msg), -ECONNRESET);
	vf_close(&f);
}

static void
test_vring_refused(void **state)
{
	struct vu_vhost_vring_addr a = { .index = VF_TX, .flags = 1 };
	uint64_t nofd = VF_TX | VU_VHOST_USER_VRING_NOFD;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_set_u64(&f, VU_VHOST_USER_SET_PROTOCOL_FEATURES, VF_PROTOCOL);
	f.acks = true;
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_FEATURES, VF_FEATURES), 0);
	assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_NUM, 0, 3), EINVAL);
	vf_assert_error_logged("power of two");
	assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_NUM, 5, 8), EINVAL);
	vf_assert_error_logged("names vring 5, the device has 2");
	assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_ENABLE, 0, 2), EINVAL);
	vf_assert_error_logged("expected 0 or 1");
	assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_BASE, 0, 1u << 16), EINVAL);
	vf_assert_error_logged("16 bits");
	assert_int_equal(vf_request(&f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 ENOTSUP);
	vf_assert_error_logged("dirty logging");
	/* A kick before the ring is described: the ring stays stopped. */
	assert_int_equal(vf_set_state(&f, VU_VHOST_USER_SET_VRING_NUM, VF_TX, 8), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_KICK, nofd), EINVAL);
	vf_assert_error_logged("before SET_VRING_ADDR");
	/* A file request without its fd, or with bits beyond the index. */
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_CALL, VF_TX), EINVAL);
	vf_assert_error_logged("came with 0 file descriptors, expected 1");
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_CALL, nofd | (1u << 9)), EINVAL);
	vf_assert_error_logged("sets bits beyond the index");
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_CALL, nofd), 0);
	assert_null(vub_dequeue_enter(f.dev, 0));
	vf_close(&f);
}

/* Rings whose addresses are not inside the memory table do not start. */
static void
test_ring_outside_memory(void **state)
{
	struct vu_vhost_vring_addr a = { .index = VF_TX };
	uint64_t nofd = VF_TX | VU_VHOST_USER_VRING_NOFD;
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vf_get_vring_base(&f, VF_TX), 0);
	a.desc_user_addr = vf_addr(&f, 0);
	a.avail_user_addr = vf_addr(&f, VF_MEM_SIZE - 4); /* runs past the end */
	a.used_user_addr = vf_addr(&f, 8192);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_KICK, nofd), EFAULT);
	vf_assert_error_logged("available ring at");
	a.avail_user_addr = vf_addr(&f, 4097); /* misaligned */
	assert_int_equal(vf_request(&f, VU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(vf_set_u64(&f, VU_VHOST_USER_SET_VRING_KICK, nofd), EFAULT);
	vf_assert_error_logged("not aligned to 2 bytes");
	assert_null(vub_dequeue_enter(f.dev, 0));
	assert_false(f.ready);
	vf_close(&f);
}

/* The frontend leaves: rings, fds and memory of its session are gone; nothing leaks. */
static void
test_disconnect_resets(void **state)
{
	struct vf f;
	int fds_before;

	(void)state;
	vf_open(&f, 1);
	fds_before = tu_count_fds();
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(memfd_mappings(), 2);
	assert_true(tu_count_fds() > fds_before);
	close(f.sock);
	f.sock = -1;
	assert_int_equal(vub_dev_process(f.dev), 0);
	assert_false(vub_dev_connected(f.dev));
	assert_false(f.ready);
	assert_int_equal(f.ready_events, 2);
	assert_int_equal(vub_dev_features(f.dev), 0);
	assert_int_equal(memfd_mappings(), 1);
	/* The socket's end the device held is closed too; the frontend keeps its kick
	 * eventfds. */
	assert_int_equal(tu_count_fds(), fds_before - 2 + (int)VF_NRINGS);
	assert_int_equal(tu_log_errors(), 0);
	vf_close(&f);
}

static void
test_reset_device(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_false(f.ready);
	assert_int_equal(memfd_mappings(), 1);
	assert_int_equal(vub_dev_features(f.dev), 0);
	assert_true(vub_dev_connected(f.dev));
	/* Ready to be set up again, REPLY_ACK still negotiated. */
	vf_handshake(&f, VF_FEATURES);
	assert_true(f.ready);
	vf_close(&f);
}

/* RESET_OWNER: "use it to disable all rings". */
static void
test_reset_owner(void **state)
{
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	vf_handshake(&f, VF_FEATURES);
	assert_int_equal(vf_request(&f, VU_VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0), 0);
	assert_false(f.ready);
	assert_null(vub_dequeue_enter(f.dev, 0));
	assert_int_equal(memfd_mappings(), 2);
	vf_close(&f);
}

/* Stack below the caller's frame full of fd: what an uninitialized fd variable in the
 * handler called next would hold. */
static __attribute__((noinline)) void
prime_stack(int fd)
{
	volatile int words[4096];

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		words[i] = fd;
}

/* A kick/call/err payload with bits beyond the index is refused, and only the fd that
 * came with it is closed (fuzz_vub_msg found another fd closed: whatever the handler's
 * uninitialized fd variable held). */
static void
test_vring_file_bad_bits_closes_only_its_fd(void **state)
{
	static const uint32_t requests[] = { VU_VHOST_USER_SET_VRING_CALL,
					     VU_VHOST_USER_SET_VRING_ERR,
					     VU_VHOST_USER_SET_VRING_KICK };
	struct vf f;

	(void)state;
	vf_open(&f, 1);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		int bystander = eventfd(0, EFD_CLOEXEC);
		struct vu_vhost_msg msg;

		assert_true(bystander >= 0);
		vu_vhost_msg_init(&msg, requests[i], sizeof(uint64_t));
		msg.payload.u64 = VF_TX | (1u << 9);
		msg.fds[0] = eventfd(0, EFD_CLOEXEC);
		msg.nfds = 1;
		assert_true(msg.fds[0] >= 0);
		prime_stack(bystander);
		assert_int_equal(vub_dev_on_message(f.dev, &msg), 0);
		vf_assert_error_logged("sets bits beyond the index");
		assert_int_not_equal(fcntl(bystander, F_GETFD), -1);
		close(bystander);
	}
	vf_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_handshake, vf_log_setup),
		cmocka_unit_test_setup(test_mq_offered, vf_log_setup),
		cmocka_unit_test_setup(test_get_vring_base_stops, vf_log_setup),
		cmocka_unit_test_setup(test_features_refused, vf_log_setup),
		cmocka_unit_test_setup(test_bad_mem_table, vf_log_setup),
		cmocka_unit_test_setup(test_unknown_request, vf_log_setup),
		cmocka_unit_test_setup(test_wrong_size_drops, vf_log_setup),
		cmocka_unit_test_setup(test_vring_refused, vf_log_setup),
		cmocka_unit_test_setup(test_ring_outside_memory, vf_log_setup),
		cmocka_unit_test_setup(test_disconnect_resets, vf_log_setup),
		cmocka_unit_test_setup(test_reset_device, vf_log_setup),
		cmocka_unit_test_setup(test_reset_owner, vf_log_setup),
		cmocka_unit_test_setup(test_vring_file_bad_bits_closes_only_its_fd, vf_log_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
