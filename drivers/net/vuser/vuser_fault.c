/* SPDX-License-Identifier: BSD-3-Clause */
/* Data-path faults of a hostile or broken backend: counting, rate-limited logging, stopping a queue. */
#include <rte_alarm.h>
#include <rte_cycles.h>

#include "vuser_queue.h"

static const char *const vuser_fault_names[VUSER_FAULT_N] = {
	[VUSER_FAULT_BAD_ID] = "bad_id",
	[VUSER_FAULT_BAD_LEN] = "bad_len",
	[VUSER_FAULT_DUPLICATE_ID] = "duplicate_id",
	[VUSER_FAULT_BAD_NUM_BUFFERS] = "bad_num_buffers",
	[VUSER_FAULT_BAD_WRAP] = "bad_wrap",
	[VUSER_FAULT_BAD_USED_IDX] = "bad_used_idx",
};

/* What the backend did, for the log line. */
static const char *const vuser_fault_what[VUSER_FAULT_N] = {
	[VUSER_FAULT_BAD_ID] = "a buffer id that is out of range or of no buffer in flight",
	[VUSER_FAULT_BAD_LEN] = "a length the buffer cannot hold (or no frame after the header)",
	[VUSER_FAULT_DUPLICATE_ID] =
		"a buffer id it already completed (or, with IN_ORDER, not the one due)",
	[VUSER_FAULT_BAD_NUM_BUFFERS] = "a mergeable header with an impossible num_buffers",
	[VUSER_FAULT_BAD_WRAP] =
		"a descriptor whose AVAIL/USED bits match neither this lap nor an available one",
	[VUSER_FAULT_BAD_USED_IDX] = "a used index further ahead than the buffers in flight",
};

const enum vuser_fault_kind vuser_rx_fault_kinds[] = {
	VUSER_FAULT_BAD_ID,	     VUSER_FAULT_BAD_LEN,  VUSER_FAULT_DUPLICATE_ID,
	VUSER_FAULT_BAD_NUM_BUFFERS, VUSER_FAULT_BAD_WRAP, VUSER_FAULT_BAD_USED_IDX,
};
const unsigned int vuser_nb_rx_fault_kinds = RTE_DIM(vuser_rx_fault_kinds);

const enum vuser_fault_kind vuser_tx_fault_kinds[] = {
	VUSER_FAULT_BAD_ID,
	VUSER_FAULT_DUPLICATE_ID,
	VUSER_FAULT_BAD_WRAP,
	VUSER_FAULT_BAD_USED_IDX,
};
const unsigned int vuser_nb_tx_fault_kinds = RTE_DIM(vuser_tx_fault_kinds);

const char *
vuser_fault_name(enum vuser_fault_kind kind)
{
	return (unsigned int)kind < VUSER_FAULT_N ? vuser_fault_names[kind] : "unknown";
}

