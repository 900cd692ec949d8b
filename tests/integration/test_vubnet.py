# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests of app/vub-net, the vhost-user backend program forwarding to a TAP.

    vub-net   ip netns exec <ns> build/app/vub-net/vub-net --socket-path=<sock> --tap=vubt0
    frontend  dpdk-testpmd --vdev net_virtio_user0,path=<sock>,...   (DPDK's driver)
          or  dpdk-testpmd -d <vuser plugin> --vdev virtio_user0,path=<sock>,...

The TAP lives in a network namespace of the module's own (10.77.0.1/24, IPv6 off so the
kernel sends nothing of its own), the frontend forwards with testpmd's icmpecho (it
answers ICMP echo and frees the rest). For each frontend driver, split and packed rings:

    to_tap       frontend `start tx_first 4`: the TAP receives exactly 128 frames of 64
                 bytes (its rx counters)
    from_tap     128 frames of 60 to 1514 bytes written to the TAP with a packet socket:
                 the frontend receives exactly 128, the bytes add up
    ping         ping -c 200 -i 0.01 from the namespace to the frontend's address (a
                 permanent neighbour: no ARP): 200/200, the frontend counts exactly 200
                 each way
    idle         with the frontend connected and nothing to move, vub-net uses under
                 5% of a CPU over a second: it sleeps on its fds, it does not poll

Then once:

    fd_mode      the test accepts the frontend's connection itself and starts vub-net
                 with --fd=3: traffic both ways, and vub-net ends (exit 0) when that
                 frontend quits
    client_mode  the frontend listens (server=1), vub-net --client connects: both ways
    options      --print-capabilities prints {"type": "net", ...} and exits 0 whatever
                 else is given; an unknown option, --socket-path with --fd, a missing
                 --tap exit 2 naming the problem; a TAP name taken by a non-TAP exits 1

Every case ends vub-net with SIGTERM: it exits 0 and its socket file is gone. Needs root
(network namespace, TAP). VUBNET_BIN overrides the program (default: the build's).
Logs: results/integration-vubnet/.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import dpdkapp
import vhostpeer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

TAP = "vubt0"
TAP_IP = "10.77.0.1"
PEER_IP = "10.77.0.2"              # the frontend, behind the TAP
PEER_MAC = "02:77:00:00:00:02"
BURSTS = 4
TO_TAP = BURSTS * vhostpeer.BURST  # 128 frames of 64 bytes from `start tx_first 4`
FROM_TAP = 128
PINGS = 200
PING_INTERVAL = "0.01"
IDLE_SECONDS = 1.0
IDLE_CPU_MAX = 0.05                # CPU seconds per second idle
CASE_TIMEOUT = 90
START_TIMEOUT = 15.0
EXIT_TIMEOUT = 10.0
# iputils' ping, else busybox's (the VM test needs busybox anyway)
PING = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
ETHERTYPE = 0x88b5                 # IEEE local experimental: nothing in the kernel answers it


def vubnet_bin():
    """$VUBNET_BIN, else next to the plugin the other tests use (the sanitizer build's
    VUSER_PLUGIN brings its own program)."""
    if os.environ.get("VUBNET_BIN"):
        return os.environ["VUBNET_BIN"]
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        dpdkapp.plugin_path()))))
    return os.path.join(build, "app", "vub-net", "vub-net")


def run(argv, check=True, timeout=20):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                                   p.stdout.decode().strip()))
    return p.stdout.decode()


# Runs inside the namespace: n frames of growing sizes out of the TAP's kernel side.
SEND_FRAMES = r"""
import socket, struct, sys
ifname, n, dst = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = s.getsockname()[4]
total = 0
for i in range(n):
    size = 60 + (i * 97) % (1514 - 60 + 1)
    body = struct.pack("!I", i) + bytes(size - 18)
    total += s.send(dst + src + struct.pack("!H", @ETHERTYPE@) + body)
print(total)
""".replace("@ETHERTYPE@", str(ETHERTYPE))


