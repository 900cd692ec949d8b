# SPDX-License-Identifier: BSD-3-Clause
"""Helpers to run DPDK applications (dpdk-testpmd) in tests and benchmarks.

Standard library only.  What is here:

  stage_plugin()       copy a PMD plugin (.so) into a private directory that EAL
                       accepts for ``-d`` (no world-writable directory above it)
  eal_args()           the EAL command line every app here uses (no hugepages)
  Testpmd / DpdkApp    start an app, write commands to its stdin, capture its
                       output in a log file, read its counters, stop it cleanly
  Telemetry            client for the EAL telemetry socket (dpdk_telemetry.v2)
  wait_until()         poll a condition with a deadline
  wait_stable()        poll a value until it stops changing
  time_limit()         a block that raises TimeLimit when it runs too long (SIGALRM)
  settle_all()         wait until port counters reach a count and stop moving;
  delta / mismatches   their growth since a snapshot, compared with exact values
  claim_log_dir()      a results/ directory of logs for one run of a test file
  proc_info_stats()    the port counters dpdk-proc-info --stats printed
  Rate / measure_rates counter deltas between two instants (for benchmarks)
  proc_resources()     fds, threads and RSS of a process (leak checks)

Machine notes (DPDK 22.11 on Debian, no hugepages, 2 CPUs):
  * every app runs with ``--no-huge --single-file-segments`` (memory backed by
    memfd, which vhost-user needs) and a modest ``-m``;
  * two polling apps share 2 CPUs with ``-l 0,1`` and different ``--main-lcore``;
  * testpmd's own statistics printing is starved when polling threads share a
    CPU, so counters are read from the telemetry socket instead;
  * non-interactive testpmd exits at once when stdin is at EOF unless it has
    ``--stats-period``; here stdin is always a pipe we hold open.
"""

import ctypes
import fcntl
import itertools
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

TESTPMD = os.environ.get("DPDK_TESTPMD", "dpdk-testpmd")
RUNTIME_ROOT = "/var/run/dpdk"
DEFAULT_MEM_MB = 256

# testpmd's prompt.  cmdline writes it a character at a time, so a log line that another
# thread writes at that moment (vhost's VHOST_CONFIG messages, a driver's log, testpmd's
# "Port 0: ... event") can land inside it: "t" + "VHOST_CONFIG: ...\n" + "estpmd> ".
# Whole lines with those prefixes are allowed between the prompt's characters; anything
# else still has to be the prompt itself, at the start of a line.
_FOREIGN_LINES = r"(?:\n?(?:VHOST_CONFIG|VHOST_DATA|VUSER|EAL|TELEMETRY|Port \d+)[^\n]*\n)*"
PROMPT = "^" + _FOREIGN_LINES.join(re.escape(c) for c in "testpmd> ")

_counter = itertools.count()

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


class DpdkAppError(Exception):
    """An app failed to start, answer or stop as expected."""


# --------------------------------------------------------------------------
# waiting


def plugin_path():
    """The net_vuser plugin the tests load: $VUSER_PLUGIN (make test-asan points it at
    the sanitizer build), else the one in build/."""
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    return os.environ.get("VUSER_PLUGIN") or os.path.join(
        root, "build", "drivers", "net", "vuser", "librte_net_vuser.so")


