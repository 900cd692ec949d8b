# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: a hostile or broken vhost-user backend never crashes the frontend.

    frontend  dpdk-testpmd -d librte_net_vuser.so --vdev virtio_user0,path=<sock>[,server=1]
    backend   tests/lib/evil_backend.py (a scripted vhost-user backend that maps the
              frontend's memory and writes into its rings)

Every case injects one fault of issue 6 and asserts the outcome documented in
docs/reliability.md: the xstat of that kind counts it, one log line names it, the
traffic around it is exact, and the frontend process is alive and answers afterwards.

  data path   bad used id, bad length, id completed twice, bad num_buffers, split used
              index run away, packed wrong wrap bits, Tx bad id / id completed twice; on
              split and packed rings, with and without IN_ORDER. A corrupt ring state stops
              the queue, takes the link down, and a port stop/start brings it back.
  control     a backend that never answers (client: the probe fails within the timeout;
              server: it is dropped and the next one works), the connection closed before
              each step of the start sequence, wrong replies (request, size, flags, fds,
              version, a refused ack), every feature bit offered, a slow backend, a backend
              killed while traffic runs (client and server mode).

VUSER_PLUGIN overrides the plugin path.  Logs: results/integration-faults/<case>-*.log.

Each case is a pytest test (docs/testing.md), one bounded by CASE_TIMEOUT; a case also
fails when an app died of a signal the test did not send:

    python3 -m pytest tests/integration/test_faults.py -k rx_faults_split

The vectorized=1 cases assert that the SIMD bursts run (AVX2, or on packed rings AVX-512 in
the `vec512` layouts, which give EAL --force-max-simd-bitwidth=512); on a CPU without the
instructions they are skipped, with the reason.
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import time

import pytest

import dpdkapp
from dpdkapp import Testpmd, wait_until
from lineproc import LineProcess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

PLUGIN = dpdkapp.plugin_path()
EVIL = os.path.join(ROOT, "tests", "lib", "evil_backend.py")
APP_ARGS = ["--burst=32", "--total-num-mbufs=4096", "--nb-cores=1", "--disable-link-check"]
CASE_TIMEOUT = 90
TIMEOUT_S = 5.0          # the frontend's bound on every reply (docs/user-guide.md)
# Feature bits the frontend knows (vu_virtio.h): anything else must never be negotiated.
KNOWN_FEATURES = sum(1 << b for b in (0, 1, 3, 5, 7, 8, 11, 12, 15, 16, 17, 18, 19, 22, 23,
                                      28, 29, 32, 34, 35))
F_PROTOCOL_FEATURES = 30        # VHOST_USER_F_PROTOCOL_FEATURES, vhost-user's own bit
# protocol features it knows: MQ, REPLY_ACK, NET_MTU, BACKEND_REQ, CONFIG, RESET_DEVICE, STATUS
PF_KNOWN = 0x1b239   # MQ REPLY_ACK NET_MTU BACKEND_REQ CONFIG INFLIGHT_SHMFD RESET_DEVICE
#                      CONFIGURE_MEM_SLOTS STATUS


class Evil(LineProcess):
    """tests/lib/evil_backend.py as a process: commands on stdin, answers on stdout."""

    def __init__(self, name, log_dir, sock, args=()):
        super().__init__(name, log_dir, [sys.executable, EVIL, "--path", sock] + list(args))

    def rx_events(self):
        """What the backend made the frontend account for on its Rx ring (evil_backend.py's
        stats: rx_events); once it is gone, the count it last gave."""
        if self.proc.poll() is None:
            m = re.search(r"\brx_events=(\d+)", self.cmd("stats"))
            self.events = int(m.group(1))
        return getattr(self, "events", 0)


class Env:
    def __init__(self, log_dir, verbose):
        self.log_dir = log_dir
        self.verbose = verbose
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-faults-")
        self.plugin = dpdkapp.stage_plugin(PLUGIN)
        self.apps = []
        self.evils = []
        self.case = None
        self.n = 0

    def sock(self):
        return os.path.join(self.sock_dir, "%s.sock" % self.case)

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    def evil(self, args=(), sock=None):
        self.n += 1
        e = Evil("%s-evil%d" % (self.case, self.n), self.log_dir, sock or self.sock(), args)
        self.evils.append(e)
        if "--client" not in args:
            e.wait_line("^event: listening", 10)
        return e

    def frontend(self, devargs="", mode="rxonly", sock=None, server=False, app_args=(),
                 eal_extra=()):
        vdev = "virtio_user0,path=%s%s%s" % (sock or self.sock(), ",server=1" if server else "",
                                            devargs)
        app = Testpmd("%s-frontend" % self.case, self.log_dir, vdevs=[vdev],
                      plugins=[self.plugin], interactive=True, lcores="0,1", main_lcore=1,
                      log_levels=["pmd.net.vuser:info"], eal_extra=list(eal_extra),
                      app_args=["--forward-mode=%s" % mode] + APP_ARGS + list(app_args))
        self.apps.append(app)
        return app.start()

    def rx_events(self):
        return sum(e.rx_events() for e in self.evils)

    def kill_all(self):
        dpdkapp.kill_all(self.apps)
        for e in self.evils:
            try:
                e.kill()
            except Exception as ex:  # never mask the failure
                print("    kill %s: %s" % (e.name, ex))

    def dump_logs(self, lines=30):
        for app in self.apps:
            print("    ---- %s (rc=%s) last %d lines ----" % (app.log_path, app.returncode, lines))
            for ln in dpdkapp.tail(app.output(), lines).splitlines():
                print("    | " + ln)
        for e in self.evils:
            print("    ---- %s ----" % e.log_path)
            for ln in e.lines[-10:]:
                print("    | " + ln)

    def start_case(self, name):
        self.case = name
        self.n = 0
        self.apps, self.evils = [], []

    def end_case(self, failed):
        """After the case: its apps killed; one that died of a signal the test did not
        send fails the case."""
        running = [app for app in self.apps if app.alive()]
        self.kill_all()
        died = foreign_deaths(self.apps, running)
        if failed or died:
            self.dump_logs()
        if died and not failed:
            raise AssertionError("; ".join(died))

    def cleanup(self):
        self.kill_all()
        dpdkapp.unstage_plugin(self.plugin)
        shutil.rmtree(self.sock_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# helpers


def link(app):
    return (app.link_status() or {}).get("status")


def xstat(app, name):
    return (app.xstats() or {}).get(name, 0)


def ipackets(app):
    return app.stats()["ipackets"]


def wait_xstat(app, name, value, timeout=5.0):
    got = wait_until(lambda: xstat(app, name) >= value, timeout, interval=0.02)
    assert got, "xstat %s is %s, expected %d" % (name, xstat(app, name), value)
    assert xstat(app, name) == value, "xstat %s is %s, expected exactly %d" % (
        name, xstat(app, name), value)


def rx_settled(env, fe, unaccounted=0, timeout=5.0):
    """Wait until the frontend has accounted for every Rx event the case's backends caused
    (each used entry written on the Rx ring, each used index corrupted: evil_backend.py
    counts them) as a frame delivered (ipackets) or a fault counted (ierrors), but for
    `unaccounted` entries of a ring rebuilt before they were read. The backends count on
    their own, so this checks ierrors independently of the PMD; and as nothing more can
    come after it, the exact checks that follow need no sleep. Returns the stats."""
    want = env.rx_events() - unaccounted

    def settled():
        s = fe.stats()
        return s if s["ipackets"] + s["ierrors"] >= want else None
    s = wait_until(settled, timeout, interval=0.02) or fe.stats()
    assert s["ipackets"] + s["ierrors"] == want, (
        "the backend caused %d Rx events, the frontend accounts for %d: ipackets %d + "
        "ierrors %d" % (want, s["ipackets"] + s["ierrors"], s["ipackets"], s["ierrors"]))
    return s


def wait_ipackets(env, fe, value, unaccounted=0):
    got = rx_settled(env, fe, unaccounted)["ipackets"]
    assert got == value, "ipackets %d, expected %d" % (got, value)


def wait_rx_xstat(env, fe, name, value):
    rx_settled(env, fe)
    got = xstat(fe, name)
    assert got == value, "xstat %s is %s, expected exactly %d" % (name, got, value)


def assert_alive(app):
    assert app.alive(), "the frontend died (rc=%s)" % app.poll()
    # it still answers: a command round trip and telemetry
    app.run("show port summary all", timeout=30)
    assert app.ports() == [0], "ports %s" % app.ports()


def fault_lines(app, kind):
    return [ln for ln in app.output().splitlines() if "xstat" in ln and kind in ln]


def bring_up(env, devargs="", mode="rxonly", evil_args=(), app_args=(), eal_extra=()):
    """An evil backend (listening) and a frontend connected to it, forwarding started."""
    be = env.evil(evil_args)
    fe = env.frontend(devargs, mode, app_args=app_args, eal_extra=eal_extra)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    be.cmd("wait_ready 10")
    fe.start_forwarding()
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    return be, fe


def restart_port(fe):
    fe.run("stop", timeout=30)
    fe.run("port stop 0", timeout=30)
    fe.run("port start 0", timeout=30)
    fe.start_forwarding()


# --------------------------------------------------------------------------
# cases

LAYOUTS = {
    "split_inorder": ",packed_vq=0,in_order=1,mrg_rxbuf=1",
    "split": ",packed_vq=0,in_order=0,mrg_rxbuf=0",
    "packed_inorder": ",packed_vq=1,in_order=1,mrg_rxbuf=1",
    "packed": ",packed_vq=1,in_order=0,mrg_rxbuf=0",
    # the line bursts (vuser_rx_lines.c): whole ring lines of good entries, the general
    # burst for a line with a fault in it; in plain C, and with AVX2 for vectorized=1
    "packed_inorder_lines": ",packed_vq=1,in_order=1,mrg_rxbuf=0",
    "packed_inorder_vec": ",packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1",
    # without IN_ORDER the line bursts take the ids in the order they were posted
    "packed_mrg_vec": ",packed_vq=1,in_order=0,mrg_rxbuf=1,vectorized=1",
    # the split ring's SIMD Rx burst (vuser_rx_lines.c), with and without IN_ORDER and
    # mergeable buffers
    "split_vec": ",packed_vq=0,in_order=0,mrg_rxbuf=0,vectorized=1",
    "split_inorder_vec": ",packed_vq=0,in_order=1,mrg_rxbuf=1,vectorized=1",
    # the SIMD Tx bursts (vuser_tx.c): AVX2 at EAL's default SIMD width, AVX-512 with
    # SIMD512_EAL
    "packed_vec": ",packed_vq=1,in_order=0,mrg_rxbuf=0,vectorized=1",
    "packed_vec512": ",packed_vq=1,in_order=0,mrg_rxbuf=0,vectorized=1",
    "packed_inorder_vec512": ",packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1",
    # and the AVX-512 line check of the packed Rx burst
    "packed_mrg_vec512": ",packed_vq=1,in_order=0,mrg_rxbuf=1,vectorized=1",
}
# What lets net_vuser pick its AVX-512 Rx and Tx bursts (`vec512` layouts).
SIMD512_EAL = ["--force-max-simd-bitwidth=512"]


def layout_eal(layout):
    return SIMD512_EAL if layout.endswith("vec512") else []


def need_simd(layout):
    """vectorized=1 layouts test the SIMD bursts: without the CPU's support they would test
    the scalar ones again, so they are skipped, saying so."""
    if "vec" in layout and not dpdkapp.host_has_avx2():
        pytest.skip("the CPU has no AVX2: the AVX2 Rx burst under test cannot run")
    if layout.endswith("vec512") and not dpdkapp.host_has_avx512f():
        pytest.skip("the CPU has no AVX-512: the AVX-512 bursts under test cannot run")


def assert_simd_rx(fe, layout="packed_vec"):
    """vectorized=1: the PMD says the AVX2 Rx burst runs on a split ring, and on a packed
    ring the Rx and Tx bursts of the width EAL allows."""
    if layout.startswith("split"):
        line = ("vectorized=1: SIMD Rx burst (AVX2) on the split ring, scalar Tx (the SIMD "
                "Tx burst is written for packed rings)")
    else:
        isa = "AVX-512" if layout.endswith("vec512") else "AVX2"
        line = ("vectorized=1: SIMD Rx burst (%s) and SIMD Tx burst (%s) on the packed "
                "ring" % (isa, isa))
    fe.wait_for_output(re.escape(line), 5)


def rx_faults(env, layout):
    """Good frames around each per-entry fault; counts exact, one log line per kind."""
    packed = layout.startswith("packed")
    in_order = "inorder" in layout
    need_simd(layout)
    be, fe = bring_up(env, LAYOUTS[layout], eal_extra=layout_eal(layout))
    if "vec" in layout:
        assert_simd_rx(fe, layout)
    be.cmd("rx 10")
    wait_ipackets(env, fe, 10)
    # bad id: dropped, counted; a split device writes an entry without taking a buffer,
    # a packed one must take a slot, whose buffer is then lost: with IN_ORDER the next
    # entry is not the buffer due either (counted as a duplicate, dropped)
    lost = 1 if packed and in_order else 0
    be.cmd("rx_bad_id 3")
    wait_rx_xstat(env, fe, "rx_q0_bad_id", 3)
    be.cmd("rx 5")
    wait_ipackets(env, fe, 10 + 5 - lost)
    # bad length: dropped, the buffer reposted
    be.cmd("rx_bad_len 2")
    wait_rx_xstat(env, fe, "rx_q0_bad_len", 2)
    # an id completed twice in one publication: the first delivered, the second counted;
    # on a packed ring it took a second buffer's slot (lost, as above)
    be.cmd("rx_dup")
    wait_ipackets(env, fe, 10 + 5 - lost + 1)
    be.cmd("rx 8")
    wait_ipackets(env, fe, 10 + 5 - lost + 1 + 8 - lost)
    be.cmd("rx 8")
    wait_ipackets(env, fe, 10 + 5 - lost + 1 + 8 - lost + 8)
    # the faults counted are the ones injected and the lost buffers they cost, and every
    # one is in ierrors (rx_settled: ierrors is what the backend wrote and no frame came of)
    dups = 1 + 2 * lost
    for kind, want in (("bad_id", 3), ("bad_len", 2), ("duplicate_id", dups),
                       ("bad_wrap", 0), ("bad_used_idx", 0)):
        assert xstat(fe, "rx_q0_" + kind) == want, "rx_q0_%s %d, expected %d" % (
            kind, xstat(fe, "rx_q0_" + kind), want)
    errs = fe.stats()["ierrors"]
    assert errs == 3 + 2 + dups, "ierrors %d, %d faults injected" % (errs, 3 + 2 + dups)
    for kind in ("bad_id", "bad_len", "duplicate_id"):
        lines = fault_lines(fe, kind)
        assert len(lines) == 1, "expected one log line for %s, got %r" % (kind, lines)
    assert link(fe) == "UP"
    assert_alive(fe)


def test_rx_faults_split_inorder(env):
    rx_faults(env, "split_inorder")


def test_rx_faults_split(env):
    rx_faults(env, "split")


def test_rx_faults_packed_inorder(env):
    rx_faults(env, "packed_inorder")


def test_rx_faults_packed(env):
    rx_faults(env, "packed")


def test_rx_faults_packed_inorder_lines(env):
    rx_faults(env, "packed_inorder_lines")


def test_rx_faults_packed_inorder_vec(env):
    rx_faults(env, "packed_inorder_vec")


def test_rx_faults_packed_inorder_vec512(env):
    rx_faults(env, "packed_inorder_vec512")


def rx_line_faults(env, layout):
    """Whole ring lines used at once (what the line Rx bursts take four at a time), with a
    fault at each position of the line: exact deliveries and counts."""
    in_order = "inorder" in layout
    mrg = "mrg_rxbuf=1" in LAYOUTS[layout]
    need_simd(layout)
    be, fe = bring_up(env, LAYOUTS[layout], eal_extra=layout_eal(layout))
    if "vec" in layout:
        assert_simd_rx(fe, layout)
    got = {"n": 0}
    kinds = ("bad_id", "bad_len", "duplicate_id", "bad_num_buffers")

    def line(args, delivered, **faults):
        want = {k: xstat(fe, "rx_q0_" + k) + faults.get(k, 0) for k in kinds}
        be.cmd("rx_line " + args)
        got["n"] += delivered
        wait_ipackets(env, fe, got["n"])  # exact, every entry accounted for
        for kind, value in want.items():
            assert xstat(fe, "rx_q0_" + kind) == value, "xstat rx_q0_%s is %s, expected %d" % (
                kind, xstat(fe, "rx_q0_" + kind), value)

    line("", 4)
    line("", 4)
    for k in range(4):
        # the buffer is reposted, the other three delivered
        line("%d bad_len" % k, 3, bad_len=1)
        if mrg:
            line("%d bad_num_buffers" % k, 3, bad_num_buffers=1)
    if in_order:
        # a foreign id takes the slot of the buffer due (lost), so the next entry's
        # buffer is not the one due either: counted as a duplicate, dropped
        line("1 bad_id", 2, bad_id=1, duplicate_id=1)
    else:
        # the entry is dropped, its buffer stays with the device; the others are taken
        line("1 bad_id", 3, bad_id=1)
        # buffers used out of the order they were posted in: no fault, all taken (by
        # the general burst: the line is not the ids due), then lines in order again
        for k in range(3):
            line("%d swap" % k, 4)
            line("", 4)
    line("", 4)
    line("", 4)
    assert xstat(fe, "rx_q0_bad_wrap") == 0
    assert_alive(fe)


def test_rx_faults_split_vec(env):
    rx_faults(env, "split_vec")


def test_rx_faults_split_inorder_vec(env):
    rx_faults(env, "split_inorder_vec")


def test_rx_line_faults_packed_inorder(env):
    rx_line_faults(env, "packed_inorder")


def test_rx_line_faults_packed_inorder_lines(env):
    rx_line_faults(env, "packed_inorder_lines")


def test_rx_line_faults_packed_inorder_vec(env):
    rx_line_faults(env, "packed_inorder_vec")


def test_rx_line_faults_packed(env):
    rx_line_faults(env, "packed")


def test_rx_line_faults_packed_mrg_vec(env):
    rx_line_faults(env, "packed_mrg_vec")


def test_rx_line_faults_packed_inorder_vec512(env):
    rx_line_faults(env, "packed_inorder_vec512")


def test_rx_line_faults_packed_mrg_vec512(env):
    rx_line_faults(env, "packed_mrg_vec512")


def test_rx_bad_num_buffers(env):
    be, fe = bring_up(env, LAYOUTS["split_inorder"])
    be.cmd("rx_bad_num_buffers 4")
    wait_rx_xstat(env, fe, "rx_q0_bad_num_buffers", 4)
    be.cmd("rx 4")
    wait_ipackets(env, fe, 4)
    assert len(fault_lines(fe, "bad_num_buffers")) == 1
    assert_alive(fe)


def corrupt_ring(env, layout, inject, kind):
    need_simd(layout)
    be, fe = bring_up(env, LAYOUTS[layout], eal_extra=layout_eal(layout))
    if "vec" in layout:
        assert_simd_rx(fe, layout)
    be.cmd("rx 4")
    wait_ipackets(env, fe, 4)
    be.cmd(inject)
    wait_rx_xstat(env, fe, "rx_q0_" + kind, 1)
    wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05)
    assert link(fe) == "DOWN", "link %s after a corrupt ring" % link(fe)
    fe.wait_for_output(r"Port 0: link state change event", 5)
    assert any("ring state is corrupt" in ln for ln in fault_lines(fe, kind))
    # the queue is left alone: nothing more is taken, the counter does not run, until a
    # port stop/start rebuilds the rings (the 2 frames go with the old ring); the port
    # was polled all along, so what it did not take by then it never took
    be.cmd("rx 2")
    assert_alive(fe)
    restart_port(fe)
    assert ipackets(fe) == 4 and xstat(fe, "rx_q0_" + kind) == 1, (
        "ipackets %d, %s %d after the queue stopped" % (ipackets(fe), kind,
                                                        xstat(fe, "rx_q0_" + kind)))
    # traffic again, link up
    be.cmd("wait_ready 10")
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up after restart")
    be.cmd("rx 6")
    wait_ipackets(env, fe, 4 + 6, unaccounted=2)


def test_split_used_idx_runaway(env):
    corrupt_ring(env, "split_inorder", "rx_bad_used_idx", "bad_used_idx")


def test_split_used_idx_runaway_vec(env):
    corrupt_ring(env, "split_inorder_vec", "rx_bad_used_idx", "bad_used_idx")


def test_packed_wrong_wrap(env):
    corrupt_ring(env, "packed_inorder", "rx_bad_wrap", "bad_wrap")


def test_packed_wrong_wrap_vec(env):
    corrupt_ring(env, "packed_inorder_vec", "rx_bad_wrap", "bad_wrap")


def test_packed_wrong_wrap_vec512(env):
    corrupt_ring(env, "packed_inorder_vec512", "rx_bad_wrap", "bad_wrap")


def test_packed_wrong_wrap_not_inorder(env):
    corrupt_ring(env, "packed", "rx_bad_wrap", "bad_wrap")


def forward(be, fe, n):
    """The backend delivers n frames; the frontend (io) sends them back: wait for that."""
    before = fe.stats()["opackets"]
    be.cmd("rx %d" % n)
    assert wait_until(lambda: fe.stats()["opackets"] >= before + n, 15, interval=0.01), (
        "the frontend sent %d of %d frames back: %s" % (
            fe.stats()["opackets"] - before, n, fe.stats()))


def tx_fault(env, layout, inject, kind, stops):
    """Paced Tx (io forwarding of frames the backend delivers): the backend completes Tx
    buffers wrongly; the next Tx burst's reclaim counts it."""
    # 32 Tx descriptors: a small ring, so the forwarded frames fill it and every later
    # burst's reclaim sees the bad completions
    need_simd(layout)
    be, fe = bring_up(env, LAYOUTS[layout], mode="io", app_args=["--txd=32"],
                      eal_extra=layout_eal(layout))
    if "vec" in layout:
        assert_simd_rx(fe, layout)
    forward(be, fe, 32)
    ans = be.cmd("tx_reap 0.3")
    assert int(ans.split()[-1]) == 32, ans
    words = inject.split()
    n = int(words[1]) if len(words) > 1 else 1
    forward(be, fe, n + 1)          # Tx buffers for the backend to complete wrongly
    be.cmd(inject)
    # Tx bursts until one takes completions (and sees the fault)
    for _ in range(10):
        be.cmd("rx 8")
        if wait_until(lambda: xstat(fe, "tx_q0_" + kind) > 0, 0.3, interval=0.02):
            break
        be.cmd("tx_reap 0.05")
    wait_xstat(fe, "tx_q0_" + kind, 1 if stops else n)
    if stops:
        wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05)
        assert link(fe) == "DOWN"
        assert any("ring state is corrupt" in ln for ln in fault_lines(fe, kind))
        before = fe.stats()["opackets"]
        # the frames arrive and are handed to the stopped Tx queue; once a frame sent
        # after them has arrived too, that hand-over is done
        be.cmd("rx 8")
        rx_settled(env, fe)
        be.cmd("rx 1")
        rx_settled(env, fe)
        assert fe.stats()["opackets"] == before, "a stopped Tx queue still sends"
        restart_port(fe)
        be.cmd("wait_ready 10")
        wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up after restart")
    # transmission goes on
    be.cmd("tx_reap 0.2")
    before = fe.stats()["opackets"]
    forward(be, fe, 16)
    ans = be.cmd("tx_reap 0.3")
    assert int(ans.split()[-1]) > 0, "nothing reaped after the fault: %s" % ans
    assert wait_until(lambda: fe.stats()["opackets"] >= before + 16, 3, interval=0.05), (
        "opackets %d, expected %d" % (fe.stats()["opackets"], before + 16))
    assert len(fault_lines(fe, kind)) == 1
    assert_alive(fe)


