/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the net_vubackend devargs: defaults, every key, every malformed value. */
#include <stdio.h>
#include <string.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vubackend_devargs.h"

static char err[512];

static void
assert_refused(const char *args, const char *needle)
{
	struct vubackend_devargs a;

	err[0] = '\0';
	assert_int_equal(vubackend_devargs_parse(args, &a, err, sizeof(err)), -22);
	if (!strstr(err, needle))
		fail_msg("'%s': expected \"%s\" in \"%s\"", args, needle, err);
}

static void
test_defaults(void **state)
{
	struct vubackend_devargs a;

	(void)state;
	assert_int_equal(vubackend_devargs_parse("iface=/run/vu.sock", &a, err, sizeof(err)), 0);
	assert_string_equal(a.iface, "/run/vu.sock");
	assert_int_equal(a.queues, 1);
	assert_false(a.client);
	assert_false(a.tso);
	assert_false(a.iommu);
	assert_false(a.inflight);
	assert_false(a.has_mac);
	assert_int_equal(a.mtu, 0);
}

static void
test_every_key(void **state)
{
	struct vubackend_devargs a;

	(void)state;
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xCD, 0x0f };

	assert_int_equal(
		vubackend_devargs_parse("iface=/tmp/s,queues=128,client=1,iommu-support=1,tso=1,"
					"mac=52:54:00:ab:CD:0f,mtu=9000,inflight=1",
					&a, err, sizeof(err)),
		0);
	assert_true(a.has_mac);
	assert_memory_equal(a.mac, mac, sizeof(mac));
	assert_int_equal(a.mtu, 9000);
	assert_string_equal(a.iface, "/tmp/s");
	assert_int_equal(a.queues, 128);
	assert_true(a.client);
	assert_true(a.tso);
	assert_true(a.iommu);
	assert_true(a.inflight);
	assert_int_equal(vubackend_devargs_parse("client=0,iface=x", &a, err, sizeof(err)), 0);
	assert_false(a.client);
	assert_int_equal(
		vubackend_devargs_parse("vduse=vdpa0,mac=52:54:00:ab:CD:0f", &a, err, sizeof(err)),
		0);
	assert_string_equal(a.vduse, "vdpa0");
	assert_string_equal(a.iface, "");
}

