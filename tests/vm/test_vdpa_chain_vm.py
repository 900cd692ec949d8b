# SPDX-License-Identifier: BSD-3-Clause
"""vDPA both ways in one guest: our backend as a VDUSE device, our frontend on vhost-vdpa.

The guest (bookworm-backports' 6.12 kernel, tests/vm/test_vdpa_vm.py's harness) runs
tests/vm/guest_vdpa.py: app/vub-net --vduse=vdpa0 with a TAP, `vdpa dev add` binding it
to vhost_vdpa, testpmd in icmpecho mode on /dev/vhost-vdpa-0, and the guest kernel
pinging the port through the TAP, once with net_vuser and once with DPDK's
net_virtio_user on the same device:

    test_vm_boot            the guest boots 6.12 and every module loads
    test_ping[vuser]        PINGS pings, all answered; testpmd counts exactly PINGS
                            frames each way
    test_ping[dpdk]         the same with DPDK's net_virtio_user
    test_kernel_ping        the device bound to virtio_vdpa instead: the guest kernel's
                            virtio_net netdev pings vub-net's TAP (moved into a network
                            namespace of its own) KERNEL_PINGS times, all answered, and
                            both interfaces count exactly KERNEL_PINGS frames each way
                            (static neighbours, no IPv6: nothing else crosses)
    test_kernel_restart     then vub-net is killed (SIGKILL): the netdev's state and the
                            kernel's log are recorded, GAP_PINGS pings go unanswered; a
                            new vub-net serves the same VDUSE device again (rings resumed
                            at their used index) and RESTART_PINGS pings are answered,
                            both interfaces counting exactly RESTART_PINGS each way
    test_vubnet_exit[...]   vub-net exits 0 on SIGTERM after `vdpa dev del`

Skipped, the reason printed, where QEMU or a static busybox cannot be had. Logs go to
results/vm-vdpa-chain/.

    flock /tmp/vuser-cpu.lock /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vdpa_chain_vm.py
"""

import json
import os
import shutil
import tempfile

import pytest

import dpdkapp
import qemuvm
import test_vhost_net_vm as vhn

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = dpdkapp.plugin_path()
VM_OUT = "vm-vdpa-chain"  # results/vm-vdpa-chain
MODULES = ["vduse", "vhost_vdpa", "virtio_vdpa", "virtio_net", "tun", "9pnet_virtio", "9p"]
FRONTENDS = ("vuser", "dpdk")
PINGS = 100
KERNEL_PINGS = 1000
RESTART_PINGS = 100       # after vub-net is killed and started again
GAP_PINGS = 3             # while no process serves the device


def vubnet_bin():
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(PLUGIN))))
    return os.path.join(build, "app", "vub-net", "vub-net")


