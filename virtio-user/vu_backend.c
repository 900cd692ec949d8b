/* Backend selection: which vhost frontend serves a device path. */
#include <string.h>
#include <sys/stat.h>

#include "vu_backend.h"

const struct vu_backend_ops *
vu_backend_ops_for_path(const char *path)
{
	const char *base = strrchr(path, '/');
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISCHR(st.st_mode) ? &vu_vhost_kernel_ops : &vu_vhost_user_ops;
	base = base ? base + 1 : path;
	return strncmp(base, "vhost-net", strlen("vhost-net")) == 0 ? &vu_vhost_kernel_ops :
								      &vu_vhost_user_ops;
}
