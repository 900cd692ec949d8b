/* SPDX-License-Identifier: BSD-3-Clause */
/* An in-memory libvub transport for the fuzz targets: no sockets, regions on the heap. */
#ifndef FUZZ_VUB_TRANSPORT_H
#define FUZZ_VUB_TRANSPORT_H

#include <stdint.h>

#include "vub_transport.h"

/* The largest region the transport maps: the fuzz inputs' memory is a few pages. */
#define FVT_REGION_MAX (64u << 10)

struct fvt {
	struct vub_transport base;
	unsigned int replies;
	struct vu_vhost_msg last_reply;
};

/* A transport whose map_mem copies each region's file contents into a heap buffer of
 * exactly the region's size, so that a device access outside the memory table is an
 * ASan finding instead of a silent read of a neighbouring mapping. */
struct fvt *fvt_create(void);
/* A device of `pairs` queue pairs offering every header offload, connected. */
struct vub_dev *fvt_dev(uint16_t pairs);
/* Hand one message to the core as the AF_UNIX transport does: a drop resets the device
 * and lets the next frontend in. Returns what vub_dev_on_message returned. */
int fvt_deliver(struct vub_dev *dev, struct vu_vhost_msg *msg);
/* Build one request (flags: bit 0 NEED_REPLY, bit 1 REPLY, which a frontend must never
 * set) with fds (-1 entries skipped) and deliver it. */
int fvt_send(struct vub_dev *dev, uint32_t request, uint8_t flags, const void *payload,
	     uint32_t size, const int *fds, unsigned int nfds);
/* A memfd of len bytes filled from data (zero-padded), or -1. */
int fvt_memfd(const uint8_t *data, size_t data_len, size_t len);

/* The number of open fds now; after an input it must be the same again: an fd the core
 * kept after its device was destroyed aborts. */
int fvt_fd_mark(void);
void fvt_fd_check(int mark);

#endif /* FUZZ_VUB_TRANSPORT_H */
