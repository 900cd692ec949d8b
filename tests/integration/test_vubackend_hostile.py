# SPDX-License-Identifier: BSD-3-Clause
"""net_vubackend against hostile frontends: scripted attacks on one port, exact traffic on another.

    backend    dpdk-testpmd -d <staged librte_net_vubackend.so>
                            --vdev net_vubackend0,iface=<evil.sock>
                            --vdev net_vubackend1,iface=<good.sock>   (rxonly, forwarding)
    port 0     tests/lib/evil_frontend.py (in this process): one attack per case
    port 1     dpdk-testpmd --vdev net_virtio_user0,path=<good.sock> (DPDK's driver)

Each case, bounded by CASE_TIMEOUT:

  1. port 1 carries exactly 128 frames (the frontend's `start tx_first 4`);
  2. the evil frontend connects to port 0 and runs one attack of evil_frontend.ATTACKS:
       requests  the backend refuses each bad request with the errno the table names
                 (REPLY_ACK status) and takes no frame on port 0;
       ring      after 8 good frames (taken, exactly) the frontend breaks its Tx ring
                 (vring 1): the ring stops, the frontend's err eventfd is written, and
                 4 more good frames made available on it stay there (not taken within
                 REFUSED_WAIT, once the log line said the ring stopped);
       drop      the backend closes the connection;
     and the backend's log has, for each refusal, a line naming net_vubackend0 and what
     was wrong (vring, region, request), and no error line names net_vubackend1;
  3. a well-behaved frontend (evil_frontend.py's good path) connects to port 0 and sends
     64 frames: the backend takes exactly 64;
  4. port 1 carries exactly 128 frames again, and testpmd is alive.

And against app/vub-net (libvub's other user, which sleeps until kicked), for
VUBNET_ATTACKS: the ring stops with its line, a new frontend puts exactly 64 frames on the
TAP, SIGTERM ends the program with exit 0.

The backend pair is started once and kept across cases; a failing case prints the apps'
logs and kills them, and the next case starts a new pair. The last case stops the
backend: it exits 0. Logs: results/integration-vubackend_hostile/.

    /usr/bin/python3 -m pytest -v tests/integration/test_vubackend_hostile.py -k chain_loop
"""

import errno
import os
import re
import shutil
import tempfile
import time

import pytest

import dpdkapp
from dpdkapp import Testpmd
from evil_frontend import ATTACKS, EvilFrontend
from test_vubackend import vubackend_plugin
from test_vubnet import TAP, netns, setup_tap, vubnet  # noqa: F401 (fixtures)

CASE_TIMEOUT = 90
BURST = 32
PORT1_BURSTS = 4
PORT1_PKTS = BURST * PORT1_BURSTS      # frames port 1 carries before and after an attack
GOOD_BEFORE = 8                        # frames a ring attack sends before it breaks the ring
AFTER_BREAK = 4                        # good frames offered on the broken ring
RECONNECT_FRAMES = 64                  # frames the well-behaved frontend sends on port 0
# vub-net sleeps until kicked: a broken ring must not look like one with work waiting.
VUBNET_ATTACKS = ("avail_jump", "packed_bad_wrap")
REFUSED_WAIT = 1.0                     # s: the broken ring takes nothing in this time
LOG_TIMEOUT = 10.0
LINK_TIMEOUT = 15.0
SETTLE_TIMEOUT = 10.0
DROP_TIMEOUT = 5.0                     # s: a dropped connection reads EOF by then
EVIL_DEV, GOOD_DEV = "net_vubackend0", "net_vubackend1"
APP_ARGS = ["--burst=%d" % BURST, "--txpkts=64", "--total-num-mbufs=4096", "--nb-cores=1",
            "--forward-mode=rxonly"]
EINVAL, EFAULT, EACCES = errno.EINVAL, errno.EFAULT, errno.EACCES

