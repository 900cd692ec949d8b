# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: DPDK secondary processes on a primary with net_vuser ports.

    backend    dpdk-testpmd --vdev net_vhost0,iface=<a> --vdev net_vhost1,iface=<b>
               (--no-huge), or tests/lib/evil_backend.py --notify (a backend that wants kicks)
    primary    dpdk-testpmd in 2 MB hugepages (DPDK shares only hugepage memory with a
               secondary): port 0 --vdev net_virtio_user0,path=<a> (DPDK's own driver, for
               comparison), port 1 -d <plugin> --vdev virtio_user0,path=<b> (net_vuser)
    secondary  dpdk-proc-info, dpdk-dumpcap, tests/apps/vuser_secondary

Cases:
  procinfo   while both ports forward, dpdk-proc-info --stats and --xstats print
             non-zero counters between the primary's telemetry readings taken just
             before and after; once traffic stops, exactly the telemetry values
  capture    dpdk-dumpcap on each port at once, a burst of 64 frames per port: exactly
             64 captured and 0 dropped on both, read back by tcpdump, same bytes
  app        a secondary sends 64 frames (the backend sees them and the kicks, sent
             through the secondary's copies of the primary's eventfds), receives 64,
             reads the shared counters; configure, stop, set_mtu, promiscuous,
             allmulticast and mac_addr_add are refused with -ENOTSUP (the driver names
             each in a log line) and the primary's port works on, unchanged

Capture: DPDK's mempool drivers register their ops in a per-process table, and a
mempool names its ops by index in that table.  Debian's dpdk-testpmd links
librte_mempool_dpaa (through net_dpaa), which registers first; dpdk-dumpcap gets its
mempool drivers from the plugin directory, in directory order.  The capture pool that
dumpcap creates ("ring_mp_mc", index 2 there) is index 2 = "dpaa2" in testpmd, whose
allocations fail: pdump counts every packet as dropped (nombuf), on any driver.  The
secondaries here preload the mempool drivers the primary links (LD_PRELOAD), which
makes both tables identical; dumpcap takes no -d, so the net_vuser plugin is preloaded
too (mempool_preload(), docs/user-guide.md "Secondary processes").

