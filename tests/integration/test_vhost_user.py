# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: a virtio-user frontend against DPDK's net_vhost backend.

    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,queues=1   (server)
    frontend  dpdk-testpmd <frontend vdev>,path=<sock>               (client)

The frontend under test is chosen by VUSER_FRONTEND:
    vuser (default)  -d <staged librte_net_vuser.so> --vdev virtio_user0,path=<sock>
    dpdk             --vdev net_virtio_user0,path=<sock>  (DPDK's own driver,
                     to check the harness itself)
VUSER_PLUGIN overrides the plugin path (default build/drivers/net/vuser/
librte_net_vuser.so).  Logs of every app go to results/integration-vhost_user/.

Each case is a pytest test (docs/testing.md), bounded by CASE_TIMEOUT:

    python3 -m pytest tests/integration/test_vhost_user.py -k loopback
"""

import os
import re
import shutil
import socket
import tempfile
import time

import pytest

import dpdkapp
from dpdkapp import Testpmd, wait_stable

BURST = 32
NB_BURSTS = 4
PKTS = BURST * NB_BURSTS          # 128 packets per case
PKT_LEN = 64                      # --txpkts=64: frame length without virtio-net header
CASE_TIMEOUT = 60                 # hard bound per case (SIGALRM)
PROBE_LIMIT = 20.0                # a failing probe must be over within this
SETTLE_TIMEOUT = 10.0

COMMON_APP_ARGS = ["--burst=%d" % BURST, "--txpkts=%d" % PKT_LEN,
                   "--total-num-mbufs=2048", "--nb-cores=1"]
ERROR_KEYS = ("imissed", "ierrors", "oerrors", "rx_nombuf")


class Frontend:
    """Which driver plays the frontend, and how to name it on the command line."""

    def __init__(self, kind):
        self.kind = kind
        self.plugin = None
        self.staged = None
        if kind == "vuser":
            self.vdev_name = "virtio_user0"
            self.driver = "net_vuser"
            self.plugin = dpdkapp.plugin_path()
        elif kind == "dpdk":
            self.vdev_name = "net_virtio_user0"
            self.driver = "net_virtio_user"
        else:
            raise SystemExit("VUSER_FRONTEND must be 'vuser' or 'dpdk', not %r" % kind)

    def prepare(self):
        if self.plugin:
            if not os.path.isfile(self.plugin):
                raise RuntimeError(
                    "VUSER_FRONTEND=vuser but the plugin %s does not exist: build it "
                    "first (make build), or set VUSER_FRONTEND=dpdk to test the harness "
                    "with DPDK's own virtio_user driver" % self.plugin)
            self.staged = dpdkapp.stage_plugin(self.plugin)

    def cleanup(self):
        dpdkapp.unstage_plugin(self.staged)

    def vdev(self, **devargs):
        return ",".join([self.vdev_name] + ["%s=%s" % kv for kv in devargs.items()])

    def plugins(self):
        return [self.staged] if self.staged else []


class Env:
    """Per-run resources: socket dir, log dir, frontend, and the apps of the
    running case (killed whatever happens)."""

    def __init__(self, frontend, log_dir, verbose):
        self.fe = frontend
        self.log_dir = log_dir
        self.verbose = verbose
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-it-")
        self.apps = []
        self.case = None

    def sock(self, name):
        return os.path.join(self.sock_dir, name)

    def start_case(self, name):
        self.case = name.replace("test_", "")
        self.apps = []

    def end_case(self, failed):
        if failed:
            # stop what is left (bounded: quit, SIGINT, SIGKILL) so the logs are
            # complete, then make sure nothing survives
            try:
                self.stop_all(timeout=3)
            except Exception as e:
                print("    (stop after failure: %s)" % e)
        self.kill_all()  # no-op when every app has exited
        if failed:
            self.dump_logs()

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    # ---- apps
    def backend(self, sock, mode="rxonly", wait_socket=True):
        if os.path.exists(sock):
            os.unlink(sock)
        app = Testpmd("%s-backend" % self.case, self.log_dir,
                      vdevs=["net_vhost0,iface=%s,queues=1" % sock],
                      interactive=True, lcores="0,1", main_lcore=0,
                      app_args=["--forward-mode=%s" % mode] + COMMON_APP_ARGS)
        self.apps.append(app)
        app.start()
        if wait_socket:
            dpdkapp.wait_until(lambda: os.path.exists(sock) or not app.alive(), 15,
                               what="backend socket %s" % sock)
        app.wait_ready()
        return app

    def frontend(self, mode="rxonly", wait=True, **devargs):
        app = Testpmd("%s-frontend" % self.case, self.log_dir,
                      vdevs=[self.fe.vdev(**devargs)], plugins=self.fe.plugins(),
                      interactive=True, lcores="0,1", main_lcore=1,
                      app_args=["--forward-mode=%s" % mode] + COMMON_APP_ARGS)
        self.apps.append(app)
        app.start()
        if wait:
            app.wait_ready()
        return app

    def stop_all(self, timeout=10):
        """Stop apps cleanly, frontends first; return {name: returncode}."""
        rcs = {}
        for app in sorted(self.apps, key=lambda a: not a.name.endswith("frontend")):
            if app.proc is not None:
                app.stop(timeout=timeout)
                rcs[app.name] = app.returncode
        return rcs

    def kill_all(self):
        dpdkapp.kill_all(self.apps)

    def dump_logs(self, lines=40):
        for app in self.apps:
            print("    ---- %s (%s, rc=%s) last %d lines ----"
                  % (app.name, app.log_path, app.returncode, lines))
            for ln in dpdkapp.tail(app.output(), lines).splitlines():
                print("    | " + ln)

    def cleanup(self):
        shutil.rmtree(self.sock_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# checks


def check_driver(env, fe):
    """The frontend port really is driven by the driver under test."""
    m = fe.cmd("show port info 0", wait=r"Driver name: *(\S+)")
    got = m.group(1)
    assert got == env.fe.driver, "frontend port 0 is driven by %s, expected %s" % (
        got, env.fe.driver)


def settled(app, key, expected):
    """Wait (bounded) until counter ``key`` reaches ``expected`` and stops
    moving; return all counters."""
    return wait_stable(app.counters, SETTLE_TIMEOUT, settle=0.5,
                       until=lambda c: (c.get(key) or 0) >= expected)


def assert_counters(name, got, **expected):
    bad = ["%s=%s (expected %s)" % (k, got.get(k), v)
           for k, v in expected.items() if got.get(k) != v]
    errs = ["%s=%s" % (k, got.get(k)) for k in ERROR_KEYS if got.get(k)]
    if bad or errs:
        raise AssertionError("%s counters wrong: %s; all: %s"
                             % (name, ", ".join(bad + errs), got))


def assert_clean_exit(rcs):
    bad = {n: rc for n, rc in rcs.items() if rc != 0}
    assert not bad, "apps did not exit cleanly (rc<0 means killed by signal): %s" % bad


# --------------------------------------------------------------------------
# cases

def start_pair(env, fe_mode="rxonly"):
    sock = env.sock("vhost-%s.sock" % env.case)
    be = env.backend(sock)
    fe = env.frontend(mode=fe_mode, path=sock)
    be.wait_link_up(timeout=15)
    check_driver(env, fe)
    return be, fe


def test_frontend_tx(env):
    """frontend sends 4 bursts; backend receives exactly 128 x 64 bytes"""
    be, fe = start_pair(env)
    be.start_forwarding("rxonly")
    fe.cmd("start tx_first %d" % NB_BURSTS)
    b = settled(be, "ipackets", PKTS)
    f = settled(fe, "opackets", PKTS)
    env.log("backend %s" % b)
    env.log("frontend %s" % f)
    # net_vhost and virtio count bytes as the Ethernet frame (mbuf pkt_len):
    # no virtio-net header, no CRC.
    assert_counters("backend", b, ipackets=PKTS, ibytes=PKTS * PKT_LEN, opackets=0)
    assert_counters("frontend", f, opackets=PKTS, obytes=PKTS * PKT_LEN, ipackets=0)
    assert_clean_exit(env.stop_all())


def test_frontend_rx(env):
    """backend sends 4 bursts; frontend receives exactly 128 x 64 bytes"""
    be, fe = start_pair(env)
    fe.start_forwarding("rxonly")
    be.cmd("start tx_first %d" % NB_BURSTS)
    f = settled(fe, "ipackets", PKTS)
    b = settled(be, "opackets", PKTS)
    env.log("backend %s" % b)
    env.log("frontend %s" % f)
    assert_counters("frontend", f, ipackets=PKTS, ibytes=PKTS * PKT_LEN, opackets=0)
    assert_counters("backend", b, opackets=PKTS, obytes=PKTS * PKT_LEN, ipackets=0)
    assert_clean_exit(env.stop_all())


def test_loopback(env):
    """backend sends 128; frontend (io fwd) returns all 128; zero loss"""
    be, fe = start_pair(env, fe_mode="io")
    fe.start_forwarding("io")
    be.cmd("start tx_first %d" % NB_BURSTS)
    b = settled(be, "ipackets", PKTS)
    f = settled(fe, "opackets", PKTS)
    env.log("backend %s" % b)
    env.log("frontend %s" % f)
    assert_counters("backend", b, opackets=PKTS, ipackets=PKTS,
                    obytes=PKTS * PKT_LEN, ibytes=PKTS * PKT_LEN)
    assert_counters("frontend", f, ipackets=PKTS, opackets=PKTS,
                    ibytes=PKTS * PKT_LEN, obytes=PKTS * PKT_LEN)
    assert_clean_exit(env.stop_all())


def probe_must_fail(env, what, needles, **devargs):
    """Start the frontend with bad devargs: the probe must fail within
    PROBE_LIMIT, without a crash, create no port, and say why.

    testpmd 22.11 when its only vdev fails to probe: EAL prints
    'vdev_probe(): failed to initialize <name> device' and 'EAL: Bus (vdev)
    probe failed.', testpmd prints 'testpmd: No probed ethernet devices' and
    carries on with zero ports (an interactive prompt; telemetry
    /ethdev/list is []).  It needs --total-num-mbufs then: its default pool
    size for zero ports is sized for RTE_MAX_ETHPORTS and fails under -m 256."""
    t0 = time.monotonic()
    fe = env.frontend(wait=False, **devargs)

    def done():
        return (not fe.alive()) or re.search(dpdkapp.PROMPT, fe.output(), re.M)

    dpdkapp.wait_until(done, PROBE_LIMIT,
                       what="frontend with %s to finish probing" % what)
    elapsed = time.monotonic() - t0
    env.log("probe over in %.1fs" % elapsed)
    if fe.alive():
        ports = fe.ports()
        assert ports == [], "a port was created despite %s: /ethdev/list=%s" % (what, ports)
    out = fe.stop(timeout=10)
    rc = fe.returncode
    assert rc is not None and rc >= 0, "frontend crashed (rc=%s) on %s" % (rc, what)
    assert "No probed ethernet devices" in out, \
        "testpmd did not report 'No probed ethernet devices' for %s" % what
    assert "Port 0:" not in out, "a port 0 was configured despite %s" % what
    if env.fe.kind == "vuser":
        # virtio_user0 is also an alias of DPDK's net_virtio_user (auto-loaded
        # from the plugin dir): make sure that driver did not take the vdev
        for sig in DPDK_VIRTIO_USER_SIGNS:
            assert sig not in out, ("DPDK's own net_virtio_user handled the vdev "
                                    "(printed %r), not net_vuser" % sig)
    # the driver must name the problem on one line
    lines = out.splitlines()
    for needle in needles:
        if not any(re.search(needle, ln) for ln in lines):
            raise AssertionError("no line matching /%s/ in the frontend output for %s"
                                 % (needle, what))
    assert_clean_exit(env.stop_all())


# log prefixes of DPDK's drivers/net/virtio (never ours: we use vu_/vuser_)
DPDK_VIRTIO_USER_SIGNS = ("virtio_user_pmd_probe():", "virtio_user_dev_init():",
                          "virtio_user_dev_setup():")


def driver_line(*words):
    """Regex: a line naming our driver and all of ``words``."""
    ahead = "".join("(?=.*%s)" % re.escape(w) for w in words)
    return r"^(?=.*(?:vuser|virtio_user))%s" % ahead


def test_probe_missing_path(env):
    """path to a nonexistent file: probe fails cleanly, no port"""
    path = env.sock("does-not-exist.sock")
    probe_must_fail(env, "a missing socket path",
                    [driver_line(path)], path=path)


def test_probe_no_listener(env):
    """path to a socket file nobody listens on: probe fails cleanly, no port"""
    path = env.sock("stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()          # the file stays, nobody listens: connect() is refused
    assert os.path.exists(path)
    probe_must_fail(env, "a socket with no listener",
                    [driver_line(path)], path=path)


def test_probe_unknown_key(env):
    """unknown devarg key: probe fails cleanly, no port (backend is up)"""
    sock = env.sock("vhost-unknown-key.sock")
    env.backend(sock)
    if env.fe.kind == "dpdk":
        # DPDK's driver says only 'error when parsing param'
        needles = [r"virtio_user.*error when parsing param",
                   r"failed to initialize net_virtio_user0"]
    else:
        needles = [driver_line("bogus")]
    probe_must_fail(env, "an unknown devarg key 'bogus'", needles,
                    path=sock, bogus=1)


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    frontend = Frontend(os.environ.get("VUSER_FRONTEND", "vuser"))
    if shutil.which(dpdkapp.TESTPMD) is None:
        pytest.fail("%s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD)
    try:
        frontend.prepare()
    except (RuntimeError, dpdkapp.DpdkAppError) as e:
        pytest.fail(str(e))
    env = Env(frontend, log_dir, request.config.getoption("verbose") > 0)
    yield env
    env.kill_all()
    env.cleanup()
    frontend.cleanup()