class Netns:
    """The module's network namespace, deleted at the end."""

    def __init__(self):
        self.name = "vubnet%d" % os.getpid()
        run(["ip", "netns", "add", self.name])
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def exec(self, *argv, check=True, timeout=20):
        return run(["ip", "netns", "exec", self.name] + list(argv), check, timeout)

    def tap_stats(self):
        info = json.loads(run(["ip", "-n", self.name, "-j", "-s", "link", "show", "dev",
                               TAP]))[0]
        return info["stats64"]

    def has_tap(self):
        return subprocess.call(["ip", "-n", self.name, "link", "show", "dev", TAP],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0

    def delete(self):
        subprocess.call(["ip", "netns", "del", self.name])


class VubNet:
    """vub-net in the namespace; its stderr in <log_dir>/<name>.log."""

    def __init__(self, ns, log_dir, name, args, pass_fds=()):
        self.ns, self.name = ns, name
        self.expect_rc = 0  # the exit code the fixture expects at the end
        # the socket file it creates (not with --client or --fd)
        paths = [a.split("=", 1)[1] for a in args if a.startswith("--socket-path=")]
        self.listening = paths[0] if paths and "--client" not in args else None
        self.log_path = os.path.join(log_dir, "%s.log" % name)
        self.argv = ["ip", "netns", "exec", ns.name, vubnet_bin()] + list(args)
        self.log = open(self.log_path, "w")
        self.log.write("$ %s\n" % " ".join(self.argv))
        self.log.flush()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout=START_TIMEOUT):
        return dpdkapp.wait_until(
            lambda: re.search(pattern, self.output(), re.M) or self.proc.poll() is not None,
            timeout, what="vub-net to print %r" % pattern)

    def cpu_seconds(self):
        # `ip netns exec` execs the program: the pid is vub-net's
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def terminate(self):
        """SIGTERM; the exit code (None: it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0:
        pytest.skip("needs root: a network namespace and a TAP")
    if not os.path.exists(vubnet_bin()):
        pytest.fail("%s not built (make build)" % vubnet_bin())
    ns = Netns()
    yield ns
    ns.delete()


@pytest.fixture
def vubnet(netns, log_dir, request):
    """start(args, pass_fds): vub-net in the namespace; ended by SIGTERM after the test,
    which must exit 0 and take its socket file and TAP with it."""
    started = []

    def start(args, pass_fds=()):
        vn = VubNet(netns, log_dir, "%s-%d" % (request.node.name, len(started)), args,
                    pass_fds)
        started.append(vn)
        vn.wait_for(r"vub-net: serving ")
        assert vn.proc.poll() is None, "vub-net exited %s: %s" % (vn.proc.returncode,
                                                                 vn.output()[-800:])
        return vn

    yield start
    for vn in started:
        rc = vn.terminate()
        assert rc == vn.expect_rc, "vub-net: %s: %s" % (
            "exit code %s on SIGTERM" % rc if rc is not None else
            "still running %ss after SIGTERM" % EXIT_TIMEOUT, vn.output()[-800:])
        if vn.listening:
            assert not os.path.exists(vn.listening), "the socket file outlived vub-net"
    assert not netns.has_tap(), "the TAP outlived vub-net"


def setup_tap(ns):
    """Address, no IPv6 (no router solicitations or DAD in the counts), up, and the
    frontend as a permanent neighbour (no ARP either)."""
    ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % TAP)
    run(["ip", "-n", ns.name, "addr", "add", "%s/24" % TAP_IP, "dev", TAP])
    run(["ip", "-n", ns.name, "link", "set", TAP, "up"])
    run(["ip", "-n", ns.name, "neigh", "replace", PEER_IP, "lladdr", PEER_MAC, "dev", TAP,
         "nud", "permanent"])


def frontend_args():
    return vhostpeer.app_args() + ["--forward-mode=%s" % vhostpeer.SINK]


def start_frontend(frontends, name, kind, devargs):
    fe = frontends(name, kind, "%s,mac=%s" % (devargs, PEER_MAC), frontend_args())
    fe.wait_ready(timeout=vhostpeer.BOOT_TIMEOUT)
    vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
    return fe


def wait_ready(vn, ns):
    """vub-net says queue pair 0 runs, and the TAP has its carrier."""
    vn.wait_for(r"ready: queue pair 0 is running")
    dpdkapp.wait_until(lambda: "LOWER_UP" in run(["ip", "-n", ns.name, "link", "show", TAP]),
                       START_TIMEOUT, what="the TAP's carrier")


def check_to_tap(fe, ns):
    """`start tx_first 4`: 128 frames of 64 bytes arrive at the TAP, exactly."""
    before_tap, before = ns.tap_stats(), fe.stats()
    fe.run("start tx_first %d" % BURSTS)
    d = dpdkapp.settle(fe, before, "opackets", TO_TAP)

    def tap_rx():
        return ns.tap_stats()["rx"]
    after_tap = dpdkapp.wait_stable(tap_rx, 10.0, until=lambda r: r["packets"] - before_tap[
        "rx"]["packets"] >= TO_TAP)
    got = (after_tap["packets"] - before_tap["rx"]["packets"],
           after_tap["bytes"] - before_tap["rx"]["bytes"])
    bad = dpdkapp.mismatches("frontend", d, opackets=TO_TAP)
    if got != (TO_TAP, TO_TAP * vhostpeer.PKT_LEN):
        bad.append("TAP received %d frames, %d bytes (expected %d, %d)"
                   % (got + (TO_TAP, TO_TAP * vhostpeer.PKT_LEN)))
    return bad


def check_from_tap(fe, ns):
    """128 frames of 60 to 1514 bytes out of the TAP: the frontend gets each, exactly."""
    before = fe.stats()
    sent = int(ns.exec("/usr/bin/python3", "-c", SEND_FRAMES, TAP, str(FROM_TAP),
                       PEER_MAC).strip())
    d = dpdkapp.settle(fe, before, "ipackets", FROM_TAP)
    return dpdkapp.mismatches("frontend", d, ipackets=FROM_TAP, ibytes=sent)


def check_ping(fe, ns):
    """ping 200 times, 10 ms apart: every echo comes back through the frontend."""
    before = fe.stats()
    out = ns.exec(*PING, "-q", "-c", str(PINGS), "-i", PING_INTERVAL, "-W", "2", "-w", "30",
                  PEER_IP, check=False, timeout=40)
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", out)
    d = dpdkapp.settle(fe, before, "opackets", PINGS)
    bad = dpdkapp.mismatches("frontend", d, ipackets=PINGS, opackets=PINGS)
    if not m or m.groups() != (str(PINGS), str(PINGS)):
        bad.append("ping: %s" % (m.group(0) if m else out.strip()[-200:]))
    return bad


def check_idle(vn):
    """No frames, frontend connected: the program sleeps."""
    t0, c0 = time.monotonic(), vn.cpu_seconds()
    time.sleep(IDLE_SECONDS)
    used = (vn.cpu_seconds() - c0) / (time.monotonic() - t0)
    return [] if used < IDLE_CPU_MAX else [
        "vub-net used %.2f CPU seconds per second while idle (polling?)" % used]


def exchange(fe, ns, vn, ping=True):
    problems = check_to_tap(fe, ns) + check_from_tap(fe, ns)
    if ping:
        problems += check_ping(fe, ns)
    problems += check_idle(vn)
    return problems


@pytest.mark.parametrize("packed", [0, 1], ids=["split", "packed"])
@pytest.mark.parametrize("kind", ["dpdk", "vuser"])
def test_frontend(kind, packed, netns, vubnet, frontends, sock_dir, time_limit,
                  record_property):
    sock = os.path.join(sock_dir, "vubnet-%s-%d.sock" % (kind, packed))
    with time_limit(CASE_TIMEOUT, "the case"):
        vn = vubnet(["--socket-path=%s" % sock, "--tap=%s" % TAP])
        setup_tap(netns)
        fe = start_frontend(frontends, "fe-%s-%d" % (kind, packed), kind,
                            "path=%s,packed_vq=%d" % (sock, packed))
        wait_ready(vn, netns)
        problems = exchange(fe, netns, vn)
    record_property("outcome", "; ".join(problems) or "128/128 to the TAP, 128/128 from "
                    "it, ping %d/%d, idle" % (PINGS, PINGS))
    assert not problems, "; ".join(problems)


def test_fd_mode(netns, vubnet, frontends, sock_dir, time_limit):
    """The spec's --fd=FDNUM: the connection is made before vub-net starts."""
    sock = os.path.join(sock_dir, "vubnet-fd.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(sock)
    lsock.listen(1)
    lsock.settimeout(vhostpeer.BOOT_TIMEOUT)
    with time_limit(CASE_TIMEOUT, "the case"):
        fe = frontends("fe-fd", "dpdk", "path=%s,mac=%s" % (sock, PEER_MAC), frontend_args())
        conn, _ = lsock.accept()
        lsock.close()
        fd = conn.fileno()
        try:
            vn = vubnet(["--fd=%d" % fd, "--tap=%s" % TAP], pass_fds=(fd,))
        finally:
            conn.close()
        fe.wait_ready(timeout=vhostpeer.BOOT_TIMEOUT)
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        setup_tap(netns)
        wait_ready(vn, netns)
        problems = exchange(fe, netns, vn, ping=False)
        assert not problems, "; ".join(problems)
        fe.stop()
        rc = vn.proc.wait(EXIT_TIMEOUT)
    assert rc == 0 and "the frontend of --fd=%d left" % fd in vn.output(), vn.output()[-800:]


def test_client_mode(netns, vubnet, frontends, sock_dir, time_limit):
    sock = os.path.join(sock_dir, "vubnet-client.sock")
    with time_limit(CASE_TIMEOUT, "the case"):
        fe = frontends("fe-client", "dpdk", "path=%s,server=1,mac=%s" % (sock, PEER_MAC),
                       frontend_args())
        dpdkapp.wait_until(lambda: os.path.exists(sock), vhostpeer.BOOT_TIMEOUT,
                           what="the frontend's socket")
        vn = vubnet(["--socket-path=%s" % sock, "--client", "--tap=%s" % TAP])
        fe.wait_ready(timeout=vhostpeer.BOOT_TIMEOUT)
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        setup_tap(netns)
        wait_ready(vn, netns)
        problems = exchange(fe, netns, vn, ping=False)
    assert not problems, "; ".join(problems)


def test_tap_deleted(netns, vubnet, frontends, sock_dir, time_limit):
    """The TAP deleted under a serving vub-net: the kernel answers every read and write of
    its fd with EBADFD from then on. vub-net says so once and ends with exit code 1."""
    sock = os.path.join(sock_dir, "vubnet-gone.sock")
    with time_limit(CASE_TIMEOUT, "the case"):
        vn = vubnet(["--socket-path=%s" % sock, "--tap=%s" % TAP])
        setup_tap(netns)
        start_frontend(frontends, "fe-gone", "dpdk", "path=%s" % sock)
        wait_ready(vn, netns)
        run(["ip", "-n", netns.name, "link", "del", TAP])
        try:
            rc = vn.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
    vn.expect_rc = 1
    out = vn.output()
    assert rc == 1, "vub-net %s after its TAP was deleted: %s" % (
        "still running %ss" % EXIT_TIMEOUT if rc is None else "exited %d" % rc, out[-800:])
    assert out.count("the interface is gone: ending") == 1, out[-800:]


def vubnet_once(ns, *args):
    p = subprocess.run(["ip", "netns", "exec", ns.name, vubnet_bin()] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=EXIT_TIMEOUT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_options(netns, sock_dir):
    rc, out, _ = vubnet_once(netns, "--print-capabilities")
    assert rc == 0 and json.loads(out) == {"type": "net",
                                        "features": ["tap", "client", "mac", "mtu"]}, out
    # "Other options and arguments should be ignored"
    rc, out2, _ = vubnet_once(netns, "--bogus", "--print-capabilities", "--fd=x")
    assert rc == 0 and out2 == out
    sock = os.path.join(sock_dir, "vubnet-opts.sock")
    refused = [
        (["--socket-path=%s" % sock, "--tap=%s" % TAP, "--queues=2"],
         "unknown option --queues=2"),
        (["--socket-path=%s" % sock, "--fd=0", "--tap=%s" % TAP], "exclude each other"),
        (["--socket-path=%s" % sock], "--tap=NAME is required"),
    ]
    for args, needle in refused:
        rc, out, err = vubnet_once(netns, *args)
        assert rc == 2 and needle in err and out == "", (args, rc, err)
    # not a TAP: the loopback's name
    rc, _, err = vubnet_once(netns, "--socket-path=%s" % sock, "--tap=lo")
    assert rc == 1 and "tap lo: TUNSETIFF" in err, err
    assert not os.path.exists(sock)
    # --fd that is no socket
    rc, _, err = vubnet_once(netns, "--fd=0", "--tap=%s" % TAP)
    assert rc == 1 and "--fd=0 is not an open socket" in err, err
