/* SPDX-License-Identifier: BSD-3-Clause */
/* MAC address text for the backend's owners' options (devargs, command lines). */
#ifndef VU_MAC_H
#define VU_MAC_H

#include <stdbool.h>
#include <stdint.h>

#define VU_MAC_LEN 6
/* "xx:xx:xx:xx:xx:xx" */
#define VU_MAC_TEXT_LEN 17

/* Parse exactly "xx:xx:xx:xx:xx:xx" (hex, either case) into mac; false otherwise. */
bool vu_mac_parse(const char *s, uint8_t mac[VU_MAC_LEN]);

#endif /* VU_MAC_H */