static void
test_refused(void **state)
{
	char longpath[130]; /* iface= and 123 bytes: over a socket path, under an item */

	(void)state;
	memset(longpath, 'p', sizeof(longpath));
	memcpy(longpath, "iface=", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_refused("", "iface is required");
	assert_refused(NULL, "iface is required");
	assert_refused("queues=2", "iface is required");
	assert_refused("iface=", "a socket path of 1 to 107 bytes");
	assert_refused(longpath, "a socket path of 1 to 107 bytes");
	assert_refused("iface=a,queues=0", "queues=0: not a number from 1 to 128");
	assert_refused("iface=a,queues=129", "queues=129");
	assert_refused("iface=a,queues=-1", "queues=-1");
	assert_refused("iface=a,queues=2x", "queues=2x");
	assert_refused("iface=a,client=2", "client=2: expected 0 or 1");
	assert_refused("iface=a,client=", "client=: expected 0 or 1");
	assert_refused("iface=a,tso=yes", "tso=yes: expected 0 or 1");
	assert_refused("iface=a,iommu-support=2", "iommu-support=2: expected 0 or 1");
	assert_refused("vduse=vd0,iommu-support=1",
		       "iommu-support=1: only with a vhost-user "
		       "socket (iface=), not with vduse");
	assert_refused("transport=vvu,pci=0000:00:10.0,iommu-support=1",
		       "iommu-support=1: only with a vhost-user socket (iface=), not with "
		       "transport=vvu");
	assert_refused("iface=a,iface=b", "devarg 'iface' given twice");
	assert_refused("iface=a,,queues=1", "empty devarg");
	assert_refused("iface=a,queues", "not of the form key=value");
	assert_refused("iface=a,=1", "not of the form key=value");
	assert_refused("iface=a,queues=1,client=1,client=0", "given twice");
	assert_refused("iface=a,bogus=1",
		       "unknown devarg 'bogus' (known: iface, queues, client, iommu-support, tso, "
		       "mac, mtu, inflight, "
		       "transport, pci, vduse)");
	assert_refused("iface=a,inflight=yes", "inflight=yes");
	assert_refused("vduse=vd0,inflight=1",
		       "inflight=1: only with a vhost-user socket (iface=), not with vduse");
	assert_refused(
		"transport=vvu,pci=0000:00:10.0,inflight=1",
		"inflight=1: only with a vhost-user socket (iface=), not with transport=vvu");
	assert_refused("vduse=vd0,iface=a", "vduse=vd0: iface and client are for");
	assert_refused("vduse=vd0,client=1", "vduse=vd0: iface and client are for");
	assert_refused("vduse=vd0,queues=2", "vduse=vd0: queues=2: the VDUSE transport serves one");
	assert_refused("vduse=a/b", "vduse=a/b: a device name of 1 to 107 bytes");
	assert_refused("transport=vvu,pci=0000:00:10.0,vduse=vd0", "vduse: not with transport=vvu");
	assert_refused("iface=a,mac=52:54:00:ab:cd", "mac=52:54:00:ab:cd: expected xx:xx");
	assert_refused("iface=a,mac=52:54:00:ab:cd:0g", "mac=52:54:00:ab:cd:0g: expected");
	assert_refused("iface=a,mac=52-54-00-ab-cd-0f", "mac=52-54-00-ab-cd-0f: expected");
	assert_refused("iface=a,mtu=67", "mtu=67: not a number from 68 to 65535");
	assert_refused("iface=a,mtu=65536", "mtu=65536: not a number from 68 to 65535");
	assert_refused("iface=a,path=/x", "unknown devarg 'path'");
}

/* transport=vvu takes the device instead of a socket; each mix-up is named. */
static void
test_transport(void **state)
{
	struct vubackend_devargs a;

	(void)state;
	assert_int_equal(vubackend_devargs_parse("transport=vvu,pci=0000:00:10.0,queues=2", &a, err,
						 sizeof(err)),
			 0);
	assert_int_equal(a.transport, VUBACKEND_VVU);
	assert_string_equal(a.pci, "0000:00:10.0");
	assert_int_equal(a.queues, 2);
	assert_int_equal(
		vubackend_devargs_parse("transport=af_unix,iface=/s", &a, err, sizeof(err)), 0);
	assert_int_equal(a.transport, VUBACKEND_AF_UNIX);
	assert_int_equal(vubackend_devargs_parse("iface=/s", &a, err, sizeof(err)), 0);
	assert_int_equal(a.transport, VUBACKEND_AF_UNIX);
	assert_refused("transport=vfio-user,pci=0000:00:10.0",
		       "transport=vfio-user: unknown transport (af_unix, vvu)");
	assert_refused("transport=", "transport=: unknown transport");
	assert_refused("transport=vvu", "transport=vvu needs pci=<DDDD:BB:DD.F>");
	assert_refused("transport=vvu,pci=0000:00:10.0,iface=/s", "iface: not with transport=vvu");
	assert_refused("transport=vvu,pci=0000:00:10.0,client=1", "client: not with transport=vvu");
	assert_refused("iface=/s,pci=0000:00:10.0", "pci: only with transport=vvu");
	assert_refused("transport=vvu,pci=00:10.0", "pci=00:10.0: a PCI address DDDD:BB:DD.F");
	assert_refused("transport=vvu,pci=0000:00:10.0x", "pci=0000:00:10.0x: a PCI address");
	assert_refused("transport=vvu,pci=0000:0g:10.0", "pci=0000:0g:10.0: a PCI address");
}

/* net_vhost keys this driver does not implement are refused by name, never ignored. */
static void
test_net_vhost_keys_not_implemented(void **state)
{
	static const char *const keys[] = {
		"postcopy-support",
		"linear-buffer",
		"ext-buffer",
		"legacy-ol-flags",
	};
	char args[128], needle[64];

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(args, sizeof(args), "iface=a,%s=1", keys[i]);
		snprintf(needle, sizeof(needle), "devarg '%s' of net_vhost is not implemented",
			 keys[i]);
		assert_refused(args, needle);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_net_vhost_keys_not_implemented),
		cmocka_unit_test(test_transport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
