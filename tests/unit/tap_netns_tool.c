/* SPDX-License-Identifier: BSD-3-Clause */
/* Drives the TAP and netlink layer (vu_tap.c, vu_netlink.c) for tests/integration/test_tap_netns.py.
 *
 *   tap_netns_tool [--tun PATH] [--mac xx:xx:xx:xx:xx:xx] [--down] [--device] IFNAME QUEUES
 *
 * Creates the TAP and prints "OK <ifname> <queues>" (or "ERR <errno> <last error line>"
 * and exits 1), then reads one command a line from stdin and answers one line each:
 *   mac xx:xx:xx:xx:xx:xx | mtu N | up | down | hdr N | offload HEX | fds | close | quit
 * --device creates a whole vu_device on the vhost-kernel backend instead, whose TAP is
 * real and whose /dev/vhost-net is stood in for by fake_kernel.c (vhost ioctls answered
 * in-process; IFNAME must be a name, not a template). Its commands: start (the glue's
 * sequence up to DRIVER_OK) | stop | devmtu N, and the link commands above.
 * Log lines of the library go to stderr. EOF on stdin closes the TAP and exits.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_kernel.h"
#include "vu_device.h"
#include "vu_log.h"
#include "vu_netlink.h"
#include "vu_tap.h"

/* Ring memory of --device: vhost-net is a stand-in, so it only has to exist. */
#define DEVICE_MEM_LEN (1u << 20)

static char last_error[512];

static void
log_sink(enum vu_log_level level, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (level == VU_LOG_ERR)
		snprintf(last_error, sizeof(last_error), "%s", line);
	fprintf(stderr, "vu[%d]: %s\n", (int)level, line);
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static void
answer(int rc)
{
	if (rc < 0)
		printf("ERR %d %s\n", -rc, last_error);
	else
		printf("OK %d\n", rc);
	last_error[0] = '\0';
	fflush(stdout);
}

/* --device: the vhost-kernel backend's device with p's TAP settings (up, as it makes it). */
static int
device_open(const struct vu_tap_params *p, struct vu_device **dev)
{
	struct vu_device_params dp = fk_params((uint16_t)p->queues, p->ifname);

	dp.tun_path = p->tun_path ? p->tun_path : "/dev/net/tun";
	dp.mac_set = p->mac != NULL;
	if (p->mac)
		memcpy(dp.mac, p->mac, sizeof(dp.mac));
	if (strchr(p->ifname, '%')) {
		snprintf(last_error, sizeof(last_error), "--device takes a name, not %s",
			 p->ifname);
		return -EINVAL;
	}
	return vu_device_create(&dp, dev);
}

/* The device's commands; false when `cmd` is none of them. */
static bool
device_command(struct vu_device *dev, const char *cmd, const char *arg, void *mem)
{
	const uint64_t features = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MRG_RXBUF);

	if (strcmp(cmd, "start") == 0)
		answer(fk_start_device(dev, features, -1, mem, DEVICE_MEM_LEN));
	else if (strcmp(cmd, "stop") == 0)
		answer(vu_device_set_status(dev, 0));
	else if (strcmp(cmd, "devmtu") == 0)
		answer(vu_device_set_mtu(dev, (uint32_t)strtoul(arg, NULL, 10)));
	else
		return false;
	return true;
}

int
main(int argc, char **argv)
{
	struct vu_tap_params p = { .name = "tap_netns_tool", .up = true };
	static char mem[DEVICE_MEM_LEN];
	struct vu_device *dev = NULL;
	char ifname[IFNAMSIZ];
	struct vu_tap *tap = NULL;
	bool device = false;
	char line[256];
	uint8_t mac[6];
	int i = 1, rc;

	vu_log_set_handler(log_sink);
	fk_reset();
	fk.real_tun = true;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--tun") == 0 && i + 1 < argc) {
			p.tun_path = argv[++i];
		} else if (strcmp(argv[i], "--mac") == 0 && i + 1 < argc) {
			if (parse_mac(argv[++i], mac) < 0)
				return 2;
			p.mac = mac;
		} else if (strcmp(argv[i], "--down") == 0) {
			p.up = false;
		} else if (strcmp(argv[i], "--device") == 0) {
			device = true;
		} else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr,
			"usage: %s [--tun PATH] [--mac MAC] [--down] [--device] IFNAME QUEUES\n",
			argv[0]);
		return 2;
	}
	p.ifname = argv[i];
	p.queues = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	rc = device ? device_open(&p, &dev) : vu_tap_open(&p, &tap);
	if (rc < 0) {
		printf("ERR %d %s\n", -rc, last_error);
		return 1;
	}
	snprintf(ifname, sizeof(ifname), "%s", tap ? vu_tap_ifname(tap) : p.ifname);
	printf("OK %s %u\n", ifname, tap ? vu_tap_num_queues(tap) : p.queues);
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		char arg[128] = "";
		char cmd[32] = "";

		if (sscanf(line, "%31s %127s", cmd, arg) < 1)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (dev && device_command(dev, cmd, arg, mem))
			continue;
		if (strcmp(cmd, "close") == 0) {
			vu_tap_close(tap);
			tap = NULL;
			answer(0);
		} else if (strcmp(cmd, "mac") == 0) {
			answer(parse_mac(arg, mac) < 0 ? -EINVAL :
							 vu_link_set_mac(p.name, ifname, mac));
		} else if (strcmp(cmd, "mtu") == 0) {
			answer(vu_link_set_mtu(p.name, ifname, (uint32_t)strtoul(arg, NULL, 10)));
		} else if (strcmp(cmd, "up") == 0 || strcmp(cmd, "down") == 0) {
			answer(vu_link_set_up(p.name, ifname, cmd[0] == 'u'));
		} else if (strcmp(cmd, "hdr") == 0 && tap) {
			answer(vu_tap_set_vnet_hdr_size(tap, (uint32_t)strtoul(arg, NULL, 10)));
		} else if (strcmp(cmd, "offload") == 0 && tap) {
			answer(vu_tap_set_offload(tap, (unsigned int)strtoul(arg, NULL, 16)));
		} else if (strcmp(cmd, "fds") == 0 && tap) {
			int n = 0;

			for (uint32_t q = 0; q < vu_tap_num_queues(tap); q++)
				n += vu_tap_queue_fd(tap, q) >= 0;
			answer(n);
		} else {
			snprintf(last_error, sizeof(last_error), "unknown command %s", cmd);
			answer(-EINVAL);
		}
	}
	vu_tap_close(tap);
	vu_device_destroy(dev);
	return 0;
}
