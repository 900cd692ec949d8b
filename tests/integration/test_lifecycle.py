# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: port lifecycle in one process, against DPDK's net_vhost.

One interactive frontend testpmd per group, driven for many cycles; after each cycle the
test reads what the process holds:

    fds        /proc/<pid>/fd entries                      must not change
    threads    /proc/<pid>/task entries                    must not change
    heap       EAL malloc heap (telemetry /eal/heap_info,0): Alloc_count (rings,
               queues, memzones)                           must not change
               Alloc_size                                  within HEAP_BYTES_TOLERANCE,
                                                           no trend
    mbufs      mbufs of the pool in use after `port stop` (testpmd dump_mempool:
               size - cached - in the common pool)         must not change
    rss        RssAnon of /proc/<pid>/status               see RSS_TOLERANCE_KB

Tolerances.  fds, threads, heap allocations and mbufs are exact counts: equal after the
first and the last cycle.  The heap's allocated bytes include the alignment padding of
each element, which depends on where an aligned memzone lands: when queues are set up
again in another order (reconfig_queues) the total moves back and forth by tens of bytes
(seen: +-64) with the same allocations; a growing buffer would show as a trend, so the
bytes must stay within HEAP_BYTES_TOLERANCE and grow by less than HEAP_SLOPE_BYTES per
cycle.  RSS is read as its anonymous part (RssAnon), the memory malloc grows: the rest of
VmRSS is file pages, the binaries' code and data, which the kernel counts once touched
(the first traffic on a data path maps its burst functions' pages: +64 kB at the 10th of
the attach/detach cycles, the first packed ring without IN_ORDER), and shared memory,
EAL's, whose allocations the heap check counts exactly (its pages are counted as memzones
land on addresses not touched before: +124 kB over the first 14 attach/detach cycles,
with the heap's allocations and bytes flat).  The driver maps no memory of its own (no
mmap in drivers/ or virtio-user/), so what it could leak outside the EAL heap is malloc
memory, which RssAnon counts.  RSS is not exact: glibc's allocator keeps freed memory and
touches new pages as its arenas move, and the kernel counts a page once it is touched, so
a leak shows only once it has touched a new page.  The end must be within RSS_TOLERANCE_KB
(64 pages) of the first cycle, and the least-squares slope of RSS over all cycles must
stay under RSS_SLOPE_KB per cycle: a leak of a page (4 KiB) per cycle fails both, a
one-time step of a few pages fails neither.  Leaks smaller than about RSS_SLOPE_KB per
cycle in glibc memory are below what RSS can show in 100 cycles (the EAL heap check sees
every rte_malloc/memzone leak exactly).  Before the first sample each group exchanges
traffic once (warm_up): the first telemetry /ethdev/stats answers grow the telemetry
thread's malloc arena by ~350 kB once (seen with DPDK's own driver as well), and
testpmd's first `start tx_first` makes one EAL heap allocation; neither belongs to the
driver.

Groups:
    cycles_split    split ring (DPDK's defaults in_order=1, mrg_rxbuf=1): 100 x
                    `port stop 0` / `port start 0`; link up after each; every 10th cycle
                    an exact-count loopback (backend tx_first -> frontend io -> backend)
                    and net_vhost asked for the same features at every start
    cycles_packed   the same with packed_vq=1,in_order=0,mrg_rxbuf=0
    reconfig_rings  queue_size=1024: 100 x stop / `port config all rxd N` + `txd N` / start,
                    N rotating through 9 sizes (odd ones too); the Rx ring keeps
                    min(N, queue_size) mbufs posted (docs/user-guide.md), traffic every
                    10th cycle
    reconfig_queues queues=4,cq=1: 100 x stop / `port config all rxq K` + `txq K` / start,
                    K in 4, 1, 2; every 10th cycle the frontend sends a burst on each of
                    its K queues: backend q_ipackets == [32]*K + [0]*(4-K)
                    (fails as NOT LANDED while multi-queue has not)
    two_ports       --vdev net_vuser0 (split) and --vdev net_vuser1 (packed) against one
                    backend with net_vhost0 and net_vhost1: exact traffic on both ports
                    and across them (io forward pairs port 0 and 1), 10 stop/start cycles
                    of port 1, then `port close` of both: no ports left, the backend sees
                    both connections go (link down), no eventfd left in the frontend
    attach_detach   a frontend with no port: 20 x `port attach net_vuser0,...` (queue_size
                    and ring layout changing each time) / start / traffic every 5th /
                    stop / `port close 0` / `device detach net_vuser0` (the closed port
                    has no id left for `port detach`): after each detach the process
                    holds exactly the fds and threads it had before the first attach;
                    every 20 cycles alike (exact counts, RSS as above)

VUSER_FRONTEND=dpdk runs the same with DPDK's own net_virtio_user (checks the harness;
DPDK's driver keeps Rx mbufs posted across `port stop` and sizes its rings its own way,
so the mbuf and nb_desc checks are vuser's contract, not DPDK's).
Logs: results/integration-lifecycle/.