/* EAL's interrupt thread, after a queue stopped: the link reads down; tell the application. */
static void
vuser_fault_alarm(void *arg)
{
	struct vuser_port *port = arg;
	struct rte_eth_dev *eth_dev = &rte_eth_devices[port->data->port_id];

	if (eth_dev->data != port->data || !eth_dev->dev_ops)
		return;
	eth_dev->dev_ops->link_update(eth_dev, 0);
	if (eth_dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(eth_dev, RTE_ETH_EVENT_INTR_LSC, NULL);
}

void
vuser_fault_cancel(struct vuser_port *port)
{
	rte_eal_alarm_cancel(vuser_fault_alarm, port);
}

/* Should this occurrence be logged? The first one, then one every period. Returns how
 * many went unlogged before it (UINT64_MAX: none logged yet). */
static bool
vuser_fault_log_due(struct vuser_fault_log *log, enum vuser_fault_kind kind, uint64_t count,
		    uint64_t *suppressed)
{
	uint64_t now = rte_get_timer_cycles();
	uint64_t period = rte_get_timer_hz() * VUSER_FAULT_LOG_PERIOD_S;

	if (log->last_tsc[kind] != 0 && now - log->last_tsc[kind] < period)
		return false;
	*suppressed = log->last_tsc[kind] ? count - log->last_count[kind] - 1 : UINT64_MAX;
	log->last_tsc[kind] = now ? now : 1;
	log->last_count[kind] = count;
	return true;
}

static bool
vuser_fault_stops(enum vuser_fault_kind kind, bool tx, bool packed)
{
	if (kind == VUSER_FAULT_BAD_WRAP || kind == VUSER_FAULT_BAD_USED_IDX)
		return true;
	/* A packed Tx used descriptor says how far to skip only through its id. */
	return tx && packed && (kind == VUSER_FAULT_BAD_ID || kind == VUSER_FAULT_DUPLICATE_ID);
}

/* Where and what, as the backend wrote it. */
static void
vuser_fault_context(char *buf, size_t len, enum vuser_fault_kind kind, bool packed, uint32_t pos,
		    uint32_t id, uint32_t val)
{
	const char *ring = packed ? "packed ring slot" : "split ring used index";

	switch (kind) {
	case VUSER_FAULT_BAD_USED_IDX:
		snprintf(buf, len, "split ring: used->idx %u, the driver's next used index %u", id,
			 pos);
		break;
	case VUSER_FAULT_BAD_WRAP:
		snprintf(buf, len, "%s %u: id %u, AVAIL/USED bits 0x%x", ring, pos, id, val);
		break;
	case VUSER_FAULT_BAD_NUM_BUFFERS:
		snprintf(buf, len, "%s %u: id %u, num_buffers %u", ring, pos, id, val);
		break;
	default:
		snprintf(buf, len, "%s %u: id %u, len %u", ring, pos, id, val);
		break;
	}
}

static void
vuser_fault_report(struct vuser_port *port, const char *dir, uint16_t queue_id,
		   struct vuser_queue_stats *stats, struct vuser_fault_log *log, bool *halted,
		   enum vuser_fault_kind kind, uint32_t pos, uint32_t id, uint32_t len)
{
	bool packed = vu_ring_is_packed(port->features);
	bool stop = vuser_fault_stops(kind, dir[0] == 't', packed);
	uint64_t count = ++stats->faults[kind];
	uint64_t suppressed;
	char ctx[128];

	stats->errors++;
	vuser_fault_context(ctx, sizeof(ctx), kind, packed, pos, id, len);
	if (stop && !*halted) {
		*halted = true;
		VUSER_LOG(ERR, port,
			  "%s queue %u: the backend wrote %s (%s): the ring state is corrupt, the "
			  "queue is stopped and the link reported down until the port is stopped "
			  "and started again; counted in xstat %s_q%u_%s",
			  dir, queue_id, vuser_fault_what[kind], ctx, dir, queue_id,
			  vuser_fault_names[kind]);
		/* Tell the application from EAL's interrupt thread, not from this lcore. */
		if (rte_eal_alarm_set(1, vuser_fault_alarm, port) < 0)
			VUSER_LOG(ERR, port, "%s queue %u: cannot schedule the link-down event",
				  dir, queue_id);
		vuser_fault_log_due(log, kind, count, &suppressed);
		return;
	}
	if (!vuser_fault_log_due(log, kind, count, &suppressed))
		return;
	if (suppressed == UINT64_MAX)
		VUSER_LOG(ERR, port,
			  "%s queue %u: the backend wrote %s (%s); entry dropped, counted in xstat "
			  "%s_q%u_%s (logged again at most every %d s)",
			  dir, queue_id, vuser_fault_what[kind], ctx, dir, queue_id,
			  vuser_fault_names[kind], VUSER_FAULT_LOG_PERIOD_S);
	else
		VUSER_LOG(ERR, port,
			  "%s queue %u: %" PRIu64
			  " more %s since the last line; now %s (total %" PRIu64 ")",
			  dir, queue_id, suppressed, vuser_fault_names[kind], ctx, count);
}

void
vuser_rxq_fault(struct vuser_rxq *rxq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		uint32_t len)
{
	vuser_fault_report(rxq->port, "rx", rxq->queue_id, &rxq->stats, &rxq->fault_log,
			   &rxq->halted, kind, pos, id, len);
}

void
vuser_txq_fault(struct vuser_txq *txq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		uint32_t len)
{
	vuser_fault_report(txq->port, "tx", txq->queue_id, &txq->stats, &txq->fault_log,
			   &txq->halted, kind, pos, id, len);
}

bool
vuser_port_queue_stopped(const struct vuser_port *port)
{
	const struct rte_eth_dev_data *data = port->data;

	for (uint16_t i = 0; i < data->nb_rx_queues; i++) {
		const struct vuser_rxq *rxq = data->rx_queues[i];

		if (rxq && __atomic_load_n(&rxq->halted, __ATOMIC_RELAXED))
			return true;
	}
	for (uint16_t i = 0; i < data->nb_tx_queues; i++) {
		const struct vuser_txq *txq = data->tx_queues[i];

		if (txq && __atomic_load_n(&txq->halted, __ATOMIC_RELAXED))
			return true;
	}
	return false;
}
