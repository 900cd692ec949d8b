#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end test of the vhost-kernel backend against a real vhost-net, in a QEMU VM.

This machine has no vhost_net, so the test boots Debian's own kernel (the package
linux-image-amd64 depends on: it has vhost_net, tun and 9p as modules) under TCG with a
busybox initramfs, shares the host's root read-only over 9p, and runs inside the VM
(tests/vm/guest_vhost_net.py): testpmd with our PMD on path=/dev/vhost-net,iface=vutap0
forwarding with 5tswap, while the guest kernel sends UDP through the TAP and counts what
comes back. Cases:

    vm_boot            the kernel boots, the modules load, /dev/vhost-net appears
    udp_queues1        1000 datagrams through a single-queue TAP: all come back
    restart_queues1    then port stop / port start and 100 more: all come back
    udp_queues2        the same with queues=2: a multi-queue TAP, both queues carry traffic
    restart_queues2    then port stop / port start and 100 more: all come back
    jumbo_mtu          testpmd with --max-pkt-len=9030 (MTU 9000, configured before the
                       start): `ip link` shows mtu 9000 on the TAP once the port runs;
                       `port config mtu 0 1500` on the running port: 1500 at once;
                       `port config mtu 0 9000` on the stopped port: still 1500, then 9000
                       after `port start 0`
    jumbo_ping         testpmd in icmpecho mode; the guest kernel pings it 100 times with
                       8000 data bytes (8042-byte frames, one each: no IP fragments) through
                       the TAP and vhost-net, at both MTU 9000 moments above: 0% loss, and
                       testpmd counts exactly 100 frames and 100 x 8042 bytes each way

Downloads (kernel .deb) go to .deps/vm through tests/vm/fetch_kernel.sh (idempotent).
qemu-system-x86 and busybox-static come from scripts/setup.sh; if they are missing the
test tries apt-get once and skips with a message only if that fails.

Usage: test_vhost_net_vm.py [-v] [-k SUBSTRING]... [--queues 1,2] [--packets 1000] [--pings 100]
(-k: only the cases whose name contains one of the substrings; vm_boot always runs)
Prints 'N passed, N failed[, N skipped]' last; exit code 1 on any failure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPS = os.path.join(ROOT, ".deps", "vm")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import dpdkapp  # noqa: E402
PLUGIN = dpdkapp.plugin_path()
QEMU = "qemu-system-x86_64"
VM_TIMEOUT = 480          # the whole VM run, boot to power-off (TCG is slow)
BOOT_TIMEOUT = 120        # until the init script reports the modules loaded

# Top-level modules; their dependencies come from each .ko's "depends=" (modinfo).
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "tun", "vhost_net"]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VMTEST: booted $(uname -r)"
for m in $(cat /modules.order); do
	insmod /modules/$m.ko || echo "VMTEST: insmod $m failed"
done
if [ -c /dev/vhost-net ]; then echo "VMTEST: vhost-net ready"; else echo "VMTEST: no /dev/vhost-net"; fi
mkdir -p /host
opts=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o $opts,ro,cache=loose hostroot /host || echo "VMTEST: mount hostroot failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
# The guest gets private /run and /tmp; host paths it needs that live below them (a
# clone under /tmp, a plugin staged under /run) are bound back after the tmpfs mounts.
n=0
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


class Skip(Exception):
    pass


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
        raise Skip("%s or busybox is missing and could not be installed "
                   "(apt-get install qemu-system-x86 busybox-static)" % QEMU)


