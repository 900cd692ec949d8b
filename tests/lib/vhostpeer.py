# SPDX-License-Identifier: BSD-3-Clause
"""Both ends of a vhost-user link as dpdk-testpmd apps: net_vhost backends and frontends.

The pytest fixtures of tests/integration/conftest.py hand these to tests:

  FRONTENDS        the two frontend drivers a command line can reach: DPDK's own
                   net_virtio_user and vuser (the plugin, under DPDK's alias)
  Backends         net_vhost backends, forwarding with Tx retry: shared listeners
                   (one per socket name and queue count, reused by test after test)
                   and backends of one test (a listener at a path of its own, or a
                   client of a frontend in server mode)
  start_frontend() a frontend testpmd with a vdev of either driver
  enable_tx_retry() testpmd's Tx retry, so that bounded bursts arrive exactly
  send_counted()   one app sends bursts (`start tx_first`), another counts them: the
                   growth of both ports' counters, and what is not exact

Standard library only (and tests/lib/dpdkapp.py).
"""

import os

import dpdkapp
from dpdkapp import Testpmd

BURST = 32
PKT_LEN = 64
# testpmd's Tx retry: up to 1000 x 100 us for the peer to make room, so that a burst
# sent into a short ring (--txd=64) waits for the peer instead of being dropped
TX_RETRY = "set burst tx delay 100 retry 1000"
BOOT_TIMEOUT = 30.0
# A forwarding mode that frees what it receives (testpmd's txonly frames are UDP, and
# icmpecho answers only ARP and ICMP echo) and has Tx retry for `start tx_first`: a
# counting sink that also sends bursts of its own on demand.
SINK = "icmpecho"


class FrontendKind:
    """A frontend driver and how a command line names it."""

    def __init__(self, kind, alias, driver, plugin):
        self.kind, self.alias, self.driver, self.plugin = kind, alias, driver, plugin

    def vdev(self, devargs, index=0):
        """'<alias><index>,<devargs>': what --vdev gets."""
        return "%s%d%s" % (self.alias, index, "," + devargs if devargs else "")


# DPDK's driver is reached without -d; vuser's plugin registers DPDK's alias first
FRONTENDS = {
    "dpdk": FrontendKind("dpdk", "net_virtio_user", "net_virtio_user", plugin=False),
    "vuser": FrontendKind("vuser", "virtio_user", "net_vuser", plugin=True),
}


def app_args(mbufs=4096):
    """testpmd args of both ends: bounded bursts of 64-byte frames, one forwarding core
    (the other CPU is the peer's), no link wait at start (9 s when a port is down; the
    tests read the link from telemetry)."""
    return ["--burst=%d" % BURST, "--txpkts=%d" % PKT_LEN, "--total-num-mbufs=%d" % mbufs,
            "--nb-cores=1", "--disable-link-check"]


def enable_tx_retry(app, mode):
    """Forwarding ``mode`` with testpmd's Tx retry (``start tx_first`` bursts retry too)."""
    for line in (TX_RETRY, "set fwd %s retry" % mode):
        out = app.run(line)
        if "Bad arguments" in out or "nvalid" in out:
            raise dpdkapp.DpdkAppError("%s refused %r: %s" % (app.name, line, out.strip()))


def send_counted(sender, receiver, bursts, sport=0, rport=0):
    """``sender`` sends ``bursts`` x BURST frames of PKT_LEN bytes (`start tx_first`, Tx
    retry on) while ``receiver`` forwards in SINK mode, which frees them and sends
    nothing. Both interactive. Returns (sender delta, receiver delta, mismatches): the
    sender must have sent and the receiver received exactly that many, no errors."""
    n = bursts * BURST
    s0, r0 = sender.stats(sport), receiver.stats(rport)
    receiver.start_forwarding()
    try:
        sender.run("start tx_first %d" % bursts)
        s, r = dpdkapp.settle_all([(sender, sport, s0, "opackets", n),
                                   (receiver, rport, r0, "ipackets", n)])
    finally:
        sender.run("stop")
        receiver.run("stop")
    bad = dpdkapp.mismatches(sender.name, s, opackets=n, obytes=n * PKT_LEN, ipackets=0)
    bad += dpdkapp.mismatches(receiver.name, r, ipackets=n, ibytes=n * PKT_LEN, opackets=0)
    return s, r, bad


