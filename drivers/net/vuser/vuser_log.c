/* SPDX-License-Identifier: BSD-3-Clause */
/* The PMD's log type, and the sink that routes virtio-user's log lines into it. */
#include "vu_log.h"
#include "vu_rte_log.h"
#include "vuser.h"

/* Defined below every other file of the PMD, so that each may log (VUSER_LOG). */
RTE_LOG_REGISTER(vuser_logtype, pmd.net.vuser, NOTICE);

void
vuser_log_sink(enum vu_log_level level, const char *fmt, va_list ap)
{
	vu_rte_log_line(vuser_logtype, level, fmt, ap);
}
