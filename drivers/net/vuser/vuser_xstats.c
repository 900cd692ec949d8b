/* SPDX-License-Identifier: BSD-3-Clause */
/* Extended statistics per queue: DPDK's virtio names and order first, then vuser's own. */
#include "vuser_queue.h"

struct vuser_xstat_def {
	const char *name;
	size_t offset; /* of a uint64_t counter in struct vuser_rxq or struct vuser_txq */
};

#define VUSER_RXQ(field) offsetof(struct vuser_rxq, field)
#define VUSER_TXQ(field) offsetof(struct vuser_txq, field)

#define VUSER_SIZE_XSTATS(Q)                                         \
	{ "undersize_packets", Q(stats.size_bins[0]) },              \
		{ "size_64_packets", Q(stats.size_bins[1]) },        \
		{ "size_65_127_packets", Q(stats.size_bins[2]) },    \
		{ "size_128_255_packets", Q(stats.size_bins[3]) },   \
		{ "size_256_511_packets", Q(stats.size_bins[4]) },   \
		{ "size_512_1023_packets", Q(stats.size_bins[5]) },  \
		{ "size_1024_1518_packets", Q(stats.size_bins[6]) }, \
	{                                                            \
		"size_1519_max_packets", Q(stats.size_bins[7])       \
	}

/* The names and order of DPDK 22.11's virtio driver (rte_virtio_rxq_stat_strings and
 * rte_virtio_txq_stat_strings), so that what reads a virtio_user port reads ours the same
 * way, by name or by position. Its Tx queues have no errors counter. */
static const struct vuser_xstat_def vuser_rxq_xstats[] = {
	{ "good_packets", VUSER_RXQ(stats.packets) },
	{ "good_bytes", VUSER_RXQ(stats.bytes) },
	{ "errors", VUSER_RXQ(stats.errors) },
	{ "multicast_packets", VUSER_RXQ(stats.multicast) },
	{ "broadcast_packets", VUSER_RXQ(stats.broadcast) },
	VUSER_SIZE_XSTATS(VUSER_RXQ),
};

static const struct vuser_xstat_def vuser_txq_xstats[] = {
	{ "good_packets", VUSER_TXQ(stats.packets) },
	{ "good_bytes", VUSER_TXQ(stats.bytes) },
	{ "multicast_packets", VUSER_TXQ(stats.multicast) },
	{ "broadcast_packets", VUSER_TXQ(stats.broadcast) },
	VUSER_SIZE_XSTATS(VUSER_TXQ),
};

/* vuser's own, after every one of DPDK's (docs/user-guide.md), each queue's followed by
 * its fault counters (vuser_fault.h): rx_q0_bad_id, tx_q0_duplicate_id... */
static const struct vuser_xstat_def vuser_rxq_extra_xstats[] = {
	{ "mbuf_allocation_errors", VUSER_RXQ(nombuf) },
	{ "filtered_packets", VUSER_RXQ(filtered) },
};

static const struct vuser_xstat_def vuser_txq_extra_xstats[] = {
	{ "errors", VUSER_TXQ(stats.errors) },
};

/* Where the walk writes: names, values, both or neither (counting only). */
struct vuser_xstats_out {
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *values;
	unsigned int k;
};

static void
vuser_xstat_put(struct vuser_xstats_out *o, const char *dir, uint16_t q, const char *name,
		const void *queue, size_t offset)
{
	if (o->names)
		snprintf(o->names[o->k].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s", dir, q, name);
	if (o->values) {
		uint64_t v = 0;

		if (queue)
			memcpy(&v, (const uint8_t *)queue + offset, sizeof(v));
		o->values[o->k] = (struct rte_eth_xstat){ .id = o->k, .value = v };
	}
	o->k++;
}

/* One queue's counters of a table, then (nkinds > 0) its fault counters. */
static void
vuser_xstats_queue(struct vuser_xstats_out *o, const char *dir, uint16_t q, const void *queue,
		   const struct vuser_xstat_def *defs, unsigned int ndefs, size_t stats_offset,
		   const enum vuser_fault_kind *kinds, unsigned int nkinds)
{
	for (unsigned int i = 0; i < ndefs; i++)
		vuser_xstat_put(o, dir, q, defs[i].name, queue, defs[i].offset);
	for (unsigned int i = 0; i < nkinds; i++)
		vuser_xstat_put(o, dir, q, vuser_fault_name(kinds[i]), queue,
				stats_offset + offsetof(struct vuser_queue_stats, faults) +
					sizeof(uint64_t) * kinds[i]);
}

/* Every xstat in order; returns how many. */
static unsigned int
vuser_xstats_walk(const struct rte_eth_dev_data *data, struct vuser_xstats_out *o)
{
	for (uint16_t q = 0; q < data->nb_rx_queues; q++)
		vuser_xstats_queue(o, "rx", q, data->rx_queues[q], vuser_rxq_xstats,
				   RTE_DIM(vuser_rxq_xstats), 0, NULL, 0);
	for (uint16_t q = 0; q < data->nb_tx_queues; q++)
		vuser_xstats_queue(o, "tx", q, data->tx_queues[q], vuser_txq_xstats,
				   RTE_DIM(vuser_txq_xstats), 0, NULL, 0);
	for (uint16_t q = 0; q < data->nb_rx_queues; q++)
		vuser_xstats_queue(o, "rx", q, data->rx_queues[q], vuser_rxq_extra_xstats,
				   RTE_DIM(vuser_rxq_extra_xstats), VUSER_RXQ(stats),
				   vuser_rx_fault_kinds, vuser_nb_rx_fault_kinds);
	for (uint16_t q = 0; q < data->nb_tx_queues; q++)
		vuser_xstats_queue(o, "tx", q, data->tx_queues[q], vuser_txq_extra_xstats,
				   RTE_DIM(vuser_txq_extra_xstats), VUSER_TXQ(stats),
				   vuser_tx_fault_kinds, vuser_nb_tx_fault_kinds);
	/* The port's own, last: IOTLB misses the device refused (iotlb=1 only). */
	if (((const struct vuser_port *)data->dev_private)->args.iotlb) {
		if (o->names)
			snprintf(o->names[o->k].name, RTE_ETH_XSTATS_NAME_SIZE, "iotlb_refused");
		if (o->values)
			o->values[o->k] = (struct rte_eth_xstat){
				.id = o->k,
				.value = vuser_glue_iotlb_refused(data->dev_private),
			};
		o->k++;
	}
	return o->k;
}

static unsigned int
vuser_xstats_count(const struct rte_eth_dev_data *data)
{
	struct vuser_xstats_out o = { .k = 0 };

	return vuser_xstats_walk(data, &o);
}

int
vuser_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xstats, unsigned int n)
{
	unsigned int count = vuser_xstats_count(eth_dev->data);
	struct vuser_xstats_out o = { .values = xstats };

	if (!xstats || n < count)
		return (int)count;
	return (int)vuser_xstats_walk(eth_dev->data, &o);
}

int
vuser_xstats_get_names(struct rte_eth_dev *eth_dev, struct rte_eth_xstat_name *names,
		       unsigned int n)
{
	unsigned int count = vuser_xstats_count(eth_dev->data);
	struct vuser_xstats_out o = { .names = names };

	if (!names || n < count)
		return (int)count;
	return (int)vuser_xstats_walk(eth_dev->data, &o);
}

int
vuser_xstats_reset(struct rte_eth_dev *eth_dev)
{
	vuser_queue_stats_reset(eth_dev->data);
	return 0;
}
