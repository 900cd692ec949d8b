#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vDPA benchmark in a TCG VM: net_vuser and DPDK's net_virtio_user on /dev/vhost-vdpa-0.

One boot of the vDPA tests' guest (bookworm-backports' 6.12 kernel, QEMU TCG, -smp 2;
tests/vm/test_vdpa_chain_vm.py's harness) runs tests/vm/guest_vdpa.py --bench ROUNDS:
for each round and each frontend driver (net_vuser, then net_virtio_user: only one
process opens the vhost-vdpa device at a time), vub-net --vduse=vdpa0 with its TAP up
is bound to vhost_vdpa, and testpmd on /dev/vhost-vdpa-0 forwards txonly, each frame
size for WINDOW seconds after a warm-up. The rate is the frontend's opackets over the
window (telemetry); the TAP's rx_packets (what vub-net wrote into it) is its cross-check.

Prints per-round rates, then per size the medians and the ratio
net_vuser / net_virtio_user. These are TCG figures: both guest vCPUs are emulated and
shared by testpmd and vub-net; they compare the two drivers on one device and say
nothing of hardware speed. Logs and the table go to results/vm-vdpa-bench/.

    flock /tmp/vuser-cpu.lock timeout 900 python3 tests/perf/vdpa_bench.py [--rounds 3]
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))

import dpdkapp  # noqa: E402
import qemuvm  # noqa: E402
import test_vdpa_chain_vm as chain  # noqa: E402
import test_vhost_net_vm as vhn  # noqa: E402

OUT = os.path.join(ROOT, "results", "vm-vdpa-bench")
FRONTENDS = (("vuser", "net_vuser"), ("dpdk", "net_virtio_user"))
VM_SMP = 2  # test_vhost_net_vm.run_vm's -smp


def boot(args, dest):
    """Boot the guest once with guest_vdpa.py --bench; return its RESULT records."""
    for path in (chain.PLUGIN, chain.vubnet_bin()):
        if not os.path.isfile(path):
            sys.exit("%s not built (make build)" % path)
    release = qemuvm.fetch_kernel(True)
    order, idx = qemuvm.module_order(release, chain.MODULES)
    guest_cmd = " ".join([
        "/usr/bin/python3", os.path.join(ROOT, "tests", "vm", "guest_vdpa.py"),
        "--out", "/run/vmout", "--plugin", chain.PLUGIN, "--vubnet", chain.vubnet_bin(),
        "--frontends", ",".join(f for f, _ in FRONTENDS), "--bench", str(args.rounds),
        "--bench-sizes", args.sizes, "--bench-window", str(args.window)])
    work = tempfile.mkdtemp(prefix="vuser-vdpabench-")
    out = os.path.join(work, "out")
    os.makedirs(out)
    try:
        initrd = os.path.join(work, "initrd.cpio")
        vhn.build_initramfs(order, idx, guest_cmd, initrd)
        console, seconds = vhn.run_vm(release, initrd, out, args.verbose)
    finally:
        shutil.copytree(out, dest, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    qemuvm.log("VM (%s) ran %.0fs; console in %s" % (release, seconds,
                                                     os.path.join(dest, "console.log")))
    recs = []
    for ln in console.splitlines():
        if ln.startswith("RESULT "):
            try:
                r = json.loads(ln[len("RESULT "):])
            except ValueError:
                continue
            if r.get("bench"):
                recs.append(r)
    return release, recs


def table(args, release, recs):
    """The table's lines: per-round rates, medians, the ratio."""
    lines = ["vDPA benchmark, TCG (QEMU -accel tcg, -smp %d, guest %s), %s UTC"
             % (VM_SMP, release, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")),
             "frontend testpmd txonly -> /dev/vhost-vdpa-0 -> VDUSE -> vub-net -> TAP;"
             " %d rounds, %.0f s window" % (args.rounds, args.window), ""]
    errors = [r for r in recs if r.get("error")]
    lines.append("%-6s %-16s %-28s %10s %10s" % ("size", "driver", "Mpps per round",
                                                 "median", "TAP med."))
    for size in [int(x) for x in args.sizes.split(",")]:
        med = {}
        for tag, name in FRONTENDS:
            rs = [r for r in recs if r["frontend"] == tag and r.get("size") == size]
            pps = [r["pps"] for r in rs]
            if not pps:
                lines.append("%-6d %-16s %s" % (size, name, "no result"))
                continue
            med[tag] = statistics.median(pps)
            lines.append("%-6d %-16s %-28s %10.4f %10.4f" % (
                size, name, " ".join("%.4f" % (p / 1e6) for p in pps), med[tag] / 1e6,
                statistics.median(r["tap_pps"] for r in rs) / 1e6))
        if len(med) == 2 and med["dpdk"]:
            lines.append("%-6d %-16s %.2f" % (size, "ratio vuser/dpdk", med["vuser"] /
                                               med["dpdk"]))
    for r in errors:
        lines.append("error: %s round %d: %s" % (r["frontend"], r["round"], r["error"]))
    return lines, not errors and recs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="64,1518")
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the whole console")
    args = ap.parse_args()
    dest, _lock = dpdkapp.claim_log_dir(OUT)
    release, recs = boot(args, dest)
    lines, ok = table(args, release, recs)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(os.path.join(dest, "table.txt"), "w") as f:
        f.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
