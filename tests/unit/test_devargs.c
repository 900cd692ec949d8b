/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the net_vuser devargs parser (same keys as DPDK's virtio_user). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vuser_devargs.h"

static struct vuser_devargs da;
static char err[512];

static int
parse(const char *args)
{
	memset(&da, 0xa5, sizeof(da));
	memset(err, 0, sizeof(err));
	return vuser_devargs_parse(args, &da, err, sizeof(err));
}

/* args must be refused with -EINVAL and a one-line message containing each of the words. */
static void
refused(const char *args, const char *word1, const char *word2)
{
	int rc = parse(args);

	if (rc != -EINVAL)
		fail_msg("\"%s\": returned %d, expected -EINVAL", args, rc);
	if (err[0] == '\0' || strchr(err, '\n'))
		fail_msg("\"%s\": message \"%s\" is not one line", args, err);
	if (word1 && !strstr(err, word1))
		fail_msg("\"%s\": message \"%s\" does not mention \"%s\"", args, err, word1);
	if (word2 && !strstr(err, word2))
		fail_msg("\"%s\": message \"%s\" does not mention \"%s\"", args, err, word2);
}

static void
accepted(const char *args)
{
	int rc = parse(args);

	if (rc != 0)
		fail_msg("\"%s\": returned %d (%s), expected success", args, rc, err);
}

static void
test_defaults(void **state)
{
	static const uint8_t zero[6];

	(void)state;
	accepted("path=/run/vhost/sock0");
	assert_string_equal(da.path, "/run/vhost/sock0");
	assert_int_equal(da.queues, 1);
	assert_int_equal(da.queue_size, 256);
	assert_false(da.mac_set);
	assert_memory_equal(da.mac, zero, 6);
	assert_int_equal(da.speed, 0);
	assert_string_equal(da.iface, "");
	/* DPDK's virtio_user defaults: mergeable buffers and in-order on, the rest off. */
	assert_true(da.mrg_rxbuf);
	assert_true(da.in_order);
	assert_false(da.packed_vq);
	assert_false(da.vectorized);
	assert_false(da.cq);
}

static void
test_all_keys(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

	(void)state;
	accepted("path=/tmp/vhost.sock,queues=4,queue_size=1000,mac=02:00:00:aa:BB:cc,"
		 "speed=25000,cq=1,server=0,mrg_rxbuf=0,in_order=0,packed_vq=1,vectorized=1,"
		 "iface=tap%d");
	assert_string_equal(da.path, "/tmp/vhost.sock");
	assert_int_equal(da.queues, 4);
	assert_int_equal(da.queue_size, 1000);
	assert_true(da.mac_set);
	assert_memory_equal(da.mac, mac, 6);
	assert_int_equal(da.speed, 25000);
	assert_true(da.cq);
	assert_false(da.mrg_rxbuf);
	assert_false(da.in_order);
	assert_true(da.packed_vq);
	assert_true(da.vectorized);
	assert_string_equal(da.iface, "tap%d");

	/* Order does not matter. */
	accepted("queue_size=512,path=/x");
	assert_string_equal(da.path, "/x");
	assert_int_equal(da.queue_size, 512);
}

static void
test_path(void **state)
{
	char *args = malloc(PATH_MAX + 16);

	(void)state;
	assert_non_null(args);
	/* The value is everything after the first '='. */
	accepted("path=/a=b");
	assert_string_equal(da.path, "/a=b");

	/* PATH_MAX - 1 characters fit, PATH_MAX do not. */
	strcpy(args, "path=/");
	memset(args + 6, 'p', PATH_MAX - 2);
	args[5 + PATH_MAX - 1] = '\0';
	accepted(args);
	assert_int_equal(strlen(da.path), PATH_MAX - 1);
	args[5 + PATH_MAX - 1] = 'p';
	args[5 + PATH_MAX] = '\0';
	refused(args, "path", NULL);
	free(args);

	refused("path=", "path", "empty");
	refused("queues=1", "path", NULL);
	refused("", "path", NULL);
	assert_int_equal(vuser_devargs_parse(NULL, &da, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "path"));
}

static void
test_queues(void **state)
{
	(void)state;
	accepted("path=/s,queues=1");
	assert_int_equal(da.queues, 1);
	refused("path=/s,queues=", "queues", NULL);
	refused("path=/s,queues=0", "queues", NULL);
	refused("path=/s,queues=-1", "queues", NULL);
	refused("path=/s,queues=+1", "queues", NULL);
	refused("path=/s,queues= 1", "queues", NULL);
	refused("path=/s,queues=1x", "queues", NULL);
	refused("path=/s,queues=abc", "queues", NULL);
	refused("path=/s,queues=65536", "queues", NULL);
	refused("path=/s,queues=99999999999999999999999", "queues", NULL);
	refused("path=/s,queues=129", "queues", "128");
	refused("path=/s,queues=65535", "queues", NULL);
	accepted("path=/s,queues=128");
	assert_int_equal(da.queues, 128);
	/* Multi-queue needs the control queue: on when cq is left out, as in DPDK's virtio_user. */
	accepted("path=/s,queues=2");
	assert_int_equal(da.queues, 2);
	assert_true(da.cq);
	/* As DPDK's virtio_user: an explicit cq=0 with several pairs is refused, in
	 * either order. */
	refused("path=/s,cq=0,queues=2", "cq=0", "queues=2 needs the control queue");
	refused("path=/s,queues=128,cq=0", "cq=0", "queues=128");
	accepted("path=/s,queues=2,cq=1");
	assert_true(da.cq);
	accepted("path=/s,queues=1,cq=0");
	assert_false(da.cq);
	accepted("path=/s,queues=1");
	assert_false(da.cq);
}

static void
test_queue_size(void **state)
{
	static const unsigned int good[] = { 1, 2, 64, 256, 1024, 4096, 32768 };
	char args[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(args, sizeof(args), "path=/s,queue_size=%u", good[i]);
		accepted(args);
		assert_int_equal(da.queue_size, good[i]);
	}
	refused("path=/s,queue_size=", "queue_size", NULL);
	refused("path=/s,queue_size=0", "queue_size", NULL);
	refused("path=/s,queue_size=-256", "queue_size", NULL);
	refused("path=/s,queue_size=0x100", "queue_size", NULL);
	refused("path=/s,queue_size=256k", "queue_size", NULL);
	refused("path=/s,queue_size=65536", "queue_size", NULL);
	refused("path=/s,queue_size=32769", "queue_size", NULL);
	refused("path=/s,queue_size=100", "queue_size", "power of two");
	refused("path=/s,queue_size=384", "queue_size", "power of two");
	refused("path=/s,queue_size=100,packed_vq=0", "queue_size", "power of two");
	/* A packed ring takes any size, whichever key comes first. */
	accepted("path=/s,queue_size=100,packed_vq=1");
	assert_int_equal(da.queue_size, 100);
	accepted("path=/s,packed_vq=1,queue_size=32767");
	assert_int_equal(da.queue_size, 32767);
	refused("path=/s,packed_vq=1,queue_size=32769", "queue_size", NULL);
	refused("path=/s,packed_vq=1,queue_size=0", "queue_size", NULL);
}

static void
test_mac(void **state)
{
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	static const char *const malformed[] = {
		"path=/s,mac=",
		"path=/s,mac=52:54:00:ab:cd",
		"path=/s,mac=52:54:00:ab:cd:ef:01",
		"path=/s,mac=52:54:00:ab:cd:e",
		"path=/s,mac=52-54-00-ab-cd-ef",
		"path=/s,mac=5254.00ab.cdef",
		"path=/s,mac=52:54:00:ab:cd:eg",
		"path=/s,mac=g2:54:00:ab:cd:ef",
		"path=/s,mac=525:4:00:ab:cd:ef",
		"path=/s,mac= 2:54:00:ab:cd:ef",
		"path=/s,mac=+2:54:00:ab:cd:ef",
		"path=/s,mac=0x:54:00:ab:cd:ef",
		"path=/s,mac=52:54:00:ab:cd:ef ",
		"path=/s,mac=52:54:00:ab:cd:efx",
	};

	(void)state;
	accepted("path=/s,mac=52:54:00:AB:cd:Ef");
	assert_true(da.mac_set);
	assert_memory_equal(da.mac, want, 6);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		refused(malformed[i], "mac", NULL);
	refused("path=/s,mac=01:00:5e:00:00:01", "mac", "multicast");
	refused("path=/s,mac=ff:ff:ff:ff:ff:ff", "mac", "multicast");
	refused("path=/s,mac=53:54:00:ab:cd:ef", "mac", "multicast");
	refused("path=/s,mac=00:00:00:00:00:00", "mac", "zero");
}

static void
test_speed(void **state)
{
	static const unsigned int good[] = { 10,    100,   1000,  2500,	 5000,	 10000,	 20000,
					     25000, 40000, 50000, 56000, 100000, 200000, 400000 };
	static const char *const bad[] = {
		"speed=",	    "speed=0",	 "speed=1",	 "speed=11",
		"speed=-10",	    "speed=10G", "speed=1e4",	 "speed=4294967296",
		"speed=4294977296", "speed=abc", "speed=300000",
	};
	char args[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(args, sizeof(args), "path=/s,speed=%u", good[i]);
		accepted(args);
		assert_int_equal(da.speed, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "path=/s,%s", bad[i]);
		refused(args, "speed", NULL);
	}
}

/* Boolean keys: 0 or 1 and nothing else; each sets its own field. */
static void
test_flags(void **state)
{
	static const char *const keys[] = {
		"cq", "mrg_rxbuf", "in_order", "packed_vq", "vectorized", "server", "iotlb",
	};
	char args[64];

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool *field[] = { &da.cq,	  &da.mrg_rxbuf, &da.in_order, &da.packed_vq,
				  &da.vectorized, &da.server,	 &da.iotlb };
		static const bool defaults[] = { false, true, true, false, false, false, false };

		snprintf(args, sizeof(args), "path=/s,%s=1", keys[i]);
		accepted(args);
		assert_true(*field[i]);
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (j != i && *field[j] != defaults[j])
				fail_msg("%s=1 also changed %s", keys[i], keys[j]);
		snprintf(args, sizeof(args), "path=/s,%s=0", keys[i]);
		accepted(args);
		assert_false(*field[i]);
		snprintf(args, sizeof(args), "path=/s,%s=2", keys[i]);
		refused(args, keys[i], "0 or 1");
		snprintf(args, sizeof(args), "path=/s,%s=yes", keys[i]);
		refused(args, keys[i], NULL);
		snprintf(args, sizeof(args), "path=/s,%s=", keys[i]);
		refused(args, keys[i], NULL);
		snprintf(args, sizeof(args), "path=/s,%s=01", keys[i]);
		refused(args, keys[i], NULL);
	}
}

