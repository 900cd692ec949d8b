/* SPDX-License-Identifier: BSD-3-Clause */
/* vub-net command line parsing: one table line per option, every refusal names the option. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vu_mac.h"
#include "vu_virtio.h"
#include "vubnet_opts.h"

typedef int (*vubnet_opt_fn)(const char *val, struct vubnet_opts *out, char *err, size_t errlen);

struct vubnet_opt {
	const char *name; /* without the leading "--" */
	bool has_arg;	  /* --name=VALUE or --name VALUE */
	vubnet_opt_fn parse;
};

static int
vubnet_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
vubnet_opt_socket_path(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	if (val[0] == '\0' || strlen(val) >= sizeof(out->socket_path))
		return vubnet_fail(err, errlen,
				   "--socket-path=%s: a path of 1 to %zu bytes expected", val,
				   sizeof(out->socket_path) - 1);
	memcpy(out->socket_path, val, strlen(val) + 1);
	return 0;
}

static int
vubnet_opt_fd(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = isdigit((unsigned char)val[0]) ? strtol(val, &end, 10) : -1;
	if (v < 0 || errno || *end != '\0' || v > INT_MAX)
		return vubnet_fail(err, errlen, "--fd=%s: a file descriptor number expected", val);
	out->fd = (int)v;
	return 0;
}

static int
vubnet_opt_vduse(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	if (val[0] == '\0' || strlen(val) >= sizeof(out->vduse) || strchr(val, '/'))
		return vubnet_fail(err, errlen,
				   "--vduse=%s: a name of 1 to %zu bytes, no '/', expected", val,
				   sizeof(out->vduse) - 1);
	memcpy(out->vduse, val, strlen(val) + 1);
	return 0;
}

static int
vubnet_opt_tap(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	if (val[0] == '\0' || strlen(val) >= sizeof(out->tap) || strchr(val, '/') ||
	    strchr(val, ' '))
		return vubnet_fail(
			err, errlen,
			"--tap=%s: an interface name of 1 to %zu bytes, no '/' or space, "
			"expected",
			val, sizeof(out->tap) - 1);
	memcpy(out->tap, val, strlen(val) + 1);
	return 0;
}

static int
vubnet_opt_mac(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	if (!vu_mac_parse(val, out->mac))
		return vubnet_fail(err, errlen, "--mac=%s: expected xx:xx:xx:xx:xx:xx", val);
	out->has_mac = true;
	return 0;
}

static int
vubnet_opt_mtu(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = isdigit((unsigned char)val[0]) ? strtoul(val, &end, 10) : 0;
	if (errno || v < VU_NET_MIN_MTU || v > VU_NET_MAX_MTU || *end != '\0')
		return vubnet_fail(err, errlen, "--mtu=%s: a number from %u to %u expected", val,
				   VU_NET_MIN_MTU, VU_NET_MAX_MTU);
	out->mtu = (uint16_t)v;
	return 0;
}

static int
vubnet_opt_client(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	(void)val, (void)err, (void)errlen;
	out->client = true;
	return 0;
}

static int
vubnet_opt_iommu(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	(void)val, (void)err, (void)errlen;
	out->iommu = true;
	return 0;
}

static int
vubnet_opt_print_capabilities(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	(void)val, (void)err, (void)errlen;
	out->print_capabilities = true;
	return 0;
}

static int
vubnet_opt_help(const char *val, struct vubnet_opts *out, char *err, size_t errlen)
{
	(void)val, (void)err, (void)errlen;
	out->help = true;
	return 0;
}

static const struct vubnet_opt vubnet_opt_table[] = {
	{ "socket-path", true, vubnet_opt_socket_path },
	{ "fd", true, vubnet_opt_fd },
	{ "vduse", true, vubnet_opt_vduse },
	{ "print-capabilities", false, vubnet_opt_print_capabilities },
	{ "tap", true, vubnet_opt_tap },
	{ "client", false, vubnet_opt_client },
	{ "iommu-support", false, vubnet_opt_iommu },
	{ "mac", true, vubnet_opt_mac },
	{ "mtu", true, vubnet_opt_mtu },
	{ "help", false, vubnet_opt_help },
};

#define VUBNET_NOPTS (sizeof(vubnet_opt_table) / sizeof(vubnet_opt_table[0]))

/* The table line for "--name" or "--name=value" (*val set to the value part), or NULL. */
static const struct vubnet_opt *
vubnet_opt_find(const char *arg, const char **val)
{
	size_t n;

	if (strncmp(arg, "--", 2) != 0)
		return NULL;
	arg += 2;
	n = strcspn(arg, "=");
	for (size_t i = 0; i < VUBNET_NOPTS; i++) {
		if (strlen(vubnet_opt_table[i].name) == n &&
		    strncmp(vubnet_opt_table[i].name, arg, n) == 0) {
			*val = arg[n] == '=' ? arg + n + 1 : NULL;
			return &vubnet_opt_table[i];
		}
	}
	return NULL;
}

