# SPDX-License-Identifier: BSD-3-Clause
"""A private container runtime and dpdk-testpmd in containers, for tests and the demo.

Standard library only (and tests/lib/dpdkapp.py).  What is here:

  Docker            a dockerd of our own (data root, exec root, socket and pid file in a
                    private directory), started so that it changes nothing in the host's
                    network: --iptables=false --ip-forward=false --bridge=none.  The
                    host's dockerd, if any, is never used or touched.
  build_image()     an image FROM scratch with the host's dpdk-testpmd, the libraries it
                    and DPDK's plugins load (ldd), DPDK's pmds-23.0 directory, libgcc_s
                    and the vuser plugin, imported with ``docker import`` (no registry)
  ContainerTestpmd  dpdk-testpmd in a container, driven like tests/lib/dpdkapp.py's
                    Testpmd (stdin, log, telemetry), hardened: --network none,
                    --cap-drop ALL, no-new-privileges, a read-only root, a tmpfs for
                    EAL's runtime directory, socket directories bind-mounted
  net_state()       the host's iptables rules, bridges, links and forwarding switches,
                    to compare before and after a run
  memory_usage()    the memory cgroup's usage and peak of a containerised process

Counters are read from the app's telemetry socket, which lives on the container's tmpfs:
the host reaches it as /proc/<pid>/root/var/run/dpdk/<prefix>/dpdk_telemetry.v2.
"""

import io
import os
import re
import resource
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import dpdkapp
from dpdkapp import Testpmd

DOCKER = "/usr/bin/docker"          # Debian's docker.io client, matching its dockerd
DOCKERD = "/usr/sbin/dockerd"
IMAGE = "vuser-testpmd:local"
TESTPMD_IN = "/usr/bin/dpdk-testpmd"
PLUGIN_DIR_IN = "/usr/lib/vuser"    # root-owned 0755: EAL loads -d plugins from here
SOCK_DIR_IN = "/run/vhost"          # where a socket directory is bind-mounted
RUNTIME_DIR_IN = "/var/run/dpdk"    # EAL's runtime directory (root), a tmpfs
STDBUF_LIB = "/usr/libexec/coreutils/libstdbuf.so"
RUNTIME_BOOT_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0
# Private dockerd: no iptables rules, no forwarding, no docker0 bridge; containers get
# --network none anyway.  vfs storage copies the image per container (tens of MB) but
# leaves no overlay mounts behind if the daemon dies.
DOCKERD_NET_FLAGS = ["--iptables=false", "--ip6tables=false", "--ip-forward=false",
                     "--ip-masq=false", "--bridge=none"]
# What every DPDK container here runs with: nothing a vhost-user port needs is missing.
HARDENING = ["--network", "none", "--cap-drop", "ALL",
             "--security-opt", "no-new-privileges", "--read-only"]
RUNTIME_TMPFS = "%s:rw,nosuid,nodev,mode=0700,size=16m" % RUNTIME_DIR_IN
# Explicit limits (podman's defaults are low), no higher than ours: the runtime may not
# raise a hard limit.  nproc counts every process of the uid on the host, root's here.
NOFILE = 65536
NPROC = 65536


def ulimits():
    args = []
    for name, res, want in (("nofile", resource.RLIMIT_NOFILE, NOFILE),
                            ("nproc", resource.RLIMIT_NPROC, NPROC)):
        hard = resource.getrlimit(res)[1]
        n = want if hard == resource.RLIM_INFINITY else min(want, hard)
        args += ["--ulimit", "%s=%d:%d" % (name, n, n)]
    return args


class RuntimeUnavailable(Exception):
    """The container runtime cannot run here; the message says why (tests skip)."""


def _die_with_parent_term():
    """dockerd gets SIGTERM (a clean shutdown) if the test process dies."""
    if dpdkapp._LIBC is not None:
        dpdkapp._LIBC.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