/* server: vhost-user server mode, off unless asked for. */
static void
test_server(void **state)
{
	(void)state;
	accepted("path=/s");
	assert_false(da.server);
	accepted("path=/s,server=1");
	assert_true(da.server);
	accepted("path=/s,server=0");
	assert_false(da.server);
	refused("path=/s,server=2", "server", NULL);
	refused("path=/s,server=", "server", NULL);
}

/* The TAP name of vhost-kernel: iface or interface_name, one of them, once. */
static void
test_iface(void **state)
{
	static const char *const bad[] = {
		"iface=",
		"iface=0123456789abcdef", /* 16 bytes: IFNAMSIZ without room for the NUL */
		"iface=.",
		"iface=..",
		"iface=a/b",
		"iface=a:b",
		"iface=a b",
		"interface_name=a\tb",
	};
	char args[64];

	(void)state;
	accepted("path=/dev/vhost-net,iface=tap0");
	assert_string_equal(da.iface, "tap0");
	accepted("path=/dev/vhost-net,interface_name=vutap%d");
	assert_string_equal(da.iface, "vutap%d");
	accepted("path=/dev/vhost-net,iface=0123456789abcde"); /* 15 bytes */
	assert_string_equal(da.iface, "0123456789abcde");
	accepted("path=/dev/vhost-net,iface=...");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "path=/dev/vhost-net,%s", bad[i]);
		refused(args, strncmp(bad[i], "iface", 5) == 0 ? "iface" : "interface_name", NULL);
	}
	refused("path=/dev/vhost-net,iface=tap0,interface_name=tap1", "interface_name", "already");
	refused("path=/dev/vhost-net,interface_name=tap0,iface=tap1", "iface", "already");
	refused("path=/dev/vhost-net,iface=tap0,iface=tap1", "iface", "twice");
}

