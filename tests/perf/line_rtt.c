/* SPDX-License-Identifier: BSD-3-Clause */
/* Cache-line round trip between two CPUs: how the benchmark sees the host's vCPU placement. */
/*
 * Two threads, pinned to the two CPUs given, pass a counter back and forth through one
 * cache line; the time per round trip is two transfers of that line between the CPUs'
 * caches, the cost that a poller pair sharing a ring pays per line. On a VM whose host
 * moves the vCPUs (this benchmark's machine: 65-85 ns for seconds, then 310-345 ns, with
 * no steal time), it tells which placement a measurement ran in.
 *
 * usage: line_rtt CPU_A CPU_B SECONDS
 * prints the median round trip in ns of the 1 ms slices measured, and exits 0.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_SLICES 100000

static _Alignas(64) _Atomic unsigned long shared_line;
static _Atomic int stop_peer;

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Answers every odd value with the next even one. */
static void *
peer(void *arg)
{
	if (pin(*(int *)arg) != 0)
		return (void *)1;
	while (!atomic_load_explicit(&stop_peer, memory_order_relaxed)) {
		unsigned long v = atomic_load_explicit(&shared_line, memory_order_acquire);

		if (v & 1)
			atomic_store_explicit(&shared_line, v + 1, memory_order_release);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static double slices[MAX_SLICES];
	int cpu_a, cpu_b, n = 0;
	double seconds, end;
	pthread_t t;
	void *peer_rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CPU_A CPU_B SECONDS\n", argv[0]);
		return 2;
	}
	cpu_a = atoi(argv[1]);
	cpu_b = atoi(argv[2]);
	seconds = atof(argv[3]);
	if (pin(cpu_a) != 0) {
		fprintf(stderr, "line_rtt: cannot run on CPU %d\n", cpu_a);
		return 1;
	}
	if (pthread_create(&t, NULL, peer, &cpu_b) != 0) {
		fprintf(stderr, "line_rtt: cannot start the peer thread\n");
		return 1;
	}
	end = now_s() + seconds;
	while (n < MAX_SLICES) {
		double start = now_s(), stop;
		unsigned long trips = 0;

		if (start >= end)
			break;
		do {
			for (int i = 0; i < 64; i++) {
				unsigned long v =
					atomic_load_explicit(&shared_line, memory_order_relaxed) +
					1;

				atomic_store_explicit(&shared_line, v, memory_order_release);
				while (atomic_load_explicit(&shared_line, memory_order_acquire) ==
				       v)
					;
			}
			trips += 64;
			stop = now_s();
		} while (stop - start < 1e-3);
		slices[n++] = (stop - start) * 1e9 / (double)trips;
	}
	atomic_store(&stop_peer, 1);
	pthread_join(t, &peer_rc);
	if (peer_rc != NULL) {
		fprintf(stderr, "line_rtt: cannot run on CPU %d\n", cpu_b);
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "line_rtt: no slice measured\n");
		return 1;
	}
	qsort(slices, (size_t)n, sizeof(slices[0]), cmp_double);
	printf("%.1f\n", slices[n / 2]);
	return 0;
}