/* Options given together that cannot be, or missing ones. */
static int
vubnet_opts_check(const struct vubnet_opts *o, char *err, size_t errlen)
{
	bool path = o->socket_path[0] != '\0', vduse = o->vduse[0] != '\0';

	if (path + (o->fd >= 0) + vduse > 1)
		return vubnet_fail(err, errlen,
				   "--socket-path, --fd and --vduse exclude each other");
	if (!path && o->fd < 0 && !vduse)
		return vubnet_fail(err, errlen,
				   "--socket-path=PATH, --fd=FDNUM or --vduse=NAME is required");
	if (o->client && !path)
		return vubnet_fail(err, errlen, "--client needs --socket-path");
	/* IOTLB messages come on a vhost-user socket; VDUSE keeps its own IOTLB. */
	if (o->iommu && vduse)
		return vubnet_fail(err, errlen,
				   "--iommu-support needs a vhost-user socket, "
				   "not --vduse");
	if (o->tap[0] == '\0')
		return vubnet_fail(err, errlen, "--tap=NAME is required");
	return 0;
}

/* --print-capabilities or --help, wherever it stands, and nothing else is parsed. */
static const struct vubnet_opt *
vubnet_opt_ending(int argc, char *const argv[])
{
	for (int i = 1; i < argc; i++) {
		const char *val = NULL;
		const struct vubnet_opt *opt = vubnet_opt_find(argv[i], &val);

		if (opt && !val &&
		    (opt->parse == vubnet_opt_print_capabilities || opt->parse == vubnet_opt_help))
			return opt;
	}
	return NULL;
}

int
vubnet_opts_parse(int argc, char *const argv[], struct vubnet_opts *out, char *err, size_t errlen)
{
	unsigned int seen = 0;
	const struct vubnet_opt *ending = vubnet_opt_ending(argc, argv);

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (ending)
		return ending->parse(NULL, out, err, errlen);
	for (int i = 1; i < argc; i++) {
		const char *val = NULL;
		const struct vubnet_opt *opt = vubnet_opt_find(argv[i], &val);
		unsigned int bit;
		int rc;

		if (!opt)
			return vubnet_fail(err, errlen, "%s %s",
					   argv[i][0] == '-' ? "unknown option" :
							       "unexpected argument",
					   argv[i]);
		bit = 1u << (opt - vubnet_opt_table);
		if (seen & bit)
			return vubnet_fail(err, errlen, "--%s given twice", opt->name);
		seen |= bit;
		if (opt->has_arg && !val) {
			if (i + 1 >= argc)
				return vubnet_fail(err, errlen, "--%s needs a value", opt->name);
			val = argv[++i];
		} else if (!opt->has_arg && val) {
			return vubnet_fail(err, errlen, "--%s takes no value: %s", opt->name,
					   argv[i]);
		}
		rc = opt->parse(val, out, err, errlen);
		if (rc)
			return rc;
	}
	return vubnet_opts_check(out, err, errlen);
}

const char *
vubnet_capabilities(void)
{
	/* "features": the optional options this backend takes, as the schema's other
	 * device types list theirs. */
	return "{\n  \"type\": \"net\",\n  \"features\": [\n    \"tap\",\n    \"client\",\n    \"mac\",\n    \"mtu\"\n  ]\n}\n";
}

const char *
vubnet_usage(void)
{
	return "usage: vub-net (--socket-path=PATH [--client] | --fd=FDNUM | --vduse=NAME)\n"
	       "               --tap=NAME"
	       " [--mac=xx:xx:xx:xx:xx:xx] [--mtu=N] [--iommu-support]\n"
	       "       vub-net --print-capabilities\n"
	       "\n"
	       "A vhost-user virtio-net device forwarding between its frontend and a TAP.\n"
	       "  --socket-path=PATH    the vhost-user socket: listened on, or with --client\n"
	       "                        connected to (retrying every second)\n"
	       "  --fd=FDNUM            serve this connected vhost-user socket; the program\n"
	       "                        ends when its frontend leaves\n"
	       "  --vduse=NAME          be the VDUSE device NAME instead (/dev/vduse/control;\n"
	       "                        then: vdpa dev add name NAME mgmtdev vduse); a NAME\n"
	       "                        that exists (a restart) is served again, resumed\n"
	       "  --tap=NAME            the TAP to create, or to attach to if it exists\n"
	       "  --client              connect to --socket-path instead of listening\n"
	       "  --mac=MAC             the guest's MAC in its config space (VIRTIO_NET_F_MAC)\n"
	       "  --mtu=N               the guest's MTU in its config space (VIRTIO_NET_F_MTU,\n"
	       "                        68 to 65535); the TAP's own MTU is the host's to set\n"
	       "  --iommu-support       offer VIRTIO_F_ACCESS_PLATFORM: the frontend then gives\n"
	       "                        the device its memory through IOTLB updates\n"
	       "  --print-capabilities  print the JSON capabilities and exit\n"
	       "  --help                this text\n";
}