static void
test_unknown_key(void **state)
{
	(void)state;
	refused("path=/s,queue=1", "'queue'", NULL);
	refused("path=/s,bogus_key_name=1", "bogus_key_name", NULL);
	/* The message lists what is known. */
	refused("path=/s,bogus=1", "queue_size", "interface_name");
	/* Keys are case sensitive, as in DPDK. */
	refused("PATH=/s", "PATH", NULL);
}

static void
test_malformed_list(void **state)
{
	(void)state;
	refused("path=/s,,queues=1", "empty", NULL);
	refused(",path=/s", "empty", NULL);
	refused("path=/s,queues", "queues", "key=value");
	refused("path=/s,=1", "=1", NULL);
	refused("path", "path", "key=value");
}

static void
test_duplicates(void **state)
{
	(void)state;
	refused("path=/a,path=/b", "path", "twice");
	refused("path=/a,queues=1,queues=1", "queues", "twice");
	refused("path=/a,cq=0,server=0,cq=0", "cq", "twice");
	refused("path=/a,packed_vq=1,packed_vq=1", "packed_vq", "twice");
	refused("mac=02:00:00:00:00:01,path=/a,mac=02:00:00:00:00:01", "mac", "twice");
}

/* A short error buffer is filled, truncated and terminated, never overrun. */
static void
test_short_error_buffer(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(vuser_devargs_parse("path=/s,bogus=1", &da, buf, 8), -EINVAL);
	assert_int_equal(strlen(buf), 7);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'X');
	/* No buffer at all is fine too. */
	assert_int_equal(vuser_devargs_parse("path=/s,bogus=1", &da, NULL, 0), -EINVAL);
}

