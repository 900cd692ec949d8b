# SPDX-License-Identifier: BSD-3-Clause
"""A real non-DPDK frontend for app/vub-net: QEMU's vhost-user netdev and a guest kernel.

QEMU (Debian's 7.2, TCG) boots Debian's kernel (the one tests/vm/fetch_kernel.sh fetches)
with a busybox initramfs; its memory is a shared memfd (memory-backend-memfd,share=on,
which vhost-user needs: the backend maps the guest's memory), its NIC a virtio-net-pci
on `-netdev vhost-user` to vub-net. vub-net runs on the host in a network namespace of
the test's own with its TAP at 10.78.0.1/24; the guest's kernel virtio-net driver
(10.78.0.2) pings it. vectors=0: with MSI-X, QEMU 7.2 under TCG crashes in
vhost_net_start; the guest takes INTx interrupts instead. The VM boots once for the
module (the vm_run fixture); each test checks one part of the run:

    test_vm_boot        the guest boots, virtio_net drives eth0
    test_ping           ping -c 1000 -i 0.01 from the guest to the TAP's address:
                        1000/1000, and the TAP counted at least 1000 frames each way
    test_memory_slots   vub-net offers CONFIGURE_MEM_SLOTS: QEMU hands the guest's memory
                        over with ADD_MEM_REG (its log's "memory region added" lines),
                        never with SET_MEM_TABLE; the protocol features QEMU set have
                        bit 15
    test_vubnet_exit    vub-net ends with exit 0 on SIGTERM after the VM is gone

Skipped, the reason printed, when qemu-system-x86_64 or a static busybox is missing and
cannot be installed, or without root. Logs go to results/vm-vubnet/.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vubnet_vm.py
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

import pytest

import dpdkapp
import qemuvm

VM_OUT = "vm-vubnet"      # results/vm-vubnet
MODULES = ["virtio_pci", "virtio_net"]
TAP = "vubvm0"
HOST_IP = "10.78.0.1"
GUEST_IP = "10.78.0.2"
GUEST_MAC = "52:54:00:78:00:02"
PINGS = 1000
PING_INTERVAL = "0.01"
PING_DEADLINE = 150        # seconds ping may run in the guest (-w)
VM_TIMEOUT = 360
BOOT_TIMEOUT = 150
VUBNET_START = 10.0
MEM_SLOTS_BIT = 15         # VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS

INIT = qemuvm.INIT_HEAD + qemuvm.INIT_MODULES + r"""i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "VMTEST: eth0 driver $(basename "$(readlink /sys/class/net/eth0/device/driver)")"
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
ip link set lo up
ip addr add @GUEST@/24 dev eth0
ip link set eth0 up
ping -q -c @PINGS@ -i @INTERVAL@ -W 5 -w @DEADLINE@ @HOST@ > /ping.out 2>&1
echo "VMTEST: ping exit $?"
sed 's/^/VMTEST: ping: /' /ping.out
poweroff -f
"""


def vubnet_bin():
    if os.environ.get("VUBNET_BIN"):
        return os.environ["VUBNET_BIN"]
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        dpdkapp.plugin_path()))))
    return os.path.join(build, "app", "vub-net", "vub-net")


def sh(*argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stdout.decode().strip()))
    return p.stdout.decode()


def build_initramfs(order, idx, pings, path):
    init = (INIT.replace("@GUEST@", GUEST_IP).replace("@HOST@", HOST_IP)
            .replace("@PINGS@", str(pings)).replace("@INTERVAL@", PING_INTERVAL)
            .replace("@DEADLINE@", str(PING_DEADLINE)))
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "modules")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, init.encode())]
    qemuvm.cpio_newc(entries + qemuvm.module_entries(order, idx, r), path)


def qemu_argv(release, initrd, sock):
    return [qemuvm.QEMU, "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512",
            "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", "none",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
            "-numa", "node,memdev=mem",
            "-chardev", "socket,id=chr0,path=%s" % sock,
            "-netdev", "vhost-user,id=net0,chardev=chr0",
            "-device", "virtio-net-pci,netdev=net0,vectors=0,mac=%s" % GUEST_MAC,
            "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4"]


class Host:
    """vub-net in a namespace of its own, its TAP addressed; torn down by close()."""

    def __init__(self, work, out):
        self.ns = "vubvm%d" % os.getpid()
        self.sock = os.path.join(work, "vubnet.sock")
        self.log_path = os.path.join(out, "vub-net.log")
        self.proc = None
        sh("ip", "netns", "add", self.ns)

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, vubnet_bin(), "--socket-path=%s" % self.sock,
             "--tap=%s" % TAP], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        dpdkapp.wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None,
                           VUBNET_START, what="vub-net's socket")
        if self.proc.poll() is not None:
            raise RuntimeError("vub-net exited %d: %s" % (self.proc.returncode, self.output()))
        sh("ip", "netns", "exec", self.ns, "sysctl", "-q", "-w",
           "net.ipv6.conf.%s.disable_ipv6=1" % TAP)
        sh("ip", "-n", self.ns, "addr", "add", "%s/24" % HOST_IP, "dev", TAP)
        sh("ip", "-n", self.ns, "link", "set", TAP, "up")

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def tap_stats(self):
        return json.loads(sh("ip", "-n", self.ns, "-j", "-s", "link", "show", "dev",
                             TAP))[0]["stats64"]

    def stop(self):
        """SIGTERM; the exit code, or None when it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        return self.proc.returncode

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        subprocess.call(["ip", "netns", "del", self.ns])


