# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end test of the vhost-kernel backend against a real vhost-net, in a QEMU VM.

This machine has no vhost_net, so the test boots Debian's own kernel (the package
linux-image-amd64 depends on: it has vhost_net, tun and 9p as modules) under TCG with a
busybox initramfs, shares the host's root read-only over 9p, and runs inside the VM
(tests/vm/guest_vhost_net.py): testpmd with our PMD on path=/dev/vhost-net,iface=vutap0
forwarding with 5tswap, while the guest kernel sends UDP through the TAP and counts what
comes back. The VM boots once for the module (the vm_run fixture); each test checks one
part of what it reported:

    test_vm_boot             the kernel boots, the modules load, /dev/vhost-net appears
    test_udp_queues[1]       1000 datagrams through a single-queue TAP: all come back
    test_restart_queues[1]   then port stop / port start and 100 more: all come back
    test_udp_queues[2]       the same with queues=2: a multi-queue TAP, both queues carry
                             traffic
    test_restart_queues[2]   then port stop / port start and 100 more: all come back
    test_jumbo_mtu           testpmd with --max-pkt-len=9030 (MTU 9000, configured before
                             the start): `ip link` shows mtu 9000 on the TAP once the port
                             runs; `port config mtu 0 1500` on the running port: 1500 at
                             once; `port config mtu 0 9000` on the stopped port: still
                             1500, then 9000 after `port start 0`
    test_jumbo_ping          testpmd in icmpecho mode; the guest kernel pings it 100 times
                             with 8000 data bytes (8042-byte frames, one each: no IP
                             fragments) through the TAP and vhost-net, at both MTU 9000
                             moments above: 0% loss, and testpmd counts exactly 100 frames
                             and 100 x 8042 bytes each way