Each case is a pytest test named 'group/case' (docs/testing.md):

    python3 -m pytest tests/integration/test_lifecycle.py -k 'cycles_split/'
"""

import os
import re

import pytest

from dpdkapp import settle_all
from pairs import (
    BURST, LINK_TIMEOUT, PKT_LEN, Group, backend_features, check_both, check_driver,
    check_queues, group_params)

import dpdkapp

CYCLES = 100
EXCHANGE_EVERY = 10
# mbufs in use are read after `port stop` of cycles 1, 10, 19, ... 100: a multiple of
# the rotations below, so each read follows the same configuration as the first
MBUF_EVERY = 9
RSS_TOLERANCE_KB = 256          # 64 pages
RSS_SLOPE_KB = 1.0              # per cycle
HEAP_BYTES_TOLERANCE = 4096     # alignment padding of ring memzones (see docstring)
HEAP_SLOPE_BYTES = 16           # per cycle
MBUFS = 4096

# Under the sanitizer build (make test-asan preloads libasan through VUSER_APP_PRELOAD)
# ASan's quarantine holds freed malloc memory back, by design up to 256 MB, so RSS climbs
# with every free and says nothing about leaks. These groups measure RSS, so their apps
# run with the quarantine off: every other ASan check (overflows, double and invalid
# frees) stays on, and use-after-free is what the rest of the suite runs with it for.
# Even then ASan's allocator hands out fresh chunk addresses for a while (and maps their
# shadow) where glibc reuses freed ones: seen +4.7 kB per cycle over 20 attach/detach
# cycles with every exact count flat. The RSS bounds are wider there; fds, threads, EAL
# heap allocations and mbufs stay exact.
UNDER_ASAN = "libasan" in os.environ.get("VUSER_APP_PRELOAD", "")
if UNDER_ASAN:
    os.environ["ASAN_OPTIONS"] = ":".join(
        [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o] +
        ["quarantine_size_mb=0", "thread_local_quarantine_size_kb=0"])
    RSS_TOLERANCE_KB = 512
    RSS_SLOPE_KB = 8.0

SPLIT = dict(packed_vq=0, in_order=1, mrg_rxbuf=1)
PACKED = dict(packed_vq=1, in_order=0, mrg_rxbuf=0)

# nb_desc rotation of reconfig_rings: 9 values, so that cycle 1 and cycle 100 use the same
# (the frontend starts with the last one, the configuration before each mbuf read)
RING_SIZES = (256, 128, 512, 1024, 200, 1000, 333, 777, 160)
QUEUE_SIZE = 1024
# queue pairs rotation of reconfig_queues: 3 values (cycle 1 and 100 alike; the frontend
# starts with the last one)
QUEUE_COUNTS = (4, 1, 2)
MAX_QUEUES = 4
ATTACH_CYCLES = 20
ATTACH_LAYOUTS = ((256, SPLIT), (512, PACKED), (128, dict(packed_vq=1, in_order=1, mrg_rxbuf=1)),
                  (1024, dict(packed_vq=0, in_order=0, mrg_rxbuf=0)))


# --------------------------------------------------------------------------
# resource tracking


def sample(app):
    r = dpdkapp.proc_resources(app.pid)
    heap = app.query("/eal/heap_info,0") or {}
    return {"fds": r["fds"], "threads": r["threads"], "anon_kb": r["anon_kb"],
            "heap_allocs": heap.get("Alloc_count"), "heap_bytes": heap.get("Alloc_size"),
            "fd_kinds": r["fd_kinds"]}


def slope(points):
    """Least-squares slope of [(x, y)]."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class Tracker:
    """Samples of one process by cycle; check() compares the first and the
    last sample (exact counts) and the RSS trend."""

    def __init__(self, env, app):
        self.env, self.app = env, app
        self.samples = []          # (cycle, sample)
        self.mbufs = []            # (cycle, in use after stop)

    def take(self, cycle):
        s = sample(self.app)
        self.samples.append((cycle, s))
        return s

    def mbufs_after_stop(self, cycle):
        usage = self.app.mempool_usage()
        self.mbufs.append((cycle, usage))
        return usage

    def check(self, exact=("fds", "threads", "heap_allocs")):
        (c0, first), (c1, last) = self.samples[0], self.samples[-1]
        rss = [(c, s["anon_kb"]) for c, s in self.samples]
        hb = [(c, s["heap_bytes"]) for c, s in self.samples]
        rss_k, hb_k = slope(rss), slope(hb)
        summary = ("cycle %d -> %d: fds %d -> %d, threads %d -> %d, heap allocs %s -> %s "
                   "(%s -> %s bytes, slope %.1f B/cycle), rss (anon) %d -> %d kB (slope %.2f "
                   "kB/cycle, min %d, max %d)"
                   % (c0, c1, first["fds"], last["fds"], first["threads"], last["threads"],
                      first["heap_allocs"], last["heap_allocs"], first["heap_bytes"],
                      last["heap_bytes"], hb_k, first["anon_kb"], last["anon_kb"], rss_k,
                      min(r for _, r in rss), max(r for _, r in rss)))
        if self.mbufs:
            summary += ", mbufs in use after stop %s" % sorted(
                {str(u) for _, u in self.mbufs})
        bad = []
        for key in exact:
            if first[key] != last[key]:
                bad.append("%s %s after cycle %d, %s after cycle %d"
                           % (key, first[key], c0, last[key], c1))
        if first["fd_kinds"] != last["fd_kinds"]:
            diff = {kind: (first["fd_kinds"].get(kind, 0), last["fd_kinds"].get(kind, 0))
                    for kind in set(first["fd_kinds"]) | set(last["fd_kinds"])
                    if first["fd_kinds"].get(kind, 0) != last["fd_kinds"].get(kind, 0)}
            bad.append("fds by kind (first, last): %s" % diff)
        if abs(last["heap_bytes"] - first["heap_bytes"]) > HEAP_BYTES_TOLERANCE:
            bad.append("EAL heap %d bytes allocated after cycle %d, %d after cycle %d "
                       "(tolerance %d)" % (first["heap_bytes"], c0, last["heap_bytes"], c1,
                                          HEAP_BYTES_TOLERANCE))
        if hb_k > HEAP_SLOPE_BYTES:
            bad.append("EAL heap grows %.1f bytes per cycle (limit %d)" % (hb_k, HEAP_SLOPE_BYTES))
        if abs(last["anon_kb"] - first["anon_kb"]) > RSS_TOLERANCE_KB:
            bad.append("RSS %d kB after cycle %d, %d kB after cycle %d (tolerance %d kB)"
                       % (first["anon_kb"], c0, last["anon_kb"], c1, RSS_TOLERANCE_KB))
        if rss_k > RSS_SLOPE_KB:
            bad.append("RSS grows %.2f kB per cycle (limit %.1f)" % (rss_k, RSS_SLOPE_KB))
        if self.mbufs:
            m0 = self.mbufs[0][1]
            grew = [(c, u) for c, u in self.mbufs if u != m0]
            if grew:
                bad.append("mbufs in use after port stop: %s at cycle %d, then %s"
                           % (m0, self.mbufs[0][0], grew[:5]))
        assert not bad, "leak across cycles: %s [%s]" % ("; ".join(bad), summary)
        return summary


