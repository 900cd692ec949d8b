/* net_vuser PMD private state shared by the ethdev ops, the glue and the Rx/Tx paths. */
#ifndef VUSER_H
#define VUSER_H

#include <stdbool.h>
#include <stdint.h>

#include <ethdev_driver.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include "vu_device.h"
#include "vuser_devargs.h"

extern int vuser_logtype;

#define VUSER_LOG(level, port, fmt, ...) \
	rte_log(RTE_LOG_##level, vuser_logtype, "VUSER: %s: " fmt "\n", (port)->name, ##__VA_ARGS__)

/* Features the driver implements; the device may offer more. */
#define VUSER_DRIVER_FEATURES \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS))

struct vuser_port;

struct vuser_port {
	char name[RTE_DEV_NAME_MAX_LEN];
	struct vuser_devargs args;
	struct vu_device *dev;
	struct rte_eth_dev_data *data;
	uint64_t features; /* negotiated with the device at start */
	bool started;
};

/* vuser_glue.c: the ethdev view mapped onto the device API. */
int vuser_glue_create(struct vuser_port *port);
void vuser_glue_destroy(struct vuser_port *port);
int vuser_glue_start(struct vuser_port *port);
void vuser_glue_stop(struct vuser_port *port);
bool vuser_glue_link_up(const struct vuser_port *port);
uint64_t vuser_glue_features(const struct vuser_port *port);
void vuser_glue_get_mac(const struct vuser_port *port, struct rte_ether_addr *mac);
void vuser_glue_notify(struct vuser_port *port, uint32_t vq_index);
void vuser_glue_install_log(void);

/* vuser_memory.c */
int vuser_memory_table(const struct vuser_port *port, struct vu_mem_table *mem);
int vuser_memory_watch(struct vuser_port *port);
void vuser_memory_unwatch(struct vuser_port *port);

/* vuser_queue.c: queue memory and lifecycle; bursts are in vuser_{split,packed}_{rx,tx}.c. */
struct vuser_rxq;
struct vuser_txq;
int vuser_rxq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		    struct rte_mempool *mp, struct vuser_rxq **out);
int vuser_txq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		    struct vuser_txq **out);
void vuser_rxq_free(struct vuser_rxq *rxq);
void vuser_txq_free(struct vuser_txq *txq);
int vuser_rxq_start(struct vuser_rxq *rxq, uint64_t features);
void vuser_txq_start(struct vuser_txq *txq, uint64_t features);
void vuser_rxq_stop(struct vuser_rxq *rxq);
void vuser_txq_stop(struct vuser_txq *txq);
struct vu_vring_addr vuser_rxq_ring_addr(const struct vuser_rxq *rxq);
struct vu_vring_addr vuser_txq_ring_addr(const struct vuser_txq *txq);
uint16_t vuser_rxq_vq_index(const struct vuser_rxq *rxq);
uint16_t vuser_txq_vq_index(const struct vuser_txq *txq);
uint16_t vuser_queue_ring_size(const struct vuser_port *port);
void vuser_select_bursts(struct rte_eth_dev *eth_dev);
void vuser_queue_stats(const struct rte_eth_dev_data *data, struct rte_eth_stats *stats);
void vuser_queue_stats_reset(struct rte_eth_dev_data *data);

#endif /* VUSER_H */