class Docker:
    """A dockerd of our own, in a private directory under dpdkapp.private_root()."""

    def __init__(self, log_dir, tag="vuser"):
        self.log_dir = log_dir
        self.tag = tag
        self.dir = None
        self.proc = None
        self.log = None

    @property
    def sock(self):
        return os.path.join(self.dir, "docker.sock")

    def start(self):
        for exe in (DOCKER, DOCKERD):
            if not os.access(exe, os.X_OK):
                raise RuntimeUnavailable("%s not found (Debian's docker.io; scripts/setup.sh "
                                         "installs it)" % exe)
        if os.geteuid() != 0:
            raise RuntimeUnavailable("dockerd needs root")
        self.dir = tempfile.mkdtemp(prefix="docker-%s-" % self.tag,
                                    dir=dpdkapp.private_root())
        os.makedirs(self.log_dir, exist_ok=True)
        self.log = os.path.join(self.log_dir, "dockerd.log")
        d = self.dir
        argv = [DOCKERD, "--data-root", os.path.join(d, "data"),
                "--exec-root", os.path.join(d, "exec"),
                "--pidfile", os.path.join(d, "dockerd.pid"), "-H", "unix://" + self.sock,
                "--storage-driver", "vfs", "--log-driver", "none"] + DOCKERD_NET_FLAGS
        with open(self.log, "wb") as log:
            log.write(("$ %s\n" % " ".join(argv)).encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent_term,
                                         # a terminal's Ctrl-C is not for the daemon:
                                         # the caller stops it after its containers
                                         start_new_session=True)
        deadline = time.monotonic() + RUNTIME_BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                reason = dpdkapp.tail(self._log_text(), 8)
                self.stop()
                raise RuntimeUnavailable("dockerd exited (rc=%s):\n%s"
                                         % (self.proc.returncode, reason))
            if os.path.exists(self.sock) and self.cli("version", check=False,
                                                      timeout=10).returncode == 0:
                return self
            time.sleep(0.2)
        reason = dpdkapp.tail(self._log_text(), 8)
        self.stop()
        raise RuntimeUnavailable("dockerd did not answer in %.0fs:\n%s"
                                 % (RUNTIME_BOOT_TIMEOUT, reason))

    def _log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cmd(self, *args):
        """The docker client's argv for ``args``, talking to our daemon only."""
        return [DOCKER, "-H", "unix://" + self.sock] + list(args)

    def cli(self, *args, check=True, timeout=CLI_TIMEOUT, stdin=None):
        """Run one docker command; returns CompletedProcess (text output)."""
        r = subprocess.run(self.cmd(*args), stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        r.stdout, r.stderr = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        if check and r.returncode != 0:
            raise dpdkapp.DpdkAppError("docker %s: rc=%d: %s" % (" ".join(args[:2]),
                                                                  r.returncode, r.stderr.strip()))
        return r

    def remove_containers(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        ids = self.cli("ps", "-aq", check=False, timeout=30).stdout.split()
        if ids:
            self.cli("rm", "-f", *ids, check=False, timeout=60)

    def stop(self):
        """Remove every container, stop the daemon (it stops its containerd), remove its
        directory.  Never raises: it runs in cleanup paths."""
        if self.proc is not None:
            try:
                self.remove_containers()
            except (subprocess.TimeoutExpired, OSError) as e:
                print("container: removing containers: %s" % e)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        if self.dir:
            _unmount_under(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _unmount_under(path):
    """Unmount what a killed daemon left mounted under ``path`` (deepest first)."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [ln.split()[4] for ln in f]
    except OSError:
        return
    for p in sorted((p for p in points if p.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# the image


def _ldd(path):
    """Absolute paths of the shared objects ``path`` loads (ldd)."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=False).stdout.decode(errors="replace")
    libs = re.findall(r"=>\s+(/\S+)", out)
    libs += re.findall(r"^\s+(/\S+)\s+\(0x", out, re.M)
    missing = re.findall(r"^\s+(\S+) => not found", out, re.M)
    if missing:
        raise dpdkapp.DpdkAppError("%s needs libraries the host lacks: %s" % (path, missing))
    return libs


class _RootFs:
    """A tar of host files at their host paths; symlinks (/lib -> usr/lib on a merged
    /usr, sonames) are kept as links and their targets added too."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w")
        self.done = set()

    def add_dir(self, path, mode=0o755):
        path = path.rstrip("/")
        if not path or path in self.done:
            return
        self.add_dir(os.path.dirname(path), 0o755)
        ti = tarfile.TarInfo(path.lstrip("/"))
        ti.type, ti.mode = tarfile.DIRTYPE, mode
        self.tar.addfile(ti)
        self.done.add(path)

    def add(self, path, dest=None):
        """Add host file ``path`` (at ``dest`` in the image, default the same path)."""
        if dest is None:
            parent = os.path.dirname(path)
            real = os.path.realpath(parent)
            if real != parent:
                # a directory on the way is a link (/lib -> usr/lib): keep the link, put
                # the file in the real directory
                self._add_link_dirs(parent)
                path = os.path.join(real, os.path.basename(path))
            dest = path
        if dest in self.done:
            return
        self.add_dir(os.path.dirname(dest))
        self.done.add(dest)
        if os.path.islink(path):
            target = os.readlink(path)
            ti = tarfile.TarInfo(dest.lstrip("/"))
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, target, 0o777
            self.tar.addfile(ti)
            self.add(os.path.normpath(os.path.join(os.path.dirname(path), target)))
            return
        st = os.stat(path)
        ti = tarfile.TarInfo(dest.lstrip("/"))
        ti.size, ti.mode = st.st_size, st.st_mode & 0o755
        with open(path, "rb") as f:
            self.tar.addfile(ti, f)

    def _add_link_dirs(self, path):
        cur = "/"
        for part in path.strip("/").split("/"):
            nxt = os.path.join(cur, part)
            if os.path.islink(nxt) and nxt not in self.done:
                self.add_dir(cur)
                ti = tarfile.TarInfo(nxt.lstrip("/"))
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, os.readlink(nxt), 0o777
                self.tar.addfile(ti)
                self.done.add(nxt)
                cur = os.path.realpath(nxt)
            else:
                cur = nxt

    def close(self):
        self.tar.close()
        return self.buf.getvalue()


def pmd_dir():
    """DPDK's plugin directory, the one EAL loads at start (RTE_EAL_PMD_PATH)."""
    out = subprocess.run(["pkg-config", "--variable=pmdsdir", "libdpdk"],
                         stdout=subprocess.PIPE, check=False).stdout.decode().strip()
    if out and os.path.isdir(out):
        return out
    cands = sorted(d for d in _glob_dirs("/usr/lib/x86_64-linux-gnu/dpdk", "pmds-"))
    if not cands:
        raise dpdkapp.DpdkAppError("DPDK's pmds directory not found")
    return cands[-1]


def _glob_dirs(base, prefix):
    try:
        return [os.path.join(base, n) for n in os.listdir(base) if n.startswith(prefix)]
    except OSError:
        return []


def plugin_in_image(plugin):
    """Where build_image() puts the vuser plugin (the -d argument in a container)."""
    return os.path.join(PLUGIN_DIR_IN, os.path.basename(plugin))


def build_image(docker, plugin, tag=IMAGE):
    """Import an image FROM scratch with dpdk-testpmd, every library it and DPDK's
    plugins load, the plugins, libgcc_s (pthread_cancel unwinds through it), stdbuf
    (line-buffered output through a pipe) and ``plugin``, and $VUSER_APP_PRELOAD (the
    ASan runtime of make test-asan, which ContainerTestpmd preloads).  Returns the
    image's size in bytes."""
    preload = [os.environ["VUSER_APP_PRELOAD"]] if os.environ.get("VUSER_APP_PRELOAD") \
        else []
    testpmd = shutil.which(dpdkapp.TESTPMD) or dpdkapp.TESTPMD
    pmds = pmd_dir()
    gcc_s = subprocess.run(["gcc", "-print-file-name=libgcc_s.so.1"], stdout=subprocess.PIPE,
                           check=False).stdout.decode().strip()
    gcc_s = os.path.normpath(gcc_s) if os.path.isabs(gcc_s) \
        else "/lib/x86_64-linux-gnu/libgcc_s.so.1"
    objs = [testpmd, plugin, shutil.which("stdbuf"), STDBUF_LIB] + preload
    objs += [os.path.join(pmds, n) for n in sorted(os.listdir(pmds))]
    libs = set()
    for o in objs:
        if not os.path.islink(o):
            libs.update(_ldd(o))
    root = _RootFs()
    root.add(testpmd, TESTPMD_IN)
    for o in objs[2:] + sorted(libs) + [gcc_s]:
        root.add(o)
    root.add_dir(PLUGIN_DIR_IN)
    root.add(plugin, plugin_in_image(plugin))
    for d in (SOCK_DIR_IN, RUNTIME_DIR_IN, "/tmp", "/dev", "/proc", "/sys", "/etc"):
        root.add_dir(d)
    data = root.close()
    r = subprocess.run(docker.cmd("import", "-", tag), input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    if r.returncode != 0:
        raise dpdkapp.DpdkAppError("docker import: %s" % r.stderr.decode(errors="replace"))
    return len(data)


# --------------------------------------------------------------------------
# testpmd in a container


class ContainerTestpmd(Testpmd):
    """dpdk-testpmd run by ``docker run -i`` (stdin, stdout and signals pass through the
    client).  ``mounts``: {host dir: container dir} bind mounts (socket directories);
    ``memory``: a memory limit (docker's --memory); other arguments as Testpmd's, with
    container paths (plugins=[plugin_in_image(...)])."""

    def __init__(self, name, log_dir, docker, image=IMAGE, mounts=None, memory=None,
                 **testpmd):
        super().__init__(name, log_dir, binary=TESTPMD_IN, **testpmd)
        self.docker = docker
        self.cname = "%s-%s" % (self.file_prefix, re.sub(r"[^A-Za-z0-9_.-]", "", name))
        run = ["run", "--rm", "-i", "--name", self.cname] + HARDENING + ulimits()
        run += ["--tmpfs", RUNTIME_TMPFS]
        for host, inside in (mounts or {}).items():
            run += ["-v", "%s:%s" % (host, inside)]
        if memory:
            run += ["--memory", str(memory)]
        preload = os.environ.get("VUSER_APP_PRELOAD")
        if preload:
            run += ["-e", "LD_PRELOAD=" + preload]
            for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if os.environ.get(k):
                    run += ["-e", "%s=%s" % (k, re.sub(r":?log_path=[^:]*", "",
                                                       os.environ[k]))]
        self.argv = docker.cmd(*run) + [IMAGE if image is None else image,
                                        "stdbuf", "-oL", "-eL"] + self.argv
        # the docker client gets no preload (it is not a DPDK app)
        self.env = dict(self.env or {}, LD_PRELOAD="")
        self._pid = None

    def container_pid(self, timeout=30.0):
        """The host pid of testpmd in the container (its init process)."""
        if self._pid:
            return self._pid

        def read():
            if not self.alive():
                raise dpdkapp.DpdkAppError("%s exited (rc=%s) before its container ran:\n%s"
                                           % (self.name, self.poll(),
                                              dpdkapp.tail(self.output(), 20)))
            r = self.docker.cli("inspect", "-f", "{{.State.Pid}}", self.cname, check=False,
                                timeout=10)
            pid = int(r.stdout.strip() or 0) if r.returncode == 0 else 0
            return pid or None

        self._pid = dpdkapp.wait_until(read, timeout, interval=0.1,
                                       what="container %s to run" % self.cname)
        return self._pid

    @property
    def telemetry_path(self):
        return "/proc/%d/root%s" % (self.container_pid(),
                                    os.path.join(RUNTIME_DIR_IN, self.file_prefix,
                                                 "dpdk_telemetry.v2"))

    def kill(self):
        """Remove the container (SIGKILL to testpmd), then reap the client."""
        if self.proc is not None:
            try:
                self.docker.cli("rm", "-f", self.cname, check=False, timeout=30)
            except (subprocess.TimeoutExpired, OSError) as e:
                print("container: rm -f %s: %s" % (self.cname, e))
        super().kill()

    def stop(self, timeout=10.0, commands=None):
        out = super().stop(timeout, commands)
        # --rm removes it on exit; this covers a client that was killed instead
        self.docker.cli("rm", "-f", self.cname, check=False, timeout=30)
        return out


# --------------------------------------------------------------------------
# host checks


def _run_text(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    except OSError as e:
        return "(%s: %s)" % (argv[0], e)
    # iptables-save's header and footer lines carry a timestamp
    return "\n".join(ln for ln in r.stdout.decode(errors="replace").splitlines()
                     if not ln.startswith("#"))


def net_state():
    """What a container runtime in its default mode changes on the host: iptables
    rules (v4 and v6), bridges and links, and the forwarding switches."""
    state = {}
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            state[tool] = _run_text([tool])
    state["bridges"] = _run_text(["ip", "-o", "link", "show", "type", "bridge"])
    state["links"] = " ".join(sorted(re.findall(r"^\d+: ([^:@]+)", _run_text(
        ["ip", "-o", "link", "show"]), re.M)))
    for key in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
        try:
            with open("/proc/sys/" + key) as f:
                state[key] = f.read().strip()
        except OSError:
            state[key] = None
    return state


def net_state_diff(before, after):
    return ["%s: %r -> %r" % (k, before.get(k), after.get(k))
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def memory_usage(pid):
    """(usage, peak) in bytes of the memory cgroup of ``pid`` (cgroup v1 or v2)."""
    with open("/proc/%d/cgroup" % pid) as f:
        lines = f.read().splitlines()
    for ln in lines:
        _, ctrls, path = ln.split(":", 2)
        if "memory" in ctrls.split(","):
            base = os.path.join("/sys/fs/cgroup/memory", path.lstrip("/"))
            return (_read_int(base, "memory.usage_in_bytes"),
                    _read_int(base, "memory.max_usage_in_bytes"))
    for ln in lines:
        if ln.startswith("0::"):
            base = os.path.join("/sys/fs/cgroup", ln[3:].lstrip("/"))
            return _read_int(base, "memory.current"), _read_int(base, "memory.peak")
    raise dpdkapp.DpdkAppError("no memory cgroup for pid %d" % pid)


def _read_int(base, name):
    try:
        with open(os.path.join(base, name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