@pytest.fixture(scope="module")
def vm_run(vm_kernel, vm_out, vm_verbose):
    if os.geteuid() != 0:
        pytest.skip("needs root: a network namespace and a TAP")
    if not os.path.isfile(vubnet_bin()):
        pytest.fail("%s not built (make build)" % vubnet_bin())
    order, idx = qemuvm.module_order(vm_kernel, MODULES)
    qemuvm.log("vub-net under QEMU's vhost-user netdev (TCG): kernel %s, insmod order: %s; "
               "%d pings from the guest" % (vm_kernel, " ".join(order), PINGS))
    work = tempfile.mkdtemp(prefix="vuser-vubvm-")
    host = Host(work, vm_out)
    console, seconds, before, after, rc = "", 0.0, None, None, None
    try:
        initrd = os.path.join(work, "initrd.cpio")
        build_initramfs(order, idx, PINGS, initrd)
        host.start()
        before = host.tap_stats()
        console, seconds = qemuvm.boot_vm(qemu_argv(vm_kernel, initrd, host.sock),
                                          os.path.join(vm_out, "console.log"), vm_verbose,
                                          ("VMTEST: eth0 driver",), VM_TIMEOUT, BOOT_TIMEOUT)
        after = host.tap_stats()
        rc = host.stop()
    except Exception as e:
        # each test then fails on what is missing, with this line in the console's tail
        console += "VMTEST-HOST: %s: %s\n" % (type(e).__name__, e)
        qemuvm.log("ERROR: %s" % e)
    finally:
        host.close()
        shutil.rmtree(work, ignore_errors=True)
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    run = qemuvm.Run(console, seconds, vm_out)
    run.extra_logs.append(("vub-net log", host.log_path))
    run.tap = ({d: after[d]["packets"] - before[d]["packets"] for d in ("rx", "tx")}
               if before and after else {})
    run.vubnet_rc = rc
    run.vubnet_log = host.log_path
    yield run


def check(record_property, run, ok, detail):
    """Pass with the detail in the summary's outcomes, or fail with it."""
    record_property("outcome", detail)
    assert ok, detail + run.tails()


def test_vm_boot(vm_run, record_property):
    m = re.search(r"VMTEST: eth0 driver (\S*)", vm_run.console)
    check(record_property, vm_run, bool(m) and m.group(1) == "virtio_net",
          "eth0 driven by %s" % (m.group(1) if m else "nothing (no eth0 line)"))


def test_ping(vm_run, record_property):
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", vm_run.console)
    sent, got = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    tap = vm_run.tap
    ok = (sent, got) == (PINGS, PINGS) and min(tap.values() or [0]) >= PINGS
    rtt = re.search(r"round-trip min/avg/max = (\S+)", vm_run.console)
    check(record_property, vm_run, ok,
          "%d transmitted, %d received of %d; TAP rx %s tx %s frames%s" % (
              sent, got, PINGS, tap.get("rx"), tap.get("tx"),
              "; rtt min/avg/max %s ms" % rtt.group(1) if rtt else ""))


def test_memory_slots(vm_run, record_property):
    log = open(vm_run.vubnet_log).read() if os.path.exists(vm_run.vubnet_log) else ""
    added = re.findall(r"memory region added \(guest (0x[0-9a-f]+), size (0x[0-9a-f]+)\)", log)
    removed = len(re.findall(r"memory region removed", log))
    tables = len(re.findall(r"memory table of \d+ regions mapped", log))
    pf = [int(x, 16) for x in re.findall(r"protocol features 0x([0-9a-f]+) negotiated", log)]
    check(record_property, vm_run,
          len(added) >= 1 and tables == 0 and pf and pf[-1] & (1 << MEM_SLOTS_BIT),
          "protocol features %s; ADD_MEM_REG %d (%s), REM_MEM_REG %d, SET_MEM_TABLE %d" % (
              ", ".join(hex(x) for x in pf) or "none logged", len(added),
              ", ".join("%s+%s" % a for a in added), removed, tables))


def test_vubnet_exit(vm_run, record_property):
    check(record_property, vm_run, vm_run.vubnet_rc == 0,
          "exit code %s on SIGTERM" % vm_run.vubnet_rc)
