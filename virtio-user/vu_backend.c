/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend selection: which vhost frontend serves a device path. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "vu_backend.h"

/* Where the kernel lists each character device driver's major number. */
#define VU_PROC_DEVICES "/proc/devices"
/* vhost_vdpa.c registers its region under this name (alloc_chrdev_region). */
#define VU_VHOST_VDPA_CHRDEV "vhost-vdpa"

int
vu_char_major(const char *proc_devices, const char *driver)
{
	FILE *f = fopen(proc_devices, "re");
	char line[128], name[64];
	bool chars = false;
	int major = -1, m;

	if (!f)
		return -1;
	/* "Character devices:" then "<major> <name>" lines, until "Block devices:". */
	while (major < 0 && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Character devices:", 18) == 0)
			chars = true;
		else if (strncmp(line, "Block devices:", 14) == 0)
			chars = false;
		else if (chars && sscanf(line, "%d %63s", &m, name) == 2 &&
			 strcmp(name, driver) == 0)
			major = m;
	}
	fclose(f);
	return major;
}

/*
 * Decided by what the path is, never by its name, as DPDK's virtio_user does: a character
 * device whose major is vhost-vdpa's is a vDPA device, any other one a vhost-kernel node;
 * anything else (a socket, nothing yet) is vhost-user, whose connect or listen then says
 * what is wrong with the path. Server mode listens on a UNIX socket, which only
 * vhost-user does.
 */
const struct vu_backend_ops *
vu_backend_ops_for_stat(const struct stat *st, const char *proc_devices, bool server)
{
	if (server || !S_ISCHR(st->st_mode))
		return &vu_vhost_user_ops;
	if ((int)major(st->st_rdev) == vu_char_major(proc_devices, VU_VHOST_VDPA_CHRDEV))
		return &vu_vhost_vdpa_ops;
	return &vu_vhost_kernel_ops;
}

const struct vu_backend_ops *
vu_backend_ops_for_path(const char *path, bool server)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return &vu_vhost_user_ops;
	return vu_backend_ops_for_stat(&st, VU_PROC_DEVICES, server);
}