def wait_until(pred, timeout, interval=0.05, what=None):
    """Call pred() until it returns a truthy value; return that value.

    Returns None when the deadline passes (or raises DpdkAppError when
    ``what`` is given, naming what was waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            if what:
                raise DpdkAppError("timed out after %.1fs waiting for %s" % (timeout, what))
            return None
        time.sleep(interval)


def wait_stable(read, timeout, settle=0.5, interval=0.1, until=None):
    """Poll read() until its value has not changed for ``settle`` seconds.

    If ``until`` is given, the value must also satisfy until(value) before it
    may be considered settled.  Returns the last value read (settled or not:
    the caller asserts on it, so a timeout shows up as a wrong value)."""
    deadline = time.monotonic() + timeout
    last = read()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(interval)
        cur = read()
        now = time.monotonic()
        if cur != last:
            last, since = cur, now
            continue
        if now - since >= settle and (until is None or until(cur)):
            return cur
    return last


class TimeLimit(Exception):
    """A block ran longer than its time_limit()."""


@contextmanager
def time_limit(seconds, what="the block"):
    """Raise TimeLimit in the block when it runs longer than ``seconds`` (whole
    seconds, SIGALRM: main thread only, one at a time)."""
    def expire(signum, frame):
        raise TimeLimit("%s took longer than %ds" % (what, seconds))

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def host_has_avx2():
    """Does this CPU have AVX2 (what net_vuser's SIMD Rx burst needs)?"""
    with open("/proc/cpuinfo") as f:
        return " avx2" in f.read()


def host_has_avx512f():
    """Does this CPU have AVX-512 F (what net_vuser's AVX-512 Tx burst needs)?"""
    with open("/proc/cpuinfo") as f:
        return " avx512f" in f.read()


# --------------------------------------------------------------------------
# plugin staging


def _world_writable_parent(path):
    """Return the first directory at or above path that is world-writable."""
    p = os.path.abspath(path)
    while True:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            pass
        else:
            if st.st_mode & stat.S_IWOTH:
                return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent


def private_root():
    """A directory for staged plugins with no world-writable directory above.

    $VUSER_RUNDIR if set, else /run/vuser (root), else $XDG_RUNTIME_DIR/vuser,
    else ~/.cache/vuser."""
    cands = []
    if os.environ.get("VUSER_RUNDIR"):
        cands.append(os.environ["VUSER_RUNDIR"])
    cands.append("/run/vuser")
    if os.environ.get("XDG_RUNTIME_DIR"):
        cands.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "vuser"))
    cands.append(os.path.expanduser("~/.cache/vuser"))
    errors = []
    for c in cands:
        try:
            os.makedirs(c, mode=0o700, exist_ok=True)
        except OSError as e:
            errors.append("%s: %s" % (c, e))
            continue
        bad = _world_writable_parent(c)
        if bad:
            errors.append("%s: %s is world-writable" % (c, bad))
            continue
        return c
    raise DpdkAppError("no private directory for plugins: " + "; ".join(errors))


def stage_plugin(src, root=None):
    """Copy plugin ``src`` into a fresh 0700 directory EAL will load it from.

    Returns the staged file's path; remove it with unstage_plugin()."""
    if not os.path.isfile(src):
        raise DpdkAppError("plugin not found: %s (build it first: make build)" % src)
    root = root or private_root()
    d = tempfile.mkdtemp(prefix="plugin-", dir=root)
    os.chmod(d, 0o700)
    dst = os.path.join(d, os.path.basename(src))
    shutil.copy2(src, dst)
    os.chmod(dst, 0o755)
    return dst


def unstage_plugin(path):
    if path and os.path.isfile(path):
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


# --------------------------------------------------------------------------
# telemetry


def telemetry_path(file_prefix):
    return os.path.join(RUNTIME_ROOT, file_prefix, "dpdk_telemetry.v2")


