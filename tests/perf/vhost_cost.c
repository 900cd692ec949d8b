/* SPDX-License-Identifier: BSD-3-Clause */
/* LD_PRELOAD probe for a net_vhost backend: how busy it is and what each packet costs it. */
/*
 * The benchmark's rates say which frontend driver is faster, not why. In the loopback and
 * frontend-Tx cells the backend (DPDK's vhost library in testpmd) is often the slower side,
 * and what a frontend driver changes there is how many cycles the backend spends per
 * packet on its rings and buffers. Preloaded into the backend's testpmd, this wraps
 * rte_vhost_dequeue_burst and rte_vhost_enqueue_burst, times every call with the TSC and,
 * at exit, prints to stderr one line:
 *
 *   VHOST_COST span C cycles (S s); dequeue: empty N (P % of span, C cycles/call), busy N
 *   (P %, K pkts/call, C cycles/pkt); enqueue: N calls (P %, K pkts/call, C cycles/pkt)
 *
 * The span runs from the first call that moved packets (a dequeue that returned some, or
 * an enqueue that took some) to the last one, so that the seconds before and after the
 * traffic (when every poll is empty) are left out. A txonly backend (the frontend-Rx cells)
 * only enqueues: its line has no dequeues, and its enqueue share says how much of its time
 * the vhost library's half of the work takes.
 * Cycles are TSC cycles (a constant rate); with VHOST_COST_TSC_HZ set to that rate (the
 * kernel logs it: `dmesg | grep tsc`) the span is given in seconds too. Each call's cost
 * includes the two TSC reads around it (a few dozen cycles).
 *
 * usage: LD_PRELOAD=build/tests/perf/libvhost_cost.so dpdk-testpmd ... --vdev net_vhost0,...
 * (single-threaded forwarding on one lcore, as the benchmark runs it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

struct rte_mbuf;
struct rte_mempool;

typedef uint16_t (*enqueue_fn)(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count);
typedef uint16_t (*dequeue_fn)(int vid, uint16_t queue_id, struct rte_mempool *pool,
			       struct rte_mbuf **pkts, uint16_t count);

struct call_stats {
	uint64_t calls;
	uint64_t cycles;
	uint64_t pkts;
};

static struct call_stats deq_empty, deq_busy, enq;
static uint64_t first_busy, last_busy;

/* The net_vhost PMD is loaded by EAL with dlopen, so librte_vhost is not in the scope
 * RTLD_NEXT searches from a preloaded object: look it up by name. */
static void *
vhost_symbol(const char *name)
{
	void *lib = dlopen("librte_vhost.so.23", RTLD_NOW | RTLD_NOLOAD);
	void *sym = lib ? dlsym(lib, name) : NULL;

	if (!sym)
		sym = dlsym(RTLD_NEXT, name);
	if (!sym) {
		fprintf(stderr, "vhost_cost: %s not found: %s\n", name, dlerror());
		abort(); /* a diagnostic tool in a test harness, not a driver */
	}
	return sym;
}

uint16_t
rte_vhost_dequeue_burst(int vid, uint16_t queue_id, struct rte_mempool *pool,
			struct rte_mbuf **pkts, uint16_t count)
{
	static dequeue_fn real;
	uint64_t start, end;
	uint16_t n;

	if (!real)
		real = (dequeue_fn)vhost_symbol("rte_vhost_dequeue_burst");
	start = __rdtsc();
	n = real(vid, queue_id, pool, pkts, count);
	end = __rdtsc();
	if (n == 0) {
		if (first_busy) {
			deq_empty.calls++;
			deq_empty.cycles += end - start;
		}
		return n;
	}
	if (!first_busy)
		first_busy = start;
	last_busy = end;
	deq_busy.calls++;
	deq_busy.cycles += end - start;
	deq_busy.pkts += n;
	return n;
}

uint16_t
rte_vhost_enqueue_burst(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count)
{
	static enqueue_fn real;
	uint64_t start, end;
	uint16_t n;

	if (!real)
		real = (enqueue_fn)vhost_symbol("rte_vhost_enqueue_burst");
	start = __rdtsc();
	n = real(vid, queue_id, pkts, count);
	end = __rdtsc();
	if (n != 0) {
		if (!first_busy)
			first_busy = start;
		last_busy = end;
	}
	if (first_busy) {
		enq.calls++;
		enq.cycles += end - start;
		enq.pkts += n;
	}
	return n;
}

static double
share(const struct call_stats *s, double span)
{
	return span > 0 ? 100.0 * (double)s->cycles / span : 0;
}

static double
per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

__attribute__((destructor)) static void
vhost_cost_report(void)
{
	double span = (double)(last_busy - first_busy);
	const char *hz_env = getenv("VHOST_COST_TSC_HZ");
	double hz = hz_env ? strtod(hz_env, NULL) : 0;

	if (!deq_busy.calls && !enq.pkts)
		return;
	fprintf(stderr, "VHOST_COST span %.0f cycles", span);
	if (hz > 0)
		fprintf(stderr, " (%.2f s)", span / hz);
	fprintf(stderr,
		"; dequeue: empty %lu (%.1f %% of span, %.0f cycles/call), busy %lu (%.1f %%, "
		"%.1f pkts/call, %.1f cycles/pkt); enqueue: %lu calls (%.1f %%, %.1f pkts/call, "
		"%.1f cycles/pkt)\n",
		(unsigned long)deq_empty.calls, share(&deq_empty, span),
		per(deq_empty.cycles, deq_empty.calls), (unsigned long)deq_busy.calls,
		share(&deq_busy, span), per(deq_busy.pkts, deq_busy.calls),
		per(deq_busy.cycles, deq_busy.pkts), (unsigned long)enq.calls, share(&enq, span),
		per(enq.pkts, enq.calls), per(enq.cycles, enq.pkts));
}
