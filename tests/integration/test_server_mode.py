# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: server mode and reconnect, link-state events, Rx queue interrupts.

    frontend  dpdk-testpmd -d librte_net_vuser.so --vdev virtio_user0,path=<sock>,server=1
    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,client=1     (killed and restarted)

Traffic loops: the backend starts with 'start tx_first' and both sides forward (io), so
the frontend's Rx and Tx counters both move while a backend is there.  Client mode is
checked the other way round (net_vhost listens, the backend is killed), and Rx queue
interrupts with tests/apps/vuser_rxintr (sleeps on the queue's eventfd).

Eight queue pairs (queues=8, testpmd --rxq=8 --txq=8 on both sides, net_vhost queues=8
client=1), split and packed: 256 frames each way, 32 on every queue, exactly; port
stop/start three times, the same again each time, each stop/start well under one
request's timeout, and no line saying the frontend waited on the backend.  Server-mode
runs that fail after the socket was made leave its directory as it was.

VUSER_PLUGIN overrides the plugin path, VUSER_RXINTR the test app; VUSER_RECONNECTS the
number of kill/restart rounds (default 20).  Logs: results/integration-server_mode/.

Each case is a pytest test (docs/testing.md), bounded by CASE_TIMEOUT:

    python3 -m pytest tests/integration/test_server_mode.py -k rx_interrupts
"""

import os
import re
import signal
import tempfile
import time

import pytest

import dpdkapp
from dpdkapp import DpdkApp, Testpmd, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

RXINTR = os.environ.get("VUSER_RXINTR") or os.path.join(
    ROOT, "build", "tests", "apps", "vuser_rxintr")
ROUNDS = int(os.environ.get("VUSER_RECONNECTS", "20"))
# The goal is traffic again within 2 s of starting the backend process; most of that is
# the backend's own EAL start, which on 2 shared CPUs waits for them: the times are
# printed against the goal, and only a bound is asserted.
RESUME_GOAL = 2.0         # s: backend process started -> traffic moving (reported)
RESUME_LIMIT = 10.0       # s: backend connected -> traffic moving
BOOT_LIMIT = 30.0         # s: bound on a backend's own start (EAL init on a busy machine)
DOWN_LIMIT = 2.0          # s: backend killed -> link down
APP_MBUFS = 4096
ERROR_KEYS = ("imissed", "ierrors", "oerrors", "rx_nombuf")
LSC_LINE = "Port 0: link state change event"
CONNECTED_LINE = "backend connected, rings resumed, link up"
CASE_TIMEOUT = {"default": 90, "test_server_reconnect": 60 + 12 * ROUNDS,
                "test_server_failures_leave_dir": 120}
FRONTEND = "vuser"        # pair_env's frontend: this file tests vuser's server mode


def start_backend(env, sock, client, mode="io"):
    """net_vhost: client=1 connects to a frontend in server mode, else it listens. Not
    waited for: the cases time what it takes."""
    # -m 64: EAL starts faster with less memory to set up (0.4s instead of 0.7s here),
    # which is most of the time a restarted backend takes to come back.
    return env.backend("backend", [sock], mode=mode, client=client, mbufs=APP_MBUFS,
                       link_check=True, wait=False, mem_mb=64)


def start_frontend(env, sock, server, mode="io", extra=""):
    """virtio_user0 on sock (listening with server), not waited for."""
    vdev = "virtio_user0,path=%s%s%s" % (sock, ",server=1" if server else "", extra)
    # link_check=False: a server waits for its backend with the link down; testpmd
    # would otherwise spend 9 s checking it at start.
    return env.frontend("frontend", [vdev], mode=mode, mbufs=APP_MBUFS, wait=False)


# --------------------------------------------------------------------------
# checks


def link(app):
    return (app.link_status() or {}).get("status")


def fd_count(app):
    return len(os.listdir("/proc/%d/fd" % app.pid))


def assert_no_errors(name, c):
    errs = ["%s=%s" % (k, c.get(k)) for k in ERROR_KEYS if c.get(k)]
    assert not errs, "%s error counters moved: %s; all: %s" % (name, ", ".join(errs), c)


def wait_traffic(fe, since, timeout):
    """Until both the frontend's ipackets and opackets passed `since`; returns counters."""
    def moving():
        c = fe.counters()
        if c["ipackets"] > since["ipackets"] and c["opackets"] > since["opackets"]:
            return c
        return None
    return wait_until(moving, timeout, interval=0.02)


def lsc_events(app):
    return app.output().count(LSC_LINE)


def drained_counters(fe, mode="io"):
    """Counters of a port whose backend is gone, once nothing can be left to take:
    testpmd's `start` drains the Rx queues (flush_fwd_rx_queues) before it prompts again.
    Whatever the port counts after that came from nowhere."""
    fe.run("stop")
    fe.start_forwarding(mode)
    return fe.counters()


def assert_quiet(rnd, since, now):
    """Nothing was received while no backend was there (`since`: drained_counters)."""
    assert now["ipackets"] == since["ipackets"], "round %s: %d packets with no backend" % (
        rnd, now["ipackets"] - since["ipackets"])
    assert_no_errors("frontend", now)


def backend_traffic(be):
    """Once the backend's vhost port is up (negotiation done: a burst sent before is
    dropped), start forwarding with a first burst; both sides then forward (io)."""
    be.wait_for_output(Testpmd.READY_INTERACTIVE, 30)
    wait_until(lambda: link(be) == "UP", 10, interval=0.01,
               what="%s link up" % be.name)
    be.cmd("start tx_first")


def kill_backend(be):
    try:
        os.kill(be.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    be.wait_exit(5)
    be.kill()  # reaps and closes its log


# --------------------------------------------------------------------------
# cases

def reconnect_rounds(env, rounds, extra=""):
    """Frontend in server mode; backend started, traffic checked, backend killed (-9),
    link down checked, `rounds` times in the same frontend process."""
    sock = env.sock()
    t0 = time.monotonic()
    fe = start_frontend(env, sock, server=True, extra=extra)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    env.log("frontend up in %.1fs without a backend" % (time.monotonic() - t0))
    assert os.path.exists(sock), "the frontend does not listen on %s" % sock
    assert link(fe) == "DOWN", "link is %s before any backend" % link(fe)
    fe.start_forwarding("io")
    fds = None
    timings = []
    quiet = fe.counters()
    for rnd in range(1, rounds + 1):
        before = fe.counters()
        lsc0 = lsc_events(fe)
        conn0 = fe.output().count(CONNECTED_LINE)
        t_spawn = time.monotonic()
        be = start_backend(env, sock, client=True)
        # the backend connects while its port starts; the frontend says when the rings
        # are handed over
        connected = wait_until(lambda: fe.output().count(CONNECTED_LINE) > conn0,
                               BOOT_LIMIT, interval=0.01)
        t_conn = time.monotonic()
        assert connected, "round %d: no backend connected %.1fs after it started" % (
            rnd, BOOT_LIMIT)
        # the backend sends nothing until told to: whatever came since the last one left
        # (or the start) came from nowhere
        assert_quiet(rnd, quiet, fe.counters())
        backend_traffic(be)
        moving = wait_traffic(fe, before, RESUME_LIMIT)
        t_moving = time.monotonic()
        resume, after_conn = t_moving - t_spawn, t_moving - t_conn
        assert moving, "round %d: no traffic %.1fs after the backend connected: %s" % (
            rnd, after_conn, fe.counters())
        assert link(fe) == "UP", "round %d: traffic but link %s" % (rnd, link(fe))
        assert_no_errors("frontend", moving)
        # traffic goes on both ways, then kill -9 the backend
        assert wait_traffic(fe, moving, RESUME_LIMIT), "round %d: traffic stopped" % rnd
        t_kill = time.monotonic()
        os.kill(be.pid, signal.SIGKILL)
        down = wait_until(lambda: link(fe) == "DOWN", DOWN_LIMIT, interval=0.01)
        t_down = time.monotonic()
        kill_backend(be)
        assert down, "round %d: link still up %.1fs after the backend was killed" % (
            rnd, DOWN_LIMIT)
        assert fe.alive(), "round %d: the frontend died" % rnd
        wait_until(lambda: lsc_events(fe) >= lsc0 + 2, 2)
        assert lsc_events(fe) >= lsc0 + 2, (
            "round %d: expected link-up and link-down events, saw %d"
            % (rnd, lsc_events(fe) - lsc0))
        # no backend: nothing may arrive from now until the next one connects
        quiet = drained_counters(fe)
        n = fd_count(fe)
        if fds is None:
            fds = n
        assert n == fds, "round %d: the frontend has %d fds open, %d after round 1" % (
            rnd, n, fds)
        timings.append((t_conn - t_spawn, resume, after_conn, t_down - t_kill))
        env.log("round %2d: backend connected %.2fs after its start, traffic %.2fs after "
                "its start (%.2fs after it connected); link down %.3fs after kill; fds %d"
                % (rnd, t_conn - t_spawn, resume, after_conn, t_down - t_kill, n))

    def span(i):
        v = [t[i] for t in timings]
        return "%.2f-%.2fs (mean %.2fs)" % (min(v), max(v), sum(v) / len(v))
    print("    %d reconnects: traffic resumed %s after the backend was started, %s after "
          "it connected; %d/%d within %.1fs of the start; link down %s after kill -9"
          % (len(timings), span(1), span(2), sum(t[1] <= RESUME_GOAL for t in timings),
             len(timings), RESUME_GOAL, span(3)), flush=True)
    # the last round's quiet time ends with the forwarding stopped
    fe.run("stop")
    assert_quiet("last", quiet, fe.counters())
    out = fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    assert "Bye" in out
    assert not os.path.exists(sock), "the frontend left its socket %s behind" % sock


def test_server_reconnect(env):
    """server=1: backend killed (-9) and restarted VUSER_RECONNECTS times; traffic resumes"""
    reconnect_rounds(env, ROUNDS)


def test_server_reconnect_packed(env):
    """server=1, packed ring: backend killed mid-traffic and restarted 5 times"""
    reconnect_rounds(env, 5, ",packed_vq=1")


def test_server_backend_first_close(env):
    """server=1: the frontend quits with a backend attached; the backend sees it go"""
    sock = env.sock()
    fe = start_frontend(env, sock, server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding("io")
    be = start_backend(env, sock, client=True)
    backend_traffic(be)
    fe.wait_link_up(timeout=5)
    assert wait_traffic(fe, {"ipackets": 0, "opackets": 0}, 5), "no traffic"
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    be.wait_for_output(r"Port 0: link state change event|vhost peer closed|"
                       r"VHOST_CONFIG.*(closed|disconnected)", 10)
    assert be.alive(), "the backend died when the frontend went away"
    be.stop(timeout=10)
    assert be.returncode == 0, "backend exit code %s" % be.returncode


def test_client_backend_killed(env):
    """client mode: backend killed (-9): clean link down, no crash, counters stable"""
    sock = env.sock()
    be = start_backend(env, sock, client=False)
    wait_until(lambda: os.path.exists(sock) or not be.alive(), 15,
               what="backend socket %s" % sock)
    be.wait_ready(30)
    fe = start_frontend(env, sock, server=False)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding("io")
    backend_traffic(be)
    fe.wait_link_up(timeout=5)
    assert wait_traffic(fe, {"ipackets": 0, "opackets": 0}, 5), "no traffic"
    lsc0 = lsc_events(fe)
    t_kill = time.monotonic()
    kill_backend(be)
    assert wait_until(lambda: link(fe) == "DOWN", DOWN_LIMIT, interval=0.02), \
        "link still up %.1fs after the backend was killed" % DOWN_LIMIT
    env.log("link down %.2fs after kill -9" % (time.monotonic() - t_kill))
    wait_until(lambda: lsc_events(fe) > lsc0, 2)
    assert lsc_events(fe) > lsc0, "no link-state event"
    # nothing may move from the drain on, while a new backend listening on the socket
    # starts (docs/server-mode.md: in client mode the port stays down, nothing to
    # reconnect to); it is up, the port has been polled all along: the forwarding stops
    c1 = drained_counters(fe)
    be2 = start_backend(env, sock, client=False)
    wait_until(lambda: os.path.exists(sock) or not be2.alive(), 15,
               what="backend socket %s" % sock)
    be2.wait_ready(30)
    assert link(fe) == "DOWN", "client mode: the port came up again with a new backend"
    fe.run("stop")
    c2 = fe.counters()
    assert c1 == c2, "counters move without a backend: %s -> %s" % (c1, c2)
    assert_no_errors("frontend", c2)
    assert fe.alive(), "the frontend died"
    assert "closed the connection" in fe.output()
    out = fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    # no request was sent into the closed connection at stop/close
    assert not re.search(r"VUSER: .*(not connected|send to .* failed|no reply)", out), \
        "the frontend talked to a backend that was gone:\n%s" % dpdkapp.tail(out, 20)


def rxintr_case(env, extra):
    """Rx queue interrupts: an app sleeps on the Rx queue's eventfd; it times out while
    nothing is sent and wakes up when the backend sends."""
    if not os.path.isfile(RXINTR):
        raise AssertionError("%s not built (make build)" % RXINTR)
    sock = env.sock()
    be = start_backend(env, sock, client=False)
    wait_until(lambda: os.path.exists(sock) or not be.alive(), 15,
               what="backend socket %s" % sock)
    be.wait_ready(30)
    prefix = dpdkapp.unique_prefix(env.case)
    argv = [RXINTR] + dpdkapp.eal_args(
        prefix, lcores="1", main_lcore=None, plugins=env.fe.plugins(),
        vdevs=["virtio_user0,path=%s%s" % (sock, extra)], log_levels=["pmd.net.vuser:info"])
    app = DpdkApp("%s-rxintr" % env.case, argv, prefix, env.log_dir)
    env.apps.append(app)
    app.start()
    # virtio_user0 is also DPDK's net_virtio_user's alias: the port must be ours
    driver = app.wait_for_output(r"^ready driver=(\S+)$", 30).group(1)
    assert driver == "net_vuser", "virtio_user0 was taken by %s, not net_vuser" % driver

    def cmd(line, pattern, timeout=10):
        since = app.output_len()
        app.send(line)
        return app.wait_for_output(pattern, timeout, since=since)

    assert cmd("link 5000", r"^link (up|timeout)$").group(1) == "up", "link not up"
    for rnd in range(2):
        t0 = time.monotonic()
        m = cmd("quiet 1000", r"^quiet (timeout|woke \d+)$", 10)
        assert m.group(1) == "timeout", "woke up with nothing sent: %s" % m.group(0)
        assert time.monotonic() - t0 >= 0.9, "the quiet wait returned early"
        since = app.output_len()
        app.send("wait 5000")
        # armed: a frame from now on signals the eventfd, asleep on it or about to be
        app.wait_for_output(r"^armed$", 5, since=since)
        be.cmd("start tx_first")
        m = app.wait_for_output(r"^(wake (\d+) (\d+)|wait timeout)$", 10, since=since)
        assert m.group(1) != "wait timeout", "no wake-up when the backend sent"
        env.log("woke after %s ms with %s packets" % (m.group(2), m.group(3)))
        assert int(m.group(3)) == 32, "woke with %s packets, expected 32" % m.group(3)
        be.cmd("stop", wait=r"Done\.")
    m = cmd("stats", r"^stats ipackets=(\d+) ierrors=(\d+) rx_nombuf=(\d+)$")
    assert (m.group(1), m.group(2), m.group(3)) == ("64", "0", "0"), m.group(0)
    app.send("quit")
    assert app.wait_exit(10) == 0, "rx interrupt app exit code %s" % app.poll()
    app.kill()


def test_rx_interrupts_split(env):
    """Rx queue interrupts (split ring): sleep on the eventfd, wake on packets"""
    rxintr_case(env, "")


def test_rx_interrupts_packed(env):
    """Rx queue interrupts (packed ring): sleep on the eventfd, wake on packets"""
    rxintr_case(env, ",packed_vq=1")


MQ_PAIRS = 8
MQ_BURST = 32                       # testpmd's tx_first: one burst per Tx queue
MQ_CYCLES = 3                       # port stop/start rounds after the first exchange
MQ_ARGS = ["--rxq=%d" % MQ_PAIRS, "--txq=%d" % MQ_PAIRS, "--burst=%d" % MQ_BURST,
           "--txpkts=64", "--total-num-mbufs=8192", "--nb-cores=1", "--forward-mode=rxonly"]
# A working backend never makes the frontend wait out a request.
STALL_LINES = re.compile(r"no ack|no reply|timed out|control command .* failed|"
                         r"connection to the backend was dropped")


def mq_apps(env, extra):
    """Frontend server=1,queues=8 (listening first), net_vhost client=1,queues=8; both
    testpmd --rxq=8 --txq=8 in rxonly mode. Returns (frontend, backend), links up."""
    sock = env.sock()
    vdev = "virtio_user0,path=%s,server=1,queues=%d%s" % (sock, MQ_PAIRS, extra)
    fe = Testpmd("%s-frontend" % env.case, env.log_dir, vdevs=[vdev], plugins=env.fe.plugins(),
                 interactive=True, lcores="0,1", main_lcore=1,
                 log_levels=["pmd.net.vuser:info"],
                 app_args=MQ_ARGS + ["--disable-link-check"])
    env.apps.append(fe)
    fe.start().wait_ready(30)
    be = Testpmd("%s-backend" % env.case, env.log_dir, interactive=True, lcores="0,1",
                 main_lcore=0,
                 vdevs=["net_vhost0,iface=%s,client=1,queues=%d" % (sock, MQ_PAIRS)],
                 app_args=MQ_ARGS)
    env.apps.append(be)
    be.start().wait_ready(30)
    fe.wait_link_up(timeout=10)
    be.wait_link_up(timeout=10)
    return fe, be


def mq_exchange(sender, receiver, what):
    """sender `start tx_first`: one burst on each of its Tx queues; the receiver counts
    exactly MQ_PAIRS * MQ_BURST frames, MQ_BURST on each Rx queue."""
    want = MQ_PAIRS * MQ_BURST
    r0, s0 = receiver.stats(), sender.stats()
    receiver.start_forwarding("rxonly")
    sender.run("start tx_first")
    got = dpdkapp.wait_stable(lambda: receiver.stats()["ipackets"] - r0["ipackets"], 10,
                              until=lambda n: n >= want)
    sender.run("stop")
    receiver.run("stop")
    r1, s1 = receiver.stats(), sender.stats()
    sent = s1["opackets"] - s0["opackets"]
    assert (sent, got) == (want, want), "%s: sent %d, received %d, expected %d each" % (
        what, sent, got, want)
    per_q = [a - b for a, b in zip(r1["q_ipackets"][:MQ_PAIRS], r0["q_ipackets"][:MQ_PAIRS])]
    assert per_q == [MQ_BURST] * MQ_PAIRS, "%s: per Rx queue %s" % (what, per_q)
    assert_no_errors(receiver.name, receiver.counters())


def mq_restart_case(env, extra):
    fe, be = mq_apps(env, extra)
    for rnd in range(MQ_CYCLES + 1):
        if rnd:
            t0 = time.monotonic()
            out = fe.run("port stop 0") + fe.run("port start 0")
            took = time.monotonic() - t0
            assert "Fail" not in out, "round %d: %s" % (rnd, out.strip())
            # under one request's timeout (5 s): nothing was waited out
            assert took < 4.0, "round %d: port stop/start took %.1fs" % (rnd, took)
            fe.wait_link_up(timeout=10)
            env.log("round %d: port stop/start %.2fs" % (rnd, took))
        mq_exchange(fe, be, "round %d, frontend -> backend" % rnd)
        mq_exchange(be, fe, "round %d, backend -> frontend" % rnd)
    stalls = [ln for ln in fe.output().splitlines() if STALL_LINES.search(ln)]
    assert not stalls, "the frontend waited on the backend: %s" % stalls[:3]
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    assert not os.path.exists(env.sock()), "the frontend left its socket behind"


def test_server_q8_restart_split(env):
    """server=1,queues=8 (split): 8 pairs up, exact counts per queue, port stop/start x3"""
    mq_restart_case(env, "")


def test_server_q8_restart_packed(env):
    """server=1,queues=8 (packed): 8 pairs up, exact counts per queue, port stop/start x3"""
    mq_restart_case(env, ",packed_vq=1")


# Server-mode command lines that fail after the probe created the socket, as
# non-interactive testpmd runs them: the process exits non-zero with what it says.
FAILING_RUNS = [
    ("mbuf pool", "", ["--total-num-mbufs=99999999"], r"Creation of mbuf pool"),
    ("rxq beyond queues", ",queues=2", ["--rxq=3", "--txq=3"], r"can't be greater"),
    ("start refused", ",mrg_rxbuf=0", ["--max-pkt-len=9000"], r"Fail|failed"),
]


def test_server_failures_leave_dir(env):
    """server=1: a run that fails after the socket was made leaves its directory as it was"""
    d = tempfile.mkdtemp(prefix="fail-", dir=env.sock_dir)
    keep = os.path.join(d, "someone-elses-file")
    open(keep, "w").close()
    before = sorted(os.listdir(d))
    for what, extra, args, says in FAILING_RUNS:
        sock = os.path.join(d, "vhost-user.sock")
        app = Testpmd("%s-%s" % (env.case, what.replace(" ", "_")), env.log_dir,
                      vdevs=["virtio_user0,path=%s,server=1%s" % (sock, extra)],
                      plugins=env.fe.plugins(), lcores="0,1", main_lcore=1,
                      log_levels=["pmd.net.vuser:info"],
                      app_args=["--disable-link-check", "--stats-period=1",
                                "--total-num-mbufs=4096"] + args)
        env.apps.append(app)
        app.start()
        rc = app.wait_exit(30)
        out = app.output()
        app.kill()
        assert "vhost-user server listening on %s" % sock in out, (
            "%s: the probe did not listen:\n%s" % (what, dpdkapp.tail(out, 10)))
        assert rc not in (None, 0), "%s: testpmd did not fail (rc %s)" % (what, rc)
        assert re.search(says, out), "%s: no /%s/ in:\n%s" % (what, says, dpdkapp.tail(out))
        left = sorted(os.listdir(d))
        assert left == before, "%s: the directory holds %s, it held %s" % (what, left, before)
        env.log("%s: exit %s, directory as it was" % (what, rc))


@pytest.fixture(scope="module")
def module_env(pair_env):
    return pair_env
