/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vuser PMD private state shared by the ethdev ops, the glue and the Rx/Tx paths. */
#ifndef VUSER_H
#define VUSER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <ethdev_driver.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include "vu_device.h"
#include "vu_log.h"
#include "vuser_devargs.h"

extern int vuser_logtype;

#define VUSER_LOG(level, port, fmt, ...) \
	rte_log(RTE_LOG_##level, vuser_logtype, "VUSER: %s: " fmt "\n", (port)->name, ##__VA_ARGS__)

/* What a frame adds to the MTU: Ethernet header, CRC and two VLAN tags (QinQ). */
#define VUSER_ETH_OVERHEAD (RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN)

/* Features the driver implements; the device may offer more. */
#define VUSER_DRIVER_FEATURES                                                               \
	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_NET_F_MAC) | VU_BIT(VU_NET_F_STATUS) |          \
	 VU_BIT(VU_NET_F_CTRL_VQ) | VU_BIT(VU_NET_F_CTRL_RX) | VU_BIT(VU_NET_F_CTRL_VLAN) | \
	 VU_BIT(VU_NET_F_CTRL_MAC_ADDR) | VU_BIT(VU_NET_F_MQ))

/* The receive filter as the Rx path sees it, published with a sequence count so that
 * the control path can change it while bursts run (even: stable, odd: being written). */
struct vuser_filter_pub {
	uint32_t seq;
	struct vu_rx_filter filter;
};

/* The port's own address plus the MAC table the device filters on. */
#define VUSER_MAX_MAC_ADDRS (1 + VU_MAC_TABLE_MAX)

struct vuser_port {
	char name[RTE_DEV_NAME_MAX_LEN];
	struct vuser_devargs args;
	struct vu_device *dev;
	struct rte_eth_dev_data *data;
	uint64_t features; /* negotiated with the device at start */
	/* What the device offers and the largest MTU it takes, as the primary last read
	 * them: secondary processes read these copies, since `dev` points into the
	 * primary's own heap. */
	uint64_t offered;
	uint32_t max_mtu;
	bool started;
	bool ring_size_logged; /* the ring size is said once per port (vuser_queue.c) */
	struct vuser_filter_pub filter;
	/* Serializes the device's control path: the application's calls, the connection
	 * events of EAL's interrupt thread and EAL's memory events. Only the glue takes it,
	 * once per call into the device; the data path never does. */
	pthread_mutex_t lock;
	struct rte_intr_handle *lsc_intr; /* the device's event fd, in EAL's interrupt thread */
};

/*
 * What a secondary process keeps of a port for itself (eth_dev->process_private; NULL in
 * the primary): its copies of the queues' kick eventfds, which the primary hands over at
 * attach, and the bursts it picked for the features the primary negotiated.
 */
struct vuser_proc {
	uint64_t features; /* the bursts below are for these */
	eth_rx_burst_t rx_burst;
	eth_tx_burst_t tx_burst;
	uint16_t nb_kick_fds; /* by virtqueue index: rx of pair i is 2i, tx 2i + 1 */
	int kick_fds[];
};

static inline void
vuser_lock(struct vuser_port *port)
{
	pthread_mutex_lock(&port->lock);
}

static inline void
vuser_unlock(struct vuser_port *port)
{
	pthread_mutex_unlock(&port->lock);
}

static inline struct vuser_port *
vuser_port_of(const struct rte_eth_dev *eth_dev)
{
	return eth_dev->data->dev_private;
}

/* vuser_glue.c: the ethdev view mapped onto the device API. */
int vuser_glue_create(struct vuser_port *port);
void vuser_glue_destroy(struct vuser_port *port);
/* Port start (vuser_ethdev.c): negotiate, set up each ring, then DRIVER_OK; *step names
 * what failed. Stop resets the device. */
int vuser_glue_negotiate(struct vuser_port *port, const char **step);
/* zone: the ring's memzone, which IOTLB mode lets the backend reach. */
int vuser_glue_setup_queue(struct vuser_port *port, uint32_t vq_index, uint16_t size,
			   const struct rte_memzone *zone, const struct vu_vring_addr *addr);
int vuser_glue_driver_ok(struct vuser_port *port, const char **step);
void vuser_glue_stop(struct vuser_port *port);
/* The device's link: up from DRIVER_OK while a backend has the rings. */
bool vuser_glue_link_up(struct vuser_port *port);
uint64_t vuser_glue_features(const struct vuser_port *port);
/* IOTLB misses the device refused the backend (iotlb=1). */
uint64_t vuser_glue_iotlb_refused(const struct vuser_port *port);
void vuser_glue_get_mac(const struct vuser_port *port, struct rte_ether_addr *mac);
void vuser_glue_notify(struct vuser_port *port, uint32_t vq_index);
int vuser_glue_kick_fd(const struct vuser_port *port, uint32_t vq_index);
int vuser_glue_call_fd(const struct vuser_port *port, uint32_t vq_index);
/* The device's connection events (vu_device_event_fd, -1: none) and their handling;
 * *link_changed: the link of a started port changed. */
