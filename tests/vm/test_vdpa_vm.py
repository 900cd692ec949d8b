# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of the vDPA VM: bookworm-backports' 6.12 kernel, its vDPA modules, `vdpa`.

Debian 12's 6.1 kernel has CONFIG_VDPA off; the vDPA tests boot bookworm-backports'
linux-image-6.12.95+deb12-amd64 (tests/vm/fetch_kernel.sh --backports, into
.deps/vm-6.12) under TCG with a busybox initramfs that insmods vduse, vhost_vdpa and
virtio_vdpa (decompressed on the host: the package ships .ko.xz), mounts the host's root
read-only over 9p and runs iproute2's `vdpa` from it. The VM boots once for the module;
each test checks one part of the run:

    test_vm_boot        the guest runs the 6.12 kernel and every insmod succeeded
    test_vdpa_modules   vduse, vhost_vdpa and virtio_vdpa are loaded and
                        /dev/vduse/control is a character device
    test_vdpa_tool      `vdpa mgmtdev show` (the host's iproute2 over 9p) lists vduse

Skipped, the reason printed, only when qemu-system-x86_64 or a static busybox is
missing and cannot be installed. Logs go to results/vm-vdpa/.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vdpa_vm.py
"""

import os
import re
import shutil
import stat
import tempfile

import pytest

import qemuvm

VM_OUT = "vm-vdpa"        # results/vm-vdpa
VDPA_MODULES = ["vduse", "vhost_vdpa", "virtio_vdpa"]
# 9p for the host's root (virtio_pci is built into the 6.12 kernel)
MODULES = VDPA_MODULES + ["9pnet_virtio", "9p"]
VDPA_TOOL = "/sbin/vdpa"  # iproute2's, on the host's root
VM_TIMEOUT = 240
BOOT_TIMEOUT = 150

INIT = qemuvm.INIT_HEAD + qemuvm.INIT_MODULES + r"""for m in @VDPA_MODULES@; do
	if [ -d /sys/module/$m ]; then echo "VMTEST: module $m loaded"; fi
done
if [ -c /dev/vduse/control ]; then echo "VMTEST: vduse control is a character device"; fi
ls -l /dev/vduse/ | sed 's/^/VMTEST: ls: /'
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro hostroot /host ||
	echo "VMTEST: mount hostroot failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
chroot /host @VDPA_TOOL@ mgmtdev show > /vdpa.out 2>&1
echo "VMTEST: vdpa exit $?"
sed 's/^/VMTEST: vdpa: /' /vdpa.out
poweroff -f
"""


def build_initramfs(order, idx, path):
    init = (INIT.replace("@VDPA_MODULES@", " ".join(VDPA_MODULES))
            .replace("@VDPA_TOOL@", VDPA_TOOL))
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "host", "modules")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, init.encode())]
    qemuvm.cpio_newc(entries + qemuvm.module_entries(order, idx, r), path)


def qemu_argv(release, initrd):
    return [qemuvm.QEMU, "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512",
            "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", "none", "-net", "none",
            "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"]


@pytest.fixture(scope="module")
def vm_run(vm_kernel_bpo, vm_out, vm_verbose):
    if not os.access(VDPA_TOOL, os.X_OK):
        pytest.fail("%s is missing (apt-get install iproute2)" % VDPA_TOOL)
    order, idx = qemuvm.module_order(vm_kernel_bpo, MODULES)
    qemuvm.log("vDPA smoke test (TCG): kernel %s, insmod order: %s"
               % (vm_kernel_bpo, " ".join(order)))
    work = tempfile.mkdtemp(prefix="vuser-vdpavm-")
    try:
        initrd = os.path.join(work, "initrd.cpio")
        build_initramfs(order, idx, initrd)
        console, seconds = qemuvm.boot_vm(qemu_argv(vm_kernel_bpo, initrd),
                                          os.path.join(vm_out, "console.log"), vm_verbose,
                                          ("VMTEST: booted",), VM_TIMEOUT, BOOT_TIMEOUT)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    yield qemuvm.Run(console, seconds, vm_out)


def check(record_property, run, ok, detail):
    """Pass with the detail in the summary's outcomes, or fail with it."""
    record_property("outcome", detail)
    assert ok, detail + run.tails()


def test_vm_boot(vm_run, vm_kernel_bpo, record_property):
    m = re.search(r"VMTEST: booted (\S+)", vm_run.console)
    failed = re.findall(r"VMTEST: insmod (\S+) failed", vm_run.console)
    release = m.group(1) if m else None
    check(record_property, vm_run, release == vm_kernel_bpo and not failed,
          "kernel %s (want %s); insmod failed: %s" % (release, vm_kernel_bpo,
                                                      " ".join(failed) or "none"))


def test_vdpa_modules(vm_run, record_property):
    loaded = re.findall(r"VMTEST: module (\S+) loaded", vm_run.console)
    control = "VMTEST: vduse control is a character device" in vm_run.console
    check(record_property, vm_run, loaded == VDPA_MODULES and control,
          "loaded: %s (want %s); /dev/vduse/control %s" % (
              " ".join(loaded) or "none", " ".join(VDPA_MODULES),
              "is a character device" if control else "missing"))


def test_vdpa_tool(vm_run, record_property):
    m = re.search(r"VMTEST: vdpa exit (\d+)", vm_run.console)
    mgmt = re.findall(r"VMTEST: vdpa: (\S+):", vm_run.console)
    rc = int(m.group(1)) if m else None
    check(record_property, vm_run, rc == 0 and "vduse" in mgmt,
          "vdpa mgmtdev show: exit %s, management devices: %s" % (
              rc, " ".join(mgmt) or "none"))