class Telemetry:
    """Client for DPDK's telemetry v2 socket (AF_UNIX, SOCK_SEQPACKET).

    The first message from the server is a JSON hello carrying
    ``max_output_len``; each command is one message and its answer one
    message: ``{"<command>": <data>}``."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self.max_len = 16384
        self.hello = None

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
            hello = s.recv(self.max_len)
        except OSError:
            s.close()
            raise
        if not hello:
            s.close()
            raise ConnectionError("telemetry %s closed at hello" % self.path)
        self.hello = json.loads(hello.decode())
        self.max_len = max(int(self.hello.get("max_output_len", self.max_len)), 4096)
        self.sock = s
        return self

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self.connect() if self.sock is None else self

    def __exit__(self, *exc):
        self.close()

    def query(self, cmd):
        """Send one command (e.g. ``/ethdev/stats,0``); return its data part."""
        if self.sock is None:
            self.connect()
        try:
            self.sock.send(cmd.encode())
            raw = self.sock.recv(self.max_len)
        except OSError:
            self.close()
            raise
        if not raw:
            self.close()
            raise ConnectionError("telemetry %s closed" % self.path)
        reply = json.loads(raw.decode())
        key = cmd.split(",", 1)[0]
        return reply.get(key, reply)

    # convenience wrappers
    def ethdev_list(self):
        return list(self.query("/ethdev/list") or [])

    def stats(self, port=0):
        return self.query("/ethdev/stats,%d" % port)

    def xstats(self, port=0):
        return self.query("/ethdev/xstats,%d" % port)

    def link_status(self, port=0):
        return self.query("/ethdev/link_status,%d" % port)


# --------------------------------------------------------------------------
# EAL command line


def eal_args(file_prefix, lcores="0,1", main_lcore=0, mem_mb=DEFAULT_MEM_MB,
             vdevs=(), plugins=(), log_levels=(), extra=(), no_huge=True, single_file=True):
    """EAL arguments for an app on this machine (no hugepages, no PCI).

    ``no_huge=False`` leaves out ``--no-huge`` (the caller then names a
    hugetlbfs mount with ``--huge-dir`` in ``extra``); ``single_file=False``
    leaves out ``--single-file-segments`` (one file per hugepage); ``mem_mb=None``
    leaves out ``-m`` (memory grows as the app allocates)."""
    args = ["-l", str(lcores)]
    if main_lcore is not None:
        args += ["--main-lcore", str(main_lcore)]
    args += (["--no-huge"] if no_huge else []) + (
        ["--single-file-segments"] if single_file else []) + (
        ["-m", str(mem_mb)] if mem_mb is not None else []) + [
        "--no-pci", "--file-prefix", file_prefix]
    for p in plugins:
        args += ["-d", p]
    for v in vdevs:
        args += ["--vdev", v]
    for lv in log_levels:
        args += ["--log-level", lv]
    args += list(extra)
    return args


def unique_prefix(tag):
    """A file prefix distinct per process and per call."""
    tag = re.sub(r"[^A-Za-z0-9_]", "", tag)[:16] or "app"
    return "vu%d_%s%d" % (os.getpid(), tag, next(_counter))


# --------------------------------------------------------------------------
# apps


class DpdkApp:
    """One DPDK application process.

    Output (stdout and stderr) goes to ``<log_dir>/<name>.log``, line
    buffered through stdbuf when available, so it can be read while the app
    runs (output()) and printed when a test fails.  stdin is a pipe kept
    open for the app's lifetime (commands for interactive apps; EOF would
    make non-interactive testpmd exit).  The app stays in the caller's
    process group and is SIGKILLed by the kernel if the caller dies."""

    def __init__(self, name, argv, file_prefix, log_dir, env=None, interactive=False,
                 cwd=None):
        self.name = name
        self.cwd = cwd
        self.argv = list(argv)
        self.file_prefix = file_prefix
        self.interactive = interactive
        self.log_path = os.path.join(log_dir, "%s.log" % name)
        self.env = env
        self.proc = None
        self.returncode = None
        self._log = None
        self._tele = None
        self.started_at = None

    # ---- lifecycle
    def start(self):
        _cleanup_runtime_dir(self.file_prefix)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._log = open(self.log_path, "wb")
        argv = self.argv
        stdbuf = shutil.which("stdbuf")
        if stdbuf:
            argv = [stdbuf, "-oL", "-eL"] + argv
        self._log.write(("$ %s\n" % " ".join(self.argv)).encode())
        self._log.flush()
        env = dict(os.environ)
        # The sanitizer build (make test-asan): the plugin is an ASan .so dlopen'ed by an
        # uninstrumented app, so the ASan runtime is preloaded into the DPDK apps only.
        if os.environ.get("VUSER_APP_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["VUSER_APP_PRELOAD"]
        if self.env:
            env.update(self.env)
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self._log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.cwd,
                                         preexec_fn=_die_with_parent)
        except OSError as e:
            self._log.close()
            self._log = None
            raise DpdkAppError("%s: cannot start %s: %s" % (self.name, self.argv[0], e))
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def poll(self):
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is not None:
            self.returncode = rc
        return rc

    def send(self, line):
        """Write one command line to the app's stdin."""
        if not self.alive():
            raise DpdkAppError("%s: not running (rc=%s), cannot send %r"
                               % (self.name, self.poll(), line))
        try:
            self.proc.stdin.write((line.rstrip("\n") + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise DpdkAppError("%s: stdin closed, cannot send %r" % (self.name, line))

    def output(self, with_cmdline=False):
        """Everything the app printed so far.

        The log file starts with the command line (``$ argv...``); it is left
        out unless ``with_cmdline``, so that searches match only what the app
        printed."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        if not with_cmdline and text.startswith("$ "):
            nl = text.find("\n")
            text = text[nl + 1:] if nl >= 0 else ""
        return text

    def wait_for_output(self, pattern, timeout=10.0, since=0, interval=0.05):
        """Wait until the output (from offset ``since``) matches regex
        ``pattern``, looking every ``interval`` seconds; return the match.  Fails
        early if the app exits."""
        rx = re.compile(pattern, re.M)

        def check():
            m = rx.search(self.output(), since)
            if m:
                return m
            if not self.alive():
                m = rx.search(self.output(), since)
                if m:
                    return m
                raise DpdkAppError("%s exited (rc=%s) before printing /%s/"
                                   % (self.name, self.poll(), pattern))
            return None

        return wait_until(check, timeout, interval=interval,
                          what="%s to print /%s/" % (self.name, pattern))

    def output_len(self):
        """Length of output() now (an offset for wait_for_output(since=))."""
        return len(self.output())

    def wait_exit(self, timeout):
        """Wait for the process to end; return its exit code or None."""
        if self.proc is None:
            return None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def _signal(self, sig):
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=10.0, commands=None):
        """Stop the app cleanly and return its full output.

        Interactive: writes ``commands`` (default ``stop``, ``quit``) to
        stdin and closes it, then waits up to ``timeout`` s.
        Non-interactive: writes a newline (answers "Press enter to exit"),
        then sends SIGINT (testpmd's clean exit with --stats-period; it
        exits 0) and waits up to ``timeout`` s.
        Escalation when the app does not exit in time: SIGINT, then
        SIGKILL.  The exit code is in self.returncode (negative:
        killed by that signal)."""
        if self.proc is None:
            return self.output()
        self.close_telemetry()
        if self.alive():
            if commands is None:
                commands = ["stop", "quit"] if self.interactive else [""]
            for c in commands:
                try:
                    self.send(c)
                except DpdkAppError:
                    break
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            if not self.interactive and self.wait_exit(0.3) is None:
                self._signal(signal.SIGINT)
            if self.wait_exit(timeout) is None:
                self._note("no exit %.0fs after quit: SIGINT" % timeout)
                self._signal(signal.SIGINT)
                if self.wait_exit(min(timeout, 5.0)) is None:
                    self._note("no exit after SIGINT: SIGKILL")
                    self.kill()
        else:
            self.poll()
        self._finish()
        return self.output()

    def kill(self):
        """SIGKILL the app (testpmd forks nothing; stdbuf execs it)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.wait_exit(5.0)
        self._finish()

    def _note(self, msg):
        try:
            with open(self.log_path, "ab") as f:
                f.write(("\n[dpdkapp] %s\n" % msg).encode())
        except OSError:
            pass

    def _finish(self):
        self.close_telemetry()
        if self.proc is not None:
            self.poll()
            for f in (self.proc.stdin,):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
        if self._log:
            self._log.close()
            self._log = None
        if self.returncode is not None:
            _cleanup_runtime_dir(self.file_prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.kill()
        else:
            self.stop()

    # ---- telemetry
    @property
    def telemetry_path(self):
        return telemetry_path(self.file_prefix)

    def telemetry(self, timeout=15.0):
        """A connected Telemetry client (waits for the socket to appear)."""
        if self._tele is not None and self._tele.sock is not None:
            return self._tele

        def connect():
            if not self.alive():
                raise DpdkAppError("%s exited (rc=%s) before its telemetry socket answered"
                                   % (self.name, self.poll()))
            if not os.path.exists(self.telemetry_path):
                return None
            try:
                return Telemetry(self.telemetry_path).connect()
            except (OSError, ValueError):
                return None

        self._tele = wait_until(connect, timeout, interval=0.1,
                                what="%s telemetry at %s" % (self.name, self.telemetry_path))
        return self._tele

    def close_telemetry(self):
        if self._tele is not None:
            self._tele.close()
            self._tele = None

    def query(self, cmd):
        try:
            return self.telemetry().query(cmd)
        except (OSError, ValueError):
            # one reconnect: the server may have dropped an idle client
            self.close_telemetry()
            return self.telemetry().query(cmd)

    def ports(self):
        return list(self.query("/ethdev/list") or [])

    def stats(self, port=0):
        return self.query("/ethdev/stats,%d" % port)

    def xstats(self, port=0):
        return self.query("/ethdev/xstats,%d" % port)

    def link_status(self, port=0):
        return self.query("/ethdev/link_status,%d" % port)

    def counters(self, port=0, keys=("ipackets", "opackets", "ibytes", "obytes",
                                     "imissed", "ierrors", "oerrors", "rx_nombuf")):
        s = self.stats(port)
        return {k: s.get(k) for k in keys}

    def wait_link_up(self, port=0, timeout=15.0):
        return wait_until(lambda: (self.link_status(port) or {}).get("status") == "UP",
                          timeout, interval=0.1,
                          what="%s port %d link up" % (self.name, port))


def _die_with_parent():
    """In the child before exec: get SIGKILL when the parent dies, so that a
    test runner killed by a timeout leaves no polling app behind (Linux
    prctl PR_SET_PDEATHSIG; kept across exec for non-setuid programs)."""
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _cleanup_runtime_dir(prefix):
    """Remove /var/run/dpdk/<prefix> left by an app that has exited."""
    if not prefix or "/" in prefix:
        return
    d = os.path.join(RUNTIME_ROOT, prefix)
    if os.path.isdir(d):
        shutil.rmtree(d, ignore_errors=True)


class Testpmd(DpdkApp):
    """dpdk-testpmd with the usual layout for this machine.

    eal:        EAL args beyond the defaults (built by eal_args())
    vdevs:      --vdev values
    plugins:    -d paths (already staged)
    app_args:   testpmd args after ``--`` (``-i`` is added when interactive)
    no_huge:    False to run on hugepages (pass ``--huge-dir`` in eal_extra)
    single_file: False for one file per hugepage (no ``--single-file-segments``)
    cwd:        working directory (relative paths in devargs are resolved there)
    """

    __test__ = False        # a harness class, not a pytest test class

    READY_INTERACTIVE = PROMPT

    def __init__(self, name, log_dir, vdevs=(), plugins=(), app_args=(), interactive=False,
                 lcores="0,1", main_lcore=0, mem_mb=DEFAULT_MEM_MB, eal_extra=(),
                 log_levels=(), file_prefix=None, binary=None, env=None, no_huge=True,
                 cwd=None, single_file=True):
        prefix = file_prefix or unique_prefix(name)
        argv = [binary or TESTPMD]
        argv += eal_args(prefix, lcores=lcores, main_lcore=main_lcore, mem_mb=mem_mb,
                         vdevs=vdevs, plugins=plugins, log_levels=log_levels, extra=eal_extra,
                         no_huge=no_huge, single_file=single_file)
        argv.append("--")
        if interactive:
            argv.append("-i")
        argv += list(app_args)
        super().__init__(name, argv, prefix, log_dir, env=env, interactive=interactive,
                         cwd=cwd)

    def wait_ready(self, timeout=30.0):
        """Interactive: wait for the first prompt (ports are configured and
        started by then).  Non-interactive: wait for forwarding to start.
        Then wait for telemetry to answer."""
        if self.interactive:
            self.wait_for_output(self.READY_INTERACTIVE, timeout)
        else:
            self.wait_for_output(r"packet forwarding packets/burst=|Press enter to exit",
                                 timeout)
        self.telemetry(timeout)
        return self

    def cmd(self, line, wait=None, timeout=10.0, interval=0.05):
        """Send an interactive command; with ``wait`` (a regex), wait for it
        to appear in the output printed after the command was sent."""
        since = self.output_len()
        self.send(line)
        if wait:
            return self.wait_for_output(wait, timeout, since=since, interval=interval)
        return None

    def run(self, line, timeout=30.0):
        """Interactive: send a command, wait for the next prompt, and return
        what the command printed (the echo, its output, up to the prompt)."""
        since = self.output_len()
        self.send(line)
        m = self.wait_for_output(self.READY_INTERACTIVE, timeout, since=since)
        return self.output()[since:m.start()]

    def driver_name(self, port=0, timeout=30.0):
        """Interactive: the driver that took ``port`` (``show port info``), or None. An
        alias such as virtio_user0 goes to whichever driver registered it first."""
        m = re.search(r"^Driver name: *(\S+)", self.run("show port info %d" % port, timeout),
                      re.M)
        return m.group(1) if m else None

    def assert_driver(self, want="net_vuser", port=0):
        """``port`` is driven by ``want``: virtio_user0 is also the alias of DPDK's
        net_virtio_user, which takes it when our plugin is not loaded or not first."""
        got = self.driver_name(port)
        assert got == want, "port %d was taken by %s, not %s" % (port, got, want)

    def start_forwarding(self, mode="", timeout=30.0):
        """Interactive: ``start``, returning once the command is done. testpmd prints
        "<mode> packet forwarding - ports=..." first and only then drains the Rx queues
        (flush_fwd_rx_queues, 20 ms or more), dropping what it finds: a frame sent to the
        port when that first line shows can be lost. The next prompt comes after the
        drain, once the forwarding lcores are launched."""
        out = self.run("start", timeout)
        if not re.search(r"%s packet forwarding" % re.escape(mode), out):
            raise DpdkAppError("%s: start did not start %s forwarding: %s"
                               % (self.name, mode or "packet", out.strip()))
        return out

    def mempool_usage(self, timeout=10.0):
        """Interactive: mbufs in use per mempool, from ``dump_mempool``
        (size - total_cache_count - common_pool_count): {name: in_use}."""
        text = self.run("dump_mempool", timeout)
        usage = {}
        for m in re.finditer(r"^mempool <([^>]+)>.*?^  size=(\d+).*?total_cache_count=(\d+)"
                             r".*?common_pool_count=(\d+)", text, re.M | re.S):
            usage[m.group(1)] = int(m.group(2)) - int(m.group(3)) - int(m.group(4))
        return usage


# --------------------------------------------------------------------------
# counters


SETTLE_TIMEOUT = 30.0
ERROR_KEYS = ("imissed", "ierrors", "oerrors", "rx_nombuf")
COUNT_KEYS = ("ipackets", "opackets", "ibytes", "obytes")
QUEUE_KEYS = ("q_ipackets", "q_opackets", "q_ibytes", "q_obytes")


def _sub(a, b):
    if isinstance(a, list):
        return [x - y for x, y in zip(a, b)]
    return (a or 0) - (b or 0)


def delta(after, before):
    """Counter differences (plain and per-queue keys)."""
    return {k: _sub(after.get(k), before.get(k))
            for k in COUNT_KEYS + ERROR_KEYS + QUEUE_KEYS if k in after}


def settle(app, before, key, expected, port=0, timeout=SETTLE_TIMEOUT):
    """Wait (bounded) until counter ``key`` of ``port`` has grown by
    ``expected`` since ``before`` and stops moving; return the delta."""
    return settle_all([(app, port, before, key, expected)], timeout)[0]


def settle_all(specs, timeout=SETTLE_TIMEOUT):
    """settle() of several (app, port, before, key, expected) at once: one
    stability window for all of them.  Returns the deltas, in order."""
    def read():
        return [app.stats(port) for app, port, _, _, _ in specs]

    def reached(vals):
        return all((v.get(key) or 0) - (before.get(key) or 0) >= exp
                   for v, (_, _, before, key, exp) in zip(vals, specs))

    after = wait_stable(read, timeout, settle=0.5, until=reached)
    return [delta(a, spec[2]) for a, spec in zip(after, specs)]


def mismatches(name, d, **expected):
    """Differences from the exact expected deltas, and nonzero error counters."""
    bad = ["%s %s=%s (expected %s)" % (name, k, d.get(k), v) for k, v in expected.items()
           if d.get(k) != v]
    return bad + ["%s %s=%s" % (name, k, d.get(k)) for k in ERROR_KEYS if d.get(k)]


def shown(d):
    return {k: d.get(k) for k in COUNT_KEYS + ERROR_KEYS}


def proc_info_stats(text, port):
    """The counters dpdk-proc-info --stats printed for ``port``: {ipackets: n, ...}."""
    m = re.search(r"NIC statistics for port %d\s+#+\n(.*?)#{20,}" % port, text, re.S)
    assert m, "proc-info printed no statistics for port %d:\n%s" % (port, text)
    body = m.group(1)
    fields = {"ipackets": r"RX-packets:\s*(\d+)", "ierrors": r"RX-errors:\s*(\d+)",
              "ibytes": r"RX-bytes:\s*(\d+)", "rx_nombuf": r"RX-nombuf:\s*(\d+)",
              "opackets": r"TX-packets:\s*(\d+)", "oerrors": r"TX-errors:\s*(\d+)",
              "obytes": r"TX-bytes:\s*(\d+)"}
    return {k: int(re.search(rx, body).group(1)) for k, rx in fields.items()}


# --------------------------------------------------------------------------
# rates (benchmarks)


class Rate:
    """Counter deltas between two telemetry samples of one port."""

    def __init__(self, before, after, t0, t1):
        self.before, self.after = before, after
        self.seconds = max(t1 - t0, 1e-9)

    def delta(self, key):
        return (self.after.get(key) or 0) - (self.before.get(key) or 0)

    def pps(self, key):
        return self.delta(key) / self.seconds

    def mpps(self, key):
        return self.pps(key) / 1e6

    def gbps(self, key):
        return self.delta(key) * 8 / self.seconds / 1e9


def sample(app, port=0):
    t = time.monotonic()
    s = app.stats(port)
    return t, s


def measure_rates(apps, seconds, port=0):
    """Sample each app's port counters, sleep ``seconds``, sample again.

    ``apps`` is a dict name -> app, or name -> (app, its port); returns a dict
    name -> Rate."""
    where = {n: a if isinstance(a, tuple) else (a, port) for n, a in apps.items()}
    first = {n: sample(a, p) for n, (a, p) in where.items()}
    time.sleep(seconds)
    second = {n: sample(a, p) for n, (a, p) in where.items()}
    return {n: Rate(first[n][1], second[n][1], first[n][0], second[n][0]) for n in apps}


# --------------------------------------------------------------------------
# housekeeping


def kill_all(apps):
    """Kill every app in ``apps`` that is still running (test cleanup)."""
    for a in apps:
        try:
            a.kill()
        except Exception as e:  # never let cleanup mask the real failure
            print("dpdkapp: kill %s: %s" % (getattr(a, "name", a), e), file=sys.stderr)


def claim_log_dir(path):
    """Empty ``path`` for this run's logs, unless another run of the same
    file holds it (a concurrent `make test`): then a fresh sibling directory.
    Returns (dir, lock file to keep open)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lock = open(path + ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return tempfile.mkdtemp(prefix=os.path.basename(path) + ".",
                                dir=os.path.dirname(path)), None
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    return path, lock


def running_dpdk_apps(exclude=()):
    """File prefixes under /var/run/dpdk whose telemetry socket answers:
    other DPDK apps alive on this machine (they compete for the CPUs, which
    matters to rate measurements)."""
    found = []
    try:
        names = sorted(os.listdir(RUNTIME_ROOT))
    except OSError:
        return found
    for n in names:
        if n in exclude:
            continue
        path = telemetry_path(n)
        if not os.path.exists(path):
            continue
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(0.5)
        try:
            s.connect(path)
            found.append(n)
        except OSError:
            pass
        finally:
            s.close()
    return found


def tail(text, lines=60):
    t = text.splitlines()
    return "\n".join(t[-lines:])


def proc_resources(pid):
    """What a process holds, from /proc (Linux): {"fds": open fds,
    "threads": tasks, "rss_kb": VmRSS, "anon_kb": RssAnon (the part of VmRSS
    that malloc grows; the rest is file pages, the binaries' code and data,
    and shared memory, EAL's included), "fd_kinds": {kind: count}} where a
    kind is a link target without its inode ("socket", "pipe",
    "anon_inode:[eventfd]", or the file path).  Racy by nature: read it
    while the process is quiet."""
    fd_dir = "/proc/%d/fd" % pid
    kinds = {}
    names = os.listdir(fd_dir)
    for n in names:
        try:
            target = os.readlink(os.path.join(fd_dir, n))
        except OSError:
            continue
        kind = re.sub(r":\[\d+\]$", "", target)
        kinds[kind] = kinds.get(kind, 0) + 1
    rss = anon = None
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
            elif ln.startswith("RssAnon:"):
                anon = int(ln.split()[1])
    return {"fds": len(names), "threads": len(os.listdir("/proc/%d/task" % pid)),
            "rss_kb": rss, "anon_kb": anon, "fd_kinds": kinds}