# Tx faults through tx_fault: (layout, backend command, xstat kind, queue stopped). A bad
# id on a split ring is for one without IN_ORDER: with it the ring completes by used->idx
# and reads no id.
TX_FAULTS = {
    "tx_bad_id_split": ("split", "tx_bad_id 3", "bad_id", False),
    "tx_bad_used_idx_split_inorder": ("split_inorder", "tx_bad_used_idx", "bad_used_idx",
                                      True),
    "tx_duplicate_split": ("split", "tx_dup", "duplicate_id", False),
    "tx_bad_id_packed": ("packed", "tx_bad_id 1", "bad_id", True),
    "tx_duplicate_packed": ("packed_inorder", "tx_dup", "duplicate_id", True),
    # the same on the SIMD Tx bursts
    "tx_bad_id_packed_vec": ("packed_vec", "tx_bad_id 1", "bad_id", True),
    "tx_bad_id_packed_vec512": ("packed_vec512", "tx_bad_id 1", "bad_id", True),
    "tx_duplicate_packed_vec": ("packed_inorder_vec", "tx_dup", "duplicate_id", True),
    "tx_duplicate_packed_vec512": ("packed_inorder_vec512", "tx_dup", "duplicate_id", True),
}


@pytest.mark.parametrize("fault", list(TX_FAULTS))
def test_tx_fault(env, fault):
    layout, inject, kind, stops = TX_FAULTS[fault]
    tx_fault(env, layout, inject, kind, stops=stops)