# --------------------------------------------------------------------------
# exchanges


def settle_ports(be, b0, bkey, fe, f0, fkey, n, ports):
    """Deltas {port: delta} of both sides once backend ``bkey`` and frontend
    ``fkey`` have grown by n on every port and stopped moving."""
    specs = [(be, p, b0[p], bkey, n) for p in ports] + [(fe, p, f0[p], fkey, n) for p in ports]
    d = settle_all(specs)
    return dict(zip(ports, d[:len(ports)])), dict(zip(ports, d[len(ports):]))


def loopback(be, fe, bursts=1, ports=(0,)):
    """Backend tx_first (rxonly) -> frontend io forward -> backend, exact."""
    n = bursts * BURST
    b0 = {p: be.stats(p) for p in ports}
    f0 = {p: fe.stats(p) for p in ports}
    fe.run("set fwd io")
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        b, f = settle_ports(be, b0, "ipackets", fe, f0, "opackets", n, ports)
    finally:
        be.run("stop")
        fe.run("stop")
        fe.run("set fwd rxonly")
    byt = n * PKT_LEN
    for p in ports:
        try:
            check_both(b[p], dict(opackets=n, ipackets=n, obytes=byt, ibytes=byt),
                       f[p], dict(ipackets=n, opackets=n, ibytes=byt, obytes=byt))
        except AssertionError as e:
            raise AssertionError("port %d: %s" % (p, e))


