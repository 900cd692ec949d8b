/* SPDX-License-Identifier: BSD-3-Clause */
/* Drives the TAP and netlink layer (vu_tap.c, vu_netlink.c) for tests/integration/test_tap_netns.py.
 *
 *   tap_netns_tool [--tun PATH] [--mac xx:xx:xx:xx:xx:xx] [--down] IFNAME QUEUES
 *
 * Creates the TAP and prints "OK <ifname> <queues>" (or "ERR <errno> <last error line>"
 * and exits 1), then reads one command a line from stdin and answers one line each:
 *   rename NEW | mac xx:xx:xx:xx:xx:xx | mtu N | up | down | exists NAME | hdr N |
 *   offload HEX | fds | close | quit
 * Log lines of the library go to stderr. EOF on stdin closes the TAP and exits.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vu_log.h"
#include "vu_netlink.h"
#include "vu_tap.h"

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

int
main(int argc, char **argv)
{
	struct vu_tap_params p = { .name = "tap_netns_tool", .up = true };
	char ifname[IFNAMSIZ];
	struct vu_tap *tap = NULL;
	char line[256];
	uint8_t mac[6];
	int i = 1, rc;

	vu_log_set_handler(log_sink);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--tun") == 0 && i + 1 < argc) {
			p.tun_path = argv[++i];
		} else if (strcmp(argv[i], "--mac") == 0 && i + 1 < argc) {
			if (parse_mac(argv[++i], mac) < 0)
				return 2;
			p.mac = mac;
		} else if (strcmp(argv[i], "--down") == 0) {
			p.up = false;
		} else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: %s [--tun PATH] [--mac MAC] [--down] IFNAME QUEUES\n",
			argv[0]);
		return 2;
	}
	p.ifname = argv[i];
	p.queues = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	rc = vu_tap_open(&p, &tap);
	if (rc < 0) {
		printf("ERR %d %s\n", -rc, last_error);
		return 1;
	}
	snprintf(ifname, sizeof(ifname), "%s", vu_tap_ifname(tap));
	printf("OK %s %u\n", ifname, vu_tap_num_queues(tap));
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		char arg[128] = "";
		char cmd[32] = "";

		if (sscanf(line, "%31s %127s", cmd, arg) < 1)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "close") == 0) {
			vu_tap_close(tap);
			tap = NULL;
			answer(0);
		} else if (strcmp(cmd, "rename") == 0) {
			rc = vu_link_rename(p.name, ifname, arg);
			if (rc == 0)
				snprintf(ifname, sizeof(ifname), "%s", arg);
			answer(rc);
		} else if (strcmp(cmd, "mac") == 0) {
			answer(parse_mac(arg, mac) < 0 ? -EINVAL :
							 vu_link_set_mac(p.name, ifname, mac));
		} else if (strcmp(cmd, "mtu") == 0) {
			answer(vu_link_set_mtu(p.name, ifname, (uint32_t)strtoul(arg, NULL, 10)));
		} else if (strcmp(cmd, "up") == 0 || strcmp(cmd, "down") == 0) {
			answer(vu_link_set_up(p.name, ifname, cmd[0] == 'u'));
		} else if (strcmp(cmd, "exists") == 0) {
			answer(vu_link_exists(p.name, arg));
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
	return 0;
}
