#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The VVU transport's cost against AF_UNIX for the same backend, in one TCG slave VM.

    flock /tmp/vuser-cpu.lock python3 tests/perf/vvu_cost.py [--rounds 5] [--window 3]
    make bench-vvu                        # the same (BENCH_VVU_ARGS=... for options)

Boots the slave VM of tests/vm/test_vvu_vm.py once (TCG, 2 vCPUs, the project's QEMU
with the virtio-vhost-user device) and runs tests/perf/guest_vvu_cost.py in it:
net_vubackend's testpmd with transport=vvu, whose master is net_vuser's testpmd here on
the host, then net_vubackend over AF_UNIX with a net_vuser testpmd master in the guest.
Each side sends or counts 64-byte frames (txonly/rxonly, both directions); the rate is
the backend's counter growth over a fixed window, several rounds, medians reported with
the ratio VVU / AF_UNIX. TCG numbers: the guest's CPU is emulated, so they say how the
two transports compare under TCG here, not what either does under KVM. Results in
results/perf-vvu/<timestamp>/ (cost.json, table.md, logs).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

import dpdkapp  # noqa: E402
import qemuvm  # noqa: E402
import vhostpeer  # noqa: E402
from test_vvu_device import qemu_vvu  # noqa: E402
from test_vvu_vm import build_initramfs, qemu_argv, vubackend_plugin, MODULES  # noqa: E402

PCI_ADDR = "0000:00:10.0"
VM_TIMEOUT = 900
BOOT_TIMEOUT = 150
TURN_TIMEOUT = 300
MASTER_TIMEOUT = 120
LABELS = {"m2s": "master -> backend (master txonly, backend rxonly)",
          "s2m": "backend -> master (backend txonly, master rxonly)"}


def wait_file(out, name, vm, timeout=TURN_TIMEOUT):
    path = os.path.join(out, name)
    dpdkapp.wait_until(lambda: os.path.exists(path) or not vm.is_alive(), timeout,
                       interval=0.1, what="the guest's %s" % name)
    if not os.path.exists(path):
        raise RuntimeError("the VM ended before %s" % name)
    return path


def serve_master(out, sock, vm, plugin, log_dir):
    """The VVU phase's master: net_vuser's testpmd on the VMM's socket, forwarding as
    the guest's command files say until vvu-done."""
    wait_file(out, "vvu-slave-up", vm)
    app = vhostpeer.start_frontend("cost-master", log_dir, "vuser", "path=%s" % sock,
                                   vhostpeer.app_args(), plugin=plugin)
    try:
        app.wait_ready(timeout=MASTER_TIMEOUT)
        app.wait_link_up(timeout=MASTER_TIMEOUT)
        open(os.path.join(out, "vvu-master-up"), "w").close()
        n = 0
        while True:
            n += 1
            cmd, done = os.path.join(out, "cmd%d.json" % n), os.path.join(out, "vvu-done")
            dpdkapp.wait_until(lambda: os.path.exists(cmd) or os.path.exists(done)
                               or not vm.is_alive(), TURN_TIMEOUT, interval=0.05,
                               what="the guest's next command")
            if not os.path.exists(cmd):
                break
            with open(cmd) as f:
                c = json.load(f)
            if "fwd" in c:
                app.run("set fwd %s" % c["fwd"])
                app.start_forwarding(c["fwd"])
            else:
                app.run("stop")
            open(os.path.join(out, "ack%d" % n), "w").close()
    finally:
        app.stop(timeout=30)
        open(os.path.join(out, "vvu-master-done"), "w").close()
    return app.returncode


def table(res, args):
    lines = ["| direction | VVU (master on the host) | AF_UNIX (master in the guest) "
             "| VVU / AF_UNIX |", "|---|---|---|---|"]
    for d, label in LABELS.items():
        v, u = statistics.median(res["vvu"][d]), statistics.median(res["af_unix"][d])
        lines.append("| %s | %.0f | %.0f | %.2f |" % (label, v, u, v / u if u else 0))
    lines.append("")
    lines.append("frames/s at the backend, median of %d rounds of %.1f s (warm-up %.1f s); "
                 "64-byte frames, bursts of 32; TCG guest, 2 vCPUs" % (args.rounds,
                                                                       args.window,
                                                                       args.warmup))
    for t in ("vvu", "af_unix"):
        lines.append("%s rounds: %s" % (t, json.dumps(res[t])))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "perf-vvu"))
    args = ap.parse_args()
    qemu, why = qemu_vvu()
    if not qemu:
        sys.exit("vvu_cost: " + why)
    release = qemuvm.fetch_kernel()
    plugin, vplugin = vubackend_plugin(), dpdkapp.plugin_path()
    run_dir = os.path.join(args.out, time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(run_dir)
    work = tempfile.mkdtemp(prefix="vuser-vvu-cost-")
    out, sock = os.path.join(work, "out"), os.path.join(work, "vvu.sock")
    os.makedirs(out)
    guest_cmd = " ".join([
        "/usr/bin/python3", os.path.join(HERE, "guest_vvu_cost.py"), "--out", "/run/vmout",
        "--plugin", plugin, "--vuser-plugin", vplugin, "--pci", PCI_ADDR,
        "--rounds", str(args.rounds), "--warmup", str(args.warmup),
        "--window", str(args.window)])
    initrd = os.path.join(work, "initrd.cpio")
    order, idx = qemuvm.module_order(release, MODULES)
    build_initramfs(order, idx, guest_cmd, initrd)
    booted = {}
    vm = threading.Thread(target=lambda: booted.update(run=qemuvm.boot_vm(
        qemu_argv(qemu, release, initrd, sock, out), os.path.join(run_dir, "console.log"),
        False, ("VMTEST: booted",), VM_TIMEOUT, BOOT_TIMEOUT)), daemon=True)
    staged = dpdkapp.stage_plugin(vplugin)
    try:
        vm.start()
        serve_master(out, sock, vm, staged, run_dir)
        vm.join(VM_TIMEOUT)
    finally:
        dpdkapp.unstage_plugin(staged)
        shutil.copytree(out, run_dir, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    try:
        with open(os.path.join(run_dir, "cost.json")) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"error": "no cost.json from the guest (console.log in %s)" % run_dir}
    if "error" in res or "af_unix" not in res:
        sys.exit("vvu_cost: %s" % res.get("error", res))
    text = table(res, args)
    with open(os.path.join(run_dir, "table.md"), "w") as f:
        f.write(text)
    print(text + "results in %s" % run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