def frontend_tx(be, fe, bursts=1, ports=(0,), nq=1, max_q=1):
    n = bursts * BURST
    b0 = {p: be.stats(p) for p in ports}
    f0 = {p: fe.stats(p) for p in ports}
    be.run("start")
    try:
        fe.run("start tx_first %d" % bursts)
        b, f = settle_ports(be, b0, "ipackets", fe, f0, "opackets", n * nq, ports)
    finally:
        fe.run("stop")
        be.run("stop")
    for p in ports:
        try:
            check_both(b[p], dict(ipackets=n * nq, ibytes=n * nq * PKT_LEN, opackets=0),
                       f[p], dict(opackets=n * nq, obytes=n * nq * PKT_LEN, ipackets=0))
            if max_q > 1:
                check_queues("backend", b[p], "q_ipackets", [n] * nq + [0] * (max_q - nq))
        except AssertionError as e:
            raise AssertionError("port %d: %s" % (p, e))


def frontend_rx(be, fe, bursts=1, ports=(0,)):
    n = bursts * BURST
    b0 = {p: be.stats(p) for p in ports}
    f0 = {p: fe.stats(p) for p in ports}
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        b, f = settle_ports(be, b0, "opackets", fe, f0, "ipackets", n, ports)
    finally:
        be.run("stop")
        fe.run("stop")
    for p in ports:
        try:
            check_both(b[p], dict(opackets=n, obytes=n * PKT_LEN, ipackets=0),
                       f[p], dict(ipackets=n, ibytes=n * PKT_LEN, opackets=0))
        except AssertionError as e:
            raise AssertionError("port %d: %s" % (p, e))


def warm_up(be, fe, ports=(0,)):
    """One exchange each way before the first sample: testpmd's first
    `start tx_first` allocates once from the EAL heap, and the first
    telemetry /ethdev/stats answers grow the telemetry thread's malloc arena
    by ~350 kB once; neither may count as a leak of the first cycles."""
    loopback(be, fe, ports=ports)
    frontend_tx(be, fe, ports=ports)
    for _ in range(5):
        for p in ports:
            fe.stats(p)


def run_ok(app, line, fail_words=("Fail", "failed", "rror", "nvalid", "Please")):
    out = app.run(line)
    bad = [ln.strip() for ln in out.splitlines()[1:]
           if any(w in ln for w in fail_words) and "- ignore" not in ln]
    assert not bad, "%s: %r printed: %s" % (app.name, line, bad)
    return out


