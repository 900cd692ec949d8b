/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vubackend extended statistics: net_vhost's per-ring names and meanings, then ours. */
#include "vubackend.h"

/* A counter lib/vhost has that cannot move here (libvub keeps no IOTLB hit count and has
 * no asynchronous copies): read as 0, as net_vhost's read without async channels. */
#define VUBACKEND_XSTAT_NEVER SIZE_MAX
/* The ring's IOTLB misses, which libvub counts (vub_dev_iotlb_stats). */
#define VUBACKEND_XSTAT_IOTLB_MISSES (SIZE_MAX - 1)

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
	{ "iotlb_misses", VUBACKEND_XSTAT_IOTLB_MISSES },
	{ "inflight_submitted", VUBACKEND_XSTAT_NEVER },
	{ "inflight_completed", VUBACKEND_XSTAT_NEVER },
};

/* Ours, after every one of net_vhost's (docs/backend.md): each Tx queue's share of
 * oerrors, frames dropped because the frontend could not take them. */
static const struct vubackend_xstat_def vubackend_txq_extra_xstats[] = {
	{ "errors", VUBACKEND_STAT(errors) },
};

/* Ours, last and with iommu-support=1 only: IOTLB mode's counters over every ring. */
static const char *const vubackend_iotlb_xstats[] = { "iotlb_misses", "iotlb_denied" };

/* Where a walk writes: names, values, both or neither (counting only). */
struct vubackend_xstats_out {
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *values;
	unsigned int k;
};

static uint64_t
vubackend_iotlb_count(const struct vubackend_port *port, uint16_t vring, bool denied)
{
	uint64_t misses = 0, refused = 0;

	if (port->dev)
		vub_dev_iotlb_stats(port->dev, vring, &misses, &refused);
	return denied ? refused : misses;
}

/* One queue's counters of a table. A queue not set up reads 0. Rx queue q takes the
 * frontend's vring 2q + 1, Tx queue q fills its vring 2q. */
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
		if (q && defs[i].offset == VUBACKEND_XSTAT_IOTLB_MISSES)
			v = vubackend_iotlb_count(q->port, 2 * qid + (dir[0] == 'r'), false);
		else if (q && defs[i].offset != VUBACKEND_XSTAT_NEVER)
			memcpy(&v, (const uint8_t *)&q->stats + defs[i].offset, sizeof(v));
		o->values[o->k] = (struct rte_eth_xstat){ .id = o->k, .value = v };
	}
}

static void
vubackend_xstats_iotlb(struct vubackend_xstats_out *o, const struct vubackend_port *port)
{
	for (unsigned int i = 0; i < RTE_DIM(vubackend_iotlb_xstats); i++, o->k++) {
		uint64_t v = 0;

		if (o->names)
			snprintf(o->names[o->k].name, RTE_ETH_XSTATS_NAME_SIZE, "%s",
				 vubackend_iotlb_xstats[i]);
		if (!o->values)
			continue;
		for (uint16_t r = 0; r < 2 * port->args.queues; r++)
			v += vubackend_iotlb_count(port, r, i == 1);
		o->values[o->k] = (struct rte_eth_xstat){ .id = o->k, .value = v };
	}
}

static const struct vubackend_port *
vubackend_port_of(const struct rte_eth_dev_data *data)
{
	return data->dev_private;
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
	if (vubackend_port_of(data)->args.iommu)
		vubackend_xstats_iotlb(o, vubackend_port_of(data));
	return o->k;
}

static unsigned int
vubackend_xstats_count(const struct rte_eth_dev_data *data)
{
	return (data->nb_rx_queues + data->nb_tx_queues) * RTE_DIM(vubackend_queue_xstats) +
		data->nb_tx_queues * RTE_DIM(vubackend_txq_extra_xstats) +
		(vubackend_port_of(data)->args.iommu ? RTE_DIM(vubackend_iotlb_xstats) : 0);
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
