/* SPDX-License-Identifier: BSD-3-Clause */
/* write() of a binary linked with -Wl,--wrap=write: IOTLB messages to the fake vDPA fd kept. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fake_kernel.h"

ssize_t __real_write(int fd, const void *buf, size_t count);
ssize_t __wrap_write(int fd, const void *buf, size_t count);

/* The vDPA fd stands on FK_NODE (/dev/null), which takes any write: a write of exactly a
 * struct vhost_msg_v2 of type VHOST_IOTLB_MSG_V2 is the frontend's IOTLB message. Kicks
 * (8-byte eventfd writes) and everything else go to the real write(). */
ssize_t
__wrap_write(int fd, const void *buf, size_t count)
{
	const struct vhost_msg_v2 *msg = buf;

	if (count != sizeof(*msg) || msg->type != VHOST_IOTLB_MSG_V2)
		return __real_write(fd, buf, count);
	if (fk.vdpa.write_errno) {
		errno = fk.vdpa.write_errno;
		return -1;
	}
	if (fk.vdpa.niotlb < FK_MAX_IOTLB)
		fk.vdpa.iotlb[fk.vdpa.niotlb++] = *msg;
	return (ssize_t)count;
}
