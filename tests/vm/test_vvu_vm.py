# SPDX-License-Identifier: BSD-3-Clause
"""virtio-vhost-user end to end: a slave VM is the vhost-user backend of masters on the host.

The project's QEMU (scripts/build_qemu_vvu.sh) boots the usual TCG guest (Debian's
kernel, busybox initramfs, the host's root read-only over 9p) with a
virtio-vhost-user-pci device at 0000:00:10.0 whose chardev is a socket server on the
host. In the guest (tests/vm/guest_vvu.py) testpmd runs net_vubackend with
transport=vvu,pci=0000:00:10.0: libvub drives the device through sysfs, reads the
master's messages from rxq, replies on txq and reaches the master's rings and buffers
through the shared memory BAR. On the host testpmd masters connect to the VMM's socket
one after the other (each one's disconnect and the next one's connect are served by the
same slave testpmd):

    test_slave_up          the guest's testpmd probed the device and came up
    test_traffic[...]      per master (net_vuser and DPDK's net_virtio_user, split and
                           packed rings): the master sends BURSTS x 32 frames (Tx retry)
                           and the slave counts exactly that many, then the slave sends
                           as many and the master counts exactly those; no errors
    test_traffic[restartN] the slave's backend restarts (a new testpmd on a second VVU
                           device, whose VMM connects to a net_vuser master in server
                           mode and reconnects) while that master stays up: the same
                           exact counts with each new backend
    test_clean_exit        every master and every slave testpmd exit 0

Skipped, the reason printed, when the QEMU of scripts/build_qemu_vvu.sh is not built
(QEMU_VVU=<binary> overrides) or QEMU/busybox for the guest are missing. Logs go to
results/vm-vvu-e2e/ (console.log, slave-testpmd.log, master*.log).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vvu_vm.py
"""

import json
import os
import shutil
import stat
import tempfile
import threading

import pytest

import dpdkapp
import qemuvm
import vhostpeer
from test_vhost_net_vm import collect_sanitizer_logs, kept_paths, sanitizer_env
from test_vvu_device import FIRMWARE, VIRTIO_ID, qemu_vvu_or_skip

HERE = os.path.dirname(os.path.abspath(__file__))
VM_OUT = "vm-vvu-e2e"      # results/vm-vvu-e2e
PCI_SLOT = 0x10
PCI_ADDR = "0000:00:%02x.0" % PCI_SLOT
PCI_SLOT2 = 0x11
PCI_ADDR2 = "0000:00:%02x.0" % PCI_SLOT2
RESTARTS = 2               # slave testpmds in turn behind one master that stays up
BURSTS = 313               # x 32 = 10016 frames each way, per master
FRAMES = BURSTS * vhostpeer.BURST
# (test id, frontend kind of tests/lib/vhostpeer.py, devargs after path=)
MASTERS = [("vuser-split", "vuser", ""), ("vuser-packed", "vuser", ",packed_vq=1"),
           ("dpdk-split", "dpdk", ""), ("dpdk-packed", "dpdk", ",packed_vq=1")]
MODULES = ["virtio_pci", "9pnet_virtio", "9p"]
VM_TIMEOUT = 900
BOOT_TIMEOUT = 150
SLAVE_TIMEOUT = 300        # boot and the slave's testpmd up
TURN_TIMEOUT = 300         # the guest's part of a round under TCG
MASTER_TIMEOUT = 120
# A TCG slave drains slowly: a master's burst may wait up to 5 s for ring room.
VM_TX_RETRY = "set burst tx delay 1000 retry 5000"

INIT = qemuvm.INIT_HEAD + qemuvm.INIT_MODULES + qemuvm.init_host_root(
    "mkdir -p /host/dev/hugepages\nmount -t hugetlbfs nodev /host/dev/hugepages\n")


