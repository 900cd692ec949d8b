# SPDX-License-Identifier: BSD-3-Clause
"""A private OVS-DPDK instance (Debian's openvswitch-switch-dpdk) for tests.

Its own database, run directory and logs in a directory of its own; ovsdb-server and
ovs-vswitchd are started here with explicit paths (the system's openvswitch service is
never used or touched) and stopped at the end.  ovs-vswitchd runs in a network namespace
of its own (unshare -n): a netdev bridge's internal port is a TAP device, which then never
shows in the host's network.  DPDK in ovs-vswitchd runs without hugepages (dpdk-extra:
--no-huge --single-file-segments, memfd that vhost-user can share), its main thread on
CPU 0 and one PMD thread on CPU 1, a mempool per port.

  ovs = OvsDpdk(log_dir).start()
  ovs.add_bridge("br0")
  ovs.add_vhost_client("br0", "vhA", "/run/x/a.sock")   # dpdkvhostuserclient
  ovs.port_stats("br0", "vhA")                          # OpenFlow port counters
  ovs.vsctl(...), ovs.ofctl(...), ovs.appctl(...)
  ovs.stop()

Standard library only (and tests/lib/dpdkapp.py).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import dpdkapp

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVSDB_SERVER = "/usr/sbin/ovsdb-server"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
CTL_TIMEOUT = 30
BOOT_TIMEOUT = 60.0
# OVS's shared mempool starts at 262144 mbufs and fails in -m 256 without hugepages; per
# port, a vhost port needs about 20000 (some 60 MB)
MEM_MB = 512
# EAL arguments of ovs-vswitchd; OVS adds -c from dpdk-lcore-mask, and --in-memory unless
# it sees --legacy-mem, which --no-huge implies and EAL refuses with --in-memory
DPDK_EXTRA = "--no-huge --legacy-mem --single-file-segments -m %d --no-pci --file-prefix %s"
LCORE_MASK = "0x1"          # OVS's main DPDK lcore
PMD_MASK = "0x2"            # one PMD thread, on CPU 1


class OvsUnavailable(Exception):
    """OVS-DPDK cannot run here; the message says why (tests skip)."""


class OvsDpdk:
    def __init__(self, log_dir, tag="ovs"):
        self.log_dir = log_dir
        self.tag = tag
        self.dir = None
        self.db = None
        self.vswitchd = None
        self.prefix = dpdkapp.unique_prefix(tag)

    def _path(self, name):
        return os.path.join(self.dir, name)

    @property
    def db_sock(self):
        return self._path("db.sock")

    def _env(self):
        env = dict(os.environ)
        for k in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"):
            env[k] = self.dir
        return env

    def _spawn(self, name, argv):
        log = open(os.path.join(self.log_dir, "%s.log" % name), "wb")
        log.write(("$ %s\n" % " ".join(argv)).encode())
        log.flush()
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=self._env(),
                                    preexec_fn=dpdkapp._die_with_parent)
        finally:
            log.close()

    def start(self):
        for exe in (VSWITCHD, OVSDB_SERVER, shutil.which("ovs-vsctl") or "/nonexistent"):
            if not os.access(exe, os.X_OK):
                raise OvsUnavailable("%s not found (Debian's openvswitch-switch-dpdk; "
                                     "scripts/setup.sh installs it)" % exe)
        os.makedirs(self.log_dir, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="ovs-", dir=dpdkapp.private_root())
        db = self._path("conf.db")
        subprocess.run(["ovsdb-tool", "create", db, SCHEMA], check=True, env=self._env())
        self.db = self._spawn("ovsdb-server", [
            OVSDB_SERVER, db, "--remote=punix:" + self.db_sock,
            "--pidfile=" + self._path("ovsdb-server.pid"),
            "--unixctl=" + self._path("ovsdb-server.ctl"),
            "--log-file=" + self._path("ovsdb-server.log")])
        dpdkapp.wait_until(lambda: os.path.exists(self.db_sock) or self.db.poll() is not None,
                           BOOT_TIMEOUT, what="ovsdb-server socket")
        if self.db.poll() is not None:
            raise OvsUnavailable("ovsdb-server exited (rc=%s)" % self.db.returncode)
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   "other_config:dpdk-lcore-mask=" + LCORE_MASK,
                   "other_config:pmd-cpu-mask=" + PMD_MASK,
                   "other_config:per-port-memory=true",
                   'other_config:dpdk-extra="%s"' % (DPDK_EXTRA % (MEM_MB, self.prefix)))
        self.vswitchd = self._spawn("ovs-vswitchd", [
            "unshare", "--net", VSWITCHD, "unix:" + self.db_sock,
            "--pidfile=" + self._path("ovs-vswitchd.pid"),
            "--unixctl=" + self.ctl,
            "--log-file=" + self.log_file])
        ok = dpdkapp.wait_until(lambda: self._dpdk_initialized() or
                                self.vswitchd.poll() is not None, BOOT_TIMEOUT)
        if not ok or self.vswitchd.poll() is not None:
            why = dpdkapp.tail(self.log(), 15)
            self.stop()
            raise OvsUnavailable("ovs-vswitchd with DPDK did not start:\n%s" % why)
        return self

    @property
    def ctl(self):
        return self._path("ovs-vswitchd.ctl")

    @property
    def log_file(self):
        return os.path.join(self.log_dir, "ovs-vswitchd-file.log")

    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _dpdk_initialized(self):
        if not os.path.exists(self.db_sock):
            return False
        r = self.vsctl("get", "Open_vSwitch", ".", "dpdk_initialized", check=False)
        return r.stdout.strip() == "true"

    def _run(self, argv, check=True):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=self._env(), timeout=CTL_TIMEOUT)
        if check and r.returncode != 0:
            raise dpdkapp.DpdkAppError("%s: rc=%d: %s" % (" ".join(argv[:4]), r.returncode,
                                                          r.stderr.strip()))
        return r

    def vsctl(self, *args, check=True):
        return self._run(["ovs-vsctl", "--db=unix:" + self.db_sock,
                          "--timeout=%d" % CTL_TIMEOUT] + list(args), check)

    def ofctl(self, *args, check=True):
        # ovs-ofctl reaches the bridge through its management socket in OVS_RUNDIR
        return self._run(["ovs-ofctl"] + list(args), check)

    def appctl(self, *args, check=True):
        return self._run(["ovs-appctl", "-t", self.ctl] + list(args), check)

    def add_bridge(self, br):
        self.vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")

    def add_vhost_client(self, br, port, sock):
        """A dpdkvhostuserclient port: OVS connects to ``sock`` (and reconnects)."""
        self.vsctl("add-port", br, port, "--", "set", "Interface", port,
                   "type=dpdkvhostuserclient", "options:vhost-server-path=" + sock)

    def ofport(self, port):
        return int(self.vsctl("get", "Interface", port, "ofport").stdout.strip())

    def port_stats(self, br, port):
        """The port's OpenFlow counters now (ovs-ofctl dump-ports, which takes the port's
        number; the Interface table's statistics column lags by up to 5 s):
        {"rx_packets", "rx_dropped", "tx_packets", "tx_dropped"}."""
        out = self.ofctl("dump-ports", br, str(self.ofport(port))).stdout
        stats = {}
        for way in ("rx", "tx"):
            m = re.search(r"%s pkts=(\d+|\?), bytes=\S+, drop=(\d+|\?)" % way, out)
            if not m:
                raise dpdkapp.DpdkAppError("no %s counters for %s in: %s" % (way, port, out))
            stats[way + "_packets"] = int(m.group(1)) if m.group(1) != "?" else 0
            stats[way + "_dropped"] = int(m.group(2)) if m.group(2) != "?" else 0
        return stats

    def stop(self):
        """Stop ovs-vswitchd (ovs-appctl exit, then signals) and ovsdb-server, remove the
        directory.  Never raises."""
        if self.vswitchd is not None and self.vswitchd.poll() is None:
            try:
                self.appctl("exit", "--cleanup", check=False)
            except (subprocess.TimeoutExpired, OSError):
                pass
            _stop_proc(self.vswitchd)
        if self.db is not None and self.db.poll() is None:
            _stop_proc(self.db)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        dpdkapp._cleanup_runtime_dir(self.prefix)


def _stop_proc(p, timeout=15):
    try:
        p.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