def fetch_kernel():
    p = subprocess.run([os.path.join(HERE, "fetch_kernel.sh"), DEPS], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    sys.stdout.write(p.stderr.decode())
    m = re.search(r"^release=(\S+)$", p.stdout.decode(), re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError("tests/vm/fetch_kernel.sh failed (rc=%d)" % p.returncode)
    return m.group(1)


def module_index(release):
    base = os.path.join(DEPS, "root", "lib", "modules", release, "kernel")
    idx = {}
    for d, _, files in os.walk(base):
        for f in files:
            if f.endswith(".ko"):
                idx[f[:-3].replace("-", "_")] = os.path.join(d, f)
    return idx


def module_depends(path):
    """The depends= field of a module's .modinfo section (what modinfo -F depends says)."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    return [x.replace("-", "_") for x in m.group(1).decode().split(",") if x] if m else []


def module_order(release, modules=None):
    """The modules to insmod (MODULES by default), every dependency before its users (no
    modules.dep in the .deb)."""
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

    for m in modules or MODULES:
        visit(m, [])
    return order, idx


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


# Where the guest writes sanitizer reports: the shared output directory (the host's
# log_path is on the read-only 9p root inside the VM).
GUEST_SANITIZER_DIR = "/run/vmout/sanitizer"


def sanitizer_env():
    """The sanitizer build (make test-asan) preloads libasan into the DPDK apps through
    VUSER_APP_PRELOAD; the guest gets the same variables, with the reports redirected
    into the VM's output directory. Returns (env assignments for the guest command,
    {tool: host log_path})."""
    assigns, host_paths = [], {}
    if not os.environ.get("VUSER_APP_PRELOAD"):
        return assigns, host_paths
    assigns.append("VUSER_APP_PRELOAD=" + os.environ["VUSER_APP_PRELOAD"])
    for var, tool in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
        opts = [o for o in os.environ.get(var, "").split(":") if o]
        kept = []
        for o in opts:
            if o.startswith("log_path="):
                host_paths[tool] = o[len("log_path="):]
            else:
                kept.append(o)
        kept.append("log_path=%s/%s" % (GUEST_SANITIZER_DIR, tool))
        assigns.append("%s=%s" % (var, ":".join(kept)))
    return ["/usr/bin/env"] + assigns, host_paths


def collect_sanitizer_logs(out_dir, host_paths):
    """Copy the guest's sanitizer reports next to the host's, named vm-<file>, so that
    the test runner's --sanitizer-logs check sees them."""
    src = os.path.join(out_dir, "sanitizer")
    if not host_paths or not os.path.isdir(src):
        return
    for name in sorted(os.listdir(src)):
        tool = name.split(".")[0]
        dst_dir = os.path.dirname(host_paths.get(tool) or next(iter(host_paths.values())))
        os.makedirs(dst_dir, exist_ok=True)
        shutil.copy(os.path.join(src, name), os.path.join(dst_dir, "vm-" + name))
        log("sanitizer report from the guest: %s" % os.path.join(dst_dir, "vm-" + name))


def kept_paths(paths):
    """Host directories below /tmp or /run that the guest must still see."""
    keep = []
    for p in paths:
        p = os.path.realpath(p)
        if p.split("/")[1:2] in (["tmp"], ["run"]) and p not in keep:
            keep.append(p)
    return keep


def build_initramfs(release, order, idx, guest_cmd, path):
    busybox = os.path.realpath(shutil.which("busybox"))
    with open(busybox, "rb") as f:
        bb = f.read()
    if b"ld-linux" in bb[:4096] or b"/lib64/ld-linux" in bb:
        raise Skip("%s is dynamically linked: install busybox-static" % busybox)
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "host", "modules")]
    entries += [("bin/busybox", x, bb), ("init", x, INIT.encode()),
                ("modules.order", r, ("\n".join(order) + "\n").encode()),
                ("guest.cmd", r, guest_cmd.encode()),
                ("keep.paths", r, "".join(p + "\n" for p in
                                          kept_paths([ROOT, os.path.dirname(PLUGIN)])).encode())]
    for m in order:
        with open(idx[m], "rb") as f:
            entries.append(("modules/%s.ko" % m, r, f.read()))
    cpio_newc(entries, path)


def kernel_path(release):
    return os.path.join(DEPS, "root", "boot", "vmlinuz-%s" % release)


def run_vm(release, initrd, out_dir, verbose):
    """Boot the VM; return (console text, seconds). The qemu process never survives."""
    argv = [QEMU, "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024",
            "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", "none", "-net", "none",
            "-kernel", kernel_path(release), "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
            "-fsdev", "local,id=vmout,path=%s,security_model=none" % out_dir,
            "-device", "virtio-9p-pci,fsdev=vmout,mount_tag=vmout"]
    return boot_vm(argv, os.path.join(out_dir, "console.log"), verbose,
                   ("vhost-net ready", "no /dev/vhost-net"), VM_TIMEOUT)


def boot_vm(argv, console_path, verbose, boot_marks, vm_timeout, boot_timeout=BOOT_TIMEOUT):
    """Run qemu (argv) until it exits, vm_timeout passes, or no line of boot_marks shows
    on the console within boot_timeout; return (console text, seconds). The console
    goes to console_path; lines starting VMTEST, RESULT or GUEST are echoed (all with
    verbose). The qemu process never survives."""
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


