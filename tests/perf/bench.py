#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vuser benchmark: vuser's PMDs (ours) against DPDK's in-tree ones.

--measure frontend (the default): net_vuser against DPDK's net_virtio_user, both
facing net_vhost.  --measure backend: vuser's net_vubackend against DPDK's
net_vhost, both serving DPDK's net_virtio_user.  --measure pair: net_vuser +
net_vubackend against net_virtio_user + net_vhost.  Everything below is said of
the frontend measure; the others run the same way with each side's PMDs in
place of "ours" and "in-tree" (MEASURES), and each has its issue's bar.

Both drivers come from the same Debian DPDK 22.11 install and run side by side
in one frontend process, each facing its own net_vhost port (vhost-user server)
of one backend process:

    backend   dpdk-testpmd -l 0,1 --main-lcore 0 --vdev net_vhost0,iface=<sock A>
                           --vdev net_vhost1,iface=<sock B> --port-topology=loop
    frontend  dpdk-testpmd -l 0,1 --main-lcore 1 -d <staged plugin>
                           --vdev net_vuser0,path=<sock A>,<devargs>       (ours)
                           --vdev net_virtio_user0,path=<sock B>,<devargs> (in-tree)
                           --port-topology=loop

(the two ports swap places every other data path).  Each forwarding lcore
(backend 1, frontend 0) shares its CPU with the other app's idle main thread.

A cell is (direction, data path, packet size):

    tx    frontend txonly -> backend rxonly      rate: packets the backend received
    rx    backend txonly  -> frontend rxonly     rate: packets the frontend received
    loop  both io forwarding, backend 'start tx_first N': packets circulate;
          rate: packets back at the backend per second

Data paths are devargs given identically to both drivers (every flag
explicit: DPDK defaults mrg_rxbuf and in_order to 1).  For each data path the
benchmark starts the backend and the frontend, and measures every cell of the
data path ROUNDS times per driver on them: the forwarding mode and the packet
size are switched with interactive testpmd commands, and only one driver's
frontend and backend ports forward at a time (`set portlist`; the other
driver's are stopped and idle).  The drivers alternate (ours, theirs; then
theirs, ours; ...) so that drift of the machine's load hits both alike.  Both
drivers live in the same processes, so they share whatever a process start
decides (where its memory lies; the mbuf pool is one).  With --backend
per-driver or --frontend per-driver each driver gets a process of its own on
that side instead (--against, two builds of net_vuser, always has a frontend
per driver), and with --fresh-pairs all processes are started afresh every
round, so that one start's luck weighs on one round, not on all.

Rates are counter deltas read over the apps' telemetry sockets at two
instants after a warm-up (testpmd's printed rates starve when pollers share
CPUs).  The report is the median per cell and driver and the ratio
ours/in-tree, in results/perf/<timestamp>/: table.md, results.json,
ratios.png (when matplotlib is there; it is installed with apt if missing),
and the logs of every app.

    make bench                                  # everything (< 15 min)
    python3 tests/perf/bench.py --quick         # split ring, 64 bytes, 6 rounds
    python3 tests/perf/bench.py --measure backend --quick   # net_vubackend vs net_vhost
    python3 tests/perf/bench.py --cells 'tx/packed*/64,loop/split/*' --rounds 5
    python3 tests/perf/bench.py --list          # cell names, then exit
    python3 tests/perf/bench.py --quick --iotlb --against build/drivers/net/vuser/librte_net_vuser.so
                                                # IOTLB mode's cost: 'vuser' with, 'dpdk' without

A data path our driver refuses at probe ("not implemented yet") is reported
as "unsupported by vuser (probe refused)" (the in-tree driver is still
measured on it); a vectorized path
on which DPDK's driver does not pick a vectorized Rx/Tx function is reported
n/a with DPDK's own reason.
"""

import argparse
import datetime
import fnmatch
import glob
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402
from dpdkapp import DpdkAppError, Testpmd, wait_until  # noqa: E402
from hugepages import Hugepages  # noqa: E402


# The two sides measured against each other: ours (vuser's PMDs) and theirs (DPDK's).
# They are results.json's keys in every --measure (MEASURES says who they are).
OURS, THEIRS = "vuser", "dpdk"
# --backend/--frontend shared: each side's port in the shared backend (and in the shared
# frontend) on even data paths (DATA_PATHS order); odd ones swap them, so that neither
# side always gets port 0
BACKEND_PORT = {OURS: 0, THEIRS: 1}
# The PMDs a port can run; "plugin": which of vuser's plugins brings it (None: DPDK's own).
DRIVERS = {
    "net_vuser": {"plugin": "vuser"},
    "net_virtio_user": {"plugin": None},
    "net_vubackend": {"plugin": "vubackend"},
    "net_vhost": {"plugin": None},
}


class Measure:
    """What --measure compares: the frontend and the backend PMD of each side, the labels
    of the report and the issue's bar (per-cell ratio floor per size, None: no floor)."""

    def __init__(self, name, fe, be, short, cols, title, plot_title, cell_bar, geomean_bar_64,
                 bar_text):
        self.name, self.fe, self.be = name, fe, be
        self.short, self.cols = short, cols    # progress lines; rate table columns
        self.title, self.plot_title = title, plot_title
        self.cell_bar, self.geomean_bar_64, self.bar_text = cell_bar, geomean_bar_64, bar_text

    def plugins(self):
        """The kinds of vuser plugin this measure loads, frontend's first ("vuser",
        "vubackend")."""
        out = []
        for d in list(self.fe.values()) + list(self.be.values()):
            if DRIVERS[d]["plugin"] and DRIVERS[d]["plugin"] not in out:
                out.append(DRIVERS[d]["plugin"])
        return out


MEASURES = {m.name: m for m in (
    # issue 5: "median ratio >= 1.0 in every cell and a geometric mean >= 1.15 across the
    # cells, at 64-byte packets; no cell below 0.95 at 1518 bytes"
    Measure("frontend", {OURS: "net_vuser", THEIRS: "net_virtio_user"},
            {OURS: "net_vhost", THEIRS: "net_vhost"}, {OURS: "vuser", THEIRS: "dpdk"},
            {OURS: "vuser", THEIRS: "in-tree"},
            "net_vuser vs DPDK's net_virtio_user", "net_vuser / net_virtio_user",
            {64: 1.0, 1518: 0.95}, 1.15,
            "at 64 B every cell >= 1.0 and geomean >= 1.15; at 1518 B no cell < 0.95"),
    # issue 26: "with DPDK's net_virtio_user as the frontend, net_vubackend vs DPDK's
    # net_vhost >= 1.0 in every 64 B and 1518 B cell and geometric mean >= 1.2 at 64 B"
    Measure("backend", {OURS: "net_virtio_user", THEIRS: "net_virtio_user"},
            {OURS: "net_vubackend", THEIRS: "net_vhost"}, {OURS: "vub", THEIRS: "vhost"},
            {OURS: "net_vubackend", THEIRS: "net_vhost"},
            "net_vubackend vs DPDK's net_vhost (frontend: DPDK's net_virtio_user)",
            "net_vubackend / net_vhost (frontend net_virtio_user)",
            {64: 1.0, 1518: 1.0}, 1.2,
            "every cell >= 1.0 at 64 B and 1518 B, and geomean >= 1.2 at 64 B"),
    # issue 26: "the pair net_vuser + net_vubackend vs net_virtio_user + net_vhost
    # geometric mean >= 1.5 at 64 B"
    Measure("pair", {OURS: "net_vuser", THEIRS: "net_virtio_user"},
            {OURS: "net_vubackend", THEIRS: "net_vhost"}, {OURS: "vuser+vub", THEIRS: "dpdk"},
            {OURS: "vuser+vubackend", THEIRS: "virtio_user+vhost"},
            "net_vuser + net_vubackend vs DPDK's net_virtio_user + net_vhost",
            "net_vuser+net_vubackend / net_virtio_user+net_vhost",
            {64: None, 1518: None}, 1.5, "geomean >= 1.5 at 64 B; no bar per cell"),
)}

DIRECTIONS = ("tx", "rx", "loop")
DIRECTION_TEXT = {
    "tx": "frontend Tx (fe txonly -> be rxonly)",
    "rx": "frontend Rx (be txonly -> fe rxonly)",
    "loop": "loopback (io <-> io, tx_first)",
}
SIZES = (64, 1518)


class DataPath:
    def __init__(self, name, text, packed, in_order, mrg, vectorized=False, simd512=False):
        self.name = name
        self.text = text
        self.packed, self.in_order, self.mrg, self.vectorized = packed, in_order, mrg, vectorized
        # DPDK 22.11 uses its packed-ring AVX512 path only when the EAL allows
        # 512-bit SIMD (rte_vect_get_max_simd_bitwidth(), default 256)
        self.simd512 = simd512

    def devargs(self):
        return "packed_vq=%d,in_order=%d,mrg_rxbuf=%d,vectorized=%d" % (
            self.packed, self.in_order, self.mrg, self.vectorized)

    def eal_extra(self):
        return ["--force-max-simd-bitwidth=512"] if self.simd512 else []


DATA_PATHS = [
    DataPath("split", "split ring", 0, 0, 0),
    DataPath("split-inorder", "split ring, in_order", 0, 1, 0),
    DataPath("split-mrg", "split ring, mrg_rxbuf", 0, 0, 1),
    DataPath("split-vec", "split ring, vectorized", 0, 0, 0, vectorized=True),
    DataPath("packed", "packed ring", 1, 0, 0),
    DataPath("packed-inorder", "packed ring, in_order", 1, 1, 0),
    DataPath("packed-mrg", "packed ring, mrg_rxbuf", 1, 0, 1),
    DataPath("packed-inorder-vec", "packed ring, in_order, vectorized (AVX512)", 1, 1, 0,
             vectorized=True, simd512=True),
]
PATHS_BY_NAME = {p.name: p for p in DATA_PATHS}