def test_tx_inorder_batches_split(env):
    """A device that completes split in-order Tx buffers in batches, one used entry per
    batch (the spec's "In-order use of descriptors"), the skipped entries holding ids of
    no buffer: every buffer comes back, nothing is counted as a fault."""
    be, fe = bring_up(env, LAYOUTS["split_inorder"], mode="io", app_args=["--txd=32"])
    reaped = 0
    for rnd in range(6):
        # 32 frames fill the 32 Tx descriptors: the next round can send only if this
        # round's batches gave every buffer back
        forward(be, fe, 32)
        ans = be.cmd("tx_batch 0.3")
        reaped += int(ans.split()[-1])
        assert reaped == 32 * (rnd + 1), "round %d: %s, %d reaped in all" % (rnd, ans, reaped)
    for kind in ("bad_id", "duplicate_id", "bad_used_idx"):
        assert xstat(fe, "tx_q0_" + kind) == 0, "tx_q0_%s counted" % kind
    assert fe.stats()["oerrors"] == 0
    assert fe.stats()["opackets"] == 6 * 32
    assert link(fe) == "UP"
    assert_alive(fe)


# ---- control plane


def test_silent_backend_client(env):
    """Accepts, never answers: the probe fails within the timeout, the app goes on."""
    env.evil(["--silent-at", "SET_OWNER"])
    t0 = time.monotonic()
    fe = env.frontend()
    fe.wait_for_output(r"GET_FEATURES: no reply from .*: Connection timed out", 30)
    took = time.monotonic() - t0
    fe.wait_ready(30)
    assert took < TIMEOUT_S + 10, "the probe failed only after %.1fs" % took
    assert fe.alive()
    fe.run("show port summary all")
    assert fe.ports() == [], "a port exists after a failed probe"