JUMBO_FRAME = 14 + 20 + 8 + 8000   # Ethernet, IPv4, ICMP, 8000 data bytes


def check_jumbo(r, pings):
    """{case: (ok, detail)} of the jumbo run's result."""
    if r is None:
        return {c: (False, "no result from the VM") for c in ("jumbo_mtu", "jumbo_ping")}
    err = [r["error"]] if r.get("error") else []
    if r.get("testpmd_rc") != 0:
        err.append("testpmd exited %s" % r.get("testpmd_rc"))
    # the TAP's MTU at each step, as `ip link` showed it in the guest
    want = dict(mtu_at_start=9000, mtu_running_1500=1500, mtu_stopped_9000=1500,
                mtu_restarted=9000)
    problems = err + ["%s: TAP mtu %s, expected %d" % (k, r.get(k), v)
                      for k, v in want.items() if r.get(k) != v]
    problems += ["testpmd: %s" % " ".join(out) for out in (r.get("running_set", []),
                                                           r.get("stopped_set", []))
                 if any("fail" in ln.lower() for ln in out)]
    detail = "TAP mtu: %s | %s" % (
        ", ".join("%s %s" % (k, r.get(k)) for k in want), r.get("ip_link_restarted", ""))
    res = {"jumbo_mtu": (not problems, "; ".join(problems + [detail]))}
    problems = list(err)
    lines = []
    for p in r.get("ping", []):
        pmd = p.get("pmd", {})
        lines.append("%s: %s; testpmd rx %s (%s B) tx %s (%s B)" % (
            p["tag"], p["summary"], pmd.get("ipackets"), pmd.get("ibytes"),
            pmd.get("opackets"), pmd.get("obytes")))
        if p["sent"] != pings or p["received"] != pings:
            problems.append("%s: %d of %d pings answered" % (p["tag"], p["received"], pings))
        exact = dict(ipackets=pings, opackets=pings, ibytes=pings * JUMBO_FRAME,
                     obytes=pings * JUMBO_FRAME, ierrors=0, oerrors=0, rx_nombuf=0)
        problems += ["%s: testpmd %s %s, expected %d" % (p["tag"], k, pmd.get(k), v)
                     for k, v in exact.items() if pmd.get(k) != v]
    if len(r.get("ping", [])) != 2:
        problems.append("%d ping runs, expected 2" % len(r.get("ping", [])))
    res["jumbo_ping"] = (not problems, "; ".join(problems + lines))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--queues", default="1,2")
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--pings", type=int, default=100, help="pings of each jumbo exchange")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="run only the cases whose name contains SUBSTRING")
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "vm"))
    args = ap.parse_args()

    def selected(name):
        return not args.k or any(k in name for k in args.k)

    queue_counts = [int(q) for q in args.queues.split(",")
                    if selected("udp_queues%s" % q) or selected("restart_queues%s" % q)]
    jumbo = selected("jumbo_mtu") or selected("jumbo_ping")
    ncases = 1 + 2 * len(queue_counts) + 2 * jumbo
    log("vhost-net in a QEMU VM (TCG): queues %s, %d packets each%s"
        % (",".join(map(str, queue_counts)) or "none", args.packets,
           "; jumbo frames, %d pings each" % args.pings if jumbo else ""))
    try:
        ensure_tools()
        if not os.path.isfile(PLUGIN):
            raise RuntimeError("plugin %s not built (make build)" % PLUGIN)
        release = fetch_kernel()
        order, idx = module_order(release)
    except Skip as e:
        log("SKIP: %s" % e)
        log("0 passed, 0 failed, %d skipped" % ncases)
        return 0
    except Exception as e:
        log("ERROR: %s" % e)
        log("0 passed, %d failed" % ncases)
        return 1
    log("kernel %s; insmod order: %s" % (release, " ".join(order)))

    guest_env, sanitizer_logs = sanitizer_env()
    guest_cmd = " ".join(guest_env + [
        "/usr/bin/python3", os.path.join(HERE, "guest_vhost_net.py"),
        "--out", "/run/vmout", "--plugin", PLUGIN,
        # one word even when empty: the guest command goes through a shell
        "--queues=" + ",".join(map(str, queue_counts)), "--packets", str(args.packets),
        "--jumbo", str(args.pings if jumbo else 0)])
    # The VM writes into a directory of its own (another run at the same time must not
    # clobber it), copied to --out at the end.
    work = tempfile.mkdtemp(prefix="vuser-vm-")
    vm_out = os.path.join(work, "out")
    os.makedirs(vm_out)
    if sanitizer_logs:
        os.makedirs(os.path.join(vm_out, "sanitizer"))
    try:
        initrd = os.path.join(work, "initrd.cpio")
        build_initramfs(release, order, idx, guest_cmd, initrd)
        console, seconds = run_vm(release, initrd, vm_out, args.verbose)
    finally:
        shutil.rmtree(args.out, ignore_errors=True)
        shutil.copytree(vm_out, args.out)
        shutil.rmtree(work, ignore_errors=True)
        collect_sanitizer_logs(args.out, sanitizer_logs)
    log("VM ran %.0fs; console in %s" % (seconds, os.path.join(args.out, "console.log")))

    passed = failed = skipped = 0

    def report(name, ok, detail):
        nonlocal passed, failed, skipped
        tag = {True: "  OK  ", False: " FAIL ", None: " SKIP "}[ok]
        log("[%s] %s: %s" % (tag, name, detail))
        if ok is True:
            passed += 1
        elif ok is False:
            failed += 1
        else:
            skipped += 1

    booted = "VMTEST: vhost-net ready" in console
    report("vm_boot", booted, "modules loaded, /dev/vhost-net present" if booted else
           "no 'vhost-net ready' on the console (see console.log): " +
           " | ".join(ln.strip() for ln in console.splitlines() if "VMTEST" in ln)[-400:])
    results = {}
    for ln in console.splitlines():
        if ln.startswith("RESULT "):
            try:
                r = json.loads(ln[len("RESULT "):])
                results["jumbo" if "jumbo" in r else r["queues"]] = r
            except ValueError:
                pass
    for q in queue_counts:
        name = "udp_queues%d" % q
        r = results.get(q)
        if r is None:
            report(name, False, "no result from the VM")
            report("restart_queues%d" % q, False, "no result from the VM")
            continue
        problems = []
        if r.get("error"):
            problems.append(r["error"])
        if r["sent"] != args.packets or r["returned"] != args.packets:
            problems.append("sent %d, returned %d of %d" % (r["sent"], r["returned"],
                                                           args.packets))
        if r.get("pmd_ipackets", 0) < args.packets or r.get("pmd_opackets", 0) < args.packets:
            problems.append("testpmd counted rx %s tx %s" % (r.get("pmd_ipackets"),
                                                            r.get("pmd_opackets")))
        if r.get("tap_queues") != q:
            problems.append("TAP has %s queues, expected %d" % (r.get("tap_queues"), q))
        if q > 1 and any(n == 0 for n in r.get("pmd_q_ipackets", [])):
            problems.append("a queue carried nothing: rx per queue %s" % r.get("pmd_q_ipackets"))
        if r.get("tap_left"):
            problems.append("the TAP still exists after testpmd quit")
        if r.get("testpmd_rc") != 0:
            problems.append("testpmd exited %s" % r.get("testpmd_rc"))
        detail = ("sent %d, returned %d, lost %d in %.1fs; testpmd rx %s tx %s, per queue rx %s "
                  "tx %s; testpmd up in %ss" % (
                      r["sent"], r["returned"], r["sent"] - r["returned"], r.get("seconds", 0),
                      r.get("pmd_ipackets"), r.get("pmd_opackets"), r.get("pmd_q_ipackets"),
                      r.get("pmd_q_opackets"), r.get("testpmd_start_s")))
        report(name, not problems, "; ".join(problems + [detail]) if problems else detail)
        if r.get("error") or "restart_returned" not in r:
            report("restart_queues%d" % q, False, "not run: the first exchange failed")
            continue
        rp = r.get("restart_pmd", {})
        detail = "port stop/start, then sent %s, returned %s of 100; testpmd rx %s tx %s" % (
            r.get("restart_sent"), r.get("restart_returned"), rp.get("ipackets"),
            rp.get("opackets"))
        report("restart_queues%d" % q, r.get("restart_returned") == 100, detail)
    if jumbo:
        for name, (ok, detail) in check_jumbo(results.get("jumbo"), args.pings).items():
            if selected(name):
                report(name, ok, detail)
    if failed:
        log("console tail:")
        for ln in console.splitlines()[-25:]:
            log("    | " + ln[:300])
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    log(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
