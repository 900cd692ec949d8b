# SPDX-License-Identifier: BSD-3-Clause
"""QEMU guests of the VM tests (tests/vm): kernel, modules, initramfs and one bounded boot.

The guest is Debian's own kernel (tests/vm/fetch_kernel.sh fetches the one
linux-image-amd64 depends on into .deps/vm, or with --backports bookworm-backports' 6.12,
which has the vDPA modules, into .deps/vm-6.12) under TCG with a busybox initramfs that a
test writes (its /init, the modules it insmods). boot_vm() runs qemu until the guest
powers off, bounded in time; tests/vm/conftest.py has the fixtures built on this.
"""

import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPS = os.path.join(ROOT, ".deps", "vm")
DEPS_BPO = os.path.join(ROOT, ".deps", "vm-6.12")
BPO_RELEASE = "6.12.95+deb12-amd64"     # tests/vm/fetch_kernel.sh's BPO_PKG
FETCH_KERNEL = os.path.join(ROOT, "tests", "vm", "fetch_kernel.sh")
QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 120        # s: until a line of the test's boot marks shows on the console
FETCH_TIMEOUT = 600       # s: fetch_kernel.sh, a kernel .deb download included
TAIL_LINES = 25           # console lines a failure shows

# The first lines of every test guest's /init: busybox's applets, /proc, /sys and /dev,
# and the boot mark; INIT_MODULES then loads the initramfs's modules in modules.order.
INIT_HEAD = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VMTEST: booted $(uname -r)"
"""
INIT_MODULES = r"""for m in $(cat /modules.order); do
	insmod /modules/$m.ko || echo "VMTEST: insmod $m failed"
done
"""

# The host's root over 9p (read-only) with the guest's own /run and /tmp; the host paths
# listed in /keep.paths that live below those (a clone under /tmp, a plugin staged under
# /run) are bound back after the tmpfs mounts. The guest command in /guest.cmd runs
# chrooted there, its output shared through the vmout 9p tag; then the VM powers off.
INIT_HOST_ROOT = r"""mkdir -p /host
opts=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o $opts,ro,cache=loose hostroot /host || echo "VMTEST: mount hostroot failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
@EXTRA_MOUNTS@n=0
for p in $(cat /keep.paths); do
	mkdir -p /keep/$n && mount -o bind /host$p /keep/$n || echo "VMTEST: keep $p failed"
	n=$((n + 1))
done
mount -t tmpfs -o mode=755 tmpfs /host/run
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
n=0
for p in $(cat /keep.paths); do
	mkdir -p /host$p && mount -o bind /keep/$n /host$p || echo "VMTEST: rebind $p failed"
	n=$((n + 1))
done
mkdir -p /host/run/vmout
mount -t 9p -o $opts vmout /host/run/vmout || echo "VMTEST: mount vmout failed"
echo "VMTEST: running guest"
chroot /host /bin/sh -c "cd / && exec $(cat /guest.cmd)"
echo "VMTEST: guest exit $?"
sync
poweroff -f
"""


def init_host_root(extra_mounts=""):
    """INIT_HOST_ROOT with extra_mounts (shell lines) run once the host's /dev is in."""
    return INIT_HOST_ROOT.replace("@EXTRA_MOUNTS@", extra_mounts)


class Unavailable(Exception):
    """QEMU or a static busybox cannot be had here: the VM tests are skipped."""


def log(msg):
    print(msg, flush=True)


def ensure_tools():
    """qemu-system-x86_64 and a static busybox; one apt-get try if either is missing."""
    def have():
        return shutil.which(QEMU) and shutil.which("busybox")
    if have():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing qemu-system-x86 busybox-static (missing)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.call(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                         "qemu-system-x86", "busybox-static"], env=env,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if not have():
        raise Unavailable("%s or busybox is missing and could not be installed "
                          "(apt-get install qemu-system-x86 busybox-static)" % QEMU)


def static_busybox():
    """The busybox binary's bytes, for an initramfs that has no libraries."""
    busybox = os.path.realpath(shutil.which("busybox"))
    with open(busybox, "rb") as f:
        bb = f.read()
    if b"ld-linux" in bb[:4096] or b"/lib64/ld-linux" in bb:
        raise Unavailable("%s is dynamically linked: install busybox-static" % busybox)
    return bb


