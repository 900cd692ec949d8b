/* SPDX-License-Identifier: BSD-3-Clause */
/* What the data path does with used entries a backend should never have written: kinds, counters, log. */
#ifndef VUSER_FAULT_H
#define VUSER_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Each kind is an xstat per queue (rx_q<N>_<name>, tx_q<N>_<name>, see vuser_xstats.c),
 * counted in the queue's `errors` too (ierrors/oerrors), and logged with its context the
 * first time on a queue and then at most every VUSER_FAULT_LOG_PERIOD_S seconds with the
 * count since. docs/reliability.md lists what each does to the queue.
 */
enum vuser_fault_kind {
	VUSER_FAULT_BAD_ID,	  /* id out of range, or of no buffer in flight */
	VUSER_FAULT_BAD_LEN,	  /* length larger than the buffer, or no frame after the header */
	VUSER_FAULT_DUPLICATE_ID, /* id completed twice (or, under IN_ORDER, not the one due) */
	VUSER_FAULT_BAD_NUM_BUFFERS, /* mergeable header: num_buffers 0 or more than a frame takes */
	VUSER_FAULT_BAD_WRAP,	     /* packed: a descriptor neither available nor used this lap */
	VUSER_FAULT_BAD_USED_IDX,    /* split: used->idx ahead by more than the buffers in flight */
	VUSER_FAULT_N
};

/* Counters (reset with the stats) live in struct vuser_queue_stats; this is the log state. */
struct vuser_fault_log {
	uint64_t last_tsc[VUSER_FAULT_N];   /* when the kind was last logged; 0: never */
	uint64_t last_count[VUSER_FAULT_N]; /* its count then */
};

#define VUSER_FAULT_LOG_PERIOD_S 10

const char *vuser_fault_name(enum vuser_fault_kind kind);

/* Kinds an Rx / Tx queue can see, in xstats order. */
extern const enum vuser_fault_kind vuser_rx_fault_kinds[];
extern const unsigned int vuser_nb_rx_fault_kinds;
extern const enum vuser_fault_kind vuser_tx_fault_kinds[];
extern const unsigned int vuser_nb_tx_fault_kinds;

struct vuser_rxq;
struct vuser_txq;
struct vuser_port;

/*
 * Count a fault seen at ring position `pos` (split: used index; packed: slot) with the id
 * and length the backend wrote (or, for BAD_NUM_BUFFERS, num_buffers in `len`), and log it.
 * Out of line and cold: the bursts call it only on an unlikely branch. A fault that leaves
 * the ring's state unknown (BAD_WRAP, BAD_USED_IDX, and any id fault on a packed Tx ring,
 * whose position then cannot be trusted) stops the queue: its bursts return 0 until the
 * port is stopped and started again, the port reports its link down, and an LSC event is
 * delivered from EAL's interrupt thread.
 */
void vuser_rxq_fault(struct vuser_rxq *rxq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		     uint32_t len);
void vuser_txq_fault(struct vuser_txq *txq, enum vuser_fault_kind kind, uint32_t pos, uint32_t id,
		     uint32_t len);

/* Is any queue of the port stopped by a fault? (control path) */
bool vuser_port_queue_stopped(const struct vuser_port *port);
/* Cancel a pending fault notification before the port goes away. */
void vuser_fault_cancel(struct vuser_port *port);

#endif /* VUSER_FAULT_H */