# DPDK's drivers/net/virtio logs (pmd.net.virtio.init / .driver at info)
RE_DPDK_PATH = re.compile(r"set_rxtx_funcs\(\): virtio: using (.+?) (Rx|Tx) path on port")
RE_DPDK_VEC_OFF = re.compile(r"^.*disabled .*vectorized.*$|^.*do not support .*vectorized.*$",
                             re.M)
RE_NO_PORTS = re.compile(r"No probed ethernet devices")
RE_OUR_REFUSAL = re.compile(r"^.*VUSER: .*$", re.M)
RE_PROMPT = dpdkapp.PROMPT
# testpmd's `show port info`: the vdev's name, then its PMD
RE_PORT_INFO = r"Device name: *(\S+)\s+Driver name: *(\S+)"

LOG_LEVELS = ["pmd.net.virtio.init:info", "pmd.net.virtio.driver:info", "pmd.net.vuser:info"]
BACKEND_LOG_LEVELS = ["pmd.net.vubackend:info"]   # a backend that loads net_vubackend

UNSUPPORTED = "unsupported by vuser (probe refused)"
STARVED = 0.8   # a forwarding thread with less of a CPU than this was starved
# The host of this 2-vCPU VM moves its vCPUs: for seconds a cache line goes between them
# in 65-85 ns (round trip), then in 310-345 ns. Each sample is bracketed by a probe of
# that round trip (tests/perf/line_rtt.c) while no poller runs, and labelled with it.
LINE_RTT = os.path.join(ROOT, "build", "tests", "perf", "line_rtt")
LINE_RTT_S = 0.03   # probe length, seconds
NEAR_NS = 200       # round trip below this: the "near" placement, at or above: "far"
PLACEMENTS = ("near", "far", "mixed")
RATIO_PLACEMENTS = PLACEMENTS[:2]   # the ones a per-placement ratio is given for


def vubackend_plugin():
    """$VUBACKEND_PLUGIN, else beside the net_vuser plugin (as tests/integration does)."""
    if os.environ.get("VUBACKEND_PLUGIN"):
        return os.environ["VUBACKEND_PLUGIN"]
    net = os.path.dirname(os.path.dirname(dpdkapp.plugin_path()))
    return os.path.join(net, "vubackend", "librte_net_vubackend.so")


