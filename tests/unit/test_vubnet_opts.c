/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of vub-net's command line: the backend program conventions and every refusal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vubnet_opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char err[512];

static int
parse(int argc, char *const argv[], struct vubnet_opts *o)
{
	err[0] = '\0';
	return vubnet_opts_parse(argc, argv, o, err, sizeof(err));
}

static void
assert_refused_argv(int argc, char *const argv[], const char *needle)
{
	struct vubnet_opts o;

	assert_int_equal(parse(argc, argv, &o), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("argv[1] '%s': expected \"%s\" in \"%s\"", argc > 1 ? argv[1] : "", needle,
			 err);
}

#define assert_refused(needle, ...)                             \
	do {                                                    \
		char *const av_[] = { "vub-net", __VA_ARGS__ }; \
		assert_refused_argv(ARGC(av_), av_, needle);    \
	} while (0)

static void
test_socket_path(void **state)
{
	char *const av[] = { "vub-net", "--socket-path=/run/vu.sock", "--tap=vubt0" };
	char *const av2[] = { "vub-net",  "--tap",	    "t1", "--socket-path", "/s",
			      "--client", "--iommu-support" };
	struct vubnet_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(av), av, &o), 0);
	assert_string_equal(o.socket_path, "/run/vu.sock");
	assert_string_equal(o.tap, "vubt0");
	assert_int_equal(o.fd, -1);
	assert_false(o.client);
	assert_false(o.iommu);
	assert_false(o.print_capabilities);
	/* "--name value" as well as "--name=value" */
	assert_int_equal(parse(ARGC(av2), av2, &o), 0);
	assert_string_equal(o.socket_path, "/s");
	assert_string_equal(o.tap, "t1");
	assert_true(o.client);
	assert_true(o.iommu);
	assert_false(o.has_mac);
	assert_int_equal(o.mtu, 0);
}

static void
test_config_space(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
	char *const av[] = { "vub-net", "--fd=3", "--tap=t", "--mac=02:00:00:00:00:FE",
			     "--mtu",	"9000" };
	struct vubnet_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(av), av, &o), 0);
	assert_true(o.has_mac);
	assert_memory_equal(o.mac, mac, sizeof(mac));
	assert_int_equal(o.mtu, 9000);
	assert_refused("--mac=02:00:00:00:00:: expected", "--fd=3", "--tap=t",
		       "--mac=02:00:00:00:00:");
	assert_refused("--mtu=67: a number from 68 to 65535", "--fd=3", "--tap=t", "--mtu=67");
	assert_refused("--mtu=1500x: a number", "--fd=3", "--tap=t", "--mtu=1500x");
}

static void
test_fd(void **state)
{
	char *const av[] = { "vub-net", "--fd=3", "--tap=vubt0" };
	struct vubnet_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(av), av, &o), 0);
	assert_int_equal(o.fd, 3);
	assert_string_equal(o.socket_path, "");
}

static void
test_vduse(void **state)
{
	char *const av[] = { "vub-net", "--vduse=vdpa-net0", "--tap=vubt0" };
	struct vubnet_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(av), av, &o), 0);
	assert_string_equal(o.vduse, "vdpa-net0");
	assert_string_equal(o.socket_path, "");
	assert_int_equal(o.fd, -1);
}

/* "Other options and arguments should be ignored" with --print-capabilities. */
static void
test_print_capabilities(void **state)
{
	char *const av[] = { "vub-net", "--bogus", "--print-capabilities", "x" };
	char *const alone[] = { "vub-net", "--print-capabilities" };
	char *const help[] = { "vub-net", "--help", "--fd=-1" };
	struct vubnet_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(av), av, &o), 0);
	assert_true(o.print_capabilities);
	assert_int_equal(parse(ARGC(alone), alone, &o), 0);
	assert_true(o.print_capabilities);
	assert_int_equal(parse(ARGC(help), help, &o), 0);
	assert_true(o.help);
	assert_false(o.print_capabilities);
	assert_string_equal(vubnet_capabilities(),
			    "{\n  \"type\": \"net\",\n  \"features\": [\n    \"tap\",\n"
			    "    \"client\",\n    \"mac\",\n    \"mtu\"\n  ]\n}\n");
}

static void
test_refused(void **state)
{
	char longpath[120];
	char longopt[140];

	(void)state;
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(longopt, sizeof(longopt), "--socket-path=%s", longpath);
	assert_refused("unknown option --queues=2", "--socket-path=/s", "--tap=t", "--queues=2");
	assert_refused("unexpected argument positional", "--socket-path=/s", "--tap=t",
		       "positional");
	assert_refused("unknown option -s", "-s", "/s", "--tap=t");
	assert_refused("--print-capabilities takes no value", "--print-capabilities=1");
	assert_refused("exclude each other", "--socket-path=/s", "--fd=3", "--tap=t");
	assert_refused("--socket-path=PATH, --fd=FDNUM or --vduse=NAME is required", "--tap=t");
	assert_refused("exclude each other", "--vduse=vd0", "--fd=3", "--tap=t");
	assert_refused("exclude each other", "--vduse=vd0", "--socket-path=/s", "--tap=t");
	assert_refused("--client needs --socket-path", "--vduse=vd0", "--tap=t", "--client");
	assert_refused("--iommu-support needs a vhost-user socket, not --vduse", "--vduse=vd0",
		       "--tap=t", "--iommu-support");
	assert_refused("--iommu-support takes no value", "--socket-path=/s", "--tap=t",
		       "--iommu-support=1");
	assert_refused("--vduse=a/b: a name of 1 to 255 bytes", "--vduse=a/b", "--tap=t");
	assert_refused("--vduse=: a name", "--vduse=", "--tap=t");
	assert_refused("--tap=NAME is required", "--socket-path=/s");
	assert_refused("--client needs --socket-path", "--fd=3", "--tap=t", "--client");
	assert_refused("--fd=-1: a file descriptor number", "--fd=-1", "--tap=t");
	assert_refused("--fd=3x: a file descriptor number", "--fd=3x", "--tap=t");
	assert_refused("--fd=: a file descriptor number", "--fd=", "--tap=t");
	assert_refused("--fd=99999999999: a file descriptor number", "--fd=99999999999", "--tap=t");
	assert_refused("--socket-path=: a path of 1 to 107 bytes", "--socket-path=", "--tap=t");
	assert_refused("a path of 1 to 107 bytes", longopt, "--tap=t");
	assert_refused("--tap=0123456789abcdef: an interface name of 1 to 15 bytes",
		       "--socket-path=/s", "--tap=0123456789abcdef");
	assert_refused("--tap=a/b: an interface name", "--socket-path=/s", "--tap=a/b");
	assert_refused("--tap needs a value", "--socket-path=/s", "--tap");
	assert_refused("--client takes no value: --client=1", "--socket-path=/s", "--tap=t",
		       "--client=1");
	assert_refused("--tap given twice", "--socket-path=/s", "--tap=t", "--tap=u");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_vduse),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_print_capabilities),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
