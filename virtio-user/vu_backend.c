/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend selection: which vhost frontend serves a device path. */
#include <sys/stat.h>

#include "vu_backend.h"

/*
 * Decided by what the path is, never by its name, as DPDK's virtio_user does: a character
 * device is a vhost-kernel node; anything else (a socket, nothing yet) is vhost-user,
 * whose connect or listen then says what is wrong with the path. Server mode listens on a
 * UNIX socket, which only vhost-user does.
 */
const struct vu_backend_ops *
vu_backend_ops_for_path(const char *path, bool server)
{
	struct stat st;

	if (!server && stat(path, &st) == 0 && S_ISCHR(st.st_mode))
		return &vu_vhost_kernel_ops;
	return &vu_vhost_user_ops;
}
