/* SPDX-License-Identifier: BSD-3-Clause */
/* The control virtqueue of a vDPA net device, driven by the vhost-vdpa frontend. */
#ifndef VU_VDPA_CVQ_H
#define VU_VDPA_CVQ_H

#include <stdint.h>

#include "vu_backend.h"

struct vu_vdpa_cvq;

/* A split ring of size entries (a power of two) with its command buffers, in one shared
 * mapping the vDPA device reaches through the IOTLB, and a kick eventfd. */
int vu_vdpa_cvq_create(const char *name, uint16_t size, struct vu_vdpa_cvq **out);
void vu_vdpa_cvq_destroy(struct vu_vdpa_cvq *q);

/* The mapping to give the device (iova == address), and the ring's parts in it. */
void vu_vdpa_cvq_region(const struct vu_vdpa_cvq *q, uint64_t *addr, uint64_t *len);
struct vu_vring_addr vu_vdpa_cvq_ring(const struct vu_vdpa_cvq *q);
uint16_t vu_vdpa_cvq_size(const struct vu_vdpa_cvq *q);
int vu_vdpa_cvq_kick_fd(const struct vu_vdpa_cvq *q);

/* Empty the ring, as a device reset leaves it (avail and used at 0). */
void vu_vdpa_cvq_reset(struct vu_vdpa_cvq *q);

/* Send one command (spec 5.1.6.5: class, command, data; the device writes the ack) and
 * wait at most timeout_ms for the device to use it. 0 with *ack set, or -ETIMEDOUT,
 * -EIO (a used entry that is not ours), logged with the command. */
int vu_vdpa_cvq_command(struct vu_vdpa_cvq *q, uint8_t cls, uint8_t cmd, const void *data,
			uint16_t len, unsigned int timeout_ms, uint8_t *ack);

#endif /* VU_VDPA_CVQ_H */