def test_silent_backend_server(env):
    """Server mode: a silent backend is dropped after the timeout; the next one works."""
    fe = env.frontend(server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding()
    env.evil(["--client", "--silent-at", "GET_FEATURES"])
    fe.wait_for_output(r"connection set-up failed .*waiting for another", TIMEOUT_S + 10)
    assert link(fe) == "DOWN"
    be = env.evil(["--client"])
    be.cmd("wait_ready 15")
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    be.cmd("rx 5")
    wait_ipackets(env, fe, 5)
    assert_alive(fe)


# Requests of the start sequence (vuser_glue_start -> vu_device_start_backend).
START_STEPS = ["SET_FEATURES", "SET_MEM_TABLE", "SET_VRING_CALL", "SET_VRING_NUM",
               "SET_VRING_BASE", "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_ENABLE"]


def test_close_mid_start_client(env):
    """Client mode: the backend closes before each step of the start sequence."""
    for step in START_STEPS:
        sock = os.path.join(env.sock_dir, "%s-%s.sock" % (env.case, step))
        env.evil(["--close-at", step, "--once"], sock=sock)
        fe = env.frontend(sock=sock)
        fe.wait_ready(30)
        assert link(fe) == "DOWN", "%s: link %s" % (step, link(fe))
        out = fe.output()
        assert re.search(r"Fail to start port 0|starting the backend failed", out), (
            "%s: no start failure reported" % step)
        assert_alive(fe)
        fe.stop()
        assert fe.returncode == 0, "%s: testpmd exited %s" % (step, fe.returncode)
        env.log("closed before %s: port start failed, app exited cleanly" % step)


# What the frontend says when a backend's connection goes (vu_vhost_user.c, vu_device_conn.c).
DROPPED = r"backend gone|set-up failed|dropping|closed the conn"


def test_close_mid_start_server(env):
    """Server mode: a backend closing mid-sequence is dropped; the next one works."""
    fe = env.frontend(server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding()
    for step in START_STEPS + ["GET_FEATURES", "GET_PROTOCOL_FEATURES"]:
        since = fe.output_len()
        e = env.evil(["--client", "--close-at", step, "--once"])
        # the backend closed at that very step (the frontend got that far), then exited
        e.wait_line(r"^event: closed \(close-at %s\)" % step, 15)
        rc = e.proc.wait(15)
        assert rc == 0, "%s: the backend exited %s" % (step, rc)
        said = wait_until(lambda: re.search(DROPPED, fe.output()[since:]), 10, interval=0.05)
        assert said, "%s: the frontend said nothing about the closed connection" % step
        assert link(fe) == "DOWN", "%s: link %s" % (step, link(fe))
    be = env.evil(["--client"])
    be.cmd("wait_ready 15")
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    be.cmd("rx 5")
    wait_ipackets(env, fe, 5)
    assert_alive(fe)


BAD_REPLIES = ["GET_FEATURES:wrong_request", "GET_FEATURES:wrong_size",
               "GET_FEATURES:no_reply_flag", "GET_FEATURES:extra_fd",
               "GET_FEATURES:bad_version", "GET_PROTOCOL_FEATURES:wrong_size",
               "GET_QUEUE_NUM:extra_fd", "SET_MEM_TABLE:nack", "SET_VRING_ADDR:nack"]


def test_bad_replies_server(env):
    """Every malformed reply or refused ack drops the backend with a line; the frontend
    listens on, and the next backend works (no fd left behind)."""
    fe = env.frontend(server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding()
    fds0 = len(os.listdir("/proc/%d/fd" % fe.pid))
    for spec in BAD_REPLIES:
        since = fe.output_len()
        e = env.evil(["--client", "--bad-reply", spec, "--once"])
        fe.wait_for_output(r"set-up failed|dropping the connection", TIMEOUT_S + 10,
                           since=since)
        e.proc.wait(15)
        assert link(fe) == "DOWN", "%s: link %s" % (spec, link(fe))
        env.log("%s: %s" % (spec, [ln for ln in fe.output()[since:].splitlines()
                                   if "VUSER" in ln][:1]))
    be = env.evil(["--client"])
    be.cmd("wait_ready 15")
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    be.cmd("rx 3")
    wait_ipackets(env, fe, 3)
    be.kill()
    wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05)
    # the connection's fds go as the frontend handles the close
    wait_until(lambda: len(os.listdir("/proc/%d/fd" % fe.pid)) == fds0, 5, interval=0.02)
    fds = len(os.listdir("/proc/%d/fd" % fe.pid))
    assert fds == fds0, "fds %d after the bad replies, %d before" % (fds, fds0)
    assert_alive(fe)


def test_bad_reply_client(env):
    """Client mode: a wrong reply at probe fails it with a line naming the problem."""
    env.evil(["--bad-reply", "GET_FEATURES:wrong_size"])
    fe = env.frontend()
    fe.wait_for_output(r"GET_FEATURES: bad reply from .*wrong payload size", 20)
    fe.wait_ready(30)
    assert fe.ports() == []


def test_unknown_feature_bits(env):
    """Every feature and protocol feature bit offered: only known ones are negotiated."""
    be, fe = bring_up(env, LAYOUTS["split_inorder"],
                      evil_args=["--features", "0xffffffffffffffff",
                                 "--protocol-features", "0xffffffffffffffff"])
    # what the backend received with SET_FEATURES / SET_PROTOCOL_FEATURES
    m = re.search(r"^ok features 0x([0-9a-f]+) protocol 0x([0-9a-f]+)$", be.cmd("features"))
    neg, pf = int(m.group(1), 16), int(m.group(2), 16)
    assert not neg & ~(KNOWN_FEATURES | 1 << F_PROTOCOL_FEATURES), (
        "unknown bits negotiated: 0x%x" % (neg & ~(KNOWN_FEATURES | 1 << F_PROTOCOL_FEATURES)))
    assert pf == PF_KNOWN, "protocol features 0x%x, expected 0x%x" % (pf, PF_KNOWN)
    # what the device offers its driver (the PMD's line: it never goes on the wire)
    m = re.search(r"\(device offers 0x([0-9a-f]+)\)", fe.output())
    assert m, "no device-offers line"
    offers = int(m.group(1), 16)
    assert not offers & ~KNOWN_FEATURES, "unknown bits offered: 0x%x" % (offers & ~KNOWN_FEATURES)
    be.cmd("rx 5")
    wait_ipackets(env, fe, 5)


def test_slow_backend(env):
    """Every message answered after 100 ms (well within the 5 s bound): start succeeds."""
    be, fe = bring_up(env, LAYOUTS["split_inorder"], evil_args=["--delay-ms", "100"])
    be.cmd("rx 5")
    wait_ipackets(env, fe, 5)


def test_backend_killed_mid_traffic_client(env):
    be, fe = bring_up(env, LAYOUTS["split_inorder"], mode="io")
    be.cmd("rx 20")
    wait_ipackets(env, fe, 20)
    be.kill()
    wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05)
    assert link(fe) == "DOWN"
    # alive, answering, and then it quits cleanly: the port outlived its backend
    assert_alive(fe)
    fe.stop()
    assert fe.returncode == 0, "testpmd exited %s" % fe.returncode


def test_backend_killed_mid_traffic_server(env):
    fe = env.frontend(LAYOUTS["packed_inorder"], mode="io", server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding()
    n = 0
    for rnd in range(5):
        be = env.evil(["--client"])
        be.cmd("wait_ready 15")
        wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
        be.cmd("rx 10")
        n += 10
        wait_ipackets(env, fe, n)
        be.cmd("tx_reap 0.2")
        be.kill()
        wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05, what="link down")
    errs = fe.stats()
    assert errs["ierrors"] == 0 and errs["oerrors"] == 0, errs
    assert_alive(fe)


# --------------------------------------------------------------------------
# per case


def foreign_deaths(apps, running):
    """Apps that died of a signal the test did not send: it sends SIGKILL only to the
    apps still `running` at the end of a case."""
    died = []
    for app in apps:
        rc = app.returncode
        if rc is None or rc >= 0 or (rc == -signal.SIGKILL and app in running):
            continue
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        died.append("%s died of %s" % (app.name, name))
    return died


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    env = Env(log_dir, request.config.getoption("verbose") > 0)
    yield env
    env.cleanup()
