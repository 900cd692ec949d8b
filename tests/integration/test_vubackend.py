# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests of net_vubackend, vuser's vhost-user backend PMD, against real frontends.

    backend   dpdk-testpmd -d <staged librte_net_vubackend.so>
                           --vdev net_vubackend0,iface=<sock>[,client=1]
    frontend  dpdk-testpmd --vdev net_virtio_user0,path=<sock>,...   (DPDK's driver)
          or  dpdk-testpmd -d <staged librte_net_vuser.so> --vdev net_vuser0,path=<sock>,...

Each frontend runs split and packed rings, each with mrg_rxbuf=1 and mrg_rxbuf=0
(in_order=0), and with in_order=1 (mrg_rxbuf=1). Per combination one pair runs, in turn:

    both_ways      frontend `start tx_first 4` -> backend rxonly: exactly 128 x 64 bytes;
                   backend `start tx_first 4` -> frontend rxonly: exactly 128 x 64 bytes
    loopback       backend tx_first -> frontend io forward -> backend: 128 each way
    big_to_backend frontend sends 2-segment 3000-byte frames (1500 + 1500): the backend
                   gets exactly 64 x 3000 bytes, each as a chain of mbufs
    big_to_frontend backend sends 2-segment 3000-byte frames: with mrg_rxbuf=1 the
                   frontend gets exactly 64 x 3000 bytes (each frame over two Rx
                   buffers); with mrg_rxbuf=0 no buffer holds one: the backend drops
                   exactly 64 (oerrors 64), the frontend gets none

And once per frontend:

    queues2        queues=2 on both sides, packed rings: each queue of each side carries
                   exactly 128 packets each way (the frontend enables pair 1 through its
                   control queue)
    server_restarts  backend server (split rings, in_order=1): the frontend quits and a
                   new one connects, 5 times: the backend resets and serves each, exact
                   counts both ways after each
    port_restarts  the frontend's `port stop 0` / `port start 0`, twice (split rings,
                   in_order=1): the device is reset through its status (SET_STATUS 0
                   where negotiated), the frontend's memory stays with the backend
                   (net_vuser adds only the memory slots the backend lacks): with
                   net_vuser the backend's link goes down at each stop (DPDK's
                   frontend stops only its port); exact counts both ways after each
                   start
    client_restarts  backend client=1, frontend server=1 (split rings, in_order=1): the
                   backend quits and a new one connects to the same frontend, 5 times
                   (the frontend resumes its rings where they are), then the frontend
                   quits and a new one listens, 5 times (the backend reconnects): exact
                   counts both ways after each; without `inflight=1` the backend
                   offers no INFLIGHT_SHMFD (vuser's handshake line says what was
                   offered) and no side logs a region; with it (vuser, split and
                   packed rings, in_order=0 on packed) vuser asks the first backend
                   for the region and hands it to the next five (their lines counted),
                   in the packed layout on packed rings; DPDK's frontend takes none

    offloads       both sides with UDP/TCP checksum offloads (split rings): the frontend
                   says it negotiated CSUM and GUEST_CSUM; exact counts both ways

    status_dpdk    DPDK's net_virtio_user negotiates VHOST_USER_PROTOCOL_F_STATUS (it
                   does when offered, with REPLY_ACK): the backend logs exactly the
                   transitions 0x00 -> 0x0b (FEATURES_OK) -> 0x0f (DRIVER_OK), the
                   frontend reads FEATURES_OK back with GET_STATUS; the backend's
                   `set link-down/up port 0` takes its link down and up again (no
                   error: this frontend has no backend channel to tell); exact counts
                   both ways after; when the frontend leaves the status goes back to 0