def link_up(app, port=0):
    try:
        app.wait_link_up(port, timeout=LINK_TIMEOUT)
    except dpdkapp.DpdkAppError as e:
        raise AssertionError(str(e))


# --------------------------------------------------------------------------
# groups


class Ctx:
    pass


def make_pair_setup(tag, vdev_args, fe_app_args=(), be_queues=1, be_app_args=()):
    def setup(env):
        c = Ctx()
        c.sock = env.sock("%s.sock" % tag)
        c.be = env.backend("backend", [c.sock], queues=be_queues, app_args=be_app_args,
                           mbufs=MBUFS)
        c.fe = env.frontend("frontend", [env.fe.vdev(path=c.sock, **vdev_args)],
                            app_args=fe_app_args, mbufs=MBUFS)
        link_up(c.be)
        link_up(c.fe)
        check_driver(env, c.fe)
        return c
    return setup


def case_stop_start(env, c):
    """100 x port stop/start: link up each time, exact loopback every 10th, no leak"""
    fe, be = c.fe, c.be
    tr = Tracker(env, fe)
    warm_up(be, fe)
    for cycle in range(1, CYCLES + 1):
        run_ok(fe, "port stop 0")
        if (cycle - 1) % MBUF_EVERY == 0:
            tr.mbufs_after_stop(cycle)
        run_ok(fe, "port start 0")
        link_up(fe)
        if cycle % EXCHANGE_EVERY == 0:
            try:
                loopback(be, fe)
            except AssertionError as e:
                raise AssertionError("cycle %d: %s" % (cycle, e))
        tr.take(cycle)
    # what net_vhost received: net_vuser hands the rings back at each stop and negotiates
    # again at each start, with the same bits
    feats = backend_features(be, c.sock)
    if env.fe.is_vuser:
        assert len(feats) == CYCLES + 1, "net_vhost got %d SET_FEATURES for %d starts" % (
            len(feats), CYCLES + 1)
    assert len(set(feats)) == 1, "features changed across restarts: %s" % (
        sorted("0x%x" % f for f in set(feats)))
    env.log(tr.check())


def case_reconfig_rings(env, c):
    """100 x stop / rxd+txd N / start: N buffers posted, exact traffic every 10th, no leak"""
    fe, be = c.fe, c.be
    tr = Tracker(env, fe)
    warm_up(be, fe)
    for cycle in range(1, CYCLES + 1):
        n = RING_SIZES[(cycle - 1) % len(RING_SIZES)]
        run_ok(fe, "port stop 0")
        if (cycle - 1) % MBUF_EVERY == 0:
            tr.mbufs_after_stop(cycle)
        run_ok(fe, "port config all rxd %d" % n)
        run_ok(fe, "port config all txd %d" % n)
        run_ok(fe, "port start 0")
        link_up(fe)
        if cycle == 1 or cycle % EXCHANGE_EVERY == 0:
            posted = sum(fe.mempool_usage().values())
            assert posted == min(n, QUEUE_SIZE), (
                "cycle %d: rxd=%d on a ring of %d keeps %d mbufs posted, expected %d"
                % (cycle, n, QUEUE_SIZE, posted, min(n, QUEUE_SIZE)))
        if cycle % EXCHANGE_EVERY == 0:
            try:
                loopback(be, fe)
                frontend_tx(be, fe)
            except AssertionError as e:
                raise AssertionError("cycle %d (rxd=txd=%d): %s" % (cycle, n, e))
        tr.take(cycle)
    env.log(tr.check())


