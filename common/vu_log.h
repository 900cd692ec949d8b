/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging hook of libvirtio_user: the embedding application (the PMD) routes lines to its log. */
#ifndef VU_LOG_H
#define VU_LOG_H

#include <stdarg.h>

enum vu_log_level {
	VU_LOG_ERR = 1,
	VU_LOG_WARNING,
	VU_LOG_NOTICE,
	VU_LOG_INFO,
	VU_LOG_DEBUG,
};

typedef void (*vu_log_fn)(enum vu_log_level level, const char *fmt, va_list ap);

/* Replace the log sink (NULL restores the default: stderr, NOTICE and above). */
void vu_log_set_handler(vu_log_fn fn);

void vu_log(enum vu_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define VU_ERR(...) vu_log(VU_LOG_ERR, __VA_ARGS__)
#define VU_WARN(...) vu_log(VU_LOG_WARNING, __VA_ARGS__)
#define VU_INFO(...) vu_log(VU_LOG_INFO, __VA_ARGS__)
#define VU_DEBUG(...) vu_log(VU_LOG_DEBUG, __VA_ARGS__)

#endif /* VU_LOG_H */
