/* SPDX-License-Identifier: BSD-3-Clause */
/* Default log sink and the switch to an embedder-provided one. */
#include <stdio.h>

#include "vu_log.h"

static void
vu_log_default(enum vu_log_level level, const char *fmt, va_list ap)
{
	if (level > VU_LOG_NOTICE)
		return;
	fputs("vuser: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static vu_log_fn vu_log_sink = vu_log_default;

void
vu_log_set_handler(vu_log_fn fn)
{
	vu_log_sink = fn ? fn : vu_log_default;
}

void
vu_log(enum vu_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vu_log_sink(level, fmt, ap);
	va_end(ap);
}
