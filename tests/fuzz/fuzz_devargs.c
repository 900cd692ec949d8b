/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the devargs parser (vuser_devargs_parse) on arbitrary strings. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vuser_devargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vuser_devargs da;
	char err[256];
	char *s;

	if (size > 2 * PATH_MAX)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (vuser_devargs_parse(s, &da, err, sizeof(err)) == 0) {
		/* What a successful parse promises (docs/user-guide.md, Devargs). */
		if (da.path[0] == '\0' || da.queues < 1 || da.queues > VUSER_MAX_QUEUE_PAIRS ||
		    da.queue_size < 1 || (!da.packed_vq && (da.queue_size & (da.queue_size - 1))) ||
		    strnlen(da.path, sizeof(da.path)) == sizeof(da.path) ||
		    strnlen(da.iface, sizeof(da.iface)) == sizeof(da.iface) ||
		    (da.queues > 1 && !da.cq))
			abort();
	} else if (strnlen(err, sizeof(err)) == 0 || strnlen(err, sizeof(err)) == sizeof(err)) {
		abort(); /* a refusal always says why, NUL-terminated */
	}
	free(s);
	return 0;
}