def case_reconfig_queues(env, c):
    """100 x stop / rxq+txq K / start (K in 4,1,2): traffic on each queue every 10th"""
    fe, be = c.fe, c.be
    tr = Tracker(env, fe)
    frontend_tx(be, fe, nq=QUEUE_COUNTS[-1], max_q=MAX_QUEUES)     # warm-up
    for _ in range(5):
        fe.stats()
    for cycle in range(1, CYCLES + 1):
        k = QUEUE_COUNTS[(cycle - 1) % len(QUEUE_COUNTS)]
        run_ok(fe, "port stop 0")
        if (cycle - 1) % MBUF_EVERY == 0:
            tr.mbufs_after_stop(cycle)
        run_ok(fe, "port config all rxq %d" % k)
        run_ok(fe, "port config all txq %d" % k)
        run_ok(fe, "port start 0")
        link_up(fe)
        if cycle % EXCHANGE_EVERY == 0 or cycle <= len(QUEUE_COUNTS):
            try:
                frontend_tx(be, fe, nq=k, max_q=MAX_QUEUES)
            except AssertionError as e:
                raise AssertionError("cycle %d (%d queue pairs): %s" % (cycle, k, e))
        tr.take(cycle)
    env.log(tr.check())


def case_clean_exit(env, c):
    """both apps quit with exit code 0"""
    env.stop_checked()


# ---- two ports


def two_ports_setup(env):
    c = Ctx()
    socks = [env.sock("two0.sock"), env.sock("two1.sock")]
    c.be = env.backend("backend", socks, mbufs=MBUFS)
    c.fe = env.frontend("frontend",
                        [env.fe.vdev(0, own_name=True, path=socks[0], **SPLIT),
                         env.fe.vdev(1, own_name=True, path=socks[1], **PACKED)],
                        mbufs=MBUFS)
    for p in (0, 1):
        link_up(c.be, p)
        link_up(c.fe, p)
        check_driver(env, c.fe, p)
    return c


def case_two_ports_traffic(env, c):
    """two vuser ports: exact Tx, Rx and cross-port forwarding (port 0 <-> port 1)"""
    frontend_tx(c.be, c.fe, bursts=2, ports=(0, 1))
    frontend_rx(c.be, c.fe, bursts=2, ports=(0, 1))
    # io forward pairs the frontend's ports: what port 0 gets leaves by port 1 and back
    loopback(c.be, c.fe, bursts=2, ports=(0, 1))


def case_two_ports_restart_one(env, c):
    """10 x stop/start of port 1 only: port 0 stays up, both move exact traffic"""
    for cycle in range(1, 11):
        run_ok(c.fe, "port stop 1")
        st = c.fe.link_status(0).get("status")
        assert st == "UP", "cycle %d: port 0 is %s while port 1 is stopped" % (cycle, st)
        run_ok(c.fe, "port start 1")
        link_up(c.fe, 1)
        if cycle % 5 == 0:
            loopback(c.be, c.fe, ports=(0, 1))


def case_two_ports_close(env, c):
    """port close of both: no port left, backend sees both go, no eventfd left"""
    fe, be = c.fe, c.be
    before = dpdkapp.proc_resources(fe.pid)
    run_ok(fe, "port stop all")
    for p in (0, 1):
        out = run_ok(fe, "port close %d" % p)
        assert re.search(r"Port %d is closed" % p, out), "port close %d: %s" % (p, out.strip())
    ports = fe.ports()
    assert ports == [], "ports left after closing both: %s" % ports
    for p in (0, 1):
        dpdkapp.wait_until(lambda: (be.link_status(p) or {}).get("status") == "DOWN",
                           LINK_TIMEOUT, what="backend port %d link down after the "
                           "frontend closed its port" % p)
    after = dpdkapp.proc_resources(fe.pid)
    env.log("frontend fds %s -> %s" % (before["fd_kinds"], after["fd_kinds"]))
    ev = after["fd_kinds"].get("anon_inode:[eventfd]", 0)
    assert ev == 0, "%d eventfds left after both ports closed (were %d)" % (
        ev, before["fd_kinds"].get("anon_inode:[eventfd]", 0))
    socks = before["fd_kinds"].get("socket", 0) - after["fd_kinds"].get("socket", 0)
    assert socks >= 2, "only %d sockets closed with the two ports (%s -> %s)" % (
        socks, before["fd_kinds"], after["fd_kinds"])
    env.stop_checked()


# ---- attach / detach


def attach_setup(env):
    c = Ctx()
    c.sock = env.sock("attach.sock")
    c.be = env.backend("backend", [c.sock], mbufs=MBUFS)
    c.fe = env.frontend("frontend", [], mbufs=MBUFS, expect_ports=0)
    return c


