/* SPDX-License-Identifier: BSD-3-Clause */
/* The device tests' fixture: a device over the fake backend ops, its memory, steps to DRIVER_OK. */
#ifndef DEVICE_FIXTURE_H
#define DEVICE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "vu_device.h"

#define S_ACK VU_STATUS_ACKNOWLEDGE
#define S_DRV (VU_STATUS_ACKNOWLEDGE | VU_STATUS_DRIVER)
#define S_FOK (S_DRV | VU_STATUS_FEATURES_OK)
#define S_DOK (S_FOK | VU_STATUS_DRIVER_OK)

#define BACKEND_FEATURES                                                               \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MRG_RXBUF) | \
	 VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(30))
#define DRIVER_FEATURES                                                          \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_CSUM) | VU_BIT(VU_NET_F_MAC) | \
	 VU_BIT(VU_NET_F_STATUS))

struct ctx {
	struct vu_device *dev;
	struct vu_mem_table mem;
	int memfd;
	int fds_before;
};

/* Per test (cmocka setup/teardown): the fake backend offers BACKEND_FEATURES and one
 * pair, the log is captured, and a 1 MiB memfd region waits in c->mem. */
int device_setup(void **state);
/* The same with the backend offering `features` and `pairs` pairs. */
int device_setup_features(void **state, uint64_t features, uint16_t pairs);
int device_teardown(void **state);

/* A device "ut0" of `pairs` pairs over the fake backend, in c->dev. */
int create(struct ctx *c, uint16_t pairs);
/* The same with the MAC the user set (devargs mac=), NULL for none. */
int create_with_mac(struct ctx *c, uint16_t pairs, const uint8_t *mac);

/* ACKNOWLEDGE, DRIVER, the driver's features, FEATURES_OK: each must succeed. */
void features_ok(struct vu_device *dev, uint64_t features);

/* Ring addresses of queue q inside the region of device_setup. */
struct vu_vring_addr queue_addr(uint32_t q);

/* Memory set, queues 0 to n - 1 set up with `size` entries each (features accepted). */
void set_up_queues(struct ctx *c, uint32_t n, uint16_t size);

/* Driver features accepted, memory set, every queue set up with size 256 (q0) or 512. */
void make_ready(struct ctx *c);

/* A 16-bit field of the device's config space; the read must succeed. */
uint16_t config_u16(const struct vu_device *dev, size_t offset);
#define config_status(dev) config_u16(dev, offsetof(struct vu_net_config, status))
#define config_mtu(dev) config_u16(dev, offsetof(struct vu_net_config, mtu))

/* Fail unless the last error line logged contains what. */
void assert_error_mentions(const char *what);

#endif /* DEVICE_FIXTURE_H */
