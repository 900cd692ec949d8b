/* Extended statistics per queue, named as DPDK's drivers name them (rx_q0_good_packets...). */
#include "vuser_queue.h"

struct vuser_xstat_def {
	const char *name;
	size_t offset; /* in struct vuser_queue_stats */
};

static const struct vuser_xstat_def vuser_queue_xstats[] = {
	{ "good_packets", offsetof(struct vuser_queue_stats, packets) },
	{ "good_bytes", offsetof(struct vuser_queue_stats, bytes) },
	{ "errors", offsetof(struct vuser_queue_stats, errors) },
	{ "undersize_packets", offsetof(struct vuser_queue_stats, size_bins[0]) },
	{ "size_64_packets", offsetof(struct vuser_queue_stats, size_bins[1]) },
	{ "size_65_127_packets", offsetof(struct vuser_queue_stats, size_bins[2]) },
	{ "size_128_255_packets", offsetof(struct vuser_queue_stats, size_bins[3]) },
	{ "size_256_511_packets", offsetof(struct vuser_queue_stats, size_bins[4]) },
	{ "size_512_1023_packets", offsetof(struct vuser_queue_stats, size_bins[5]) },
	{ "size_1024_1518_packets", offsetof(struct vuser_queue_stats, size_bins[6]) },
	{ "size_1519_max_packets", offsetof(struct vuser_queue_stats, size_bins[7]) },
};

/* Rx-only counters, kept outside struct vuser_queue_stats. */
enum { VUSER_RX_EXTRA_NOMBUF, VUSER_RX_EXTRA_FILTERED, VUSER_RX_EXTRA_N };
static const char *const vuser_rx_extra_names[VUSER_RX_EXTRA_N] = {
	[VUSER_RX_EXTRA_NOMBUF] = "mbuf_allocation_errors",
	[VUSER_RX_EXTRA_FILTERED] = "filtered_packets",
};

#define VUSER_NB_QUEUE_XSTATS RTE_DIM(vuser_queue_xstats)
#define VUSER_NB_RX_XSTATS (VUSER_NB_QUEUE_XSTATS + VUSER_RX_EXTRA_N)

/* Then, per queue, the faults of vuser_fault.h: rx_q0_bad_id, tx_q0_duplicate_id... */
static unsigned int
vuser_xstats_count(const struct rte_eth_dev *eth_dev)
{
	return eth_dev->data->nb_rx_queues * (VUSER_NB_RX_XSTATS + vuser_nb_rx_fault_kinds) +
	       eth_dev->data->nb_tx_queues * (VUSER_NB_QUEUE_XSTATS + vuser_nb_tx_fault_kinds);
}

static uint64_t
vuser_stat_at(const struct vuser_queue_stats *st, size_t offset)
{
	return *(const uint64_t *)((const uint8_t *)st + offset);
}

int
vuser_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xstats, unsigned int n)
{
	const struct rte_eth_dev_data *data = eth_dev->data;
	unsigned int count = vuser_xstats_count(eth_dev), k = 0;

	if (!xstats || n < count)
		return (int)count;
	for (uint16_t q = 0; q < data->nb_rx_queues; q++) {
		const struct vuser_rxq *rxq = data->rx_queues[q];
		uint64_t extra[VUSER_RX_EXTRA_N] = { 0 };

		if (rxq) {
			extra[VUSER_RX_EXTRA_NOMBUF] = rxq->nombuf;
			extra[VUSER_RX_EXTRA_FILTERED] = rxq->filtered;
		}
		for (unsigned int i = 0; i < VUSER_NB_QUEUE_XSTATS; i++, k++)
			xstats[k] = (struct rte_eth_xstat){
				.id = k,
				.value = rxq ? vuser_stat_at(&rxq->stats, vuser_queue_xstats[i].offset) : 0,
			};
		for (unsigned int i = 0; i < VUSER_RX_EXTRA_N; i++, k++)
			xstats[k] = (struct rte_eth_xstat){ .id = k, .value = extra[i] };
		for (unsigned int i = 0; i < vuser_nb_rx_fault_kinds; i++, k++)
			xstats[k] = (struct rte_eth_xstat){
				.id = k,
				.value = rxq ? rxq->stats.faults[vuser_rx_fault_kinds[i]] : 0,
			};
	}
	for (uint16_t q = 0; q < data->nb_tx_queues; q++) {
		const struct vuser_txq *txq = data->tx_queues[q];

		for (unsigned int i = 0; i < VUSER_NB_QUEUE_XSTATS; i++, k++)
			xstats[k] = (struct rte_eth_xstat){
				.id = k,
				.value = txq ? vuser_stat_at(&txq->stats, vuser_queue_xstats[i].offset) : 0,
			};
		for (unsigned int i = 0; i < vuser_nb_tx_fault_kinds; i++, k++)
			xstats[k] = (struct rte_eth_xstat){
				.id = k,
				.value = txq ? txq->stats.faults[vuser_tx_fault_kinds[i]] : 0,
			};
	}
	return (int)count;
}

int
vuser_xstats_get_names(struct rte_eth_dev *eth_dev, struct rte_eth_xstat_name *names,
		       unsigned int n)
{
	const struct rte_eth_dev_data *data = eth_dev->data;
	unsigned int count = vuser_xstats_count(eth_dev), k = 0;

	if (!names || n < count)
		return (int)count;
	for (uint16_t q = 0; q < data->nb_rx_queues; q++) {
		for (unsigned int i = 0; i < VUSER_NB_QUEUE_XSTATS; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "rx_q%u_%s", q,
				 vuser_queue_xstats[i].name);
		for (unsigned int i = 0; i < VUSER_RX_EXTRA_N; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "rx_q%u_%s", q,
				 vuser_rx_extra_names[i]);
		for (unsigned int i = 0; i < vuser_nb_rx_fault_kinds; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "rx_q%u_%s", q,
				 vuser_fault_name(vuser_rx_fault_kinds[i]));
	}
	for (uint16_t q = 0; q < data->nb_tx_queues; q++) {
		for (unsigned int i = 0; i < VUSER_NB_QUEUE_XSTATS; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "tx_q%u_%s", q,
				 vuser_queue_xstats[i].name);
		for (unsigned int i = 0; i < vuser_nb_tx_fault_kinds; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "tx_q%u_%s", q,
				 vuser_fault_name(vuser_tx_fault_kinds[i]));
	}
	return (int)count;
}

int
vuser_xstats_reset(struct rte_eth_dev *eth_dev)
{
	vuser_queue_stats_reset(eth_dev->data);
	return 0;
}