int vuser_glue_event_fd(const struct vuser_port *port);
int vuser_glue_handle_event(struct vuser_port *port, bool *link_changed);
void vuser_glue_install_log(void);
/* Control queue: 0, -ENOTSUP when the feature is not negotiated, -EIO when refused. */
int vuser_glue_ctrl(struct vuser_port *port, unsigned int feature, uint8_t cls, uint8_t cmd,
		    const void *data, uint32_t len);
int vuser_glue_set_mac_table(struct vuser_port *port);
/* Negotiated (has) or offered by the device (offers). */
bool vuser_glue_has(const struct vuser_port *port, unsigned int feature);
bool vuser_glue_offers(const struct vuser_port *port, unsigned int feature);
/* The largest MTU the device takes, and the MTU for it (0 or -errno, logged). */
uint32_t vuser_glue_max_mtu(const struct vuser_port *port);
int vuser_glue_set_mtu(struct vuser_port *port, uint16_t mtu);
void vuser_glue_offload_capa(const struct vuser_port *port, uint64_t *rx, uint64_t *tx);
const char *vuser_glue_lro_refusal(const struct vuser_port *port);

/* vuser_secondary.c: the port seen from secondary processes, and the primary's answers
 * to them. */
struct rte_vdev_device;
int vuser_secondary_serve(void);
void vuser_secondary_unserve(void);
int vuser_secondary_probe(struct rte_vdev_device *vdev);
void vuser_secondary_ops_init(const struct eth_dev_ops *primary);

/* vuser_xstats.c */
int vuser_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xstats, unsigned int n);
int vuser_xstats_get_names(struct rte_eth_dev *eth_dev, struct rte_eth_xstat_name *names,
			   unsigned int n);
int vuser_xstats_reset(struct rte_eth_dev *eth_dev);

/* vuser_rxmode.c: fills the receive-mode ops of the ethdev ops table. */
void vuser_rxmode_ops(struct eth_dev_ops *ops);

/* vuser_intr.c: link-state interrupts (server mode, reconnect) and Rx queue interrupts. */
int vuser_intr_init(struct rte_eth_dev *eth_dev);
void vuser_intr_fini(struct rte_eth_dev *eth_dev);
int vuser_intr_rxq_setup(struct rte_eth_dev *eth_dev);
int vuser_rx_queue_intr_enable(struct rte_eth_dev *eth_dev, uint16_t queue_id);
int vuser_rx_queue_intr_disable(struct rte_eth_dev *eth_dev, uint16_t queue_id);

/* vuser_memory.c: EAL memory as the device's regions. */
struct vuser_memory_want {
	bool need_fds;	 /* only segments with a file (the backend maps them by fd) */
	bool locked;	 /* the caller holds EAL's memory hotplug lock (memory events) */
	uint32_t max;	 /* regions the device takes */
	uintptr_t skip;	 /* segments in [skip, skip + skip_len) are left out: memory */
	size_t skip_len; /* a FREE event is about to give back (0: none) */
	bool slots;	 /* the backend takes regions one by one (for the error line) */
};

/* Returns 0 or -errno (logged). */
int vuser_memory_table(const struct vuser_port *port, const struct vuser_memory_want *want,
		       struct vu_mem_table *mem);

/* vuser_log.c */
void vuser_log_sink(enum vu_log_level level, const char *fmt, va_list ap);

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
void vuser_txq_set_fast_free(struct vuser_txq *txq, bool on);
void vuser_rxq_set_vlan_strip(struct vuser_rxq *rxq, bool on);
void vuser_rxq_stop(struct vuser_rxq *rxq);
void vuser_txq_stop(struct vuser_txq *txq);
struct vu_vring_addr vuser_rxq_ring_addr(const struct vuser_rxq *rxq);
struct vu_vring_addr vuser_txq_ring_addr(const struct vuser_txq *txq);
uint16_t vuser_queue_ring_size(const struct vuser_port *port);
uint16_t vuser_queue_desc_max(const struct vuser_port *port);
struct rte_mempool *vuser_rxq_mempool(const struct vuser_rxq *rxq);
void vuser_select_bursts(struct rte_eth_dev *eth_dev);
void vuser_pick_bursts(const struct vuser_port *port, eth_rx_burst_t *rx, eth_tx_burst_t *tx,
		       const char **vec_refusal, const char **packed_isa);
uint16_t vuser_tx_prepare(void *queue, struct rte_mbuf **pkts, uint16_t nb_pkts);
/* vuser_rx.c: eth_dev_ops.get_monitor_addr (power management's monitor mode). */
int vuser_rx_monitor_addr(void *queue, struct rte_power_monitor_cond *pmc);
void vuser_queue_stats(const struct rte_eth_dev_data *data, struct rte_eth_stats *stats);
void vuser_queue_stats_reset(struct rte_eth_dev_data *data);

#endif /* VUSER_H */
