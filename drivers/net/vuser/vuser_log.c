/* SPDX-License-Identifier: BSD-3-Clause */
/* The PMD's log type, and the sink that routes virtio-user's log lines into it. */
#include <stdio.h>

#include "vu_log.h"
#include "vuser.h"

/* Defined below every other file of the PMD, so that each may log (VUSER_LOG). */
RTE_LOG_REGISTER(vuser_logtype, pmd.net.vuser, NOTICE);

void
vuser_log_sink(enum vu_log_level level, const char *fmt, va_list ap)
{
	static const uint32_t rte_levels[] = {
		[VU_LOG_ERR] = RTE_LOG_ERR,	  [VU_LOG_WARNING] = RTE_LOG_WARNING,
		[VU_LOG_NOTICE] = RTE_LOG_NOTICE, [VU_LOG_INFO] = RTE_LOG_INFO,
		[VU_LOG_DEBUG] = RTE_LOG_DEBUG,
	};
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	rte_log(rte_levels[level], vuser_logtype, "VUSER: %s\n", line);
}