def case_attach_detach(env, c):
    """20 x attach (queue_size and layout vary) / start / stop / close / detach: no leak"""
    fe, be = c.fe, c.be
    fe.query("/ethdev/list")                 # the telemetry connection counts in the baseline
    base = sample(fe)
    tr = Tracker(env, fe)
    for cycle in range(1, ATTACH_CYCLES + 1):
        qsize, layout = ATTACH_LAYOUTS[(cycle - 1) % len(ATTACH_LAYOUTS)]
        vdev = env.fe.vdev(0, own_name=True, path=c.sock, queue_size=qsize, **layout)
        out = run_ok(fe, "port attach %s" % vdev)
        assert re.search(r"Port 0 is attached", out), "cycle %d: attach: %s" % (
            cycle, out.strip())
        run_ok(fe, "port start 0")
        link_up(fe)
        link_up(be)
        if cycle == 1:
            warm_up(be, fe)
        if cycle % 5 == 0 or cycle == 1:
            try:
                loopback(be, fe)
            except AssertionError as e:
                raise AssertionError("cycle %d (%s): %s" % (cycle, vdev, e))
        run_ok(fe, "port stop 0")
        out = run_ok(fe, "port close 0")
        assert "Port 0 is closed" in out, "cycle %d: close: %s" % (cycle, out.strip())
        # the closed port has no id any more: detach the device by name
        name = vdev.split(",", 1)[0]
        out = run_ok(fe, "device detach %s" % name)
        assert re.search(r"is detached", out), "cycle %d: detach: %s" % (cycle, out.strip())
        assert fe.ports() == [], "cycle %d: ports left after detach: %s" % (cycle, fe.ports())
        s = tr.take(cycle)
        if cycle == 1:
            diff = [k for k in ("fds", "threads", "fd_kinds") if s[k] != base[k]]
            assert not diff, ("after the first attach/close/detach the process holds more "
                              "than before it: %s" % {k: (base[k], s[k]) for k in diff})
    env.log(tr.check())


def build_groups():
    return [
        Group("cycles_split", make_pair_setup("cycles_split", SPLIT),
              [("stop_start_100", case_stop_start), ("clean_exit", case_clean_exit)],
              timeout=420),
        Group("cycles_packed", make_pair_setup("cycles_packed", PACKED),
              [("stop_start_100", case_stop_start), ("clean_exit", case_clean_exit)],
              timeout=420),
        Group("reconfig_rings",
              make_pair_setup("reconfig_rings", dict(queue_size=QUEUE_SIZE, **SPLIT),
                              fe_app_args=["--rxd=%d" % RING_SIZES[-1],
                                           "--txd=%d" % RING_SIZES[-1]]),
              [("rxd_txd_100", case_reconfig_rings), ("clean_exit", case_clean_exit)],
              timeout=420),
        Group("reconfig_queues",
              make_pair_setup("reconfig_queues", dict(queues=MAX_QUEUES, cq=1, **SPLIT),
                              fe_app_args=["--rxq=%d" % QUEUE_COUNTS[-1],
                                           "--txq=%d" % QUEUE_COUNTS[-1]],
                              be_queues=MAX_QUEUES,
                              be_app_args=["--rxq=%d" % MAX_QUEUES, "--txq=%d" % MAX_QUEUES]),
              [("rxq_txq_100", case_reconfig_queues), ("clean_exit", case_clean_exit)],
              timeout=420),
        Group("two_ports", two_ports_setup,
              [("traffic", case_two_ports_traffic),
               ("restart_one", case_two_ports_restart_one),
               ("close", case_two_ports_close)], timeout=180),
        Group("attach_detach", attach_setup,
              [("cycles_20", case_attach_detach), ("clean_exit", case_clean_exit)],
              timeout=420),
    ]


GROUPS = build_groups()


@pytest.mark.parametrize("group,case", **group_params(GROUPS))
def test_lifecycle(group_runner, group, case):
    group_runner.run(group, case)
