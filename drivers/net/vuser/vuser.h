/* net_vuser PMD private state shared by the ethdev ops, the glue and the Rx/Tx paths. */
#ifndef VUSER_H
#define VUSER_H

#include <stdbool.h>
#include <stdint.h>

#include <ethdev_driver.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include "vu_device.h"
#include "vu_ring.h"
#include "vuser_devargs.h"

extern int vuser_logtype;

#define VUSER_LOG(level, port, fmt, ...) \
	rte_log(RTE_LOG_##level, vuser_logtype, "VUSER: %s: " fmt "\n", (port)->name, ##__VA_ARGS__)

/* Features the driver implements; the device may offer more. */
#define VUSER_DRIVER_FEATURES \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS))

struct vuser_port;

struct vuser_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors;
};

struct vuser_rxq {
	struct vu_split_ring ring;
	struct rte_mbuf **sw_ring; /* mbuf posted in each descriptor, by descriptor id */
	struct rte_mempool *mp;
	struct vuser_port *port;
	uint16_t nb_desc;          /* buffers kept posted */
	uint16_t hdr_size;
	uint16_t port_id;
	uint16_t queue_id;
	uint32_t vq_index;
	uint64_t nombuf;
	struct vuser_queue_stats stats;
	const struct rte_memzone *mz;
};

struct vuser_txq {
	struct vu_split_ring ring;
	struct rte_mbuf **sw_ring; /* mbuf of each in-flight chain, by head id */
	uint16_t *chain_tail;      /* last descriptor of each in-flight chain, by head id */
	uint16_t *chain_len;       /* descriptors of each in-flight chain, by head id */
	struct vu_net_hdr *hdrs;   /* a zeroed header slot per descriptor, in ring memory */
	struct vuser_port *port;
	uint16_t free_head;
	uint16_t num_free;
	uint16_t hdr_size;
	uint16_t queue_id;
	uint32_t vq_index;
	struct vuser_queue_stats stats;
	const struct rte_memzone *mz;
};

struct vuser_port {
	char name[RTE_DEV_NAME_MAX_LEN];
	struct vuser_devargs args;
	struct vu_device *dev;
	struct rte_eth_dev_data *data;
	uint64_t features; /* negotiated with the device at start */
	uint16_t hdr_size;
	bool started;
};

/* vuser_glue.c: the ethdev view mapped onto the device API. */
int vuser_glue_create(struct vuser_port *port);
void vuser_glue_destroy(struct vuser_port *port);
int vuser_glue_start(struct vuser_port *port);
void vuser_glue_stop(struct vuser_port *port);
bool vuser_glue_link_up(const struct vuser_port *port);
void vuser_glue_get_mac(const struct vuser_port *port, struct rte_ether_addr *mac);
void vuser_glue_notify(struct vuser_port *port, uint32_t vq_index);
void vuser_glue_install_log(void);

/* vuser_memory.c */
int vuser_memory_table(const struct vuser_port *port, struct vu_mem_table *mem);
int vuser_memory_watch(struct vuser_port *port);
void vuser_memory_unwatch(struct vuser_port *port);

/* vuser_rxtx.c */
int vuser_rxq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		    struct rte_mempool *mp, struct vuser_rxq **out);
int vuser_txq_alloc(struct vuser_port *port, uint16_t queue_id, uint16_t nb_desc, int socket,
		    struct vuser_txq **out);
void vuser_rxq_free(struct vuser_rxq *rxq);
void vuser_txq_free(struct vuser_txq *txq);
int vuser_rxq_start(struct vuser_rxq *rxq);
void vuser_txq_start(struct vuser_txq *txq);
void vuser_rxq_stop(struct vuser_rxq *rxq);
void vuser_txq_stop(struct vuser_txq *txq);
uint16_t vuser_recv_pkts(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t vuser_xmit_pkts(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);

#endif /* VUSER_H */