# attack: (kind, frontend options, REPLY_ACK statuses, log lines after "<device>: ").
CASES = {
    "mem_overlap": ("requests", {}, [EINVAL, EINVAL], [
        r"SET_MEM_TABLE refused: region 1 \(guest 0x\w+, size 0x\w+\): guest addresses "
        r"overlap an earlier region",
        r"SET_MEM_TABLE refused: region 1 \(.*\): user addresses overlap an earlier region"]),
    "mem_zero_size": ("requests", {}, [EINVAL], [
        r"SET_MEM_TABLE refused: region 0 \(guest 0x40000000, size 0x0\): size 0"]),
    "mem_huge": ("requests", {}, [EINVAL, EINVAL], [
        r"SET_MEM_TABLE region 0: offset 0x0 \+ size 0x400000000000 is past the end of its "
        r"file \(2097152 bytes\): refused",
        r"SET_MEM_TABLE refused: region 0 \(guest 0xfffffffffff00000, size 0x200000\): "
        r"guest address \+ size wraps around"]),
    "mem_bad_fds": ("requests", {}, [EINVAL, EINVAL, EACCES], [
        r"SET_MEM_TABLE region 0: fd is not a regular file",
        r"SET_MEM_TABLE refused: fd count does not match the region count",
        r"SET_MEM_TABLE region 0: mmap of 2097152 bytes: Permission denied"]),
    "ring_outside": ("requests", {}, [EFAULT, EFAULT], [
        r"vring 1: descriptor table at 0x7f1200210000 \(4096 bytes\) is not inside one "
        r"memory region",
        r"vring 1: used ring at 0x7f12001ffff0 \(2054 bytes\) is not inside one memory "
        r"region"]),
    "kick_early": ("requests", {}, [EINVAL, EINVAL], [
        r"SET_VRING_KICK on vring 1 before SET_VRING_NUM: the ring stays stopped",
        r"SET_VRING_KICK on vring 1 before SET_MEM_TABLE: the ring stays stopped"]),
    "packed_bad_base": ("requests", {"packed": True}, [EINVAL], [
        r"SET_VRING_KICK on vring 1: its base 300 is past its 256 descriptors"]),
    "vring_index": ("drop", {}, [EINVAL, EINVAL], [
        r"SET_VRING_NUM names vring 7, the device has 2: refused",
        r"SET_VRING_KICK names vring 200, the device has 2: refused",
        r"GET_VRING_BASE names vring 9, the device has 2: refused",
        r"GET_VRING_BASE refused: dropping the frontend"]),
    "stalled_message": ("drop", {}, [], [
        r"reading a message from the frontend: Connection timed out: dropping it"]),
    "chain_loop": ("ring", {}, None, [
        r"vring 1 stopped: chain at descriptor 8, descriptor 9: chain longer than its "
        r"table \(a loop\)"]),
    "chain_long": ("ring", {}, None, [
        r"vring 1 stopped: transmit chain at descriptor 8 has more than 64 buffers"]),
    "desc_outside": ("ring", {}, None, [
        r"vring 1 stopped: chain at descriptor 8, descriptor 8: buffer is not inside one "
        r"memory region"]),
    "desc_cross_end": ("ring", {}, None, [
        r"vring 1 stopped: chain at descriptor 8, descriptor 8: buffer is not inside one "
        r"memory region"]),
    "avail_jump": ("ring", {}, None, [
        r"vring 1 stopped: avail index 269 is 261 entries past the last one taken \(8\), "
        r"more than the ring's 256"]),
    "avail_bad_head": ("ring", {}, None, [
        r"vring 1 stopped: avail slot 8 names descriptor 300 of a table of 256"]),
    "indirect_oob": ("ring", {"indirect": True}, None, [
        r"vring 1 stopped: chain at descriptor 8, descriptor 8: indirect table is not "
        r"inside one memory region"]),
    "indirect_nested": ("ring", {"indirect": True}, None, [
        r"vring 1 stopped: chain at descriptor 8, indirect entry 1: indirect descriptor "
        r"inside an indirect table"]),
    "mem_swap": ("ring", {}, None, [
        r"vring 1: descriptor table at 0x7f1200004000 \(4096 bytes\) is not inside one "
        r"memory region",
        r"vring 1 stopped: its rings are not inside the new memory table"]),
    "packed_bad_wrap": ("ring", {"packed": True}, None, [
        r"vring 1 stopped: chain at descriptor 8, descriptor 9: the chain runs into a "
        r"descriptor not made available"]),
}
assert set(CASES) == set(ATTACKS), "attacks without a case: %s" % (set(ATTACKS) ^ set(CASES))


