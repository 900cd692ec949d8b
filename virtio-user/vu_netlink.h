/* SPDX-License-Identifier: BSD-3-Clause */
/* Link settings over rtnetlink (libnl-3 route): a TAP's MAC, MTU and up/down state. */
#ifndef VU_NETLINK_H
#define VU_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Each call opens its own NETLINK_ROUTE socket, looks the link up by name in the
 * caller's network namespace and changes one attribute. `who` names the device in log
 * lines. Returns 0 or a negative errno (logged with the link and what was changed).
 */
int vu_link_set_mac(const char *who, const char *ifname, const uint8_t mac[6]);
int vu_link_set_mtu(const char *who, const char *ifname, uint32_t mtu);
int vu_link_set_up(const char *who, const char *ifname, bool up);

#endif /* VU_NETLINK_H */