The hugepages are reserved for the run (as root: nr_hugepages, a private hugetlbfs
mount) and given back at the end (tests/lib/hugepages.py); when the kernel cannot give
them, every case is skipped with the reason (conftest.py's hugepages fixture).

VUSER_PLUGIN overrides the plugin path.  Logs: results/integration-secondary/.

Each case is a pytest test (docs/testing.md), bounded by CASE_TIMEOUT:

    python3 -m pytest tests/integration/test_secondary.py -k capture
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

import dpdkapp
from dpdkapp import Testpmd, wait_stable, wait_until
from lineproc import LineProcess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

PLUGIN = dpdkapp.plugin_path()
SECONDARY_APP = os.environ.get("VUSER_SECONDARY_APP") or os.path.join(
    ROOT, "build", "tests", "apps", "vuser_secondary")
EVIL = os.path.join(ROOT, "tests", "lib", "evil_backend.py")
PROC_INFO = "dpdk-proc-info"
DUMPCAP = "dpdk-dumpcap"

BURST = 32
NB_BURSTS = 2
PKTS = BURST * NB_BURSTS          # the known burst: 64 frames per port
PKT_LEN = 64
PRIMARY_MEM_MB = 128
CASE_TIMEOUT = 120
SETTLE_TIMEOUT = 10.0
TOOL_TIMEOUT = 30.0

APP_ARGS = ["--burst=%d" % BURST, "--txpkts=%d" % PKT_LEN, "--total-num-mbufs=2048",
            "--nb-cores=1"]
VUSER_PORT, DPDK_PORT = 1, 0
VUSER_NAME, DPDK_NAME = "virtio_user0", "net_virtio_user0"
STAT_KEYS = ("ipackets", "opackets", "ibytes", "obytes", "ierrors", "oerrors", "rx_nombuf")
# What the driver refuses itself (it logs the operation); configure never reaches it.
REFUSED_BY_DRIVER = {"stop": "dev_stop (rte_eth_dev_stop)",
                     "set_mtu": "mtu_set (rte_eth_dev_set_mtu)",
                     "promiscuous_disable": "promiscuous_disable (rte_eth_promiscuous_disable)",
                     "allmulticast_enable": "allmulticast_enable (rte_eth_allmulticast_enable)",
                     "mac_addr_add": "mac_addr_add (rte_eth_dev_mac_addr_add)"}


def mempool_preload():
    """The mempool driver libraries dpdk-testpmd links, in its load order: preloaded into a
    secondary, they register their ops first there too, so that a mempool's ops index
    means the same ops in both processes (see the module docstring)."""
    out = subprocess.run(["ldd", shutil.which(dpdkapp.TESTPMD)], capture_output=True,
                         text=True, timeout=20).stdout
    return re.findall(r"^\s*librte_mempool_\w+\.so\S*\s+=>\s+(\S+)", out, re.M)


class Env:
    def __init__(self, log_dir, verbose, huge):
        self.log_dir = log_dir
        self.verbose = verbose
        self.huge = huge
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-secondary-")
        self.plugin = dpdkapp.stage_plugin(PLUGIN)
        self.preload = mempool_preload()
        self.apps = []
        self.procs = []
        self.case = None

    def start_case(self, name):
        self.case = name.replace("test_", "")
        self.apps = []
        self.procs = []

    def end_case(self, failed):
        if failed:
            try:
                self.stop_all(timeout=3)
            except Exception as e:
                print("    (stop after failure: %s)" % e)
        self.kill_all()
        if failed:
            self.dump_logs()

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    def sock(self, name):
        return os.path.join(self.sock_dir, "%s-%s.sock" % (self.case, name))

    # ---- apps
    def backend(self, socks, mode="io"):
        vdevs = ["net_vhost%d,iface=%s,queues=1" % (i, s) for i, s in enumerate(socks)]
        app = Testpmd("%s-backend" % self.case, self.log_dir, vdevs=vdevs, interactive=True,
                      lcores="0,1", main_lcore=0,
                      app_args=["--forward-mode=%s" % mode] + APP_ARGS)
        self.apps.append(app)
        app.start()
        wait_until(lambda: all(os.path.exists(s) for s in socks) or not app.alive(), 15,
                   what="backend sockets")
        return app.wait_ready()

    def primary(self, vdevs, mode="io", app_args=()):
        app = Testpmd("%s-primary" % self.case, self.log_dir, vdevs=vdevs,
                      plugins=[self.plugin], interactive=True, lcores="0,1", main_lcore=1,
                      mem_mb=PRIMARY_MEM_MB, no_huge=False,
                      eal_extra=self.huge.primary_eal(),
                      log_levels=["pmd.net.vuser:info"],
                      app_args=["--forward-mode=%s" % mode] + APP_ARGS + list(app_args))
        self.apps.append(app)
        app.start()
        return app.wait_ready()

    def secondary_env(self, with_plugin):
        # The sanitizer build's runtime (VUSER_APP_PRELOAD) must come before the plugin.
        asan = os.environ.get("VUSER_APP_PRELOAD", "").split()
        libs = asan + self.preload + ([self.plugin] if with_plugin else [])
        return {"LD_PRELOAD": " ".join(libs)} if libs else {}

    def tool(self, name, argv, with_plugin=False):
        """Run a DPDK tool to completion (bounded); return its output."""
        env = dict(os.environ)
        env.update(self.secondary_env(with_plugin))
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=TOOL_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
        with open(os.path.join(self.log_dir, "%s-%s.log" % (self.case, name)), "a") as f:
            f.write("$ %s\n%s\n[rc=%d]\n" % (" ".join(argv), r.stdout, r.returncode))
        if r.returncode != 0:
            raise AssertionError("%s exited with %d: %s" % (name, r.returncode,
                                                            dpdkapp.tail(r.stdout, 15)))
        return r.stdout

    def line_proc(self, name, argv, env=None):
        p = LineProcess("%s-%s" % (self.case, name), self.log_dir, argv, env=env)
        self.procs.append(p)
        return p

    def stop_all(self, timeout=10):
        rcs = {}
        for app in sorted(self.apps, key=lambda a: not a.name.endswith("primary")):
            if app.proc is not None:
                app.stop(timeout=timeout)
                rcs[app.name] = app.returncode
                self.huge.clean_prefix(app.file_prefix)
        for p in self.procs:
            p.kill()
        return rcs

    def kill_all(self):
        for p in self.procs:
            try:
                p.kill()
            except Exception as e:  # never mask the failure
                print("    kill %s: %s" % (p.name, e))
        dpdkapp.kill_all(self.apps)
        for app in self.apps:
            self.huge.clean_prefix(app.file_prefix)

    def dump_logs(self, lines=30):
        for app in self.apps:
            print("    ---- %s (rc=%s) last %d lines ----" % (app.log_path, app.returncode, lines))
            for ln in dpdkapp.tail(app.output(), lines).splitlines():
                print("    | " + ln)
        for p in self.procs:
            print("    ---- %s ----" % p.log_path)
            for ln in dpdkapp.tail(p.stderr_text(), lines).splitlines():
                print("    | " + ln)

    def cleanup(self):
        self.kill_all()
        dpdkapp.unstage_plugin(self.plugin)
        shutil.rmtree(self.sock_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# helpers


def two_port_setup(env, primary_mode):
    """Backend with two vhost ports; primary with DPDK's driver on port 0 and net_vuser
    on port 1, both links up, each port driven by the driver it should be."""
    a, b = env.sock("a"), env.sock("b")
    be = env.backend([a, b])
    pr = env.primary(["%s,path=%s" % (DPDK_NAME, a), "%s,path=%s" % (VUSER_NAME, b)],
                     mode=primary_mode)
    for port, driver in ((DPDK_PORT, "net_virtio_user"), (VUSER_PORT, "net_vuser")):
        pr.wait_link_up(port, timeout=15)
        m = pr.cmd("show port info %d" % port, wait=r"Driver name: *(\S+)")
        assert m.group(1) == driver, "primary port %d is driven by %s, expected %s" % (
            port, m.group(1), driver)
    return be, pr


def proc_info(env, pr, what, port):
    return env.tool("proc-info", [PROC_INFO, "--file-prefix", pr.file_prefix, "-d", env.plugin,
                                  "--log-level=pmd.net.vuser:info", "--",
                                  "-p", "%x" % (1 << port), what])


def parse_xstats(text, port):
    m = re.search(r"NIC extended statistics for port %d\s+#+\n#+\n(.*?)^#{20,}" % port, text,
                  re.S | re.M)
    assert m, "proc-info printed no extended statistics for port %d:\n%s" % (port, text)
    return {k: int(v) for k, v in re.findall(r"^(\S+): (\d+)$", m.group(1), re.M)}


def assert_between(what, before, got, after, keys):
    bad = ["%s: %s not in [%s, %s]" % (k, got.get(k), before.get(k), after.get(k))
           for k in keys if got.get(k) is None or before.get(k) is None
           or after.get(k) is None or not before[k] <= got[k] <= after[k]]
    assert not bad, "%s: %s" % (what, "; ".join(bad))


def assert_equal_counters(what, got, want, keys):
    bad = ["%s=%s (telemetry %s)" % (k, got.get(k), want.get(k)) for k in keys
           if got.get(k) != want.get(k)]
    assert not bad, "%s differs from the primary's telemetry: %s" % (what, ", ".join(bad))


# --------------------------------------------------------------------------
# cases

def test_procinfo(env):
    """dpdk-proc-info: stats and xstats of both ports while they forward, then exact"""
    be, pr = two_port_setup(env, "io")
    pr.start_forwarding("io")
    # a burst each way keeps circulating through both apps from here on
    be.run("start tx_first")
    wait_until(lambda: (pr.stats(VUSER_PORT)["opackets"] or 0) > 10 * PKTS, 20,
               what="the primary forwarding through %s" % VUSER_NAME)
    for port in (VUSER_PORT, DPDK_PORT):
        before = pr.stats(port)
        got = dpdkapp.proc_info_stats(proc_info(env, pr, "--stats", port), port)
        after = pr.stats(port)
        env.log("port %d: telemetry %s .. %s, proc-info %s" % (
            port, before["ipackets"], after["ipackets"], got))
        assert after["ipackets"] > before["ipackets"], "port %d stopped forwarding" % port
        assert got["ipackets"] > 0 and got["opackets"] > 0, \
            "proc-info shows no traffic on port %d: %s" % (port, got)
        assert_between("proc-info --stats port %d" % port, before, got, after,
                       ("ipackets", "opackets", "ibytes", "obytes"))
        xb = pr.xstats(port)
        xgot = parse_xstats(proc_info(env, pr, "--xstats", port), port)
        xa = pr.xstats(port)
        assert set(xgot) == set(xb), "proc-info xstat names differ from telemetry's: %s" % (
            sorted(set(xgot) ^ set(xb)))
        for name in ("rx_q0_good_packets", "tx_q0_good_packets", "rx_q0_good_bytes"):
            assert xgot.get(name, 0) > 0, "port %d: xstat %s is %s in proc-info" % (
                port, name, xgot.get(name))
        assert_between("proc-info --xstats port %d" % port, xb, xgot, xa, sorted(xgot))
    # traffic stops: the shared counters settle and proc-info reads exactly them
    be.run("stop")
    for port in (VUSER_PORT, DPDK_PORT):
        tele = wait_stable(lambda: pr.stats(port), SETTLE_TIMEOUT, settle=0.5)
        got = dpdkapp.proc_info_stats(proc_info(env, pr, "--stats", port), port)
        assert_equal_counters("proc-info --stats port %d" % port, got, tele, STAT_KEYS)
        xgot = parse_xstats(proc_info(env, pr, "--xstats", port), port)
        xtele = pr.xstats(port)
        assert_equal_counters("proc-info --xstats port %d" % port, xgot, xtele, sorted(xtele))
    rcs = env.stop_all()
    assert all(rc == 0 for rc in rcs.values()), "apps did not exit cleanly: %s" % rcs


class Dumpcap:
    """dpdk-dumpcap on one port of the primary, until it has -c packets."""

    def __init__(self, env, pr, iface, path):
        self.path = path
        self.log_path = os.path.join(env.log_dir, "%s-dumpcap-%s.log" % (env.case, iface))
        self.log = open(self.log_path, "w")
        argv = [DUMPCAP, "--file-prefix", pr.file_prefix, "-i", iface, "-w", path,
                "-c", str(PKTS)]
        child_env = dict(os.environ)
        child_env.update(env.secondary_env(with_plugin=True))
        self.log.write("$ LD_PRELOAD='%s' %s\n" % (child_env.get("LD_PRELOAD", ""),
                                                     " ".join(argv)))
        self.log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=child_env,
                                     preexec_fn=dpdkapp._die_with_parent)

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_capturing(self):
        # printed once rte_pdump_enable returned: the primary's callbacks are in place
        wait_until(lambda: "Packets captured:" in self.output() or self.proc.poll() is not None,
                   TOOL_TIMEOUT, what="dumpcap to start capturing")
        assert self.proc.poll() is None, "dumpcap exited early:\n%s" % self.output()

    def finish(self):
        try:
            self.proc.wait(TOOL_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)  # its clean stop: it writes the summary
            self.proc.wait(10)
        self.log.close()
        m = re.search(r"Packets received/dropped on interface '[^']+': (\d+)/(\d+)",
                      self.output())
        assert m, "dumpcap printed no summary:\n%s" % self.output()
        return int(m.group(1)), int(m.group(2))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def read_capture(path):
    """The frames of a capture file as tcpdump reads them: [(summary line, bytes)]."""
    r = subprocess.run(["tcpdump", "-nn", "-e", "-xx", "-r", path], capture_output=True,
                       text=True, timeout=TOOL_TIMEOUT)
    assert r.returncode == 0, "tcpdump -r %s: %s" % (path, r.stderr)
    frames = []
    for block in re.split(r"\n(?=\S)", r.stdout.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        hexdata = "".join(re.sub(r"^\s*0x[0-9a-f]+:\s*", "", ln).replace(" ", "")
                          for ln in lines[1:])
        frames.append((lines[0], bytes.fromhex(hexdata)))
    return frames


def test_capture(env):
    """dpdk-dumpcap on both ports at once: exactly 64 frames each, 0 dropped, same bytes"""
    be, pr = two_port_setup(env, "rxonly")
    pr.start_forwarding("rxonly")
    caps = {}
    try:
        for port, iface in ((VUSER_PORT, VUSER_NAME), (DPDK_PORT, DPDK_NAME)):
            caps[port] = Dumpcap(env, pr, iface,
                                 os.path.join(env.sock_dir, "%s.pcapng" % iface))
        for c in caps.values():
            c.wait_capturing()
        be.run("start tx_first %d" % NB_BURSTS)
        counts = {port: c.finish() for port, c in caps.items()}
    finally:
        for c in caps.values():
            c.kill()
    be.run("stop")
    frames = {}
    for port, (received, dropped) in counts.items():
        env.log("port %d: dumpcap received/dropped %d/%d" % (port, received, dropped))
        assert (received, dropped) == (PKTS, 0), (
            "dumpcap on port %d: %d received, %d dropped; expected %d/0"
            % (port, received, dropped, PKTS))
        tele = pr.stats(port)
        assert tele["ipackets"] == PKTS, "primary port %d received %s, expected %d" % (
            port, tele["ipackets"], PKTS)
        frames[port] = read_capture(caps[port].path)
        assert len(frames[port]) == PKTS, "tcpdump reads %d frames from port %d's capture" % (
            len(frames[port]), port)
        for summary, data in frames[port]:
            assert len(data) == PKT_LEN and re.search(
                r"ethertype IPv4 \(0x0800\), length %d: 198\.18\.0\.1\.9 > "
                r"198\.18\.0\.2\.9: UDP, length %d$" % (PKT_LEN, PKT_LEN - 42), summary), \
                "port %d: unexpected frame: %s (%d bytes)" % (port, summary, len(data))
    # testpmd's txonly frames are the same on both backend ports but for the MAC header
    bodies = {data[12:] for port in frames for _, data in frames[port]}
    assert len(bodies) == 1, "the captured frames differ beyond their MAC addresses: %d kinds" % (
        len(bodies))
    rcs = env.stop_all()
    assert all(rc == 0 for rc in rcs.values()), "apps did not exit cleanly: %s" % rcs


def evil_backend(env, sock):
    e = env.line_proc("evil", [sys.executable, EVIL, "--path", sock, "--notify"])
    e.wait_line("^event: listening", 10)
    return e


def parse_kv(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}


def test_app(env):
    """secondary app: Tx/Rx bursts with kicks, shared counters, control ops refused"""
    sock = env.sock("evil")
    evil = evil_backend(env, sock)
    pr = env.primary(["%s,path=%s,cq=1" % (VUSER_NAME, sock)], mode="rxonly")
    evil.wait_line("^event: ready", 15)
    pr.wait_link_up(0, timeout=15)
    sec = env.line_proc("app", [SECONDARY_APP, "--proc-type=secondary", "--file-prefix",
                                pr.file_prefix, "-l", "0", "--no-pci", "-d", env.plugin,
                                "--log-level=pmd.net.vuser:info", "--", VUSER_NAME],
                        env=env.secondary_env(with_plugin=False))
    sec.wait_line("^event: ready", 30)
    info = sec.cmd("info")
    assert "driver=net_vuser" in info and "link=up" in info, "secondary sees %s" % info

    evil.cmd("kicks 1")  # from here on, only the secondary's
    assert sec.cmd("tx %d %d" % (PKTS, PKT_LEN)) == "ok tx %d" % PKTS
    kicks = int(evil.cmd("kicks 1").split()[2])
    reaped = int(evil.cmd("tx_reap 1").split()[2])
    env.log("secondary Tx: %d kicks, %d buffers reaped" % (kicks, reaped))
    assert kicks > 0, "the backend got no kick for the secondary's Tx"
    assert reaped == PKTS, "the backend took %d Tx buffers, expected %d" % (reaped, PKTS)

    evil.cmd("kicks 0")
    assert evil.cmd("rx %d %d" % (PKTS, PKT_LEN)) == "ok rx %d" % PKTS
    got = sec.cmd("rx %d 5000" % PKTS).split()
    assert got[2:] == [str(PKTS), str(PKTS * PKT_LEN), "0"], (
        "secondary received %s frames, %s bytes, %s with wrong payload; expected %d, %d, 0"
        % (got[2], got[3], got[4], PKTS, PKTS * PKT_LEN))
    assert int(evil.cmd("kicks 0").split()[2]) > 0, \
        "the backend got no kick for the Rx buffers the secondary gave back"

    st = parse_kv(sec.cmd("stats"))
    tele = pr.stats(0)
    want = {"ipackets": PKTS, "opackets": PKTS, "ibytes": PKTS * PKT_LEN,
            "obytes": PKTS * PKT_LEN}
    assert_equal_counters("the secondary's counters", st, want, sorted(want))
    assert_equal_counters("the secondary's counters", st, tele, sorted(want))

    refused = parse_kv(sec.cmd("refuse"))
    env.log("refused: %s" % refused)
    assert set(refused) == set(REFUSED_BY_DRIVER) | {"configure"}, refused
    bad = {op: rc for op, rc in refused.items() if rc != -errno.ENOTSUP}
    assert not bad, "control operations from a secondary not refused with -ENOTSUP: %s" % bad
    text = sec.stderr_text()
    for op, what in REFUSED_BY_DRIVER.items():
        assert re.search(r"VUSER: %s: %s refused in a secondary process" % (
            VUSER_NAME, re.escape(what)), text), "no log line naming %s" % what
    sec.proc.stdin.write("quit\n")
    sec.proc.stdin.flush()
    assert sec.proc.wait(10) == 0, "the secondary exited with %s" % sec.proc.returncode

    # the primary's port is as it was, and works
    info = pr.run("show port info 0")
    assert re.search(r"Promiscuous mode: enabled", info), info
    assert re.search(r"MTU: 1500\b", info), info
    assert pr.link_status(0).get("status") == "UP"
    pr.start_forwarding("rxonly")
    assert evil.cmd("rx %d %d" % (BURST, PKT_LEN)) == "ok rx %d" % BURST
    wait_until(lambda: pr.stats(0)["ipackets"] == PKTS + BURST, SETTLE_TIMEOUT,
               what="the primary to receive %d more frames" % BURST)
    rcs = env.stop_all()
    assert all(rc == 0 for rc in rcs.values()), "apps did not exit cleanly: %s" % rcs


# --------------------------------------------------------------------------


def missing_tools():
    tools = [dpdkapp.TESTPMD, PROC_INFO, DUMPCAP, "tcpdump", "ldd"]
    return [t for t in tools if shutil.which(t) is None] + [
        p for p in (PLUGIN, SECONDARY_APP) if not os.path.isfile(p)]


@pytest.fixture(scope="module")
def module_env(log_dir, hugepages, request):
    missing = missing_tools()
    if missing:
        pytest.fail("missing %s (run scripts/setup.sh, make build)" % ", ".join(missing))
    if hugepages.mount is None:
        pytest.skip(hugepages.reason)
    env = Env(log_dir, request.config.getoption("verbose") > 0, hugepages)
    print("  hugepages: %d x 2 MB (%d taken from the kernel for this run); secondaries "
          "preload %s" % (hugepages.pages, hugepages.added, " ".join(env.preload) or "nothing"),
          flush=True)
    yield env
    env.cleanup()
