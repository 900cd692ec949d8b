/* SPDX-License-Identifier: BSD-3-Clause */
/* MAC address text for the backend's owners' options (devargs, command lines). */
#include <ctype.h>
#include <string.h>

#include "vu_mac.h"

static int
vu_hex(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

bool
vu_mac_parse(const char *s, uint8_t mac[VU_MAC_LEN])
{
	if (strlen(s) != VU_MAC_TEXT_LEN)
		return false;
	for (int i = 0; i < VU_MAC_LEN; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < VU_MAC_LEN - 1 && p[2] != ':'))
			return false;
	}
	for (int i = 0; i < VU_MAC_LEN; i++)
		mac[i] = (uint8_t)(vu_hex(s[3 * i]) << 4 | vu_hex(s[3 * i + 1]));
	return true;
}