class Env:
    """The backend (two ports) and port 1's frontend, kept across cases."""

    def __init__(self, log_dir, verbose, backend_plugin):
        self.log_dir, self.verbose, self.backend_plugin = log_dir, verbose, backend_plugin
        self.sock_dir = tempfile.mkdtemp(prefix="vub-hostile-")
        self.evil_sock = os.path.join(self.sock_dir, "evil.sock")
        self.good_sock = os.path.join(self.sock_dir, "good.sock")
        self.be = self.fe = None
        self.apps = []
        self.case = None
        self.pairs = 0

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    def start_pair(self):
        self.pairs += 1
        vdevs = ["%s,iface=%s" % (EVIL_DEV, self.evil_sock),
                 "%s,iface=%s" % (GOOD_DEV, self.good_sock)]
        # Port 0 has no frontend yet: no 9 s wait for its link at start.
        self.be = Testpmd("backend%d" % self.pairs, self.log_dir, vdevs=vdevs,
                          plugins=[self.backend_plugin], interactive=True, lcores="0,1",
                          main_lcore=0, log_levels=["pmd.net.vubackend:info"],
                          app_args=APP_ARGS + ["--disable-link-check"])
        self.fe = Testpmd("frontend%d" % self.pairs, self.log_dir,
                          vdevs=["net_virtio_user0,path=%s" % self.good_sock],
                          interactive=True, lcores="0,1", main_lcore=1, app_args=APP_ARGS)
        self.apps = [self.be, self.fe]
        self.be.start().wait_ready()
        for port, dev in enumerate((EVIL_DEV, GOOD_DEV)):
            info = self.be.run("show port info %d" % port)
            assert re.search(r"Device name: *%s\b" % dev, info), (
                "backend port %d is not %s: %s" % (port, dev, info))
        self.fe.start().wait_ready()
        self.be.wait_link_up(port=1, timeout=LINK_TIMEOUT)
        self.fe.wait_link_up(timeout=LINK_TIMEOUT)
        self.be.start_forwarding("rxonly")

    def start_case(self, name):
        self.case = name
        if self.be is None or not self.be.alive() or not self.fe.alive():
            self.start_pair()

    def end_case(self, failed):
        if not failed:
            return
        for app in self.apps:
            print("    ---- %s (%s, rc=%s) last 40 lines ----"
                  % (app.name, app.log_path, app.poll()))
            for ln in dpdkapp.tail(app.output(), 40).splitlines():
                print("    | " + ln)
        dpdkapp.kill_all(self.apps)
        self.be = self.fe = None

    def close(self):
        dpdkapp.kill_all(self.apps)
        shutil.rmtree(self.sock_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    if shutil.which(dpdkapp.TESTPMD) is None:
        pytest.fail("%s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD)
    try:
        staged = dpdkapp.stage_plugin(vubackend_plugin())
    except dpdkapp.DpdkAppError as e:
        pytest.fail(str(e))
    env = Env(log_dir, request.config.getoption("verbose") > 0, staged)
    yield env
    env.close()
    dpdkapp.unstage_plugin(staged)


# --------------------------------------------------------------------------


def port1_exact(env, when):
    """DPDK's frontend sends PORT1_PKTS frames to port 1: the backend takes each one."""
    be0, fe0 = env.be.stats(1), env.fe.stats(0)
    env.fe.run("start tx_first %d" % PORT1_BURSTS)
    try:
        b, f = dpdkapp.settle_all([(env.be, 1, be0, "ipackets", PORT1_PKTS),
                                   (env.fe, 0, fe0, "opackets", PORT1_PKTS)], SETTLE_TIMEOUT)
    finally:
        env.fe.run("stop")
    bad = dpdkapp.mismatches("backend port 1", b, ipackets=PORT1_PKTS,
                             ibytes=PORT1_PKTS * 64, opackets=0)
    bad += dpdkapp.mismatches("frontend", f, opackets=PORT1_PKTS, ipackets=0)
    assert not bad, "port 1 %s the attack: %s" % (when, "; ".join(bad))
    env.log("port 1 %s: exactly %d frames" % (when, PORT1_PKTS))


def port0_taken(env, before, expected):
    """Port 0 took exactly `expected` frames since `before`."""
    d, = dpdkapp.settle_all([(env.be, 0, before, "ipackets", expected)], SETTLE_TIMEOUT)
    bad = dpdkapp.mismatches("backend port 0", d, ipackets=expected, ibytes=expected * 64)
    assert not bad, "; ".join(bad)


def wait_log(env, since, patterns):
    """Each pattern on a line of the backend's log since `since`, naming port 0's device;
    no error line names port 1's."""
    for pat in patterns:
        env.be.wait_for_output(r"VUSER: %s: %s" % (EVIL_DEV, pat), timeout=LOG_TIMEOUT,
                               since=since)
    other = [ln for ln in env.be.output()[since:].splitlines()
             if re.search(r"VUSER: %s: .*(refused|stopped|dropping)" % GOOD_DEV, ln)]
    assert not other, "port 1's device logged errors: %s" % other


def ring_refused(env, fe, good, before, since):
    """The Tx ring stopped: the err eventfd was written, and good frames offered on it now
    are not taken (checked once the stop was logged, so the wait only confirms it)."""
    try:
        signalled = os.eventfd_read(fe.tx.err)
    except BlockingIOError:
        signalled = 0
    assert signalled == 1, "the err eventfd says %d, expected 1" % signalled
    fe.make_tx(AFTER_BREAK)
    deadline = time.monotonic() + REFUSED_WAIT
    while time.monotonic() < deadline:
        assert fe.completed() == good, (
            "the broken ring used %d buffers, %d were before the break"
            % (fe.completed(), good))
        time.sleep(0.05)
    port0_taken(env, before, good)


def wait_disconnect(env, since):
    """The backend saw port 0's frontend leave: the next one is not turned away as a
    second frontend while it still serves this one."""
    env.be.wait_for_output(r"VUSER: %s: frontend disconnected" % EVIL_DEV,
                           timeout=LOG_TIMEOUT, since=since)


def reconnect_exact(env):
    """A well-behaved frontend on port 0 after the attack: exactly RECONNECT_FRAMES."""
    before, since = env.be.stats(0), env.be.output_len()
    with EvilFrontend(env.evil_sock) as good:
        good.connect().start()
        env.be.wait_link_up(port=0, timeout=LINK_TIMEOUT)
        sent = good.send(RECONNECT_FRAMES)
    wait_disconnect(env, since)
    assert sent == RECONNECT_FRAMES
    port0_taken(env, before, RECONNECT_FRAMES)
    env.log("port 0 after the attack: a new frontend's %d frames taken exactly" % sent)


def run_attack(env, name):
    kind, opts, statuses, patterns = CASES[name]
    before, since = env.be.stats(0), env.be.output_len()
    with EvilFrontend(env.evil_sock, **opts) as fe:
        fe.connect()
        got = ATTACKS[name](fe)
        env.log("%s: %s" % (name, got))
        if kind != "ring":
            assert got == statuses, "REPLY_ACK statuses %s, expected %s" % (got, statuses)
        wait_log(env, since, patterns)
        if kind == "ring":
            assert got == GOOD_BEFORE
            ring_refused(env, fe, GOOD_BEFORE, before, since)
        else:
            port0_taken(env, before, 0)
        if kind == "drop":
            assert fe.dropped(DROP_TIMEOUT), "the backend kept the connection"
    wait_disconnect(env, since)
    assert env.be.alive(), "the backend died: rc %s" % env.be.poll()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(env, name):
    port1_exact(env, "before")
    run_attack(env, name)
    reconnect_exact(env)
    port1_exact(env, "after")
    assert env.be.alive() and env.fe.alive()


def test_backend_exits_cleanly(env):
    """After the attacks the backend still stops on request: exit status 0."""
    env.fe.stop(timeout=10)
    env.be.stop(timeout=10)
    assert (env.fe.returncode, env.be.returncode) == (0, 0), (
        "exit statuses: frontend %s, backend %s" % (env.fe.returncode, env.be.returncode))
    env.be = env.fe = None


@pytest.mark.parametrize("name", VUBNET_ATTACKS)
def test_vubnet_hostile(vubnet, netns, sock_dir, name):
    """app/vub-net, libvub's other user, which asks for kicks once its Tx ring is empty:
    the broken ring stops with its line, and the program goes on serving: a new frontend
    puts exactly RECONNECT_FRAMES frames on the TAP, and SIGTERM ends it (the fixture)."""
    sock = os.path.join(sock_dir, "vubnet-%s.sock" % name)
    vn = vubnet(["--socket-path=%s" % sock, "--tap=%s" % TAP])
    setup_tap(netns)
    _, opts, _, patterns = CASES[name]
    with EvilFrontend(sock, **opts) as fe:
        fe.connect()
        assert ATTACKS[name](fe) == GOOD_BEFORE
        for pat in patterns:
            vn.wait_for(r"vub-net: %s: %s" % (TAP, pat), timeout=LOG_TIMEOUT)
    before = netns.tap_stats()["rx"]["packets"]
    with EvilFrontend(sock, **opts) as good:
        good.connect().start()
        assert good.send(RECONNECT_FRAMES) == RECONNECT_FRAMES
    got = dpdkapp.wait_stable(lambda: netns.tap_stats()["rx"]["packets"] - before,
                              SETTLE_TIMEOUT, until=lambda n: n >= RECONNECT_FRAMES)
    assert got == RECONNECT_FRAMES, "the TAP got %d frames, expected %d" % (
        got, RECONNECT_FRAMES)