And once:

    bad_devargs    an unknown key, a net_vhost key not implemented (legacy-ol-flags) and a
                   missing iface: the probe fails with a line naming the problem, no port
    xstats         one backend testpmd with net_vhost0 and net_vubackend0 (queues=2), a
                   DPDK net_virtio_user frontend port on each, every send through both:
                   before any frontend a Tx burst per port counts nowhere (TX-dropped);
                   then XS_TRAFFIC each way (unicast/multicast/broadcast, both edges of
                   every size bin): net_vhost's xstats are the model's, net_vubackend's
                   names are net_vhost's in order then tx_q<N>_errors, every value the
                   model's; stats exact; `clear port xstats` zeroes every net_vubackend
                   counter (net_vhost's per-ring ones)

Every pair first asks the frontend what it negotiated (net_vuser's "negotiated features"
line at pmd.net.vuser:info, DPDK's "features after negotiate" at pmd.net.virtio.init:debug):
the layout, mergeable buffers and in-order are what its devargs ask, so nothing fell back;
and checks the backend's info line for each ring it started. Every count is exact on both
sides and imissed/ierrors/oerrors/rx_nombuf stay 0 unless stated.

VUBACKEND_PLUGIN overrides the backend plugin (default: next to the net_vuser plugin of
VUSER_PLUGIN or build/). Logs: results/integration-vubackend/.

Each case is a pytest test (docs/testing.md), bounded by CASE_TIMEOUT:

    python3 -m pytest tests/integration/test_vubackend.py -k matrix_vuser_packed_mrg0
"""

import functools
import os
import re
import shutil
import tempfile
import time

import pytest

import dpdkapp
from dpdkapp import Testpmd, wait_stable

BURST = 32
NB_BURSTS = 4
PKTS = BURST * NB_BURSTS          # 128 packets per exchange
PKT_LEN = 64
BIG_SEGS = "1500,1500"            # testpmd txpkts: a 2-segment 3000-byte frame
BIG_LEN = 3000
BIG_BURSTS = 2                    # 64 big frames: they fit a 256-entry ring twice over
RESTART_TIMEOUT = 300             # the restart cases: ten apps started in turn
XSTATS_TIMEOUT = 240              # the xstats case: 28 exchanges through two ports each
CASE_TIMEOUT = {"default": 90, "test_vubackend_restarts": RESTART_TIMEOUT,
                "test_vubackend_xstats": XSTATS_TIMEOUT}
RESTARTS = 5
PORT_RESTARTS = 2
SETTLE_TIMEOUT = 10.0
LINK_TIMEOUT = 15.0
PROBE_LIMIT = 20.0

APP_ARGS = ["--burst=%d" % BURST, "--txpkts=%d" % PKT_LEN, "--total-num-mbufs=4096",
            "--nb-cores=1", "--tx-offloads=0x8000"]   # RTE_ETH_TX_OFFLOAD_MULTI_SEGS
COUNT_KEYS = ("ipackets", "opackets", "ibytes", "obytes")
ERROR_KEYS = ("imissed", "ierrors", "oerrors", "rx_nombuf")
BACKEND_DRIVER = "net_vubackend"
F_MRG_RXBUF, F_RING_PACKED, F_IN_ORDER = 15, 34, 35
PF_INFLIGHT_SHMFD = 12
# What each frontend says it negotiated, and the log level that makes it say so.
NEGOTIATED = {
    "dpdk": (r"features after negotiate = ([0-9a-fA-F]+)", "pmd.net.virtio.init:debug"),
    "vuser": (r"negotiated features 0x([0-9a-fA-F]+)", "pmd.net.vuser:info"),
}


def vubackend_plugin():
    """$VUBACKEND_PLUGIN, else beside the net_vuser plugin the other tests use (so the
    sanitizer build's VUSER_PLUGIN brings its own backend)."""
    if os.environ.get("VUBACKEND_PLUGIN"):
        return os.environ["VUBACKEND_PLUGIN"]
    net = os.path.dirname(os.path.dirname(dpdkapp.plugin_path()))
    return os.path.join(net, "vubackend", "librte_net_vubackend.so")


class Frontend:
    """DPDK's net_virtio_user or vuser's net_vuser, with its mergeable-buffer choice."""

    def __init__(self, kind, mrg, staged_vuser, packed=0, in_order=0):
        self.kind, self.mrg, self.packed, self.in_order = kind, mrg, packed, in_order
        self.driver = "net_virtio_user" if kind == "dpdk" else "net_vuser"
        self.plugins = [] if kind == "dpdk" else [staged_vuser]

    def vdev(self, sock, server=False, queues=1):
        args = ["%s0" % self.driver, "path=%s" % sock, "mrg_rxbuf=%d" % self.mrg,
                "in_order=%d" % self.in_order, "packed_vq=%d" % self.packed]
        if server:
            args.append("server=1")
        if queues > 1:
            # Multi-queue goes through the control queue (VIRTIO_NET_F_MQ needs CTRL_VQ).
            args += ["queues=%d" % queues, "cq=1"]
        return ",".join(args)

    def app_args(self):
        # DPDK's virtio takes frames larger than an mbuf only with the Rx SCATTER offload,
        # even with mergeable buffers.
        return ["--enable-scatter"] if self.kind == "dpdk" and self.mrg else []

    def log_levels(self):
        return [NEGOTIATED[self.kind][1]]


def queue_args(queues):
    return ["--rxq=%d" % queues, "--txq=%d" % queues] if queues > 1 else []


class Env:
    def __init__(self, log_dir, verbose, backend_plugin, vuser_plugin):
        self.log_dir, self.verbose = log_dir, verbose
        self.backend_plugin, self.vuser_plugin = backend_plugin, vuser_plugin
        self.sock_dir = tempfile.mkdtemp(prefix="vub-it-")
        self.apps = []
        self.case = None

    def sock(self, name):
        return os.path.join(self.sock_dir, name)

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    def backend(self, devargs, wait=True, queues=1, tag="backend", extra=()):
        vdev = ",".join(["%s0" % BACKEND_DRIVER] + ["%s=%s" % kv for kv in devargs])
        app = Testpmd("%s-%s" % (self.case, tag), self.log_dir, vdevs=[vdev],
                      plugins=[self.backend_plugin], interactive=True, lcores="0,1",
                      main_lcore=0, log_levels=["pmd.net.vubackend:info"],
                      app_args=["--forward-mode=rxonly"] + APP_ARGS + queue_args(queues) +
                      list(extra))
        self.apps.append(app)
        app.start()
        if wait:
            app.wait_ready()
        return app

    def frontend(self, fe, sock, server=False, tag="frontend", wait=True, queues=1, extra=()):
        app = Testpmd("%s-%s" % (self.case, tag), self.log_dir,
                      vdevs=[fe.vdev(sock, server, queues)], plugins=fe.plugins,
                      interactive=True, lcores="0,1", main_lcore=1,
                      log_levels=fe.log_levels(),
                      app_args=["--forward-mode=rxonly"] + APP_ARGS + fe.app_args() +
                      queue_args(queues) + list(extra))
        self.apps.append(app)
        app.start()
        if wait:
            app.wait_ready()
        return app

    def start_case(self, name):
        self.case = name.replace("test_vubackend_restarts_", "").replace("test_vubackend_", "")
        self.apps = []

    def end_case(self, failed):
        if failed:
            try:
                self.stop_all(timeout=3)
            except Exception as e:
                print("    (stop after failure: %s)" % e)
        dpdkapp.kill_all(self.apps)
        if failed:
            self.dump_logs()

    def stop_all(self, timeout=10):
        rcs = {}
        for app in sorted(self.apps, key=lambda a: "frontend" not in a.name):
            if app.proc is not None:
                app.stop(timeout=timeout)
                rcs[app.name] = app.returncode
        return rcs

    def dump_logs(self, lines=40):
        for app in self.apps:
            print("    ---- %s (%s, rc=%s) last %d lines ----"
                  % (app.name, app.log_path, app.returncode, lines))
            for ln in dpdkapp.tail(app.output(), lines).splitlines():
                print("    | " + ln)


# --------------------------------------------------------------------------
# counters


def delta(after, before):
    return {k: (after.get(k) or 0) - (before.get(k) or 0) for k in COUNT_KEYS + ERROR_KEYS}


def settle_all(specs, timeout=SETTLE_TIMEOUT):
    """Wait (bounded) until every (app, before, key, expected) delta reached its
    expected value and all stopped moving; return the deltas in order."""
    def read():
        return [app.stats() for app, _, _, _ in specs]

    def reached(vals):
        return all((v.get(key) or 0) - (before.get(key) or 0) >= exp
                   for v, (_, before, key, exp) in zip(vals, specs))

    after = wait_stable(read, timeout, settle=0.5, until=reached)
    return [delta(a, spec[1]) for a, spec in zip(after, specs)]


def check(name, d, **expected):
    """Exact deltas; every error counter 0 unless expected otherwise."""
    bad = ["%s=%s (expected %s)" % (k, d.get(k), v) for k, v in expected.items()
           if d.get(k) != v]
    bad += ["%s=%s" % (k, d.get(k)) for k in ERROR_KEYS if k not in expected and d.get(k)]
    if bad:
        raise AssertionError("%s counters wrong: %s; deltas: %s" % (name, ", ".join(bad), d))


# --------------------------------------------------------------------------
# exchanges (each leaves both sides stopped, rxonly, 64-byte frames)


def to_backend(be, fe, bursts=NB_BURSTS, segs=None, length=PKT_LEN, queues=1):
    """The frontend sends bursts x BURST frames per queue; the backend must get them
    all."""
    n = bursts * BURST * queues
    b0, f0 = be.stats(), fe.stats()
    be.run("start")
    if segs:
        fe.run("set txpkts %s" % segs)
    try:
        fe.run("start tx_first %d" % bursts)
        b, f = settle_all([(be, b0, "ipackets", n), (fe, f0, "opackets", n)])
    finally:
        fe.run("stop")
        be.run("stop")
        if segs:
            fe.run("set txpkts %d" % PKT_LEN)
    check("backend", b, ipackets=n, ibytes=n * length, opackets=0)
    check("frontend", f, opackets=n, obytes=n * length, ipackets=0)


def to_frontend(be, fe, bursts=NB_BURSTS, segs=None, length=PKT_LEN, dropped=False,
                queues=1):
    """The backend sends bursts x BURST frames per queue; the frontend gets them all, or
    (dropped) none, each counted as an error by the backend."""
    n = bursts * BURST * queues
    b0, f0 = be.stats(), fe.stats()
    if segs:
        be.run("set txpkts %s" % segs)
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        key = "oerrors" if dropped else "opackets"
        f, b = settle_all([(fe, f0, "ipackets", 0 if dropped else n), (be, b0, key, n)])
    finally:
        be.run("stop")
        fe.run("stop")
        if segs:
            be.run("set txpkts %d" % PKT_LEN)
    if dropped:
        check("backend", b, opackets=0, obytes=0, oerrors=n, ipackets=0)
        check("frontend", f, ipackets=0, ibytes=0, opackets=0)
        return
    check("backend", b, opackets=n, obytes=n * length, ipackets=0)
    check("frontend", f, ipackets=n, ibytes=n * length, opackets=0)


def loopback(be, fe):
    n = PKTS
    b0, f0 = be.stats(), fe.stats()
    fe.run("set fwd io")
    fe.run("start")
    try:
        be.run("start tx_first %d" % NB_BURSTS)
        b, f = settle_all([(be, b0, "ipackets", n), (fe, f0, "opackets", n)])
    finally:
        be.run("stop")
        fe.run("stop")
        fe.run("set fwd rxonly")
    nbytes = n * PKT_LEN
    check("backend", b, opackets=n, ipackets=n, obytes=nbytes, ibytes=nbytes)
    check("frontend", f, ipackets=n, opackets=n, ibytes=nbytes, obytes=nbytes)


def check_drivers(be, fe, frontend):
    got = be.cmd("show port info 0", wait=r"Driver name: *(\S+)").group(1)
    assert got == BACKEND_DRIVER, "backend port 0 is driven by %s" % got
    got = fe.cmd("show port info 0", wait=r"Driver name: *(\S+)").group(1)
    assert got == frontend.driver, "frontend port 0 is driven by %s, not %s" % (
        got, frontend.driver)


def assert_clean_exit(rcs):
    bad = {n: rc for n, rc in rcs.items() if rc != 0}
    assert not bad, "apps did not exit cleanly (rc<0 means killed by signal): %s" % bad


def check_rings(be, fe_kind, queues=1):
    """The backend started every ring with the layout and mergeable buffers the
    frontend asked for (its pmd.net.vubackend:info line), so nothing fell back."""
    ring = "packed" if fe_kind.packed else "split"
    for vring in range(2 * queues):
        pat = (r"vring %d started: (\w+) ring of \d+ entries at \d+"
               r"(, mergeable Rx buffers)?" % vring)
        m = be.wait_for_output(pat, timeout=LINK_TIMEOUT)
        got = (m.group(1), bool(m.group(2)))
        assert got == (ring, bool(fe_kind.mrg)), (
            "vring %d started as %s ring, mergeable=%s; the frontend asked for %s, "
            "mrg_rxbuf=%d" % (vring, got[0], got[1], ring, fe_kind.mrg))


def check_negotiated(fe, fe_kind, since=0):
    """Ask the frontend what it negotiated with the backend (its last features line
    since `since`): layout, mergeable buffers and in-order as its devargs asked."""
    pat = NEGOTIATED[fe_kind.kind][0]
    fe.wait_for_output(pat, timeout=LINK_TIMEOUT, since=since)
    feats = int(re.findall(pat, fe.output()[since:])[-1], 16)
    want = {F_MRG_RXBUF: fe_kind.mrg, F_RING_PACKED: fe_kind.packed,
            F_IN_ORDER: fe_kind.in_order}
    bad = ["bit %d is %d, devargs ask %d" % (b, (feats >> b) & 1, v)
           for b, v in want.items() if (feats >> b) & 1 != v]
    assert not bad, "frontend negotiated 0x%x: %s" % (feats, "; ".join(bad))
    return feats


def start_pair(env, fe_kind):
    sock = env.sock("%s.sock" % env.case)
    be = env.backend([("iface", sock)])
    fe = env.frontend(fe_kind, sock)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_drivers(be, fe, fe_kind)
    check_negotiated(fe, fe_kind)
    check_rings(be, fe_kind)
    return be, fe


# --------------------------------------------------------------------------
# cases


def case_matrix(env, fe_kind):
    be, fe = start_pair(env, fe_kind)
    env.log("both_ways")
    to_backend(be, fe)
    to_frontend(be, fe)
    env.log("loopback")
    loopback(be, fe)
    env.log("big_to_backend")
    to_backend(be, fe, bursts=BIG_BURSTS, segs=BIG_SEGS, length=BIG_LEN)
    env.log("big_to_frontend")
    to_frontend(be, fe, bursts=BIG_BURSTS, segs=BIG_SEGS, length=BIG_LEN,
                dropped=not fe_kind.mrg)
    # The pair still moves small frames exactly after the big ones.
    to_backend(be, fe)
    assert_clean_exit(env.stop_all())


def link_down(app, what):
    dpdkapp.wait_until(lambda: (app.link_status() or {}).get("status") == "DOWN",
                       LINK_TIMEOUT, what=what)


def exchange(be, fe, fe_kind, new_frontend):
    """One connection: both links up, a new frontend's features as asked (one that
    reconnects keeps what it negotiated and says nothing), exact counts both ways."""
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    if new_frontend:
        check_negotiated(fe, fe_kind)
    to_backend(be, fe)
    to_frontend(be, fe)


def stop_ok(app, what):
    app.stop(timeout=10)
    assert app.returncode == 0, "%s exited with %s" % (what, app.returncode)


def case_server_restarts(env, fe_kind):
    """The backend listens; a frontend and then RESTARTS more connect in turn, each
    served afresh."""
    sock = env.sock("%s.sock" % env.case)
    be = env.backend([("iface", sock)])
    for i in range(RESTARTS + 1):
        fe = env.frontend(fe_kind, sock, tag="frontend%d" % i)
        if i == 0:
            check_drivers(be, fe, fe_kind)
            check_rings(be, fe_kind)
        exchange(be, fe, fe_kind, True)
        env.log("frontend %d: exact counts both ways" % i)
        stop_ok(fe, "frontend %d" % i)
        link_down(be, "backend link down after frontend %d left" % i)
    assert_clean_exit(env.stop_all())


def case_port_restarts(env, fe_kind):
    """The frontend stops and starts its port: the device is reset and set up again on
    the same connection, its memory table kept."""
    be, fe = start_pair(env, fe_kind)
    exchange(be, fe, fe_kind, False)
    for i in range(PORT_RESTARTS):
        fe.run("port stop 0")
        # DPDK's virtio_user stops its port, not the device: the backend sees nothing
        if fe_kind.kind == "vuser":
            link_down(be, "backend link down after frontend port stop %d" % i)
        said = fe.run("port start 0")
        assert "Fail" not in said, "port start %d: %s" % (i, said)
        exchange(be, fe, fe_kind, False)
        env.log("port restart %d: exact counts both ways" % i)
    assert not re.search(r"before SET_MEM_TABLE|refused", be.output()), (
        "backend refused something across the restarts")
    assert_clean_exit(env.stop_all())


# INFLIGHT_SHMFD's region for one pair of 256-entry rings (the spec's layouts: a 16-byte
# header and entry for split rings, 32 bytes each for packed ones)
INFLIGHT_BYTES = {False: 2 * ((16 + 16 * 256 + 63) // 64 * 64),
                  True: 2 * ((32 + 32 * 256 + 63) // 64 * 64)}


def check_inflight_handed(fe, bes, fe_kind, inflight):
    """With `inflight=1`, vuser asks the first backend for the inflight region and hands
    it to each one after (both sides' lines, counted); DPDK's frontend takes no region,
    and without the devarg no backend offers one (what vuser says each offered)."""
    size = INFLIGHT_BYTES[bool(fe_kind.packed)]
    said = [len(re.findall(r"inflight region of %d bytes (for 2 rings of 256|from the "
                           r"frontend)" % size, be.output())) for be in bes]
    if fe_kind.kind == "vuser":
        offered = [int(x, 16) >> PF_INFLIGHT_SHMFD & 1 for x in re.findall(
            r"protocol features 0x[0-9a-f]+ \(offered 0x([0-9a-f]+)\)", fe.output())]
        assert offered == [inflight] * len(bes), (
            "INFLIGHT_SHMFD offered by each backend, as vuser saw it: %s" % offered)
    if fe_kind.kind != "vuser" or not inflight:
        assert said == [0] * len(bes), "backends' inflight lines %s" % said
        assert "inflight region" not in fe.output(), "the frontend logged a region"
        return
    assert said == [1] * len(bes), "backends' inflight lines %s" % said
    assert "for 2 rings of 256" in bes[0].output()
    out = fe.output()
    assert len(re.findall(r"inflight region of %d bytes from " % size, out)) == 1
    assert len(re.findall(r"inflight region of %d bytes handed to " % size,
                          out)) == len(bes) - 1


def case_client_restarts(env, fe_kind, inflight=0):
    """The frontend listens (server=1) and the backend connects (client=1): a backend
    and then RESTARTS more against one frontend, then RESTARTS new frontends against
    the last backend, which reconnects to each. `inflight`: the backends' devarg."""
    sock = env.sock("%s.sock" % env.case)
    # DPDK's virtio_user in server mode waits in its probe for the backend to connect.
    fe = env.frontend(fe_kind, sock, server=True, wait=False, tag="frontend0")
    dpdkapp.wait_until(lambda: os.path.exists(sock), LINK_TIMEOUT,
                       what="frontend socket %s" % sock)
    bes = []
    for i in range(RESTARTS + 1):
        be = env.backend([("iface", sock), ("client", 1), ("inflight", inflight)],
                         tag="backend%d" % i)
        bes.append(be)
        if i == 0:
            fe.wait_ready()
            check_drivers(be, fe, fe_kind)
            check_rings(be, fe_kind)
        exchange(be, fe, fe_kind, i == 0)
        env.log("backend %d: exact counts both ways" % i)
        if i == RESTARTS:
            break
        stop_ok(be, "backend %d" % i)
        link_down(fe, "frontend link down after backend %d left" % i)
    check_inflight_handed(fe, bes, fe_kind, inflight)
    for i in range(1, RESTARTS + 1):
        stop_ok(fe, "frontend %d" % (i - 1))
        link_down(be, "backend link down after frontend %d left" % (i - 1))
        fe = env.frontend(fe_kind, sock, server=True, wait=False, tag="frontend%d" % i)
        fe.wait_ready()
        exchange(be, fe, fe_kind, True)
        env.log("frontend %d: exact counts both ways" % i)
    assert_clean_exit(env.stop_all())


def per_queue(app, key, queues):
    return list((app.stats().get(key) or [])[:queues])


def case_queues2(env, fe_kind):
    """queues=2 on both sides: tx_first sends 4 bursts on each queue; both queues of
    each side carry exactly 128 packets each way."""
    q = 2
    sock = env.sock("%s.sock" % env.case)
    be = env.backend([("iface", sock), ("queues", q)], queues=q)
    fe = env.frontend(fe_kind, sock, queues=q)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_drivers(be, fe, fe_kind)
    check_rings(be, fe_kind, queues=q)
    b0, f0 = per_queue(be, "q_ipackets", q), per_queue(fe, "q_opackets", q)
    to_backend(be, fe, queues=q)
    got = [a - b for a, b in zip(per_queue(be, "q_ipackets", q), b0)]
    sent = [a - b for a, b in zip(per_queue(fe, "q_opackets", q), f0)]
    env.log("frontend -> backend per queue: sent %s, got %s" % (sent, got))
    assert got == [PKTS] * q and sent == [PKTS] * q, (
        "per queue: frontend sent %s, backend got %s, expected %d on each" % (sent, got, PKTS))
    b0, f0 = per_queue(be, "q_opackets", q), per_queue(fe, "q_ipackets", q)
    to_frontend(be, fe, queues=q)
    sent = [a - b for a, b in zip(per_queue(be, "q_opackets", q), b0)]
    got = [a - b for a, b in zip(per_queue(fe, "q_ipackets", q), f0)]
    env.log("backend -> frontend per queue: sent %s, got %s" % (sent, got))
    assert got == [PKTS] * q and sent == [PKTS] * q, (
        "per queue: backend sent %s, frontend got %s, expected %d on each" % (sent, got, PKTS))
    assert_clean_exit(env.stop_all())


def case_offloads(env, fe_kind):
    """Both sides take UDP/TCP checksum offloads: the frontend negotiates
    VIRTIO_NET_F_CSUM and GUEST_CSUM (asked of it), and frames cross both ways exactly."""
    sock = env.sock("%s.sock" % env.case)
    rx_csum = "--rx-offloads=0xc"        # RTE_ETH_RX_OFFLOAD_UDP_CKSUM | TCP_CKSUM
    be = env.backend([("iface", sock)], extra=[rx_csum])
    fe = env.frontend(fe_kind, sock, extra=[rx_csum, "--tx-offloads=0x800c"])
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_drivers(be, fe, fe_kind)
    feats = check_negotiated(fe, fe_kind)
    assert feats & 0x3 == 0x3, "frontend negotiated 0x%x: not both CSUM and GUEST_CSUM" % feats
    to_backend(be, fe)
    to_frontend(be, fe)
    assert_clean_exit(env.stop_all())


STATUS_LINE = r"net_vubackend0: device status (0x[0-9a-f]{2}) -> (0x[0-9a-f]{2}) "
DRIVER_OK_LINE = (r"net_vubackend0: device status 0x0b -> 0x0f "
                  r"\(ACKNOWLEDGE\|DRIVER\|FEATURES_OK\|DRIVER_OK\)")
# What DPDK's virtio_user logs (pmd.net.virtio.init:debug) after reading GET_STATUS.
FE_STATUS_READ = r"Updated Device Status\(0x0000000b\)"
FE_MAC = "52:54:00:12:34:56"


def status_transitions(be):
    return re.findall(STATUS_LINE, be.output())


def case_status(env, fe_kind):
    sock = env.sock("%s.sock" % env.case)
    be = env.backend([("iface", sock), ("mac", FE_MAC)])
    fe = env.frontend(fe_kind, sock)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_drivers(be, fe, fe_kind)
    be.wait_for_output(DRIVER_OK_LINE, timeout=LINK_TIMEOUT)
    fe.wait_for_output(FE_STATUS_READ, timeout=LINK_TIMEOUT)
    got = status_transitions(be)
    assert got == [("0x00", "0x0b"), ("0x0b", "0x0f")], "backend status transitions %s" % got
    for state, what in (("down", "DOWN"), ("up", "UP")):
        out = be.run("set link-%s port 0" % state)
        assert "rror" not in out, "set link-%s: %s" % (state, out)
        dpdkapp.wait_until(lambda: (be.link_status() or {}).get("status") == what,
                           LINK_TIMEOUT, what="backend link %s" % what)
        be.wait_for_output(r"net_vubackend0: link %s in the config space" % state,
                           timeout=LINK_TIMEOUT)
    to_backend(be, fe)
    to_frontend(be, fe)
    stop_ok(fe, "frontend")
    be.wait_for_output(r"net_vubackend0: device status 0x0f -> 0x00 \(reset\)",
                       timeout=LINK_TIMEOUT)
    assert len(status_transitions(be)) == 3, "transitions %s" % status_transitions(be)
    assert_clean_exit(env.stop_all())


def probe_must_fail(env, devargs, needle):
    t0 = time.monotonic()
    be = env.backend(devargs, wait=False)
    dpdkapp.wait_until(lambda: not be.alive() or re.search(dpdkapp.PROMPT, be.output(), re.M),
                       PROBE_LIMIT, what="backend probe with %s to finish" % (devargs,))
    env.log("probe over in %.1fs" % (time.monotonic() - t0))
    if be.alive():
        assert be.ports() == [], "a port was created despite %s" % (devargs,)
    out = be.stop(timeout=10)
    assert be.returncode is not None and be.returncode >= 0, "backend crashed on %s" % (
        devargs,)
    assert "No probed ethernet devices" in out, "a port was probed despite %s" % (devargs,)
    if not any(re.search(needle, ln) for ln in out.splitlines()):
        raise AssertionError("no line matching /%s/ for %s" % (needle, devargs))


def case_bad_devargs(env):
    sock = env.sock("bad.sock")
    probe_must_fail(env, [("iface", sock), ("bogus", 1)],
                    r"VUSER: net_vubackend0: invalid devargs: unknown devarg 'bogus'")
    probe_must_fail(env, [("iface", sock), ("legacy-ol-flags", 1)],
                    r"devarg 'legacy-ol-flags' of net_vhost is not implemented by "
                    r"net_vubackend")
    probe_must_fail(env, [("queues", 1)], r"net_vubackend0: invalid devargs: iface is required")
    assert not os.path.exists(sock), "a socket was created by a refused probe"


def build_cases():
    cases = []
    for kind in ("dpdk", "vuser"):
        for ring in ("split", "packed"):
            for mrg in (1, 0):
                cases.append(("matrix_%s_%s_mrg%d" % (kind, ring, mrg), case_matrix,
                              (kind, mrg, ring == "packed")))
            cases.append(("matrix_%s_%s_inorder" % (kind, ring), case_matrix,
                          (kind, 1, ring == "packed", 1)))
        cases.append(("server_restarts_%s" % kind, case_server_restarts, (kind, 1, 0, 1)))
        cases.append(("client_restarts_%s" % kind, case_client_restarts, (kind, 1, 0, 1)))
        cases.append(("port_restarts_%s" % kind, case_port_restarts, (kind, 1, 0, 1)))
        cases.append(("queues2_%s" % kind, case_queues2, (kind, 1, 1)))
        cases.append(("offloads_%s" % kind, case_offloads, (kind, 1, 0)))
    tracked = functools.partial(case_client_restarts, inflight=1)
    cases.append(("client_restarts_vuser_inflight", tracked, ("vuser", 1, 0, 1)))
    cases.append(("client_restarts_vuser_packed_inflight", tracked, ("vuser", 1, 1, 0)))
    cases.append(("status_dpdk", case_status, ("dpdk", 1, 0)))
    cases.append(("bad_devargs", case_bad_devargs, None))
    return cases


PARAMS = build_cases()


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    if shutil.which(dpdkapp.TESTPMD) is None:
        pytest.fail("%s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD)
    staged = []
    try:
        for so in (vubackend_plugin(), dpdkapp.plugin_path()):
            staged.append(dpdkapp.stage_plugin(so))
    except dpdkapp.DpdkAppError as e:
        for so in staged:
            dpdkapp.unstage_plugin(so)
        pytest.fail(str(e))
    env = Env(log_dir, request.config.getoption("verbose") > 0, staged[0], staged[1])
    yield env
    dpdkapp.kill_all(env.apps)
    shutil.rmtree(env.sock_dir, ignore_errors=True)
    for so in staged:
        dpdkapp.unstage_plugin(so)


def run_case(env, fn, fe_spec):
    if fe_spec is None:
        fn(env)
    else:
        fn(env, Frontend(fe_spec[0], fe_spec[1], env.vuser_plugin, *fe_spec[2:]))


@pytest.mark.parametrize("fn,fe_spec", [(fn, spec) for n, fn, spec in PARAMS
                                        if "restarts" not in n],
                         ids=[n for n, _, _ in PARAMS if "restarts" not in n])
def test_vubackend(env, fn, fe_spec):
    run_case(env, fn, fe_spec)


# the restart cases start ten apps in turn: RESTART_TIMEOUT
@pytest.mark.parametrize("fn,fe_spec", [(fn, spec) for n, fn, spec in PARAMS
                                        if "restarts" in n],
                         ids=[n for n, _, _ in PARAMS if "restarts" in n])
def test_vubackend_restarts(env, fn, fe_spec):
    run_case(env, fn, fe_spec)


# --------------------------------------------------------------------------
# xstats against net_vhost: one backend testpmd with a net_vhost port and a
# net_vubackend port, one frontend testpmd with a DPDK net_virtio_user port on each;
# every send goes through both at once (testpmd's tx_first sends on every port).

XS_QUEUES = 2
XS_UNICAST, XS_MULTICAST, XS_BROADCAST = "02:00:00:00:00:77", "01:00:5e:00:00:01", \
    "ff:ff:ff:ff:ff:ff"
XS_KINDS = {XS_UNICAST: None, XS_MULTICAST: "multicast_packets",
            XS_BROADCAST: "broadcast_packets"}
# (destination, frame length, frames per queue): both edges of every size bin, each
# line its own count, so a frame in the wrong bin or of the wrong kind changes a value
XS_TRAFFIC = [
    (XS_UNICAST, 60, 3), (XS_MULTICAST, 64, 5), (XS_BROADCAST, 65, 2), (XS_UNICAST, 127, 4),
    (XS_MULTICAST, 128, 6), (XS_BROADCAST, 255, 1), (XS_UNICAST, 256, 7),
    (XS_MULTICAST, 511, 9), (XS_BROADCAST, 512, 8), (XS_UNICAST, 1023, 11),
    (XS_MULTICAST, 1024, 10), (XS_BROADCAST, 1518, 12), (XS_UNICAST, 1519, 13),
    (XS_MULTICAST, 2000, 14),
]
XS_BINS = ["undersize_packets", "size_64_packets", "size_65_127_packets",
           "size_128_255_packets", "size_256_511_packets", "size_512_1023_packets",
           "size_1024_1518_packets", "size_1519_max_packets"]
# lib/vhost's per-ring counters that this traffic leaves at 0: a polling frontend asks
# for no used buffer notifications; no IOTLB, no asynchronous copies
XS_ZERO = ["guest_notifications", "iotlb_hits", "iotlb_misses", "inflight_submitted",
           "inflight_completed"]
XS_EXTRAS = ["tx_q%d_errors" % q for q in range(XS_QUEUES)]   # net_vubackend's own
XS_ETHDEV_ZERO = ["rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"]
XS_BURSTS_NO_FRONTEND = 2


def xs_size_bin(length):
    return XS_BINS[sum(length >= b for b in (64, 65, 128, 256, 512, 1024, 1519))]


def xs_model(sent_rx, sent_tx, nq=XS_QUEUES):
    """{xstat: value} for frames received (sent_rx) and sent (sent_tx) by the backend
    port, (dst, length, count per queue) each: ethdev's own, then per queue ethdev's
    (rx_q<N>_packets ...) and lib/vhost's (rx_q<N>_good_packets ...)."""
    want = {n: 0 for n in XS_ETHDEV_ZERO}
    for d, sent in (("rx", sent_rx), ("tx", sent_tx)):
        pkts = sum(n for _, _, n in sent)
        nbytes = sum(n * length for _, length, n in sent)
        want["%s_good_packets" % d] = nq * pkts
        want["%s_good_bytes" % d] = nq * nbytes
        for q in range(nq):
            p = "%s_q%d_" % (d, q)
            want[p + "packets"], want[p + "bytes"] = pkts, nbytes
            if d == "rx":
                want[p + "errors"] = 0
            for name in ["multicast_packets", "broadcast_packets"] + XS_BINS + XS_ZERO:
                want[p + name] = 0
            want[p + "good_packets"], want[p + "good_bytes"] = pkts, nbytes
            for dst, length, n in sent:
                if XS_KINDS[dst]:
                    want[p + XS_KINDS[dst]] += n
                want[p + xs_size_bin(length)] += n
    return want


def xs_compare(label, got, want):
    bad = ["%s=%s (expected %s)" % (k, got.get(k), v) for k, v in want.items()
           if got.get(k) != v]
    extra = sorted(set(got) - set(want))
    assert not bad and not extra, "%s: %s%s" % (
        label, "; ".join(bad), "; names not expected: %s" % extra if extra else "")


class XsPorts:
    """The backend's port ids by driver, and the frontend's port on each."""

    def __init__(self, be, fe, be_ports, fe_ports):
        self.be, self.fe = be, fe
        self.vhost, self.vub = be_ports["net_vhost"], be_ports[BACKEND_DRIVER]
        self.fe_ports = fe_ports

    def backend_ports(self):
        return [self.vhost, self.vub]


def xs_driver_ports(app):
    """{driver name: port id} (by device name for the frontend's two ports)."""
    out = {}
    for port in app.ports():
        info = app.run("show port info %d" % port)
        drv = re.search(r"Driver name: *(\S+)", info).group(1)
        dev = re.search(r"Device name: *(\S+)", info).group(1)
        out[dev if drv == "net_virtio_user" else drv] = port
    return out


def xs_send(sender, s_ports, receiver, r_ports, dst, length, count):
    """count frames of length bytes to dst on every Tx queue of every port of sender,
    all received by receiver (counted by telemetry, bounded wait)."""
    n = XS_QUEUES * count
    before = {(a, p): a.stats(p) for a, ps in ((sender, s_ports), (receiver, r_ports))
              for p in ps}
    receiver.run("start")
    lines = ["set burst %d" % count, "set txpkts %d" % length]
    lines += ["set eth-peer %d %s" % (p, dst) for p in s_ports]
    for line in lines:
        out = sender.run(line)
        assert "Bad arguments" not in out and "rror" not in out, "%s: %r: %s" % (
            sender.name, line, out.strip())
    try:
        sender.run("start tx_first 1")
        dpdkapp.settle_all([(sender, p, before[(sender, p)], "opackets", n) for p in s_ports] +
                           [(receiver, p, before[(receiver, p)], "ipackets", n)
                            for p in r_ports])
    finally:
        sender.run("stop")
        receiver.run("stop")
        sender.run("set burst %d" % BURST)


def xs_read(app, port):
    """(names in order, {name: value}) of /ethdev/xstats, or (None, None)."""
    x = app.xstats(port)
    return (list(x.keys()), dict(x)) if x else (None, None)


def xs_no_frontend(env, be, ports):
    """Before any frontend: a Tx burst on each backend port goes nowhere and counts
    nowhere (testpmd drops it: TX-dropped), as net_vhost; its xstats fail then, ours
    read 0."""
    n = XS_BURSTS_NO_FRONTEND * BURST * XS_QUEUES
    be.run("start tx_first %d" % XS_BURSTS_NO_FRONTEND)
    out = be.run("stop")
    dropped = {int(p): int(x) for p, x in re.findall(
        r"Forward statistics for port (\d+).*?TX-dropped: *(\d+)", out, re.S)}
    assert dropped == {p: n for p in ports}, (
        "backend stop said TX-dropped %s per port, expected %d each:\n%s" % (dropped, n, out))
    for port in ports:
        c = be.counters(port)
        assert all(v == 0 for v in c.values()), "port %d without a frontend: %s" % (port, c)
    names, got = xs_read(be, ports[1])
    assert names and all(v == 0 for v in got.values()), (
        "net_vubackend's xstats without a frontend: %s" % got)
    env.log("no frontend: %d frames per port dropped by testpmd, counters 0; net_vhost's "
            "xstats %s, net_vubackend's %d names, all 0"
            % (n, "fail" if xs_read(be, ports[0])[0] is None else "read", len(names)))


def xs_setup(env):
    socks = [env.sock("xs-vhost.sock"), env.sock("xs-vub.sock")]
    vdevs = ["net_vhost0,iface=%s,queues=%d" % (socks[0], XS_QUEUES),
             "%s0,iface=%s,queues=%d" % (BACKEND_DRIVER, socks[1], XS_QUEUES)]
    qargs = queue_args(XS_QUEUES)
    be = Testpmd("%s-backend" % env.case, env.log_dir, vdevs=vdevs,
                 plugins=[env.backend_plugin], interactive=True, lcores="0,1", main_lcore=0,
                 app_args=["--forward-mode=rxonly"] + APP_ARGS + qargs)
    env.apps.append(be)
    be.start()
    be.wait_ready()
    be_ports = xs_driver_ports(be)
    assert set(be_ports) == {"net_vhost", BACKEND_DRIVER}, "backend ports %s" % be_ports
    xs_no_frontend(env, be, [be_ports["net_vhost"], be_ports[BACKEND_DRIVER]])
    fe_vdevs = ["net_virtio_user%d,path=%s,queues=%d,cq=1" % (i, s, XS_QUEUES)
                for i, s in enumerate(socks)]
    fe = Testpmd("%s-frontend" % env.case, env.log_dir, vdevs=fe_vdevs, interactive=True,
                 lcores="0,1", main_lcore=1,
                 app_args=["--forward-mode=rxonly"] + APP_ARGS + qargs)
    env.apps.append(fe)
    fe.start()
    fe.wait_ready()
    fe_ports = xs_driver_ports(fe)
    for port in list(be_ports.values()):
        be.wait_link_up(port, timeout=LINK_TIMEOUT)
    for port in fe_ports.values():
        fe.wait_link_up(port, timeout=LINK_TIMEOUT)
    return XsPorts(be, fe, be_ports, [fe_ports["net_virtio_user0"],
                                      fe_ports["net_virtio_user1"]])


def xs_reset(env, p):
    """`clear port xstats`: every net_vubackend xstat 0; net_vhost's per-ring ones 0
    (its reset leaves ethdev's packets and bytes: docs/backend.md)."""
    for port in p.backend_ports():
        out = p.be.run("clear port xstats %d" % port)
        assert "rror" not in out, "clear port xstats %d: %s" % (port, out)
    names, got = xs_read(p.be, p.vub)
    xs_compare("net_vubackend after clear port xstats", got, {n: 0 for n in names})
    c = p.be.counters(p.vub)
    assert all(v == 0 for v in c.values()), "net_vubackend's stats after the clear: %s" % c
    _, vh = xs_read(p.be, p.vhost)
    ring = {n: v for n, v in vh.items() if re.match(r"[rt]x_q\d+_", n)
            and not re.match(r"[rt]x_q\d+_(packets|bytes|errors)$", n)}
    assert ring and all(v == 0 for v in ring.values()), "net_vhost after the clear: %s" % ring
    env.log("clear port xstats: net_vubackend's %d xstats and stats 0; net_vhost's per-ring 0,"
            " its ethdev ones %s" % (len(names), {k: vh[k] for k in ("rx_good_packets",
                                                                        "tx_good_packets")}))


def case_xstats(env):
    """Exact xstats and stats of net_vubackend, the same names and values as net_vhost's
    for the same traffic, then `clear port xstats`."""
    p = xs_setup(env)
    for dst, length, count in XS_TRAFFIC:
        xs_send(p.fe, p.fe_ports, p.be, p.backend_ports(), dst, length, count)   # backend Rx
        xs_send(p.be, p.backend_ports(), p.fe, p.fe_ports, dst, length, count)   # backend Tx
    want = xs_model(XS_TRAFFIC, XS_TRAFFIC)
    vh_names, vh = xs_read(p.be, p.vhost)
    xs_compare("net_vhost (the model is what it counts)", vh, want)
    vub_names, vub = xs_read(p.be, p.vub)
    assert vub_names[:len(vh_names)] == vh_names, (
        "net_vubackend's first %d names are not net_vhost's, in order:\n  vub   %s\n  vhost %s"
        % (len(vh_names), vub_names[:len(vh_names)], vh_names))
    assert vub_names[len(vh_names):] == XS_EXTRAS, "after net_vhost's names: %s" % (
        vub_names[len(vh_names):])
    xs_compare("net_vubackend", vub, dict(want, **{n: 0 for n in XS_EXTRAS}))
    for port in p.backend_ports():
        check("port %d" % port, p.be.counters(port), ipackets=want["rx_good_packets"],
              ibytes=want["rx_good_bytes"], opackets=want["tx_good_packets"],
              obytes=want["tx_good_bytes"])
    env.log("%d xstats of net_vubackend: %d as net_vhost's, equal, exact"
            % (len(vub_names), len(vh_names)))
    xs_reset(env, p)
    assert_clean_exit(env.stop_all())


def test_vubackend_xstats(env):
    case_xstats(env)
