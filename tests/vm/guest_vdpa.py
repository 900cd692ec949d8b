#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the QEMU VM of test_vdpa_chain_vm.py (chrooted into the host's root, shared
read-only over 9p): vub-net as a VDUSE device with a TAP, bound to vhost_vdpa with
`vdpa dev add`, and testpmd on /dev/vhost-vdpa-0 in icmpecho mode; the guest kernel pings
the port through the TAP:

    kernel ping -> TAP vubd0 -> vub-net (libvub, VDUSE transport) -> VDUSE rings
    -> vhost_vdpa -> testpmd (net_vuser path=/dev/vhost-vdpa-0, or DPDK's
       net_virtio_user) -> icmpecho replies back the same way

For each frontend prints one line
    RESULT {"frontend": F, "sent": S, "received": R, "pmd_ipackets": ..., ...}
(JSON, also DIR/result-F.json); logs to DIR. Standard library only; every wait bounded.

    guest_vdpa.py --out DIR --plugin SO --vubnet BIN --pings N [--frontends vuser,dpdk]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402

VDPA_NAME = "vdpa0"
VHOST_VDPA = "/dev/vhost-vdpa-0"
TAP = "vubd0"
KERNEL_IP = "10.77.0.1"
PEER_IP = "10.77.0.2"
PORT_MAC = "02:00:00:77:00:02"
START_TIMEOUT = 20.0
VDPA = "/sbin/vdpa"


def sh(*argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stdout.decode().strip()))
    return p.stdout.decode()


class VubNet:
    """vub-net --vduse, its VDUSE device added to the vDPA bus (vhost_vdpa binds it)."""

    def __init__(self, binary, out, tag):
        self.log_path = os.path.join(out, "vub-net-%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "--vduse=%s" % VDPA_NAME, "--tap=%s" % TAP],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.added = False
        dpdkapp.wait_until(lambda: os.path.exists("/dev/vduse/%s" % VDPA_NAME) or
                           self.proc.poll() is not None, START_TIMEOUT,
                           what="the VDUSE device")
        if self.proc.poll() is not None:
            raise RuntimeError("vub-net exited %d: %s" % (self.proc.returncode, self.output()))
        sh(VDPA, "dev", "add", "name", VDPA_NAME, "mgmtdev", "vduse")
        self.added = True
        dpdkapp.wait_until(lambda: os.path.exists(VHOST_VDPA), START_TIMEOUT,
                           what=VHOST_VDPA)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """vdpa dev del, then SIGTERM; vub-net's exit code (None: killed)."""
        if self.added:
            subprocess.call([VDPA, "dev", "del", VDPA_NAME])
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.log.close()
        return self.proc.returncode


def kernel_side():
    v6 = "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % TAP
    if os.path.exists(v6):
        with open(v6, "w") as f:
            f.write("1\n")
    sh("ip", "addr", "add", "%s/24" % KERNEL_IP, "dev", TAP)
    sh("ip", "link", "set", TAP, "up")
    sh("ip", "neigh", "replace", PEER_IP, "lladdr", PORT_MAC, "dev", TAP, "nud", "permanent")


def ping(count):
    busybox = shutil.which("busybox") or "/bin/busybox"
    p = subprocess.run([busybox, "ping", "-q", "-A", "-c", str(count), "-W", "5",
                        "-w", str(30 + count), PEER_IP],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60 + count)
    out = p.stdout.decode()
    print("GUEST ping: %s" % " | ".join(ln for ln in out.splitlines() if ln), flush=True)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def testpmd(args, frontend):
    if frontend == "vuser":
        staged = dpdkapp.stage_plugin(args.plugin)
        return dpdkapp.Testpmd(
            "testpmd-vuser", args.out, plugins=[staged],
            vdevs=["net_vuser0,path=%s,mac=%s" % (VHOST_VDPA, PORT_MAC)],
            interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix="vdpavu",
            log_levels=["pmd.net.vuser:info"],
            app_args=["--forward-mode=icmpecho", "--nb-cores=1", "--total-num-mbufs=4096",
                      "--burst=32"]), staged
    return dpdkapp.Testpmd(
        "testpmd-dpdk", args.out,
        vdevs=["net_virtio_user0,path=%s,mac=%s" % (VHOST_VDPA, PORT_MAC)],
        interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix="vdpadk",
        app_args=["--forward-mode=icmpecho", "--nb-cores=1", "--total-num-mbufs=4096",
                  "--burst=32"]), None


def run_one(args, frontend):
    res = {"frontend": frontend, "sent": 0, "received": 0}
    vub = app = staged = None
    try:
        vub = VubNet(args.vubnet, args.out, frontend)
        app, staged = testpmd(args, frontend)
        app.start()
        dpdkapp.wait_until(
            lambda: (not app.alive()) or re.search(dpdkapp.PROMPT, app.output(), re.M),
            args.start_timeout, what="testpmd to start")
        if "No probed ethernet devices" in app.output() or not app.alive():
            why = [ln for ln in app.output().splitlines() if "VUSER" in ln or "EAL" in ln or
                   "virtio" in ln.lower()]
            res["error"] = "probe failed: " + " | ".join(why[-4:])
            return res
        app.start_forwarding("icmpecho")
        # the link is recorded, not waited on without end: DPDK's net_virtio_user may
        # not report a vDPA device's link (its vhost-vdpa backend reads no link state)
        try:
            app.wait_link_up(timeout=10)
            res["link_up"] = True
        except dpdkapp.DpdkAppError:
            res["link_up"] = False
        kernel_side()
        before = app.stats(0)
        res["sent"], res["received"] = ping(args.pings)
        after = dpdkapp.wait_stable(lambda: app.stats(0), 10.0, settle=0.5)
        for k in ("ipackets", "opackets", "ierrors", "oerrors", "rx_nombuf"):
            res["pmd_" + k] = (after.get(k) or 0) - (before.get(k) or 0)
        app.cmd("stop", wait=r"Done\.", timeout=30)
        return res
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
        return res
    finally:
        if app:
            app.stop(timeout=15)
            res["testpmd_rc"] = app.returncode
        if staged:
            dpdkapp.unstage_plugin(staged)
        if vub:
            res["vubnet_rc"] = vub.stop()
            res["vubnet_log"] = [ln for ln in vub.output().splitlines()
                                 if "error" in ln.lower() or "refused" in ln][-5:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--vubnet", required=True)
    ap.add_argument("--pings", type=int, default=100)
    ap.add_argument("--frontends", default="vuser,dpdk")
    ap.add_argument("--start-timeout", type=float, default=150.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sh("ip", "link", "set", "lo", "up")
    for fe in [x for x in args.frontends.split(",") if x]:
        res = run_one(args, fe)
        with open(os.path.join(args.out, "result-%s.json" % fe), "w") as f:
            json.dump(res, f)
        print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
