/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the unit tests: fd counting, a monotonic clock, log capture, temp dirs. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "vu_log.h"

int
tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream itself */
}

int64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char tu_last_error[1024];
static unsigned int tu_nerrors;
/* Every line since the last reset, newline-separated (the oldest kept when full). */
static char tu_lines[16384];
static size_t tu_lines_len;
#define TU_MAX_NEEDLES 4
static char tu_needle[TU_MAX_NEEDLES][256];
static unsigned int tu_nwatched[TU_MAX_NEEDLES];

static void
tu_log_handler(enum vu_log_level level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (tu_lines_len + strlen(line) + 2 < sizeof(tu_lines))
		tu_lines_len += (size_t)snprintf(tu_lines + tu_lines_len,
						 sizeof(tu_lines) - tu_lines_len, "%s\n", line);
	if (level == VU_LOG_ERR) {
		tu_nerrors++;
		snprintf(tu_last_error, sizeof(tu_last_error), "%s", line);
	}
	for (int i = 0; i < TU_MAX_NEEDLES; i++)
		if (tu_needle[i][0] && strstr(line, tu_needle[i]))
			tu_nwatched[i]++;
	if (getenv("VUSER_UT_VERBOSE"))
		fprintf(stderr, "vuser[%d]: %s\n", (int)level, line);
}

void
tu_log_capture(void)
{
	vu_log_set_handler(tu_log_handler);
	tu_log_reset();
}

void
tu_log_reset(void)
{
	tu_nerrors = 0;
	tu_last_error[0] = '\0';
	tu_lines_len = 0;
	tu_lines[0] = '\0';
	memset(tu_needle, 0, sizeof(tu_needle));
	memset(tu_nwatched, 0, sizeof(tu_nwatched));
}

void
tu_log_watch(const char *needle)
{
	for (int i = 0; i < TU_MAX_NEEDLES; i++) {
		if (tu_needle[i][0] && strcmp(tu_needle[i], needle) != 0)
			continue;
		snprintf(tu_needle[i], sizeof(tu_needle[i]), "%s", needle);
		tu_nwatched[i] = 0;
		return;
	}
}

unsigned int
tu_log_watched(const char *needle)
{
	for (int i = 0; i < TU_MAX_NEEDLES; i++)
		if (strcmp(tu_needle[i], needle) == 0)
			return tu_nwatched[i];
	return 0;
}

unsigned int
tu_log_errors(void)
{
	return tu_nerrors;
}

bool
tu_log_contains(const char *needle)
{
	return strstr(tu_lines, needle) != NULL;
}

const char *
tu_log_last_error(void)
{
	return tu_last_error;
}

const char *
tu_mkdtemp(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(buf, len, "%s/vuser-ut.XXXXXX", tmp) >= len)
		return NULL;
	return mkdtemp(buf);
}

int
tu_memfd(size_t len)
{
	int fd = memfd_create("vuser-ut", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
tu_fd_ino(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}
