/* SPDX-License-Identifier: BSD-3-Clause */
/* The libraries' log lines (vu_log.h) written to a PMD's rte_log type; both PMDs use it. */
#ifndef VU_RTE_LOG_H
#define VU_RTE_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_log.h>

#include "vu_log.h"

/* The longest line the libraries log; a longer one is cut, never overrun. */
#define VU_RTE_LOG_LINE_MAX 512

/* A PMD's vu_log_fn calls this with its own log type: common/ knows no DPDK, so the
 * mapping of its levels to EAL's lives here, once for every PMD. */
static inline void
vu_rte_log_line(int logtype, enum vu_log_level level, const char *fmt, va_list ap)
{
	static const uint32_t rte_levels[] = {
		[VU_LOG_ERR] = RTE_LOG_ERR,	  [VU_LOG_WARNING] = RTE_LOG_WARNING,
		[VU_LOG_NOTICE] = RTE_LOG_NOTICE, [VU_LOG_INFO] = RTE_LOG_INFO,
		[VU_LOG_DEBUG] = RTE_LOG_DEBUG,
	};
	char line[VU_RTE_LOG_LINE_MAX];

	vsnprintf(line, sizeof(line), fmt, ap);
	rte_log(rte_levels[level], logtype, "VUSER: %s\n", line);
}

#endif /* VU_RTE_LOG_H */