def vubackend_plugin():
    """$VUBACKEND_PLUGIN, else beside the net_vuser plugin the other tests use."""
    if os.environ.get("VUBACKEND_PLUGIN"):
        return os.environ["VUBACKEND_PLUGIN"]
    net = os.path.dirname(os.path.dirname(dpdkapp.plugin_path()))
    return os.path.join(net, "vubackend", "librte_net_vubackend.so")


def build_initramfs(order, idx, guest_cmd, path):
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "host", "modules")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, INIT.encode()),
                ("guest.cmd", r, guest_cmd.encode()),
                ("keep.paths", r, "".join(p + "\n" for p in kept_paths(
                    [qemuvm.ROOT, os.path.dirname(vubackend_plugin())])).encode())]
    qemuvm.cpio_newc(entries + qemuvm.module_entries(order, idx, r), path)


def qemu_argv(qemu, release, initrd, sock, out, msock=None):
    """The slave VM: its VVU device at PCI_SLOT listens on sock; with msock a second one
    at PCI_SLOT2 connects to a master in server mode (the restart rounds)."""
    argv = [qemu] + FIRMWARE + [
        "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024", "-nodefaults",
        "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
        "-net", "none",
        "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
        "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
        "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev", "local,id=vmout,path=%s,security_model=none" % out,
        "-device", "virtio-9p-pci,fsdev=vmout,mount_tag=vmout",
        "-chardev", "socket,id=vvu0,path=%s,server=on,wait=off" % sock,
        "-device", "virtio-vhost-user-pci,chardev=vvu0,virtio-id=%d,addr=%#x"
        % (VIRTIO_ID, PCI_SLOT)]
    if msock:
        # the VMM connects to a master in server mode, reconnecting
        argv += ["-chardev", "socket,id=vvu1,path=%s,server=off,reconnect=1" % msock,
                 "-device", "virtio-vhost-user-pci,chardev=vvu1,virtio-id=%d,addr=%#x"
                 % (VIRTIO_ID, PCI_SLOT2)]
    return argv


class Turns:
    """The host's side of the turns with tests/vm/guest_vvu.py, through files in the
    directory the guest shares over 9p."""

    def __init__(self, out, vm):
        self.out, self.vm = out, vm

    def put(self, name):
        with open(os.path.join(self.out, name), "w") as f:
            f.write("{}")

    def wait(self, name, timeout):
        """The guest's file, parsed; fails early when the guest is done or the VM off."""
        path = os.path.join(self.out, name)
        done = os.path.join(self.out, "slave-done.json")
        dpdkapp.wait_until(lambda: os.path.exists(path) or os.path.exists(done)
                           or not self.vm.is_alive(), timeout, interval=0.2,
                           what="the guest's %s" % name)
        if not os.path.exists(path):
            raise RuntimeError("the guest ended before %s" % name)
        with open(path) as f:
            return json.load(f)


def exchange(turns, app, k):
    """Round k with a connected master: FRAMES to the slave, then FRAMES back."""
    res = {}
    app.wait_link_up(timeout=MASTER_TIMEOUT)
    turns.put("round%d-go" % k)
    turns.wait("round%d-rx-ready" % k, TURN_TIMEOUT)
    s0 = app.stats(0)
    try:
        app.run("start tx_first %d" % BURSTS, timeout=TURN_TIMEOUT)
        tx = dpdkapp.settle_all([(app, 0, s0, "opackets", FRAMES)], TURN_TIMEOUT)[0]
    finally:
        app.run("stop")
    s1 = app.stats(0)
    app.start_forwarding()
    turns.put("round%d-tx-sent" % k)
    res["slave"] = turns.wait("round%d.json" % k, TURN_TIMEOUT)
    try:
        rx = dpdkapp.settle_all([(app, 0, s1, "ipackets", FRAMES)], TURN_TIMEOUT)[0]
    finally:
        app.run("stop")
    res["master_tx"], res["master_rx"] = dpdkapp.shown(tx), dpdkapp.shown(rx)
    return res


