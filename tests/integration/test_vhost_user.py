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
import socket
import time

import pytest

import dpdkapp
from dpdkapp import wait_stable
from pairs import BURST, PKT_LEN, assert_clean_exit, check_driver

NB_BURSTS = 4
PKTS = BURST * NB_BURSTS          # 128 packets per case
CASE_TIMEOUT = 60                 # hard bound per case (SIGALRM)
PROBE_LIMIT = 20.0                # a failing probe must be over within this
SETTLE_TIMEOUT = 10.0
ERROR_KEYS = ("imissed", "ierrors", "oerrors", "rx_nombuf")


def backend(env, sock):
    """net_vhost listening on sock, rxonly; testpmd checks its link at start."""
    return env.backend("backend", [sock], link_check=True)


def frontend(env, mode="rxonly", wait=True, **devargs):
    """The frontend under test on one vdev, at the driver's default log level."""
    return env.frontend("frontend", [env.fe.vdev(**devargs)], mode=mode, wait=wait,
                        link_check=True, log_levels=())


# --------------------------------------------------------------------------
# checks


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


# --------------------------------------------------------------------------
# cases

def start_pair(env, fe_mode="rxonly"):
    sock = env.sock("vhost-%s.sock" % env.case)
    be = backend(env, sock)
    fe = frontend(env, mode=fe_mode, path=sock)
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
    fe = frontend(env, wait=False, **devargs)

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
    backend(env, sock)
    if env.fe.kind == "dpdk":
        # DPDK's driver says only 'error when parsing param'
        needles = [r"virtio_user.*error when parsing param",
                   r"failed to initialize net_virtio_user0"]
    else:
        needles = [driver_line("bogus")]
    probe_must_fail(env, "an unknown devarg key 'bogus'", needles,
                    path=sock, bogus=1)


@pytest.fixture(scope="module")
def module_env(pair_env):
    return pair_env