def line_rtt():
    """Median cache-line round trip between CPUs 0 and 1 in ns, or None without the probe."""
    if not os.access(LINE_RTT, os.X_OK):
        return None
    try:
        out = subprocess.run([LINE_RTT, "0", "1", str(LINE_RTT_S)], capture_output=True,
                             text=True, timeout=5)
        return float(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


# A round whose two samples did not both run in one placement (near, or far; a sample
# during which the vCPUs moved is "mixed") is measured again, at most this many times per
# cell: each driver's median then comes from the same mix of placements, instead of one
# driver's samples landing in the fast placement and the other's in the slow one. The
# placement is the host's doing, the same for both drivers; a retry never looks at rates.
PLACEMENT_RETRIES = 3
# ... and at most this many in the whole run, which bounds its length: 96 redone rounds are
# ~3.5 min on top of the ~10 min of a full run (the 15-min bound holds on a restless host).
PLACEMENT_RETRY_BUDGET = 96

# --fresh-pairs: every round starts both drivers' backend + frontend afresh, instead of
# once per data path. One pair of processes can run at 30 Mpps and the next, same build,
# same placement probe, at 24 for all its samples (loop/packed-inorder-vec/64, net_vuser
# against itself: ratio 1.23 in one run): something fixed when the processes start (likely
# where the host put their memory) that alternating the rounds does not average out. Fresh
# pairs make each round an independent draw for both drivers alike, at ~3 s per data path
# and round (the full matrix: 13-14 min instead of 10-11, too close to the 15-min bound to
# be the default).


def backend_port(path, drv):
    """The port of `drv` in a shared backend (and the order of the drivers' vdevs in a
    shared frontend)."""
    port = BACKEND_PORT[drv]
    return port if DATA_PATHS.index(path) % 2 == 0 else 1 - port


def same_placement(round_samples):
    """True when both drivers were measured and in one placement (or nothing was probed)."""
    if len(round_samples) != 2:
        return True
    pl = [x.get("placement") for x in round_samples.values()]
    if None in pl:
        return True
    return pl[0] == pl[1] and pl[0] != "mixed"


def placement(rtts):
    """near / far when both probes around a sample agree, mixed when they do not."""
    if None in rtts:
        return None
    near = [x < NEAR_NS for x in rtts]
    return "near" if all(near) else "far" if not any(near) else "mixed"


def cell_id(direction, path, size):
    return "%s/%s/%d" % (direction, path, size)


def fmt_dur(s):
    s = int(round(s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


# --------------------------------------------------------------------------
# environment


def sh(argv, default=""):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return default


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def other_testpmds(mine):
    """dpdk-testpmd processes that are not ours: they share the CPUs."""
    out = sh(["pgrep", "-a", "dpdk-testpmd"])
    res = []
    for line in out.splitlines():
        pid = line.split(None, 1)[0]
        if pid.isdigit() and int(pid) not in mine:
            m = re.search(r"--file-prefix[= ](\S+)", line)
            res.append("dpdk-testpmd --file-prefix %s" % (m.group(1) if m else "?"))
    return res


def worker_ticks(pid):
    """utime+stime (clock ticks) of the app's forwarding thread(s): DPDK names
    its worker lcore threads rte-worker-N."""
    total = 0
    for tdir in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(os.path.join(tdir, "comm")) as f:
                if not f.read().startswith("rte-worker"):
                    continue
            with open(os.path.join(tdir, "stat")) as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total


def busy_processes(mine, limit=5, raw=False):
    """Processes using CPU now (sampled over 0.5 s from /proc), not ours."""
    def ticks():
        t = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                comm = s[s.index("(") + 1:s.rindex(")")]
                fields = s[s.rindex(")") + 2:].split()
                t[int(d)] = (comm, int(fields[11]) + int(fields[12]))
            except (OSError, ValueError, IndexError):
                continue
        return t
    a = ticks()
    time.sleep(0.5)
    b = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (comm, tb) in b.items():
        if pid in mine or pid == os.getpid() or pid not in a:
            continue
        pct = (tb - a[pid][1]) * 100.0 / hz / 0.5
        if pct >= 10:
            busy.append((pct, pid, comm))
    busy.sort(reverse=True)
    if raw:
        return busy[:limit]
    return ["%s (pid %d, %.0f%% CPU)" % (c, p, pct) for pct, p, c in busy[:limit]]


def file_mtime(path):
    return (datetime.datetime.fromtimestamp(os.path.getmtime(path)).isoformat(timespec="seconds")
            if os.path.exists(path) else None)


def environment(plugins):
    """`plugins`: {kind: path} of the vuser plugins the run loads."""
    plugin = plugins.get("vuser") or next(iter(plugins.values()))
    head = sh(["git", "rev-parse", "HEAD"], "unknown")
    dirty = bool(sh(["git", "status", "--porcelain", "--untracked-files=no"]))
    flags = cpu_flags()
    simd = [f for f in ("sse4_2", "avx2", "avx512f", "avx512bw", "avx512vl") if f in flags]
    return {
        "machine": sh(["uname", "-a"]) or " ".join(platform.uname()),
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "cpu_simd_flags": simd,
        "dpdk_version": sh(["pkg-config", "--modversion", "libdpdk"], "unknown"),
        "dpdk_debian_package": sh(["dpkg-query", "-W", "-f=${Package} ${Version}",
                                   "librte-net-virtio23"], "unknown"),
        "testpmd": shutil.which(dpdkapp.TESTPMD) or dpdkapp.TESTPMD,
        "git_commit": head,
        "git_dirty": dirty,
        "plugin": plugin,
        "plugin_mtime": file_mtime(plugin),
        "plugins": {k: {"path": p, "mtime": file_mtime(p)} for k, p in plugins.items()},
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


# --------------------------------------------------------------------------
# the benchmark


class CellFailed(Exception):
    pass


class Pair:
    """A frontend port of one driver and the backend port facing it, for one data
    path; they live for all the cells of that data path and are switched
    between directions and packet sizes with interactive commands. With
    --backend shared the two drivers' pairs share the backend process, with
    --frontend shared the frontend process (a port of each driver in it)."""

    def __init__(self, drv, be, fe, be_port=0, fe_port=0, shared_apps=()):
        self.drv, self.be, self.fe = drv, be, fe
        self.be_port = be_port     # the backend's port facing this frontend
        self.fe_port = fe_port     # this driver's port in the frontend
        self.shared_apps = list(shared_apps)  # processes serving the other driver too
        self.dead = None           # why the pair is gone

    def apps(self):
        return [self.fe, self.be]

    def shares(self, app):
        return app in self.shared_apps

    def own_apps(self):
        """What stopping this pair stops: shared processes go with the data path
        (Bench.stop_pairs)."""
        return [a for a in self.apps() if a not in self.shared_apps]


class Bench:
    def __init__(self, args, out_dir):
        self.a = args
        self.out_dir = out_dir
        self.log_dir = os.path.join(out_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-bench-")
        self.m = MEASURES[args.measure]
        self.staged = {}           # plugin kind ("vuser", "vubackend") -> staged copy
        self.staged_against = None  # --against: the other build of net_vuser in THEIRS' place
        self.apps = []
        self.my_pids = set()
        self.huge = None
        self.sizes = list(SIZES)
        self.samples = {}          # cell -> driver -> [sample dict]
        self.errors = {}           # cell -> driver -> [message]
        self.refused = {}          # (driver, path) -> reason
        self.na = {}               # path -> reason (vectorized not selected by DPDK)
        self.dpdk_paths = {}       # path -> {"Rx": ..., "Tx": ...}
        self.vuser_lines = {}      # path -> [log lines of our driver]
        self.others_seen = set()
        self.busy_seen = {}        # comm -> highest % CPU seen
        self.redone = {}           # cell -> rounds measured again (placement changed)
        self.retry_budget = args.placement_retry_budget  # redone rounds still allowed
        self.cell_no = 0
        self.n_cells = 0
        self.setting = {}          # (app name, what) -> value last set
        self.shared_be = None      # --backend shared: the data path's backend
        self.shared_fe = None      # --frontend shared: the data path's frontend
        self.fe_ports = {}         # --frontend shared: side -> its port in shared_fe
        self.be_ports = {}         # --backend shared: side -> its port in shared_be
        self.t0 = None

    # ---- plumbing
    def eal_common(self):
        return self.huge.eal_extra() if self.huge and self.huge.mount else []

    def no_huge(self):
        return not (self.huge and self.huge.mount)

    def testpmd_args(self, mode):
        a = self.a
        return ["--forward-mode=%s" % mode, "--burst=%d" % a.burst, "--nb-cores=1",
                "--txpkts=%d" % self.sizes[0], "--total-num-mbufs=%d" % a.mbufs,
                "--rxd=%d" % a.ring, "--txd=%d" % a.ring]

    def launch(self, name, vdevs, path, main_lcore, plugins=(), log_levels=()):
        """Start an interactive testpmd with these vdevs (a port each; with more than one,
        each port forwards to itself, and `set portlist` picks the one measured)."""
        app_args = self.testpmd_args("rxonly")
        if len(vdevs) > 1:
            app_args.append("--port-topology=loop")
        app = Testpmd(name, self.log_dir, vdevs=vdevs, plugins=plugins, interactive=True,
                      lcores="0,1", main_lcore=main_lcore, mem_mb=self.a.mem * len(vdevs),
                      app_args=app_args, log_levels=log_levels,
                      eal_extra=self.eal_common() + path.eal_extra(), no_huge=self.no_huge())
        self.apps.append(app)
        app.start()
        self.my_pids.add(app.pid)
        return app

    def start_backend(self, tag, socks, path):
        """A backend port per side of `socks` ({side: socket}, in port order), each side's
        backend PMD (Measure.be); with more than one, each port forwards to itself and only
        the port of the pair being measured forwards (`set portlist`, Bench.measure).
        Returns (app, {side: port id})."""
        for sock in socks.values():
            if os.path.exists(sock):
                os.unlink(sock)
        names = self.vdev_names({drv: self.m.be[drv] for drv in socks})
        vdevs = ["%s,iface=%s,queues=1%s" % (names[drv], sock, self.iotlb_args(drv, "backend"))
                 for drv, sock in socks.items()]
        plugins = self.plugins_of(self.m.be[drv] for drv in socks)
        app = self.launch("%s-backend" % tag, vdevs, path, main_lcore=0, plugins=plugins,
                          log_levels=BACKEND_LOG_LEVELS if plugins else ())
        wait_until(lambda: all(os.path.exists(s) for s in socks.values()) or not app.alive(),
                   20, what="backend sockets %s" % ", ".join(socks.values()))
        app.wait_ready(timeout=30)
        app.telemetry(timeout=15)
        ports = self.port_map(app, names)
        if set(ports) != set(socks):
            raise DpdkAppError("%s: no port for %s: %s" % (
                app.name, ", ".join(names[d] for d in socks if d not in ports),
                dpdkapp.tail(app.output(), 3)))
        return app, ports

    def iotlb_args(self, drv, end):
        """--iotlb: IOTLB mode on the 'vuser' side only (net_vhost iommu-support=1, our
        iotlb=1); the other side runs without, so one run is the A/B."""
        if not self.a.iotlb or drv != OURS:
            return ""
        return ",iommu-support=1" if end == "backend" else ",iotlb=1"

    def driver_of(self, drv):
        """The frontend PMD run in `drv`'s place (--against: our other build)."""
        return self.m.fe[OURS if drv == THEIRS and self.staged_against else drv]

    def plugin_of(self, drv):
        """The staged plugin `drv`'s frontend port needs (None: the in-tree driver)."""
        if drv == THEIRS and self.staged_against:
            return self.staged_against
        return self.staged.get(DRIVERS[self.m.fe[drv]]["plugin"])

    def plugins_of(self, drivers):
        """The staged plugins these PMDs need, each once."""
        out = []
        for d in drivers:
            p = self.staged.get(DRIVERS[d]["plugin"])
            if p and p not in out:
                out.append(p)
        return out

    @staticmethod
    def vdev_names(drivers):
        """{side: vdev name} for {side: PMD}: the PMD's name and an index unique per PMD
        in the process (net_vuser0 and net_virtio_user0; net_virtio_user0 and 1)."""
        seen, names = {}, {}
        for drv, pmd in drivers.items():
            names[drv] = "%s%d" % (pmd, seen.get(pmd, 0))
            seen[pmd] = seen.get(pmd, 0) + 1
        return names

    def port_map(self, app, names):
        """{side: port id} from `show port info` of every port of `app`: the port whose
        device is the side's vdev (by name: in --measure backend both frontend ports run
        net_virtio_user)."""
        ports = {}
        for port in app.ports():
            m = app.cmd("show port info %d" % port, wait=RE_PORT_INFO)
            app.wait_for_output(RE_PROMPT, 5, since=m.end())
            for drv, name in names.items():
                if m.group(1) == name:
                    ports[drv] = port
                    break
            else:
                raise DpdkAppError("%s: port %d is %s (%s), not a device asked for"
                                   % (app.name, port, m.group(1), m.group(2)))
        return ports

    def start_frontend(self, tag, socks, path):
        """Start a frontend with a port per side of `socks` ({side: socket}, in port
        order); return (app, {side: port id}, {side: why its probe failed})."""
        names = self.vdev_names({drv: self.driver_of(drv) for drv in socks})
        vdevs = ["%s,path=%s,queues=1,queue_size=%d,%s%s" % (
            names[drv], sock, self.a.ring, path.devargs(), self.iotlb_args(drv, "frontend"))
            for drv, sock in socks.items()]
        plugins = [p for p in map(self.plugin_of, socks) if p]
        app = self.launch("%s-frontend" % tag, vdevs, path, main_lcore=1, plugins=plugins,
                          log_levels=LOG_LEVELS)
        # an interactive testpmd whose vdev failed to probe carries on without that
        # port (and a prompt); it may also exit
        wait_until(lambda: (not app.alive()) or re.search(RE_PROMPT, app.output(), re.M),
                   40, what="%s to probe" % app.name)
        ports = {}
        if app.alive() and not RE_NO_PORTS.search(app.output()):
            app.telemetry(timeout=15)
            ports = self.port_map(app, names)
        out = app.output()
        lines = [ln.strip() for ln in out.splitlines()
                 if re.search(r"not implemented|invalid devargs|VUSER:|failed to initialize"
                              r"|error when parsing", ln)]
        refusals = {drv: "; ".join(lines[:3]) or dpdkapp.tail(out, 3)
                    for drv in socks if drv not in ports}
        return app, ports, refusals

    def stop_apps(self, apps):
        for app in apps:
            try:
                app.stop(timeout=5)
            except Exception as e:  # keep going: the kill below is the guarantee
                print("    (stop %s: %s)" % (app.name, e))
        dpdkapp.kill_all(apps)
        for app in apps:
            if self.huge:
                self.huge.clean_prefix(app.file_prefix)
            if app in self.apps:
                self.apps.remove(app)

    def cmd(self, app, line, timeout=10.0):
        """Run one interactive command and wait for the next prompt, looking for it every
        10 ms: a sample takes four to six commands, and at the default 50 ms the waits
        alone were a quarter of a sample's time."""
        app.cmd(line, wait=RE_PROMPT, timeout=timeout, interval=0.01)

    def sock(self, path, drv, rnd):
        tag = "%s-%s" % (path.name, drv) + ("-r%d" % rnd if rnd else "")
        return tag, os.path.join(self.sock_dir, "%s.sock" % tag)

    def start_pair(self, path, drv, rnd=0, shared_be=None, shared_fe=None):
        """Backend + frontend for one driver; returns (pair, refusal). `shared_be`:
        (backend, its port for this driver) already started for both drivers (--backend
        shared); `shared_fe` likewise (frontend, this driver's port), --frontend shared."""
        tag, sock = self.sock(path, drv, rnd)
        apps = []
        try:
            if shared_be:
                be, be_port = shared_be
            else:
                be, be_ports = self.start_backend(tag, {drv: sock}, path)
                apps.append(be)
                be_port = be_ports[drv]
            if shared_fe:
                fe, fe_port = shared_fe
            else:
                fe, ports, refusals = self.start_frontend(tag, {drv: sock}, path)
                apps.append(fe)
                if drv in refusals:
                    self.stop_apps(list(reversed(apps)))
                    return None, refusals[drv]
                fe_port = ports[drv]
            be.wait_link_up(port=be_port, timeout=15)
            fe.wait_link_up(port=fe_port, timeout=15)
        except BaseException:
            self.stop_apps(list(reversed(apps)))
            raise
        if self.driver_of(drv) == "net_virtio_user":
            self.dpdk_paths[path.name] = {d: p for p, d in RE_DPDK_PATH.findall(fe.output())}
        if drv == OURS or self.staged_against:
            self.vuser_lines[path.name] = [ln.strip() for app in (fe, be)
                                           for ln in app.output().splitlines()
                                           if ln.startswith("VUSER")][:8]
        shared = [x[0] for x in (shared_be, shared_fe) if x]
        return Pair(drv, be, fe, be_port, fe_port, shared), None

    def vectorized_na(self, path, fe):
        """For a vectorized data path: why DPDK's driver (in frontend `fe`) did not pick
        a vectorized Rx or Tx function (None when it did)."""
        chosen = self.dpdk_paths.get(path.name, {})
        if any("vectorized" in p for p in chosen.values()):
            return None
        why = [ln.strip() for ln in RE_DPDK_VEC_OFF.findall(fe.output())]
        return ("DPDK's driver did not select a vectorized path here (%s)%s"
                % (", ".join("%s: %s" % kv for kv in sorted(chosen.items())) or
                   "no path logged", ": " + "; ".join(why) if why else ""))

    # ---- one measurement
    def set(self, app, what, value):
        """`set WHAT VALUE` unless the app has it already (a shared process takes the
        settings of both drivers' pairs in turn)."""
        key = (app.name, what)
        if self.setting.get(key) != value:
            self.cmd(app, "set %s %s" % (what, value))
            self.setting[key] = value

    def measure(self, pair, direction, size):
        a = self.a
        be, fe = pair.be, pair.fe
        # poll only this driver's port of a process shared by both
        if pair.shares(be):
            self.set(be, "portlist", pair.be_port)
        if pair.shares(fe):
            self.set(fe, "portlist", pair.fe_port)
        rtt_before = line_rtt()  # no poller runs between measurements
        if direction == "tx":
            self.set(fe, "txpkts", size)
            self.set(be, "fwd", "rxonly")
            self.set(fe, "fwd", "txonly")
            self.cmd(be, "start")
            self.cmd(fe, "start")
            stop_order = (fe, be)
            moving = (be, "ipackets")
        elif direction == "rx":
            self.set(be, "txpkts", size)
            self.set(fe, "fwd", "rxonly")
            self.set(be, "fwd", "txonly")
            self.cmd(fe, "start")
            self.cmd(be, "start")
            stop_order = (be, fe)
            moving = (fe, "ipackets")
        else:
            self.set(be, "txpkts", size)
            self.set(fe, "fwd", "io")
            self.set(be, "fwd", "io")
            self.cmd(fe, "start")
            self.cmd(be, "start tx_first %d" % a.loop_bursts)
            stop_order = (be, fe)
            moving = (be, "ipackets")
        try:
            app, key = moving
            port = pair.be_port if app is be else pair.fe_port
            base = app.stats(port).get(key) or 0
            if not wait_until(lambda: (app.stats(port).get(key) or 0) > base + a.burst, 10,
                              interval=0.01):
                raise CellFailed("no packets moved within 10 s (%s %s stayed at %d)"
                                 % (app.name, key, base))
            time.sleep(a.warmup)
            c0, t0 = (worker_ticks(fe.pid), worker_ticks(be.pid)), time.monotonic()
            rates = dpdkapp.measure_rates({"fe": (fe, pair.fe_port), "be": (be, pair.be_port)},
                                          a.window)
            c1, t1 = (worker_ticks(fe.pid), worker_ticks(be.pid)), time.monotonic()
        except BaseException:
            # stop forwarding, but let the first error (or an interrupt) through
            for app in stop_order:
                try:
                    if app.alive():
                        self.cmd(app, "stop", timeout=3)
                except Exception:
                    pass
            raise
        for app in stop_order:
            if app.alive():
                self.cmd(app, "stop")
        if not fe.alive() or not be.alive():
            raise DpdkAppError("an app exited during the measurement")
        r = {"line_rtt_ns": [rtt_before, line_rtt()]}
        r["placement"] = placement(r["line_rtt_ns"])
        for who in ("fe", "be"):
            for k in ("ipackets", "opackets", "ibytes", "obytes", "imissed", "ierrors",
                      "oerrors", "rx_nombuf"):
                r["%s_%s" % (who, k)] = rates[who].delta(k)
            r["%s_seconds" % who] = round(rates[who].seconds, 4)
        # the share of a CPU each forwarding thread got during the window:
        # below 1.0 the machine's other work took CPU from the pollers
        hz = float(os.sysconf("SC_CLK_TCK"))
        r["fe_cpu"] = round((c1[0] - c0[0]) / hz / (t1 - t0), 3)
        r["be_cpu"] = round((c1[1] - c0[1]) / hz / (t1 - t0), 3)
        src = {"tx": "be", "rx": "fe", "loop": "be"}[direction]
        pkts = rates[src].delta("ipackets")
        byts = rates[src].delta("ibytes")
        r["mpps"] = pkts / rates[src].seconds / 1e6
        r["gbps"] = byts * 8 / rates[src].seconds / 1e9
        r["size_seen"] = (byts / pkts) if pkts else None
        # a rough, load-independent view: rate per CPU-second of the more
        # starved forwarding thread (diagnostic; the ratio uses r["mpps"])
        low = min(r["fe_cpu"], r["be_cpu"])
        r["mpps_per_cpu"] = (r["mpps"] / low) if low >= 0.05 else None
        if pkts and abs(r["size_seen"] - size) > 1:
            raise CellFailed("packets of %.1f bytes on average seen, %d expected (window "
                             "deltas: %s)" % (r["size_seen"], size, ", ".join(
                                 "%s=%s" % (k, r[k]) for k in
                                 ("fe_ipackets", "fe_ibytes", "fe_opackets", "fe_obytes",
                                  "be_ipackets", "be_ibytes", "be_opackets", "be_obytes"))))
        return r

    def measure_round(self, c, pairs, drivers, direction, size, got):
        """One sample of each driver, back to back: {driver: sample}; failures are
        recorded and leave their driver out."""
        res = {}
        for drv in drivers:
            pair = pairs.get(drv)
            if pair is None:
                continue
            if pair.dead:
                self.error(c, drv, "not run: %s" % pair.dead)
                continue
            try:
                r = self.measure(pair, direction, size)
            except CellFailed as e:
                self.error(c, drv, str(e))
                got[drv].append("err")
                continue
            except (DpdkAppError, OSError) as e:
                self.error(c, drv, str(e))
                got[drv].append("err")
                print("    %s: %s: %s" % (drv, c, e), flush=True)
                self.kill_pair(pair, "%s apps failed at %s: %s" % (drv, c, e))
                continue
            res[drv] = r
            got[drv].append("%.2f" % r["mpps"])
        return res

    def error(self, c, drv, msg):
        self.errors.setdefault(c, {}).setdefault(drv, []).append(msg)

    def kill_pair(self, pair, why):
        pair.dead = why
        for app in pair.apps():
            print("    ---- %s (%s, rc=%s)" % (app.name, app.log_path, app.poll()))
            for ln in dpdkapp.tail(app.output(), 8).splitlines():
                print("    | " + ln)
        # shared processes go with the data path, or on their own when they are what failed
        self.stop_apps(pair.own_apps())

    # ---- one data path: both drivers, every cell of it, rounds interleaved
    def start_shared(self, path, mine, rnd):
        """The processes both drivers share on this data path (--backend shared, --frontend
        shared), each driver on port backend_port(path, driver) of its socket; False when
        one does not start (recorded)."""
        socks = {}
        for drv in sorted(BACKEND_PORT, key=lambda d: backend_port(path, d)):
            socks[drv] = self.sock(path, drv, rnd)[1]
        tag = "%s-shared" % path.name + ("-r%d" % rnd if rnd else "")
        try:
            if self.a.backend == "shared" and not self.shared_be:
                self.shared_be, self.be_ports = self.start_backend(tag, socks, path)
            if self.a.frontend == "shared" and not self.shared_fe:
                self.shared_fe, self.fe_ports, refusals = self.start_frontend(tag, socks, path)
                for drv, why in refusals.items():
                    self.refused[(drv, path.name)] = why
                    print("    %s: probe refused: %s" % (drv, why), flush=True)
        except (DpdkAppError, OSError) as e:
            for c in mine:
                for drv in BACKEND_PORT:
                    self.error(c, drv, "shared process start failed (round %d): %s" % (rnd, e))
            print("    shared process: start failed: %s" % e, flush=True)
            return False
        return True

    def start_pairs(self, path, mine, drivers, rnd):
        """A backend + frontend per driver, {driver: Pair}; a driver whose pair does not
        start, or whose probe is refused, is left out (and recorded). Shared processes
        (--backend/--frontend shared) are started by the first call of the data path."""
        pairs = {}
        if not self.start_shared(path, mine, rnd):
            return pairs
        for drv in drivers:
            if (drv, path.name) in self.refused:
                continue
            be = (self.shared_be, self.be_ports[drv]) if self.shared_be else None
            fe = (self.shared_fe, self.fe_ports[drv]) if self.shared_fe else None
            try:
                pair, refusal = self.start_pair(path, drv, rnd, shared_be=be, shared_fe=fe)
            except (DpdkAppError, OSError) as e:
                for c in mine:
                    self.error(c, drv, "start failed (round %d): %s" % (rnd, e))
                print("    %s: start failed: %s" % (drv, e), flush=True)
                continue
            if refusal is not None:
                self.refused[(drv, path.name)] = refusal
                print("    %s: probe refused: %s" % (drv, refusal), flush=True)
                continue
            pairs[drv] = pair
        return pairs

    def stop_pairs(self, pairs):
        for pair in pairs.values():
            if not pair.dead:
                self.stop_apps(pair.own_apps())
        self.stop_apps([a for a in (self.shared_fe, self.shared_be) if a])
        self.shared_be = self.shared_fe = None
        self.fe_ports, self.be_ports = {}, {}

    def first_pairs(self, path, mine):
        """The first round's pairs, the in-tree driver's first: its log tells whether a
        vectorized path is n/a (recorded in self.na; ours is then not started, unless it
        shares the frontend process, which probed both)."""
        pairs = self.start_pairs(path, mine, (THEIRS,), 0)
        if THEIRS in pairs and path.vectorized and not self.staged_against:
            why = self.vectorized_na(path, pairs[THEIRS].fe)
            if why:
                self.na[path.name] = why
                print("    n/a: %s" % why, flush=True)
                return pairs
        pairs.update(self.start_pairs(path, mine, (OURS,), 0))
        return pairs

    def run_path(self, path, cells, order):
        a = self.a
        mine = [c for c in cells if c.split("/")[1] == path.name]
        todo = [cell_id(d, path.name, s) for s in self.sizes for d in DIRECTIONS
                if cell_id(d, path.name, s) in mine]
        got = {c: {OURS: [], THEIRS: []} for c in todo}
        retries = {c: a.placement_retries for c in todo}
        pairs = {}
        print("%s  %s: %s" % (fmt_dur(time.monotonic() - self.t0), path.name, path.devargs()),
              flush=True)
        try:
            pairs = self.first_pairs(path, mine)
            if path.name in self.na:
                return
            if not pairs:
                self.cell_no += len(mine)
                return
            for rnd in range(a.rounds):
                if rnd and a.fresh_pairs:  # see the --fresh-pairs comment at the top
                    self.stop_pairs(pairs)
                    pairs = self.start_pairs(path, mine, order(rnd), rnd)
                for c in todo:
                    direction, _, size = c.split("/")
                    while True:
                        got_round = self.measure_round(c, pairs, order(rnd), direction,
                                                       int(size), got[c])
                        if retries[c] == 0 or self.retry_budget == 0 or \
                                same_placement(got_round):
                            break
                        # The host moved the vCPUs between or during the two samples:
                        # measure the round again (see PLACEMENT_RETRIES).
                        retries[c] -= 1
                        self.retry_budget -= 1
                        self.redone.setdefault(c, []).append(
                            {d: (x["mpps"], x["placement"]) for d, x in got_round.items()})
                        for drv in got_round:
                            got[c][drv][-1] += "(redone)"
                    for drv, r in got_round.items():
                        r["round"] = rnd
                        self.samples.setdefault(c, {}).setdefault(drv, []).append(r)
                print("    round %d/%d done at %s" % (rnd + 1, a.rounds,
                                                    fmt_dur(time.monotonic() - self.t0)),
                      flush=True)
        finally:
            others = other_testpmds(self.my_pids)
            if others:
                self.others_seen.update(others)
            for pct, pid, comm in busy_processes(self.my_pids, raw=True):
                self.busy_seen[comm] = max(pct, self.busy_seen.get(comm, 0))
            self.stop_pairs(pairs)
        for c in todo:
            self.cell_no += 1
            mo = median([x["mpps"] for x in self.samples.get(c, {}).get(OURS, [])])
            mt = median([x["mpps"] for x in self.samples.get(c, {}).get(THEIRS, [])])
            ratio = ("ratio %.2f" % (mo / mt)) if mo is not None and mt else ""
            ours = " ".join(got[c][OURS]) or ("refused" if (OURS, path.name) in self.refused
                                              else "-")
            print("[%2d/%d %s] %-26s %s %-22s %s %-22s %s" % (
                self.cell_no, self.n_cells, fmt_dur(time.monotonic() - self.t0), c,
                self.m.short[OURS], ours, self.m.short[THEIRS],
                " ".join(got[c][THEIRS]) or "-", ratio), flush=True)

    # ---- the whole run
    def run(self, cells, paths):
        a = self.a
        self.sizes = sorted({int(c.split("/")[2]) for c in cells})
        if a.driver_order == "alternate":
            order = lambda rnd: (OURS, THEIRS) if rnd % 2 == 0 else (THEIRS, OURS)  # noqa
        else:
            order = lambda rnd: (OURS, THEIRS)  # noqa
        self.n_cells = len(cells)
        # per sample: warm-up, window, commands, two probes; plus ~15 % redone rounds
        sample_s = a.warmup + a.window + 0.2 + 2 * LINE_RTT_S
        starts = len(paths) * (a.rounds if a.fresh_pairs else 1)
        est = starts * 6 + len(cells) * a.rounds * 2 * sample_s * 1.15
        print("%d cells x %d rounds x 2 drivers = %d measurements over %d data paths; "
              "about %s" % (len(cells), a.rounds, len(cells) * a.rounds * 2, len(paths),
                            fmt_dur(est)), flush=True)
        for path in paths:
            self.run_path(path, cells, order)

    def cleanup(self):
        dpdkapp.kill_all(self.apps)
        if self.huge:
            for app in self.apps:
                self.huge.clean_prefix(app.file_prefix)
        self.apps = []
        for staged in self.staged.values():
            dpdkapp.unstage_plugin(staged)
        self.staged = {}
        if self.staged_against:
            dpdkapp.unstage_plugin(self.staged_against)
            self.staged_against = None
        shutil.rmtree(self.sock_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# report


def median(xs):
    return statistics.median(xs) if xs else None


def summarize(bench, cells, paths):
    rows = []
    for c in cells:
        direction, pname, size = c.split("/")
        size = int(size)
        row = {"cell": c, "direction": direction, "path": pname, "size": size,
               "devargs": PATHS_BY_NAME[pname].devargs()}
        for drv in (OURS, THEIRS):
            s = bench.samples.get(c, {}).get(drv, [])
            row[drv] = {"mpps": [round(x["mpps"], 4) for x in s],
                        "gbps": [round(x["gbps"], 4) for x in s],
                        "median_mpps": median([x["mpps"] for x in s]),
                        "median_gbps": median([x["gbps"] for x in s]),
                        "errors": bench.errors.get(c, {}).get(drv, []),
                        "median_fe_cpu": median([x["fe_cpu"] for x in s]),
                        "median_be_cpu": median([x["be_cpu"] for x in s]),
                        "starved": sum(1 for x in s if min(x["fe_cpu"], x["be_cpu"]) < STARVED),
                        "median_mpps_per_cpu": median([x["mpps_per_cpu"] for x in s
                                                       if x.get("mpps_per_cpu")]),
                        "samples": s}
            for pl in PLACEMENTS:
                row[drv]["n_" + pl] = sum(1 for x in s if x.get("placement") == pl)
                row[drv]["median_mpps_" + pl] = median([x["mpps"] for x in s
                                                        if x.get("placement") == pl])
        status, note = "ok", ""
        if pname in bench.na:
            status, note = "n/a", bench.na[pname]
        elif (OURS, pname) in bench.refused:
            status, note = "unsupported", UNSUPPORTED
        elif (THEIRS, pname) in bench.refused:
            status, note = "n/a", "in-tree driver refused it: " + bench.refused[(THEIRS, pname)]
        elif row[OURS]["median_mpps"] is None or row[THEIRS]["median_mpps"] is None:
            errs = row[OURS]["errors"] + row[THEIRS]["errors"]
            status, note = "error", (errs[0] if errs else "no sample")
        ratio = None
        if status == "ok":
            if row[THEIRS]["median_mpps"] > 0:
                ratio = row[OURS]["median_mpps"] / row[THEIRS]["median_mpps"]
            else:
                status, note = "error", "in-tree rate is 0"
        row["status"], row["note"], row["ratio"] = status, note, ratio
        row["redone_rounds"] = bench.redone.get(c, [])
        # Each round measures the two drivers back to back: the ratio within a round is
        # blind to slow changes of the machine's speed (the 2-vCPU VM flips between speed
        # modes for seconds at a time). A diagnostic; the acceptance uses `ratio`.
        paired = [r for r, _ in paired_rounds(row)]
        row["ratio_paired"] = median(paired) if status == "ok" and paired else None
        row["ratios_paired"] = [round(x, 3) for x in paired]
        # The same ratio from the samples of one vCPU placement only (a diagnostic).
        for pl in RATIO_PLACEMENTS:
            o, t = row[OURS]["median_mpps_" + pl], row[THEIRS]["median_mpps_" + pl]
            row["ratio_" + pl] = (o / t) if status == "ok" and o and t else None
        po, pt = row[OURS]["median_mpps_per_cpu"], row[THEIRS]["median_mpps_per_cpu"]
        row["ratio_per_cpu"] = (po / pt) if status == "ok" and po and pt else None
        rows.append(row)
    return rows


def paired_rounds(cell):
    """Each round of a cell (a row of results.json) that measured both drivers, in round
    order: (ours / in-tree, the placement both samples ran in, or None when they differ or
    were not probed). Also read by runs.py."""
    theirs = {x["round"]: x for x in cell.get(THEIRS, {}).get("samples", []) if "round" in x}
    out = []
    for o in sorted((x for x in cell.get(OURS, {}).get("samples", []) if "round" in x),
                    key=lambda x: x["round"]):
        t = theirs.get(o["round"])
        if t and t.get("mpps"):
            same = o.get("placement") == t.get("placement")
            out.append((o["mpps"] / t["mpps"], o.get("placement") if same else None))
    return out


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_bar(x):
    """1.0, 0.95: a bar as the issues write it."""
    return "%.1f" % x if round(x, 1) == x else "%.2f" % x


def acceptance(rows, measure):
    """The measure's bar (Measure.cell_bar, .geomean_bar_64).  Cells without a ratio count
    as not met; the cells below 1.0 are listed per size whatever the bar."""
    out = {}
    bar = measure.cell_bar
    ok_rows = [r for r in rows if r["ratio"] is not None]
    missing = [r["cell"] for r in rows if r["ratio"] is None and r["status"] != "n/a"]
    below1 = [r["cell"] for r in ok_rows if r["size"] == 64 and r["ratio"] < 1.0]
    below1_1518 = [r["cell"] for r in ok_rows if r["size"] == 1518 and r["ratio"] < 1.0]
    g64 = geomean([r["ratio"] for r in ok_rows if r["size"] == 64])
    below95 = [r["cell"] for r in ok_rows if r["size"] == 1518 and r["ratio"] < 0.95]
    below_bar = [r["cell"] for r in ok_rows
                 if bar.get(r["size"]) is not None and r["ratio"] < bar[r["size"]]]
    out["geomean_64"] = g64
    out["geomean_1518"] = geomean([r["ratio"] for r in ok_rows if r["size"] == 1518])
    out["geomean_all"] = geomean([r["ratio"] for r in ok_rows])
    out["geomean_64_per_cpu"] = geomean([r["ratio_per_cpu"] for r in ok_rows
                                         if r["size"] == 64])
    out["geomean_1518_per_cpu"] = geomean([r["ratio_per_cpu"] for r in ok_rows
                                           if r["size"] == 1518])
    out["geomean_64_paired"] = geomean([r.get("ratio_paired") for r in ok_rows
                                        if r["size"] == 64])
    out["geomean_1518_paired"] = geomean([r.get("ratio_paired") for r in ok_rows
                                          if r["size"] == 1518])
    for pl in RATIO_PLACEMENTS:
        for sz in (64, 1518):
            out["geomean_%d_%s" % (sz, pl)] = geomean([r.get("ratio_" + pl) for r in ok_rows
                                                       if r["size"] == sz])
    out["cells_64_below_1.0"] = below1
    out["cells_1518_below_1.0"] = below1_1518  # not part of the bar (0.95 is)
    out["cells_1518_below_0.95"] = below95
    out["cells_without_ratio"] = missing
    out["cells_below_bar"] = below_bar
    out["bar"] = {"cell": {str(k): v for k, v in bar.items()},
                  "geomean_64": measure.geomean_bar_64}
    has64 = any(r["size"] == 64 for r in rows)
    out["met"] = (not below_bar and not missing and
                  (not has64 or (g64 is not None and g64 >= measure.geomean_bar_64)))
    return out


def fmt(x, nd=3):
    return "-" if x is None else ("%.*f" % (nd, x))


def ratio_cell(r):
    if r["status"] == "ok":
        return "**%.2f**" % r["ratio"] if r["ratio"] < 1.0 else "%.2f" % r["ratio"]
    return {"unsupported": "unsup.", "n/a": "n/a", "error": "error"}[r["status"]]


def below_lines(acc, bar):
    """The acceptance's list lines: per size, the cells below its bar, then those below 1.0
    where the bar is lower (or there is none)."""
    L = []
    below = {sz: [c for c in acc["cells_below_bar"] if c.endswith("/%d" % sz)]
             for sz in SIZES}
    below1 = {64: acc["cells_64_below_1.0"], 1518: acc["cells_1518_below_1.0"]}
    for sz in SIZES:
        if below[sz]:
            L.append("- %d B cells below %s: %s" % (sz, fmt_bar(bar[sz]), ", ".join(below[sz])))
    for sz in SIZES:
        if below1[sz] and bar.get(sz) != 1.0:
            L.append("- %d B cells below 1.0 (%s): %s" % (
                sz, "no bar per cell" if bar.get(sz) is None else
                "the bar there is %s" % fmt_bar(bar[sz]), ", ".join(below1[sz])))
    return L


def markdown(bench, rows, acc, env, meta):
    L = []
    if meta.get("against"):
        L.append("# vuser benchmark, A/B of two builds: net_vuser %s vs net_vuser %s"
                 % (env["plugin"], meta["against"]))
        L.append("")
        L.append("**--against**: the build %s runs in the in-tree driver's place; every "
                 "\"in-tree\" below means that build, and the acceptance bar (against DPDK's "
                 "driver) is not judged." % meta["against"])
    else:
        L.append("# vuser benchmark: %s" % bench.m.title)
    L.append("")
    L.append("Ratio = median rate of ours / median rate of the in-tree driver (higher is "
             "better for vuser); rates in Mpps from telemetry counters over %.1f s windows "
             "after %.1f s warm-up, %d rounds per cell and driver, the two drivers alternated, "
             "%s."
             % (meta["window_s"], meta["warmup_s"], meta["rounds"],
                "each round on freshly started processes of both drivers"
                if meta.get("fresh_pairs") else
                "both drivers' processes started once per data path")
             + (" One backend process serves both drivers (--backend shared)."
                if meta.get("backend") == "shared" else "")
             + (" One frontend process holds a port of each driver (--frontend shared)."
                if meta.get("frontend") == "shared" else ""))
    L.append("")
    sizes = sorted({r["size"] for r in rows})
    dirs = [d for d in DIRECTIONS if any(r["direction"] == d for r in rows)]
    pnames = [p.name for p in DATA_PATHS if any(r["path"] == p.name for r in rows)]
    by = {r["cell"]: r for r in rows}
    cols = [(d, s) for s in sizes for d in dirs]
    L.append("## Ratio ours/in-tree")
    L.append("")
    L.append("| data path | " + " | ".join("%s %dB" % (d, s) for d, s in cols) + " |")
    L.append("|---|" + "---:|" * len(cols))
    for p in pnames:
        cells = []
        for d, s in cols:
            r = by.get(cell_id(d, p, s))
            cells.append(ratio_cell(r) if r else "")
        L.append("| %s | %s |" % (p, " | ".join(cells)))
    L.append("")
    L.append("Geometric mean of the ratios: 64 B %s, 1518 B %s, all %s. "
             "unsup. = %s; n/a = not applicable (below); **bold** = below 1.0."
             % (fmt(acc["geomean_64"], 2), fmt(acc["geomean_1518"], 2),
                fmt(acc["geomean_all"], 2), UNSUPPORTED))
    L.append("")
    L.append("Geometric mean of the within-round ratios (each round measures the two drivers "
             "back to back; a diagnostic less sensitive to the machine's speed changing "
             "between rounds): 64 B %s, 1518 B %s."
             % (fmt(acc.get("geomean_64_paired"), 2), fmt(acc.get("geomean_1518_paired"), 2)))
    L.append("")
    L.append("Geometric mean of the ratios from the samples of one vCPU placement (probed "
             "around each sample: cache-line round trip between the CPUs below %d ns = near, "
             "else far; cells with samples of both drivers in it): near 64 B %s, 1518 B %s; "
             "far 64 B %s, 1518 B %s."
             % (NEAR_NS, fmt(acc.get("geomean_64_near"), 2),
                fmt(acc.get("geomean_1518_near"), 2), fmt(acc.get("geomean_64_far"), 2),
                fmt(acc.get("geomean_1518_far"), 2)))
    L.append("")
    L.append("Acceptance (%s): **%s**" % (bench.m.bar_text, "not judged (--against)"
                                          if acc["met"] is None else
                                          "met" if acc["met"] else "not met"))
    if acc["cells_without_ratio"]:
        L.append("- cells without a ratio: %d (%s)" % (len(acc["cells_without_ratio"]),
                                                      ", ".join(acc["cells_without_ratio"])))
    L += below_lines(acc, bench.m.cell_bar)
    n = sum(len(r[d]["samples"]) for r in rows for d in (OURS, THEIRS))
    st = sum(r[d]["starved"] for r in rows for d in (OURS, THEIRS))
    redone = [len(r.get("redone_rounds", [])) for r in rows]
    L.append("- rounds measured again because the two drivers' samples ran in different vCPU "
             "placements: %d, in %d cells (at most %d per cell, %d in all)"
             % (sum(redone), sum(1 for x in redone if x), meta.get("placement_retries", 0),
                meta.get("placement_retry_budget", 0)))
    if n:
        L.append("- samples in which a forwarding thread got less than %d%% of a CPU "
                 "(machine busy with other work): %d of %d" % (STARVED * 100, st, n))
    L.append("")
    L.append("## Rates (median Mpps, min-max over rounds)")
    L.append("")
    L.append("pollers' CPU: the share of a CPU that the frontend's and the backend's forwarding "
             "threads got during the window (median); well below 1.00 means other work on the "
             "machine took CPU time from them. ratio per poller-CPU: the same ratio with each "
             "sample's rate divided by the smaller of the two shares, a rough correction for "
             "that (a diagnostic; the acceptance uses the plain ratio). Geometric means per "
             "poller-CPU: 64 B %s, 1518 B %s. placement n/f/m: how many samples ran with the "
             "vCPUs near each other, far apart, or moved (the probes before and after "
             "disagree)%s; "
             "ratio near / far: the ratio from one placement's samples only."
             % (fmt(acc["geomean_64_per_cpu"], 2), fmt(acc["geomean_1518_per_cpu"], 2),
                "" if os.access(LINE_RTT, os.X_OK) else
                " (not probed: %s is not built)" % os.path.relpath(LINE_RTT, ROOT)))
    L.append("")
    ours, theirs = bench.m.cols[OURS], bench.m.cols[THEIRS]
    L.append("| direction | data path | size | %s Mpps | %s Mpps | ratio "
             "| ratio within rounds: median (min-max) "
             "| pollers' CPU fe/be: %s, %s | ratio per poller-CPU "
             "| placement n/f/m: %s, %s | ratio near / far | note |"
             % (ours, theirs, ours, theirs, ours, theirs))
    L.append("|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|")
    for r in rows:
        def spread(x):
            v = r[x]["mpps"]
            if not v:
                return "-"
            return "%.3f (%.2f-%.2f)" % (r[x]["median_mpps"], min(v), max(v)) if len(v) > 1 \
                else "%.3f" % v[0]
        note = r["note"]
        if r["status"] == "ok":
            errs = r[OURS]["errors"] + r[THEIRS]["errors"]
            note = ("%d failed sample(s)" % len(errs)) if errs else ""
            if r.get("redone_rounds"):
                note = ", ".join(x for x in (note, "%d round(s) redone" % len(
                    r["redone_rounds"])) if x)
        def cpu(x):
            if r[x]["median_fe_cpu"] is None:
                return "-"
            return "%.2f/%.2f" % (r[x]["median_fe_cpu"], r[x]["median_be_cpu"])
        def paired():
            v = r.get("ratios_paired") or []
            if r.get("ratio_paired") is None:
                return "-"
            return "%.2f (%.2f-%.2f)" % (r["ratio_paired"], min(v), max(v))
        def places(x):
            return "/".join(str(r[x].get("n_" + pl, 0)) for pl in PLACEMENTS)
        cols = (r["direction"], r["path"], str(r["size"]), spread(OURS), spread(THEIRS),
                fmt(r["ratio"], 2), paired(), "%s, %s" % (cpu(OURS), cpu(THEIRS)),
                fmt(r["ratio_per_cpu"], 2), "%s, %s" % (places(OURS), places(THEIRS)),
                "%s / %s" % (fmt(r.get("ratio_near"), 2), fmt(r.get("ratio_far"), 2)),
                note.replace("|", "/"))
        L.append("| %s |" % " | ".join(cols))
    L.append("")
    L.append("## Not measured")
    L.append("")
    seen = False
    for p in pnames:
        if p in bench.na:
            L.append("- %s: n/a: %s" % (p, bench.na[p]))
            seen = True
        elif (OURS, p) in bench.refused:
            L.append("- %s: %s: %s" % (p, UNSUPPORTED, bench.refused[(OURS, p)]))
            seen = True
        elif (THEIRS, p) in bench.refused:
            L.append("- %s: in-tree driver refused it: %s" % (p, bench.refused[(THEIRS, p)]))
            seen = True
    if not seen:
        L.append("- none")
    L.append("")
    L.append("## Data paths")
    L.append("")
    L.append("| data path | devargs (both drivers) | in-tree driver's Rx / Tx functions |"
             if bench.m.name == "frontend" else
             "| data path | devargs (both frontends) | net_virtio_user's Rx / Tx functions |")
    L.append("|---|---|---|")
    for p in pnames:
        dp = PATHS_BY_NAME[p]
        ch = bench.dpdk_paths.get(p, {})
        extra = " + EAL --force-max-simd-bitwidth=512" if dp.simd512 else ""
        L.append("| %s | `%s`%s | %s / %s |" % (p, dp.devargs(), extra, ch.get("Rx", "-"),
                                                ch.get("Tx", "-")))
    L.append("")
    L.append("## Environment")
    L.append("")
    L.append("- machine: `%s`" % env["machine"])
    L.append("- CPU: %s, %s CPUs (SIMD: %s)" % (env["cpu_model"], env["nproc"],
                                                ", ".join(env["cpu_simd_flags"])))
    L.append("- DPDK: %s (%s), %s" % (env["dpdk_version"], env["dpdk_debian_package"],
                                       env["testpmd"]))
    L.append("- vuser: git %s%s, %s" % (
        env["git_commit"], " (dirty work tree)" if env["git_dirty"] else "",
        ", ".join("%splugin built %s" % ("" if kind == "vuser" else kind + " ",
                                          env["plugins"][kind]["mtime"])
                  for kind in bench.m.plugins())))
    if bench.m.name != "frontend":
        L.append("- measure: %s: frontend ports %s (ours) and %s, backend ports %s (ours) "
                 "and %s" % (bench.m.name, bench.m.fe[OURS], bench.m.fe[THEIRS],
                             bench.m.be[OURS], bench.m.be[THEIRS]))
    L.append("- memory: %s" % meta["memory"])
    L.append("- layout: %s `-l 0,1 --main-lcore 0` (forwarding on lcore 1), %s "
             "`-l 0,1 --main-lcore 1` (forwarding on lcore 0); burst %d, rings of %d, "
             "%d mbufs, loopback started with `start tx_first %d` (%d packets)"
             % ("one backend for both drivers (a port each)"
                if meta.get("backend") == "shared" else "a backend per driver",
                "one frontend for both drivers (a port each)"
                if meta.get("frontend") == "shared" else "a frontend per driver",
                meta["burst"], meta["ring"], meta["mbufs"], meta["loop_bursts"],
                meta["loop_bursts"] * meta["burst"]))
    L.append("- run: %s, %s, load average at start %s, at end %s"
             % (meta["started"], fmt_dur(meta["duration_s"]), " ".join(env["loadavg_start"]),
                " ".join(env.get("loadavg_end", []))))
    if meta["shared"]:
        L.append("- **shared machine**: other work was running during the run, rates are "
                 "lower and noisier than on an idle machine: " + "; ".join(meta["shared"]))
    else:
        L.append("- no other dpdk-testpmd and no busy process seen during the run")
    L.append("")
    return "\n".join(L)


PLOT = os.path.join(HERE, "plot.py")


def plot_python(allow_install):
    """An interpreter that imports matplotlib: this one, else Debian's
    /usr/bin/python3 (where python3-matplotlib installs), after installing
    python3-matplotlib with apt-get when no interpreter has it.
    Returns (python, None) or (None, why not)."""
    cands = []
    for c in (sys.executable, "/usr/bin/python3"):
        if c and os.path.exists(c) and c not in cands:
            cands.append(c)

    def find():
        for c in cands:
            if subprocess.call([c, "-c", "import matplotlib"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0:
                return c
        return None

    py = find()
    if py:
        return py, None
    if not allow_install:
        return None, "matplotlib missing (--no-install)"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "matplotlib missing and cannot apt-get install python3-matplotlib"
    print("installing python3-matplotlib with apt-get (for the plot)...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "python3-matplotlib"]
    rc = subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL)
    if rc != 0:
        subprocess.call(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        rc = subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL)
    if rc != 0:
        return None, "apt-get install python3-matplotlib failed (rc=%d)" % rc
    py = find()
    return (py, None) if py else (None, "matplotlib installed but no python imports it")


# --------------------------------------------------------------------------
# main


def select_cells(args):
    paths = [p.name for p in DATA_PATHS]
    sizes = list(SIZES)
    dirs = list(DIRECTIONS)
    rounds = args.rounds
    patterns = []
    if args.quick:
        patterns = ["*/split/64"]
    if args.cells:
        patterns = [p.strip() for p in args.cells.split(",") if p.strip()]
    cells = [cell_id(d, p, s) for p in paths for s in sizes for d in dirs]
    if patterns:
        cells = [c for c in cells if any(fnmatch.fnmatchcase(c, pat) for pat in patterns)]
    return cells, rounds


class Interrupted(BaseException):
    """SIGTERM/SIGHUP: like KeyboardInterrupt, not caught by the per-cell
    error handling, so the run stops and cleans up."""


def _on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", help="comma-separated patterns over cell names "
                    "direction/path/size, e.g. 'tx/split/64,*/packed*/1518' (see --list)")
    ap.add_argument("--quick", action="store_true",
                    help="split ring, 64 bytes, all directions (= --cells '*/split/64')")
    ap.add_argument("--list", action="store_true", help="print the cell names and exit")
    # 6 short rounds rather than 3 long ones: this machine's speed changes for seconds at
    # a time (for both drivers), and a median of 6 alternated samples follows that less;
    # an even number puts each driver first in as many rounds as the other.
    ap.add_argument("--rounds", type=int, default=6,
                    help="measurements per cell and driver, alternated (default 6)")
    ap.add_argument("--warmup", type=float, default=0.3,
                    help="s between packets moving and the first sample (default 0.3)")
    ap.add_argument("--window", type=float, default=0.5,
                    help="s between the two counter samples (default 0.5)")
    ap.add_argument("--huge", choices=("auto", "yes", "no"), default="auto",
                    help="hugepages: auto = reserve if possible else --no-huge (default); "
                    "yes = fail without; no = always --no-huge")
    ap.add_argument("--burst", type=int, default=32)
    ap.add_argument("--ring", type=int, default=256, help="queue_size and --rxd/--txd")
    ap.add_argument("--mbufs", type=int, default=8192)
    ap.add_argument("--mem", type=int, default=256, help="-m per app, MB")
    ap.add_argument("--loop-bursts", type=int, default=8,
                    help="N of the loopback's 'start tx_first N' (packets = N x burst)")
    ap.add_argument("--placement-retries", type=int, default=PLACEMENT_RETRIES,
                    help="per cell, how many rounds may be measured again because the two "
                    "drivers' samples ran in different vCPU placements (0: never)")
    ap.add_argument("--placement-retry-budget", type=int, default=PLACEMENT_RETRY_BUDGET,
                    help="at most this many rounds measured again in the whole run "
                    "(default %d)" % PLACEMENT_RETRY_BUDGET)
    ap.add_argument("--fresh-pairs", action="store_true",
                    help="start each driver's backend + frontend every round instead of once "
                    "per data path, so that one start's luck (memory placement) weighs on one "
                    "round, not on all (slower: 13-14 min for all cells)")
    ap.add_argument("--backend", choices=("shared", "per-driver"), default="shared",
                    help="shared: one backend process with a net_vhost port per driver, only "
                    "the measured one forwarding (default); per-driver: a backend process "
                    "per driver")
    ap.add_argument("--frontend", choices=("shared", "per-driver"),
                    help="shared: one frontend process with a port of each driver (net_vuser "
                    "and net_virtio_user), only the measured one forwarding (default); "
                    "per-driver: a frontend process per driver (the default with --against, "
                    "whose two builds of net_vuser cannot share a process)")
    ap.add_argument("--driver-order", choices=("alternate", "fixed"), default="alternate",
                    help="alternate: ours first in even rounds, in-tree first in odd ones")
    ap.add_argument("--measure", choices=sorted(MEASURES), default="frontend",
                    help="frontend: net_vuser vs net_virtio_user, both on net_vhost (default); "
                    "backend: net_vubackend vs net_vhost, both serving net_virtio_user; "
                    "pair: net_vuser + net_vubackend vs net_virtio_user + net_vhost")
    ap.add_argument("--plugin", default=dpdkapp.plugin_path())
    ap.add_argument("--backend-plugin", default=vubackend_plugin(),
                    help="the net_vubackend plugin (--measure backend, pair; default: "
                    "$VUBACKEND_PLUGIN, else beside --plugin's default)")
    ap.add_argument("--against", metavar="PLUGIN",
                    help="development A/B: measure another build of net_vuser in the "
                    "in-tree driver's place (the 'dpdk' columns are then that build)")
    ap.add_argument("--iotlb", action="store_true",
                    help="IOTLB mode on the 'vuser' side (iotlb=1 on net_vhost with "
                    "iommu-support=1), --measure frontend only; with --against and the same "
                    "build, the 'dpdk' columns are that build without it: IOTLB's cost")
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "perf"),
                    help="results go to OUT/<timestamp>/ (default results/perf)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install python3-matplotlib when it is missing")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when the acceptance bar is not met")
    args = ap.parse_args()
    if args.against and args.measure != "frontend":
        ap.error("--against (two builds of net_vuser) is implemented for --measure frontend "
                 "only, not for --measure %s" % args.measure)
    if args.iotlb and args.measure != "frontend":
        ap.error("--iotlb (our frontend's IOTLB mode on net_vhost) is implemented for "
                 "--measure frontend only, not for --measure %s" % args.measure)
    if args.strict and args.against:
        ap.error("--strict judges the acceptance bar, which is against DPDK's driver: "
                 "it cannot go with --against (two builds of net_vuser)")

    cells, _ = select_cells(args)
    if args.list:
        for c in cells:
            d, p, s = c.split("/")
            print("%-28s %s" % (c, PATHS_BY_NAME[p].devargs()))
        return 0
    if not cells:
        print("bench: no cell matches %r (see --list)" % args.cells, file=sys.stderr)
        return 2
    if args.rounds < 1:
        print("bench: --rounds must be >= 1", file=sys.stderr)
        return 2
    if args.frontend is None:
        args.frontend = "per-driver" if args.against else "shared"
    elif args.frontend == "shared" and args.against:
        print("bench: --frontend shared cannot hold two builds of net_vuser (--against)",
              file=sys.stderr)
        return 2
    if shutil.which(dpdkapp.TESTPMD) is None:
        print("bench: %s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD, file=sys.stderr)
        return 1
    paths = [p for p in DATA_PATHS if any(c.split("/")[1] == p.name for c in cells)]

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(args.out, stamp)
    os.makedirs(out_dir, exist_ok=True)
    plot_py, plot_note = (None, "--no-plot") if args.no_plot else \
        plot_python(not args.no_install)

    bench = Bench(args, out_dir)
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    rc = 0
    t_start = time.monotonic()
    started = datetime.datetime.now().isoformat(timespec="seconds")
    memory = "--no-huge --single-file-segments (memfd)"
    shared = []
    try:
        sources = {"vuser": args.plugin, "vubackend": args.backend_plugin}
        plugins = {k: sources[k] for k in bench.m.plugins()}
        env = environment(plugins)
        for kind, src in plugins.items():
            bench.staged[kind] = dpdkapp.stage_plugin(src)
        if args.against:
            bench.staged_against = dpdkapp.stage_plugin(args.against)
        if args.huge != "no":
            # four apps' memory at a time: a backend and a frontend per driver, or
            # (--backend shared) two frontends and a backend with twice the memory
            need = 4 * ((args.mem + 1) // 2) + 32
            bench.huge = Hugepages(need, dpdkapp.private_root())
            if bench.huge.setup():
                memory = ("2 MB hugepages (%d reserved by the benchmark, private hugetlbfs "
                          "mount), --single-file-segments" % need)
            else:
                if args.huge == "yes":
                    raise DpdkAppError("--huge yes: " + bench.huge.reason)
                memory = ("--no-huge --single-file-segments (memfd): %s" % bench.huge.reason)
                bench.huge = None
        others = other_testpmds(set())
        busy = busy_processes(set())
        if others:
            shared.append("%d other dpdk-testpmd at start" % len(others))
        if busy:
            shared.append("busy at start: " + ", ".join(busy))
        print("vuser benchmark -> %s" % out_dir)
        print("  %s | %s x%s | DPDK %s | git %s%s" % (
            env["machine"].split()[1] if env["machine"] else "?", env["cpu_model"],
            env["nproc"], env["dpdk_version"], env["git_commit"][:12],
            " (dirty)" if env["git_dirty"] else ""))
        print("  memory: %s" % memory)
        if args.measure != "frontend":
            print("  measure %s: %s" % (args.measure, bench.m.title))
        print("  %d cells, %d rounds, warm-up %.1fs, window %.1fs" % (
            len(cells), args.rounds, args.warmup, args.window))
        if shared:
            print("  note: shared machine: %s" % "; ".join(shared))
        print(flush=True)
        bench.t0 = time.monotonic()
        bench.run(cells, paths)
        others = other_testpmds(bench.my_pids)
        if others:
            bench.others_seen.update(others)
        if bench.others_seen:
            shared.append("other dpdk-testpmd processes seen during the run: %d (%s)" % (
                len(bench.others_seen), "; ".join(sorted(bench.others_seen)[:6])))
        if bench.busy_seen:
            shared.append("busy processes seen between data paths: " + ", ".join(
                "%s (up to %.0f%% CPU)" % (c, pct) for c, pct in
                sorted(bench.busy_seen.items(), key=lambda kv: -kv[1])[:6]))
    except (Interrupted, KeyboardInterrupt) as e:
        print("\nbench: interrupted (%s); cleaning up" % (e or "Ctrl-C"), file=sys.stderr)
        rc = 130
    except (DpdkAppError, OSError) as e:
        print("\nbench failed: %s" % e, file=sys.stderr)
        traceback.print_exc()
        rc = 1
    finally:
        bench.cleanup()
        if bench.huge:
            bench.huge.release()
        for s, h in old.items():
            signal.signal(s, h)
    if rc:
        return rc

    duration = time.monotonic() - t_start
    env["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    rows = summarize(bench, cells, paths)
    acc = acceptance(rows, bench.m)
    if args.against:
        acc["met"] = None  # two builds of net_vuser: the bar is against DPDK's driver
    meta = {"measure": args.measure, "title": bench.m.plot_title,
            "started": started, "duration_s": round(duration, 1), "rounds": args.rounds,
            "fresh_pairs": args.fresh_pairs,
            "backend": args.backend, "frontend": args.frontend,
            "warmup_s": args.warmup, "window_s": args.window, "burst": args.burst,
            "ring": args.ring, "mbufs": args.mbufs, "mem_mb": args.mem,
            "loop_bursts": args.loop_bursts,
            "placement_retries": args.placement_retries,
            "placement_retry_budget": args.placement_retry_budget, "memory": memory,
            "shared": shared,
            "driver_order": args.driver_order, "cells": cells,
            "against": os.path.abspath(args.against) if args.against else None}
    table = markdown(bench, rows, acc, env, meta)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "environment": env, "acceptance": acc,
                   "not_applicable": bench.na,
                   "refused": {"%s/%s" % k: v for k, v in bench.refused.items()},
                   "dpdk_selected_paths": bench.dpdk_paths,
                   "vuser_log_lines": bench.vuser_lines, "cells": rows}, f, indent=1)
    png = os.path.join(out_dir, "ratios.png")
    if plot_py:
        try:
            subprocess.run([plot_py, PLOT, os.path.join(out_dir, "results.json"), png],
                           check=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            print("bench: plot failed: %s" % e, file=sys.stderr)
            png = None
    else:
        print("bench: no plot: %s" % plot_note, file=sys.stderr)
        png = None
    latest = os.path.join(args.out, "latest")
    try:
        if os.path.islink(latest) or os.path.exists(latest):
            os.unlink(latest)
        os.symlink(stamp, latest)
    except OSError:
        pass
    print()
    print(table)
    print("results: %s (table.md, results.json%s, logs/)" % (out_dir,
                                                             ", ratios.png" if png else ""))
    print("duration: %s" % fmt_dur(duration))
    if args.strict and not acc["met"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