def start_frontend(name, log_dir, kind, devargs, args, plugin=None, **testpmd):
    """Start (without waiting) an interactive frontend testpmd with one vdev of driver
    ``kind`` ('dpdk' or 'vuser'; ``plugin`` is the staged vuser plugin). Forwarding runs
    on lcore 0, the main lcore is 1 (a backend here has them the other way round).
    ``testpmd``: more Testpmd arguments (cwd, log_levels, no_huge, eal_extra...)."""
    fk = FRONTENDS[kind]
    app = Testpmd(name, log_dir, vdevs=[fk.vdev(devargs)],
                  plugins=[plugin] if fk.plugin else [], interactive=True, lcores="0,1",
                  main_lcore=1, app_args=list(args), **testpmd)
    return app.start()


class Backends:
    """net_vhost backends (testpmd, forwarding ``mode`` with Tx retry, forwarding stopped
    until a test starts it; main lcore 0, forwarding on lcore 1).

    listener(queues, nq) is shared: the same backend serves frontend after frontend (each
    disconnect takes its link down, the next connection brings it up); a test that saw
    something wrong discard()s it and the next call starts a fresh one.  own_listener()
    and client() start backends of one test, which discard()s them when done."""

    def __init__(self, log_dir, sock_dir, mode=SINK):
        self.log_dir, self.sock_dir, self.mode = log_dir, sock_dir, mode
        self.shared = {}
        self.apps = []
        self.count = 0

    def _start(self, tag, vdev, nq, mbufs, wait_path=None, log_levels=()):
        self.count += 1
        app = Testpmd("backend%d-%s" % (self.count, tag), self.log_dir, vdevs=[vdev],
                      interactive=True, lcores="0,1", main_lcore=0,
                      log_levels=list(log_levels),
                      app_args=app_args(mbufs) + ["--rxq=%d" % nq, "--txq=%d" % nq])
        self.apps.append(app)
        app.start()
        if wait_path:
            dpdkapp.wait_until(lambda: os.path.exists(wait_path) or not app.alive(),
                               BOOT_TIMEOUT, what="backend socket %s" % wait_path)
        app.wait_ready(timeout=BOOT_TIMEOUT)
        enable_tx_retry(app, self.mode)
        return app

    def listener(self, queues=1, nq=1, mbufs=8192):
        """The shared net_vhost listening for ``queues`` queue pairs (testpmd ``nq``)."""
        key = (queues, nq, mbufs)
        app = self.shared.get(key)
        if app is not None and app.alive():
            return app
        sock = os.path.join(self.sock_dir, "vhost-q%d-n%d-m%d.sock" % key)
        app = self.own_listener(sock, queues, nq, mbufs)
        self.shared[key] = app
        return app

    def own_listener(self, sock, queues=1, nq=1, mbufs=8192, devargs="", log_levels=()):
        """A net_vhost server listening at ``sock`` (removed first if it exists);
        ``devargs`` adds to its vdev (",iommu-support=1"), ``log_levels`` to its EAL."""
        if os.path.exists(sock):
            os.unlink(sock)
        app = self._start("q%d" % queues,
                          "net_vhost0,iface=%s,queues=%d%s" % (sock, queues, devargs),
                          nq, mbufs, wait_path=sock, log_levels=log_levels)
        app.sock = sock
        return app

    def client(self, sock, queues=1, nq=1, mbufs=8192):
        """A net_vhost client connecting to a frontend listening at ``sock``."""
        app = self._start("client-q%d" % queues,
                          "net_vhost0,iface=%s,queues=%d,client=1" % (sock, queues),
                          nq, mbufs)
        app.sock = sock
        return app

    def discard(self, app):
        """Stop ``app`` (bounded) and never hand it out again."""
        if app is None:
            return
        self.shared = {k: a for k, a in self.shared.items() if a is not app}
        if app.proc is not None and app.alive():
            try:
                app.stop(timeout=5)
            except dpdkapp.DpdkAppError:
                pass
        app.kill()

    def close(self):
        for app in list(self.apps):
            self.discard(app)
        self.apps = []