def fetch_kernel(backports=False):
    """The kernel release tests/vm/fetch_kernel.sh made ready in DEPS (DEPS_BPO: the
    bookworm-backports kernel)."""
    argv = [FETCH_KERNEL, "--backports", DEPS_BPO] if backports else [FETCH_KERNEL, DEPS]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=FETCH_TIMEOUT)
    sys.stdout.write(p.stderr.decode())
    m = re.search(r"^release=(\S+)$", p.stdout.decode(), re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError("tests/vm/fetch_kernel.sh failed (rc=%d)" % p.returncode)
    return m.group(1)


def deps_dir(release):
    return DEPS_BPO if release == BPO_RELEASE else DEPS


def kernel_path(release):
    return os.path.join(deps_dir(release), "root", "boot", "vmlinuz-%s" % release)


def module_index(release):
    """{module name: .ko or .ko.xz path} (the 6.12 package compresses its modules)."""
    base = os.path.join(deps_dir(release), "root", "lib", "modules", release, "kernel")
    idx = {}
    for d, _, files in os.walk(base):
        for f in files:
            for ext in (".ko", ".ko.xz"):
                if f.endswith(ext):
                    idx[f[:-len(ext)].replace("-", "_")] = os.path.join(d, f)
    return idx


def module_bytes(path):
    """A module's ELF bytes: busybox's insmod takes no compressed module."""
    with open(path, "rb") as f:
        data = f.read()
    return lzma.decompress(data) if path.endswith(".xz") else data


def module_depends(path):
    """The depends= field of a module's .modinfo section (what modinfo -F depends says)."""
    data = module_bytes(path)
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    return [x.replace("-", "_") for x in m.group(1).decode().split(",") if x] if m else []


def module_order(release, modules):
    """The modules to insmod, every dependency before its users (no modules.dep in the
    .deb); returns (names in order, {name: .ko path})."""
    idx = module_index(release)
    order, seen = [], set()

    def visit(name, chain):
        if name in seen:
            return
        if name not in idx:
            raise RuntimeError("module %s (needed by %s) is not in the kernel package"
                               % (name, " <- ".join(chain) or "the test"))
        for dep in module_depends(idx[name]):
            visit(dep, chain + [name])
        seen.add(name)
        order.append(name)

    for m in modules:
        visit(m, [])
    return order, idx


def module_entries(order, idx, mode):
    """cpio entries of the modules in order, under modules/ (the init scripts insmod
    /modules/<name>.ko in the order of /modules.order)."""
    entries = [("modules.order", mode, ("\n".join(order) + "\n").encode())]
    for m in order:
        entries.append(("modules/%s.ko" % m, mode, module_bytes(idx[m])))
    return entries


def cpio_newc(entries, out_path):
    """Write a newc cpio archive: entries are (name, mode, data-or-None)."""
    def hdr(ino, name, mode, size):
        fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
        return b"070701" + b"".join(b"%08X" % v for v in fields)

    def pad(n):
        return b"\0" * ((4 - n % 4) % 4)

    with open(out_path, "wb") as f:
        for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
            data = data or b""
            h = hdr(ino, name.encode(), mode, len(data)) + name.encode() + b"\0"
            f.write(h + pad(len(h)) + data + pad(len(data)))


def boot_vm(argv, console_path, verbose, boot_marks, vm_timeout, boot_timeout=BOOT_TIMEOUT):
    """Run qemu (argv) until it exits, vm_timeout passes, or no line of boot_marks shows
    on the console within boot_timeout; return (console text, seconds). A guest that
    printed nothing at all by then (a TCG boot stalled before our init ran: no test code
    has run yet) is booted once more, with a line saying so."""
    console, seconds = boot_vm_once(argv, console_path, verbose, boot_marks, vm_timeout,
                                    boot_timeout)
    if console.startswith("VMTEST-HOST: timed out") and "(boot)" in console:
        log("VM printed nothing in %.0fs: booting it once more" % seconds)
        console, again = boot_vm_once(argv, console_path, verbose, boot_marks, vm_timeout,
                                      boot_timeout)
        console = "VMTEST-HOST: first boot silent for %.0fs, booted again\n" % seconds + console
        seconds += again
    return console, seconds


def boot_vm_once(argv, console_path, verbose, boot_marks, vm_timeout, boot_timeout):
    """One run of qemu as boot_vm says. The console goes to console_path; lines starting
    VMTEST, RESULT or GUEST are echoed (all with verbose). The qemu process never
    survives."""
    log("$ " + " ".join(argv))
    t0 = time.monotonic()
    lines = []
    with open(console_path, "wb") as console:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = t0 + vm_timeout
            booted = False
            os.set_blocking(proc.stdout.fileno(), False)
            buf = b""
            while proc.poll() is None:
                now = time.monotonic()
                if now > deadline or (not booted and now - t0 > boot_timeout):
                    lines.append("VMTEST-HOST: timed out after %.0fs (%s)\n"
                                 % (now - t0, "run" if booted else "boot"))
                    break
                try:
                    chunk = proc.stdout.read(65536)
                except BlockingIOError:
                    chunk = None
                if not chunk:
                    time.sleep(0.1)
                    continue
                console.write(chunk)
                console.flush()
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode(errors="replace").rstrip("\r") + "\n"
                    lines.append(text)
                    if any(m in text for m in boot_marks):
                        booted = True
                    if verbose or text.startswith(("VMTEST", "RESULT", "GUEST")):
                        sys.stdout.write("    vm: " + text)
                        sys.stdout.flush()
            rest = proc.stdout.read() if proc.poll() is not None else b""
            if rest:
                console.write(rest)
                lines.extend(x + "\n" for x in rest.decode(errors="replace").splitlines())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return "".join(lines), time.monotonic() - t0


def tail(name, path, text, lines=TAIL_LINES):
    """The last lines of a log for a failure's message."""
    body = "".join("\n    | " + ln[:300] for ln in text.splitlines()[-lines:])
    return "\n%s tail (%s):%s" % (name, path, body)


class Run:
    """What one boot of a module's VM left, shared by the module's tests: the console,
    the seconds it ran and the directory of its logs. Logs' tails go into the message of
    the first failing test only (every test of a VM that did not boot fails)."""

    def __init__(self, console, seconds, out):
        self.console, self.seconds, self.out = console, seconds, out
        self.extra_logs = []      # (name, path) shown with the console's tail
        self._shown = False

    def tails(self):
        if self._shown:
            return "\n(logs in %s)" % self.out
        self._shown = True
        text = tail("console", os.path.join(self.out, "console.log"), self.console)
        for name, path in self.extra_logs:
            try:
                with open(path, errors="replace") as f:
                    text += tail(name, path, f.read(), 15)
            except OSError as e:
                text += "\n%s: %s" % (name, e)
        return text