/* Every parse starts from the defaults, whatever the struct held. */
static void
test_reparse_resets(void **state)
{
	(void)state;
	accepted("path=/one,queue_size=64,mac=02:00:00:00:00:01,speed=1000,queues=3,"
		 "mrg_rxbuf=0,packed_vq=1,iface=t0");
	assert_int_equal(vuser_devargs_parse("path=/two", &da, err, sizeof(err)), 0);
	assert_string_equal(da.path, "/two");
	assert_int_equal(da.queue_size, 256);
	assert_false(da.mac_set);
	assert_int_equal(da.speed, 0);
	assert_int_equal(da.queues, 1);
	assert_false(da.cq);
	assert_true(da.mrg_rxbuf);
	assert_false(da.packed_vq);
	assert_string_equal(da.iface, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),       cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_path),	       cmocka_unit_test(test_queues),
		cmocka_unit_test(test_queue_size),     cmocka_unit_test(test_mac),
		cmocka_unit_test(test_speed),	       cmocka_unit_test(test_flags),
		cmocka_unit_test(test_server),	       cmocka_unit_test(test_iface),
		cmocka_unit_test(test_unknown_key),    cmocka_unit_test(test_malformed_list),
		cmocka_unit_test(test_duplicates),     cmocka_unit_test(test_short_error_buffer),
		cmocka_unit_test(test_reparse_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