def start_master(name, kind, devargs, plugin, log_dir):
    app = vhostpeer.start_frontend(name, log_dir, kind, devargs, vhostpeer.app_args(),
                                   plugin=plugin)
    app.wait_ready(timeout=MASTER_TIMEOUT)
    vhostpeer.enable_tx_retry(app, vhostpeer.SINK)
    app.run(VM_TX_RETRY)
    return app


def one_master(turns, k, kind, devargs, sock, plugin, log_dir):
    """Round k: a master connects, sends FRAMES, receives FRAMES, leaves."""
    res = {}
    app = None
    try:
        app = start_master("master%d-%s" % (k, kind), kind, "path=%s%s" % (sock, devargs),
                           plugin, log_dir)
        res = exchange(turns, app, k)
    except Exception as e:  # recorded for the tests, which fail on it
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if app:
            app.stop(timeout=30)
            res["master_rc"] = app.returncode
        turns.put("round%d-master-done" % k)
    return res


def restart_rounds(turns, master, results):
    """The slave's backend restarts under a master that stays up (server mode)."""
    for r in range(RESTARTS):
        k = len(MASTERS) + r
        res = {}
        try:
            turns.wait("round%d-slave-up" % k, TURN_TIMEOUT)
            res = exchange(turns, master, k)
        except Exception as e:
            res["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            turns.put("round%d-master-done" % k)
        results["restart%d" % r] = res
        qemuvm.log("restart %d: %s" % (r, res))


def drive_masters(turns, sock, master, plugin, log_dir, results):
    try:
        turns.wait("slave-ready", SLAVE_TIMEOUT)
        for k, (tid, kind, devargs) in enumerate(MASTERS):
            results[tid] = one_master(turns, k, kind, devargs, sock, plugin, log_dir)
            qemuvm.log("master %s: %s" % (tid, results[tid]))
        restart_rounds(turns, master, results)
    except Exception as e:
        results["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        turns.put("masters-done")


@pytest.fixture(scope="module")
def vm_run(request, vm_out, vm_verbose):
    qemu = qemu_vvu_or_skip()
    vm_kernel = request.getfixturevalue("vm_kernel")
    plugin = vubackend_plugin()
    if not os.path.isfile(plugin) or not os.path.isfile(dpdkapp.plugin_path()):
        pytest.fail("plugins %s, %s not built (make build)" % (plugin, dpdkapp.plugin_path()))
    order, idx = qemuvm.module_order(vm_kernel, MODULES)
    # the sanitizer build's preload and options reach the guest's apps too
    guest_env, sanitizer_logs = sanitizer_env()
    guest_cmd = " ".join(guest_env + [
        "/usr/bin/python3", os.path.join(HERE, "guest_vvu.py"), "--out", "/run/vmout",
        "--plugin", plugin, "--pci", PCI_ADDR, "--pci2", PCI_ADDR2,
        "--rounds", str(len(MASTERS)), "--restarts", str(RESTARTS), "--bursts", str(BURSTS)])
    work = tempfile.mkdtemp(prefix="vuser-vvu-e2e-")
    out, sock = os.path.join(work, "out"), os.path.join(work, "vvu.sock")
    msock = os.path.join(work, "master.sock")
    os.makedirs(out)
    initrd = os.path.join(work, "initrd.cpio")
    build_initramfs(order, idx, guest_cmd, initrd)
    booted = {}
    vm = threading.Thread(target=lambda: booted.update(run=qemuvm.boot_vm(
        qemu_argv(qemu, vm_kernel, initrd, sock, out, msock),
        os.path.join(vm_out, "console.log"), vm_verbose, ("VMTEST: booted",), VM_TIMEOUT,
        BOOT_TIMEOUT)), daemon=True)
    results = {}
    staged = dpdkapp.stage_plugin(dpdkapp.plugin_path())
    master = None
    try:
        # up before the VM: the VMM connects at once, before the slave's driver is up
        master = start_master("master-server", "vuser", "path=%s,server=1" % msock, staged,
                              vm_out)
        vm.start()
        drive_masters(Turns(out, vm), sock, master, staged, vm_out, results)
        vm.join(VM_TIMEOUT)
    finally:
        if master:
            master.stop(timeout=30)
            results["master_server_rc"] = master.returncode
        dpdkapp.unstage_plugin(staged)
        shutil.copytree(out, vm_out, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        collect_sanitizer_logs(vm_out, sanitizer_logs)
    console, seconds = booted.get("run", ("VMTEST-HOST: the VM did not finish\n", 0.0))
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    run = qemuvm.Run(console, seconds, vm_out)
    run.extra_logs.append(("slave testpmd", os.path.join(vm_out, "slave-testpmd.log")))
    run.results = results
    try:
        with open(os.path.join(vm_out, "slave-done.json")) as f:
            run.slave_done = json.load(f)
    except (OSError, ValueError):
        run.slave_done = {}
    yield run


def check(record_property, run, problems, detail):
    record_property("outcome", detail)
    assert not problems, "; ".join(problems + [detail]) + run.tails()


def test_slave_up(vm_run, record_property):
    up = "virtio-vhost-user device up" in open(
        os.path.join(vm_run.out, "slave-testpmd.log"), errors="replace").read() \
        if os.path.exists(os.path.join(vm_run.out, "slave-testpmd.log")) else False
    problems = [] if up else ["the slave's testpmd never said the device is up"]
    if "error" in vm_run.results:
        problems.append("host: " + vm_run.results["error"])
    check(record_property, vm_run, problems, "slave up %s; VM ran %.0fs" % (up, vm_run.seconds))


@pytest.mark.parametrize("tid", [m[0] for m in MASTERS] +
                         ["restart%d" % r for r in range(RESTARTS)])
def test_traffic(vm_run, record_property, tid):
    r = vm_run.results.get(tid)
    if r is None:
        pytest.fail("no round ran for %s: %s" % (tid, vm_run.results.get("error"))
                    + vm_run.tails())
    problems = [r["error"]] if "error" in r else []
    slave = r.get("slave", {})
    n = FRAMES
    if "master_tx" in r:
        problems += dpdkapp.mismatches("master", r["master_tx"], opackets=n, ipackets=0)
        problems += dpdkapp.mismatches("master", r["master_rx"], ipackets=n, opackets=0)
    if "rx" in slave:
        problems += dpdkapp.mismatches("slave", slave["rx"], ipackets=n, opackets=0)
        problems += dpdkapp.mismatches("slave", slave["tx"], opackets=n, ipackets=0)
    else:
        problems.append("no counts from the slave")
    check(record_property, vm_run, problems,
          "%s: master->slave %s/%s, slave->master %s/%s frames (want %d each)"
          % (tid, (r.get("master_tx") or {}).get("opackets"),
             (slave.get("rx") or {}).get("ipackets"), (slave.get("tx") or {}).get("opackets"),
             (r.get("master_rx") or {}).get("ipackets"), n))


def test_clean_exit(vm_run, record_property):
    rcs = {tid: vm_run.results.get(tid, {}).get("master_rc") for tid, _, _ in MASTERS}
    rcs["master-server"] = vm_run.results.get("master_server_rc")
    rcs["slave"] = vm_run.slave_done.get("testpmd_rc")
    for r in range(RESTARTS):
        rcs["slave-restart%d" % r] = vm_run.slave_done.get("restart%d_rc" % r)
    bad = ["%s exited %s" % (k, v) for k, v in rcs.items() if v != 0]
    if vm_run.slave_done.get("error"):
        bad.append("guest: " + vm_run.slave_done["error"])
    check(record_property, vm_run, bad, "exit codes %s" % rcs)
