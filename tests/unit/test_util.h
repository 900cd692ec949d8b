/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the unit tests: fd counting, a monotonic clock, log capture, temp dirs. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of open fds of this process (entries of /proc/self/fd, minus the one listing it). */
int tu_count_fds(void);

int64_t tu_now_ms(void);

/* Route libvirtio_user's log to a buffer (printed only with VUSER_UT_VERBOSE set). */
void tu_log_capture(void);
/* Forget captured lines. */
void tu_log_reset(void);
/* Number of error lines since the last reset, and the last one ("" if none). */
unsigned int tu_log_errors(void);
const char *tu_log_last_error(void);
/* Whether a line of any level since the last reset contains needle. */
bool tu_log_contains(const char *needle);
/* Count the lines of any level containing needle from now on (up to 4 needles at once;
 * tu_log_reset forgets them), and how many came. */
void tu_log_watch(const char *needle);
unsigned int tu_log_watched(const char *needle);

/* Create a fresh private directory under $TMPDIR or /tmp, its path in buf.
 * Returns buf, or NULL on failure. */
const char *tu_mkdtemp(char *buf, size_t len);

/* Create an fd-backed memory region of len bytes (memfd); returns the fd or -1. */
int tu_memfd(size_t len);

/* Identity of the file behind fd, to compare an fd sent with the one received. */
int tu_fd_ino(int fd, uint64_t *dev, uint64_t *ino);

#endif /* TEST_UTIL_H */