@pytest.fixture(scope="module")
def vm_run(vm_kernel_bpo, vm_out, vm_verbose):
    for path in (PLUGIN, vubnet_bin()):
        if not os.path.isfile(path):
            pytest.fail("%s not built (make build)" % path)
    order, idx = qemuvm.module_order(vm_kernel_bpo, MODULES)
    qemuvm.log("vDPA chain (TCG): kernel %s, insmod order: %s; %d pings per frontend"
               % (vm_kernel_bpo, " ".join(order), PINGS))
    # the sanitizer build's preload and options reach the guest's apps too
    guest_env, sanitizer_logs = vhn.sanitizer_env()
    guest_cmd = " ".join(guest_env + [
        "/usr/bin/python3", os.path.join(HERE, "guest_vdpa.py"), "--out", "/run/vmout",
        "--plugin", PLUGIN, "--vubnet", vubnet_bin(), "--pings", str(PINGS),
        "--kernel-pings", str(KERNEL_PINGS),
        "--restart-pings", str(RESTART_PINGS), "--gap-pings", str(GAP_PINGS), "--frontends", ",".join(FRONTENDS + ("kernel",))])
    work = tempfile.mkdtemp(prefix="vuser-vdpavm-")
    out = os.path.join(work, "out")
    os.makedirs(out)
    try:
        initrd = os.path.join(work, "initrd.cpio")
        vhn.build_initramfs(order, idx, guest_cmd, initrd)
        console, seconds = vhn.run_vm(vm_kernel_bpo, initrd, out, vm_verbose)
    finally:
        shutil.copytree(out, vm_out, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        vhn.collect_sanitizer_logs(vm_out, sanitizer_logs)
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    run = qemuvm.Run(console, seconds, vm_out)
    run.results = {}
    for ln in console.splitlines():
        if ln.startswith("RESULT "):
            try:
                r = json.loads(ln[len("RESULT "):])
                run.results[r["frontend"]] = r
            except (ValueError, KeyError):
                pass
    yield run


def check(record_property, run, ok, detail):
    record_property("outcome", detail)
    assert ok, detail + run.tails()


def result(run, frontend):
    r = run.results.get(frontend)
    if r is None:
        pytest.fail("no result from the VM for %s" % frontend + run.tails())
    return r


def test_vm_boot(vm_run, vm_kernel_bpo, record_property):
    failed = [ln for ln in vm_run.console.splitlines() if "insmod" in ln and "failed" in ln]
    booted = "VMTEST: booted %s" % vm_kernel_bpo in vm_run.console
    check(record_property, vm_run, booted and not failed,
          "booted %s: %s; %s" % (vm_kernel_bpo, booted, "; ".join(failed) or "every insmod ok"))


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_ping(vm_run, frontend, record_property):
    r = result(vm_run, frontend)
    ok = (not r.get("error") and r["sent"] == PINGS and r["received"] == PINGS and
          r.get("pmd_ipackets") == PINGS and r.get("pmd_opackets") == PINGS)
    # net_vuser reports the device's link (config space status); DPDK's may not
    if frontend == "vuser":
        ok = ok and r.get("link_up")
    check(record_property, vm_run, ok,
          "%s: %d/%d pings answered; testpmd rx %s tx %s frames; link %s%s" % (
              frontend, r["received"], r["sent"], r.get("pmd_ipackets"),
              r.get("pmd_opackets"), "up" if r.get("link_up") else "not up",
              "; error: %s" % r["error"] if r.get("error") else ""))


def test_kernel_ping(vm_run, record_property):
    r = result(vm_run, "kernel")
    counts = (r.get("dev_tx"), r.get("dev_rx"), r.get("tap_rx"), r.get("tap_tx"))
    ok = (not r.get("error") and r["sent"] == KERNEL_PINGS and
          r["received"] == KERNEL_PINGS and counts == (KERNEL_PINGS,) * 4)
    check(record_property, vm_run, ok,
          "virtio_vdpa %s: %d/%d pings answered; netdev tx %s rx %s, TAP rx %s tx %s "
          "frames%s" % ((r.get("netdev"), r["received"], r["sent"]) + counts +
                        ("; error: %s" % r["error"] if r.get("error") else "",)))


def test_kernel_restart(vm_run, record_property):
    r = result(vm_run, "kernel").get("restart") or {}
    gap, after = r.get("gap_view") or {}, r.get("after_view") or {}
    counts = (r.get("dev_tx"), r.get("dev_rx"), r.get("tap_rx"), r.get("tap_tx"))
    ok = (r.get("killed_rc") == -9 and r.get("gap_received") == 0 and
          r.get("sent") == RESTART_PINGS and r.get("received") == RESTART_PINGS and
          counts == (RESTART_PINGS,) * 4 and bool(r.get("resumed")))
    detail = ("vub-net killed (rc %s); meanwhile the netdev is %s, carrier %s, %s/%s pings "
              "answered, kernel log: %s; restarted: %s; then %s/%s pings answered, netdev "
              "tx %s rx %s, TAP rx %s tx %s frames; netdev %s" % (
                  (r.get("killed_rc"), gap.get("operstate"), gap.get("carrier"),
                   r.get("gap_received"), r.get("gap_sent"),
                   " | ".join(r.get("gap_dmesg") or []) or "nothing",
                   " | ".join(r.get("resumed") or []) or "not resumed",
                   r.get("received"), r.get("sent")) + counts + (after.get("operstate"),)))
    check(record_property, vm_run, ok, detail)


@pytest.mark.parametrize("frontend", FRONTENDS + ("kernel",))
def test_vubnet_exit(vm_run, frontend, record_property):
    r = result(vm_run, frontend)
    check(record_property, vm_run, r.get("vubnet_rc") == 0,
          "%s: vub-net exit %s; its errors: %s" % (frontend, r.get("vubnet_rc"),
                                                   r.get("vubnet_log")))