The VM runs only the exchanges of the selected tests (`-k jumbo`: the jumbo run alone).
Downloads (kernel .deb) go to .deps/vm through tests/vm/fetch_kernel.sh (idempotent).
qemu-system-x86 and busybox-static come from scripts/setup.sh; if they are missing the
tests try apt-get once and are skipped, the reason printed, only if that fails. Logs go
to results/vm/ (console.log, testpmd-q1.log, ...).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vhost_net_vm.py [-k jumbo]
"""

import json
import os
import shutil
import stat
import tempfile

import pytest

import dpdkapp
import qemuvm

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = dpdkapp.plugin_path()
VM_OUT = "vm"             # results/vm
VM_TIMEOUT = 480          # the whole VM run, boot to power-off (TCG is slow)
QUEUES = (1, 2)
PACKETS = 1000            # datagrams of each queue count's first exchange
RESTART_PACKETS = 100     # guest_vhost_net.py's exchange after port stop / port start
PINGS = 100               # pings of each jumbo exchange
JUMBO_FRAME = 14 + 20 + 8 + 8000   # Ethernet, IPv4, ICMP, 8000 data bytes

# Top-level modules; their dependencies come from each .ko's "depends=" (modinfo).
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "tun", "vhost_net"]

INIT = (qemuvm.INIT_HEAD + qemuvm.INIT_MODULES
        + 'if [ -c /dev/vhost-net ]; then echo "VMTEST: vhost-net ready"; '
        + 'else echo "VMTEST: no /dev/vhost-net"; fi\n'
        + qemuvm.init_host_root())

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
        qemuvm.log("sanitizer report from the guest: %s" % os.path.join(dst_dir, "vm-" + name))


def kept_paths(paths):
    """Host directories below /tmp or /run that the guest must still see."""
    keep = []
    for p in paths:
        p = os.path.realpath(p)
        if p.split("/")[1:2] in (["tmp"], ["run"]) and p not in keep:
            keep.append(p)
    return keep


def build_initramfs(order, idx, guest_cmd, path):
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "host", "modules")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, INIT.encode()),
                ("guest.cmd", r, guest_cmd.encode()),
                ("keep.paths", r, "".join(p + "\n" for p in kept_paths(
                    [qemuvm.ROOT, os.path.dirname(PLUGIN)])).encode())]
    qemuvm.cpio_newc(entries + qemuvm.module_entries(order, idx, r), path)


def run_vm(release, initrd, out_dir, verbose):
    """Boot the VM; return (console text, seconds). The qemu process never survives."""
    argv = [qemuvm.QEMU, "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024",
            "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", "none", "-net", "none",
            "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
            "-fsdev", "local,id=vmout,path=%s,security_model=none" % out_dir,
            "-device", "virtio-9p-pci,fsdev=vmout,mount_tag=vmout"]
    return qemuvm.boot_vm(argv, os.path.join(out_dir, "console.log"), verbose,
                          ("vhost-net ready", "no /dev/vhost-net"), VM_TIMEOUT)


def selected(request):
    """(queue counts, jumbo?) of this module's tests that pytest runs (-k): the guest
    runs those exchanges only."""
    items = [i for i in request.session.items if i.module is request.module]
    queues = sorted({i.callspec.params["queues"] for i in items
                     if hasattr(i, "callspec") and "queues" in i.callspec.params})
    jumbo = any(i.originalname.startswith("test_jumbo") for i in items)
    return queues, jumbo


def guest_results(console):
    """{queue count or "jumbo": the guest's RESULT line} from the console."""
    results = {}
    for ln in console.splitlines():
        if ln.startswith("RESULT "):
            try:
                r = json.loads(ln[len("RESULT "):])
                results["jumbo" if "jumbo" in r else r["queues"]] = r
            except ValueError:
                pass
    return results


@pytest.fixture(scope="module")
def vm_run(request, vm_kernel, vm_out, vm_verbose):
    if not os.path.isfile(PLUGIN):
        pytest.fail("plugin %s not built (make build)" % PLUGIN)
    order, idx = qemuvm.module_order(vm_kernel, MODULES)
    queues, jumbo = selected(request)
    qemuvm.log("vhost-net in a QEMU VM (TCG): kernel %s, insmod order: %s; queues %s, "
               "%d packets each%s" % (vm_kernel, " ".join(order),
                                      ",".join(map(str, queues)) or "none", PACKETS,
                                      "; jumbo frames, %d pings each" % PINGS if jumbo else ""))
    guest_env, sanitizer_logs = sanitizer_env()
    guest_cmd = " ".join(guest_env + [
        "/usr/bin/python3", os.path.join(HERE, "guest_vhost_net.py"),
        "--out", "/run/vmout", "--plugin", PLUGIN,
        # one word even when empty: the guest command goes through a shell
        "--queues=" + ",".join(map(str, queues)), "--packets", str(PACKETS),
        "--jumbo", str(PINGS if jumbo else 0)])
    # The VM writes into a directory of its own (9p shares it), copied to vm_out after
    work = tempfile.mkdtemp(prefix="vuser-vm-")
    out = os.path.join(work, "out")
    os.makedirs(out)
    if sanitizer_logs:
        os.makedirs(os.path.join(out, "sanitizer"))
    try:
        initrd = os.path.join(work, "initrd.cpio")
        build_initramfs(order, idx, guest_cmd, initrd)
        console, seconds = run_vm(vm_kernel, initrd, out, vm_verbose)
    finally:
        shutil.copytree(out, vm_out, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        collect_sanitizer_logs(vm_out, sanitizer_logs)
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    run = qemuvm.Run(console, seconds, vm_out)
    run.results = guest_results(console)
    yield run


def guest_result(run, key):
    """The guest's RESULT for key (a queue count, "jumbo"); the test fails without one."""
    r = run.results.get(key)
    if r is None:
        pytest.fail("no result from the VM for %s" % key + run.tails())
    return r


def check(record_property, run, problems, detail):
    """Pass with the detail in the summary's outcomes, or fail with the problems."""
    record_property("outcome", detail)
    assert not problems, "; ".join(problems + [detail]) + run.tails()


def test_vm_boot(vm_run, record_property):
    booted = "VMTEST: vhost-net ready" in vm_run.console
    vmtest = " | ".join(ln.strip() for ln in vm_run.console.splitlines() if "VMTEST" in ln)
    check(record_property, vm_run,
          [] if booted else ["no 'vhost-net ready' on the console: " + vmtest[-400:]],
          "modules loaded, /dev/vhost-net present; VM ran %.0fs" % vm_run.seconds)


def udp_problems(r, q):
    problems = [r["error"]] if r.get("error") else []
    if r["sent"] != PACKETS or r["returned"] != PACKETS:
        problems.append("sent %d, returned %d of %d" % (r["sent"], r["returned"], PACKETS))
    if r.get("pmd_ipackets", 0) < PACKETS or r.get("pmd_opackets", 0) < PACKETS:
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
    return problems


@pytest.mark.parametrize("queues", QUEUES)
def test_udp_queues(vm_run, queues, record_property):
    r = guest_result(vm_run, queues)
    detail = ("sent %d, returned %d, lost %d in %.1fs; testpmd rx %s tx %s, per queue rx %s "
              "tx %s; testpmd up in %ss" % (
                  r["sent"], r["returned"], r["sent"] - r["returned"], r.get("seconds", 0),
                  r.get("pmd_ipackets"), r.get("pmd_opackets"), r.get("pmd_q_ipackets"),
                  r.get("pmd_q_opackets"), r.get("testpmd_start_s")))
    check(record_property, vm_run, udp_problems(r, queues), detail)


@pytest.mark.parametrize("queues", QUEUES)
def test_restart_queues(vm_run, queues, record_property):
    r = guest_result(vm_run, queues)
    if r.get("error") or "restart_returned" not in r:
        pytest.fail("not run: the first exchange failed" + vm_run.tails())
    rp = r.get("restart_pmd", {})
    detail = "port stop/start, then sent %s, returned %s of %d; testpmd rx %s tx %s" % (
        r.get("restart_sent"), r.get("restart_returned"), RESTART_PACKETS,
        rp.get("ipackets"), rp.get("opackets"))
    ok = r.get("restart_returned") == RESTART_PACKETS
    check(record_property, vm_run, [] if ok else ["not every packet came back"], detail)


def jumbo_result(run):
    """The jumbo run's result and the problems both jumbo tests share."""
    r = guest_result(run, "jumbo")
    problems = [r["error"]] if r.get("error") else []
    if r.get("testpmd_rc") != 0:
        problems.append("testpmd exited %s" % r.get("testpmd_rc"))
    return r, problems


def test_jumbo_mtu(vm_run, record_property):
    r, problems = jumbo_result(vm_run)
    # the TAP's MTU at each step, as `ip link` showed it in the guest
    want = dict(mtu_at_start=9000, mtu_running_1500=1500, mtu_stopped_9000=1500,
                mtu_restarted=9000)
    problems += ["%s: TAP mtu %s, expected %d" % (k, r.get(k), v)
                 for k, v in want.items() if r.get(k) != v]
    problems += ["testpmd: %s" % " ".join(out) for out in (r.get("running_set", []),
                                                           r.get("stopped_set", []))
                 if any("fail" in ln.lower() for ln in out)]
    detail = "TAP mtu: %s | %s" % (
        ", ".join("%s %s" % (k, r.get(k)) for k in want), r.get("ip_link_restarted", ""))
    check(record_property, vm_run, problems, detail)


def test_jumbo_ping(vm_run, record_property):
    r, problems = jumbo_result(vm_run)
    lines = []
    for p in r.get("ping", []):
        pmd = p.get("pmd", {})
        lines.append("%s: %s; testpmd rx %s (%s B) tx %s (%s B)" % (
            p["tag"], p["summary"], pmd.get("ipackets"), pmd.get("ibytes"),
            pmd.get("opackets"), pmd.get("obytes")))
        if p["sent"] != PINGS or p["received"] != PINGS:
            problems.append("%s: %d of %d pings answered" % (p["tag"], p["received"], PINGS))
        exact = dict(ipackets=PINGS, opackets=PINGS, ibytes=PINGS * JUMBO_FRAME,
                     obytes=PINGS * JUMBO_FRAME, ierrors=0, oerrors=0, rx_nombuf=0)
        problems += ["%s: testpmd %s %s, expected %d" % (p["tag"], k, pmd.get(k), v)
                     for k, v in exact.items() if pmd.get(k) != v]
    if len(r.get("ping", [])) != 2:
        problems.append("%d ping runs, expected 2" % len(r.get("ping", [])))
    check(record_property, vm_run, problems, "; ".join(lines))
