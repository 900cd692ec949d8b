/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend extended statistics: net_vhost's per-ring names and meanings, then ours. */
#include "vubackend.h"

/* A counter lib/vhost has that cannot move here (libvub has no IOTLB and no asynchronous
 * copies): read as 0, as net_vhost's read without iommu-support and async channels. */
#define VUBACKEND_XSTAT_NEVER SIZE_MAX

struct vubackend_xstat_def {
	const char *name;
	size_t offset; /* of a uint64_t in struct vubackend_stats, or VUBACKEND_XSTAT_NEVER */
};

#define VUBACKEND_STAT(field) offsetof(struct vubackend_stats, field)

/* DPDK 22.11's lib/vhost per ring (vhost_vq_stat_strings), which net_vhost shows for each
 * Rx queue as rx_q<N>_<name> and then each Tx queue as tx_q<N>_<name>: the same names in
 * the same order, so what reads a net_vhost port reads ours by name or by position. */
static const struct vubackend_xstat_def vubackend_queue_xstats[] = {
	{ "good_packets", VUBACKEND_STAT(packets) },
	{ "good_bytes", VUBACKEND_STAT(bytes) },
	{ "multicast_packets", VUBACKEND_STAT(multicast) },
	{ "broadcast_packets", VUBACKEND_STAT(broadcast) },
	{ "undersize_packets", VUBACKEND_STAT(size_bins[0]) },
	{ "size_64_packets", VUBACKEND_STAT(size_bins[1]) },
	{ "size_65_127_packets", VUBACKEND_STAT(size_bins[2]) },
	{ "size_128_255_packets", VUBACKEND_STAT(size_bins[3]) },
	{ "size_256_511_packets", VUBACKEND_STAT(size_bins[4]) },
	{ "size_512_1023_packets", VUBACKEND_STAT(size_bins[5]) },
	{ "size_1024_1518_packets", VUBACKEND_STAT(size_bins[6]) },
	{ "size_1519_max_packets", VUBACKEND_STAT(size_bins[7]) },
	{ "guest_notifications", VUBACKEND_STAT(notifications) },
	{ "iotlb_hits", VUBACKEND_XSTAT_NEVER },
	{ "iotlb_misses", VUBACKEND_XSTAT_NEVER },
	{ "inflight_submitted", VUBACKEND_XSTAT_NEVER },
	{ "inflight_completed", VUBACKEND_XSTAT_NEVER },
};

/* Ours, after every one of net_vhost's (docs/backend.md): each Tx queue's share of
 * oerrors, frames dropped because the frontend could not take them. */
static const struct vubackend_xstat_def vubackend_txq_extra_xstats[] = {
	{ "errors", VUBACKEND_STAT(errors) },
};

/* Where a walk writes: names, values, both or neither (counting only). */
struct vubackend_xstats_out {
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *values;
	unsigned int k;
};

/* One queue's counters of a table. A queue not set up reads 0. */
static void
vubackend_xstats_queue(struct vubackend_xstats_out *o, const char *dir, uint16_t qid,
		       const struct vubackend_queue *q, const struct vubackend_xstat_def *defs,
		       unsigned int ndefs)
{
	for (unsigned int i = 0; i < ndefs; i++, o->k++) {
		uint64_t v = 0;

		if (o->names)
			snprintf(o->names[o->k].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s", dir,
				 qid, defs[i].name);
		if (!o->values)
			continue;
		if (q && defs[i].offset != VUBACKEND_XSTAT_NEVER)
			memcpy(&v, (const uint8_t *)&q->stats + defs[i].offset, sizeof(v));
		o->values[o->k] = (struct rte_eth_xstat){ .id = o->k, .value = v };
	}
}

/* Every xstat in order; returns how many. */
static unsigned int
vubackend_xstats_walk(const struct rte_eth_dev_data *data, struct vubackend_xstats_out *o)
{
	for (uint16_t q = 0; q < data->nb_rx_queues; q++)
		vubackend_xstats_queue(o, "rx", q, data->rx_queues[q], vubackend_queue_xstats,
				       RTE_DIM(vubackend_queue_xstats));
	for (uint16_t q = 0; q < data->nb_tx_queues; q++)
		vubackend_xstats_queue(o, "tx", q, data->tx_queues[q], vubackend_queue_xstats,
				       RTE_DIM(vubackend_queue_xstats));
	for (uint16_t q = 0; q < data->nb_tx_queues; q++)
		vubackend_xstats_queue(o, "tx", q, data->tx_queues[q], vubackend_txq_extra_xstats,
				       RTE_DIM(vubackend_txq_extra_xstats));
	return o->k;
}

static unsigned int
vubackend_xstats_count(const struct rte_eth_dev_data *data)
{
	return (data->nb_rx_queues + data->nb_tx_queues) * RTE_DIM(vubackend_queue_xstats) +
		data->nb_tx_queues * RTE_DIM(vubackend_txq_extra_xstats);
}

/* Unlike net_vhost's, these read with or without a frontend: the counters belong to the
 * ethdev queues, not to the frontend's rings. */
int
vubackend_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xstats, unsigned int n)
{
	unsigned int count = vubackend_xstats_count(eth_dev->data);
	struct vubackend_xstats_out o = { .values = xstats };

	if (!xstats || n < count)
		return (int)count;
	return (int)vubackend_xstats_walk(eth_dev->data, &o);
}

int
vubackend_xstats_get_names(struct rte_eth_dev *eth_dev, struct rte_eth_xstat_name *names,
			   unsigned int n)
{
	unsigned int count = vubackend_xstats_count(eth_dev->data);
	struct vubackend_xstats_out o = { .names = names };

	if (!names || n < count)
		return (int)count;
	return (int)vubackend_xstats_walk(eth_dev->data, &o);
}
