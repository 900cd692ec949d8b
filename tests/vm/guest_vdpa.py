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

With --bench ROUNDS (tests/perf/vdpa_bench.py) it runs no ping: per round and frontend,
vub-net with its TAP up and testpmd txonly, each --bench-sizes frame size for
--bench-window seconds, one line per size
    RESULT {"bench": true, "frontend": F, "round": N, "size": S, "pps": ..., "tap_pps": ...}
(pps: testpmd's opackets; tap_pps: the TAP's rx_packets, what vub-net wrote into it).

    guest_vdpa.py --out DIR --plugin SO --vubnet BIN --pings N [--frontends vuser,dpdk]
    guest_vdpa.py --out DIR --plugin SO --vubnet BIN --bench 3 [--bench-sizes 64,1518]
"""

import argparse
import glob
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


def vdpa_bind(driver):
    """Bind the vDPA device to driver (vhost_vdpa or virtio_vdpa): autoprobe is off
    (main), the device's driver_override names the one wanted."""
    dev = "/sys/bus/vdpa/devices/%s" % VDPA_NAME
    with open(os.path.join(dev, "driver_override"), "w") as f:
        f.write(driver + "\n")
    with open("/sys/bus/vdpa/drivers_probe", "w") as f:
        f.write(VDPA_NAME + "\n")
    bound = os.path.basename(os.readlink(os.path.join(dev, "driver")))
    if bound != driver:
        raise RuntimeError("%s bound to %s, not %s" % (VDPA_NAME, bound, driver))


class VubNet:
    """vub-net --vduse, its VDUSE device added to the vDPA bus and bound to driver."""

    def __init__(self, binary, out, tag, driver="vhost_vdpa", added=False):
        """added: the vDPA device exists already (a restart): nothing is added or bound,
        vub-net serves it again."""
        self.log_path = os.path.join(out, "vub-net-%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "--vduse=%s" % VDPA_NAME, "--tap=%s" % TAP],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.added = added
        if added:
            dpdkapp.wait_until(lambda: "serving %s" % VDPA_NAME in self.output() or
                               self.proc.poll() is not None, START_TIMEOUT,
                               what="vub-net to serve the device again")
        else:
            dpdkapp.wait_until(lambda: os.path.exists("/dev/vduse/%s" % VDPA_NAME) or
                               self.proc.poll() is not None, START_TIMEOUT,
                               what="the VDUSE device")
        if self.proc.poll() is not None:
            raise RuntimeError("vub-net exited %d: %s" % (self.proc.returncode, self.output()))
        if added:
            return
        sh(VDPA, "dev", "add", "name", VDPA_NAME, "mgmtdev", "vduse")
        self.added = True
        vdpa_bind(driver)
        if driver == "vhost_vdpa":
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


def ping(count, src=None, dst=PEER_IP, deadline=None):
    """busybox ping -A (the next one when the reply is in): (sent, received)."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    deadline = deadline or 30 + count // 10
    p = subprocess.run([busybox, "ping", "-q", "-A", "-c", str(count), "-W", "5",
                        "-w", str(deadline)] + (["-I", src] if src else []) + [dst],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=deadline + 30)
    out = p.stdout.decode()
    print("GUEST ping: %s" % " | ".join(ln for ln in out.splitlines() if ln), flush=True)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def testpmd(args, frontend, fwd=None):
    """testpmd on /dev/vhost-vdpa-0 with the frontend's driver; fwd: its forwarding
    arguments (icmpecho by default)."""
    fwd = fwd or ["--forward-mode=icmpecho"]
    if frontend == "vuser":
        staged = dpdkapp.stage_plugin(args.plugin)
        return dpdkapp.Testpmd(
            "testpmd-vuser", args.out, plugins=[staged],
            vdevs=["net_vuser0,path=%s,mac=%s" % (VHOST_VDPA, PORT_MAC)],
            interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix="vdpavu",
            log_levels=["pmd.net.vuser:info"],
            app_args=fwd + ["--nb-cores=1", "--total-num-mbufs=4096", "--burst=32"]), staged
    return dpdkapp.Testpmd(
        "testpmd-dpdk", args.out,
        vdevs=["net_virtio_user0,path=%s,mac=%s" % (VHOST_VDPA, PORT_MAC)],
        interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix="vdpadk",
        app_args=fwd + ["--nb-cores=1", "--total-num-mbufs=4096", "--burst=32"]), None


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


KERNEL_NS_IP = "10.78.0.1"   # the virtio_vdpa netdev, in the guest's namespace
TAP_NS_IP = "10.78.0.2"      # vub-net's TAP, moved into a namespace of its own


class NetNs:
    """A network namespace held by a sleeping `unshare -n` process (the guest's root is
    read-only: no `ip netns` files); commands run in it through nsenter."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "-n", "sleep", "600"],
                                     stdin=subprocess.DEVNULL)
        dpdkapp.wait_until(lambda: os.readlink("/proc/%d/ns/net" % self.proc.pid) !=
                           os.readlink("/proc/self/ns/net"), 10, what="the namespace")

    def sh(self, *argv):
        return sh("nsenter", "-t", str(self.proc.pid), "-n", *argv)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def virtio_netdev():
    """The netdev virtio_net made of the vDPA device (its virtio device's net/ entry)."""
    found = glob.glob("/sys/bus/vdpa/devices/%s/virtio*/net/*" % VDPA_NAME)
    return os.path.basename(found[0]) if found else None


def link_stats(run, ifname):
    """(rx_packets, tx_packets) of ifname as `ip -s -j link` shows them where run runs."""
    info = json.loads(run("ip", "-s", "-j", "link", "show", "dev", ifname))[0]
    s = info["stats64"]
    return s["rx"]["packets"], s["tx"]["packets"], info.get("operstate")


def link_mac(run, ifname):
    return json.loads(run("ip", "-j", "link", "show", "dev", ifname))[0]["address"]


def setup_tap_side(ns, dev):
    """vub-net's TAP into ns, addressed, its neighbour static, IPv6 off."""
    sh("ip", "link", "set", TAP, "netns", str(ns.proc.pid))
    ns.sh("sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6" % TAP)
    ns.sh("ip", "link", "set", "lo", "up")
    ns.sh("ip", "addr", "add", "%s/24" % TAP_NS_IP, "dev", TAP)
    ns.sh("ip", "link", "set", TAP, "up")
    ns.sh("ip", "neigh", "replace", KERNEL_NS_IP, "lladdr", link_mac(sh, dev), "dev", TAP,
          "nud", "permanent")
    sh("ip", "neigh", "replace", TAP_NS_IP, "lladdr", link_mac(ns.sh, TAP), "dev", dev,
       "nud", "permanent")


def setup_kernel_pair(ns, dev):
    """The virtio_vdpa netdev here, the TAP in ns: addresses, static neighbours and no
    IPv6, so that the only frames crossing are the pings and their replies."""
    with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % dev, "w") as f:
        f.write("1\n")
    sh("ip", "addr", "add", "%s/24" % KERNEL_NS_IP, "dev", dev)
    sh("ip", "link", "set", dev, "up")
    setup_tap_side(ns, dev)


def counted_ping(res, ns, dev, count):
    """count pings from dev to the TAP; res gets sent, received and both sides'
    frame counts."""
    before_dev, before_tap = link_stats(sh, dev), link_stats(ns.sh, TAP)
    res["sent"], res["received"] = ping(count, KERNEL_NS_IP, TAP_NS_IP)
    after_dev, after_tap = link_stats(sh, dev), link_stats(ns.sh, TAP)
    res["dev_rx"], res["dev_tx"] = after_dev[0] - before_dev[0], after_dev[1] - before_dev[1]
    res["tap_rx"], res["tap_tx"] = after_tap[0] - before_tap[0], after_tap[1] - before_tap[1]


def dmesg_tail(lines=15):
    """The kernel's last lines (the console shows warnings only)."""
    p = subprocess.run(["dmesg"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    return p.stdout.decode(errors="replace").splitlines()[-lines:]


def kernel_view(dev):
    """What the guest kernel shows of the device: the netdev's operstate and carrier."""
    with open("/sys/class/net/%s/carrier" % dev) as f:
        carrier = f.read().strip()
    return {"operstate": link_stats(sh, dev)[2], "carrier": carrier}


def restart(args, res, vub, ns, dev):
    """vub-net killed (SIGKILL) and started again on the same VDUSE device: what the
    kernel shows meanwhile, then counted pings through the new process."""
    r = res["restart"] = {}
    dmesg_before = len(dmesg_tail(10000))
    vub.proc.kill()
    vub.proc.wait()
    vub.added = False          # the device stays: the new process serves it
    r["killed_rc"] = vub.proc.returncode
    r["gap_view"] = kernel_view(dev)
    r["gap_sent"], r["gap_received"] = ping(args.gap_pings, KERNEL_NS_IP, TAP_NS_IP,
                                            deadline=args.gap_pings + 1)
    r["gap_dmesg"] = dmesg_tail(10000)[dmesg_before:][-10:]
    res["vub"] = new = VubNet(args.vubnet, args.out, "restarted", added=True)
    setup_tap_side(ns, dev)
    r["after_view"] = kernel_view(dev)
    counted_ping(r, ns, dev, args.restart_pings)
    r["resumed"] = [ln for ln in new.output().splitlines() if "resume" in ln]


def run_kernel(args):
    """vub-net's VDUSE device bound to virtio_vdpa: the guest kernel's virtio_net netdev
    pings vub-net's TAP (in its own namespace) through libvub."""
    res = {"frontend": "kernel", "sent": 0, "received": 0}
    vub = ns = None
    try:
        vub = VubNet(args.vubnet, args.out, "kernel", driver="virtio_vdpa")
        dpdkapp.wait_until(lambda: virtio_netdev() is not None, START_TIMEOUT,
                           what="the virtio_vdpa netdev")
        dev = res["netdev"] = virtio_netdev()
        ns = NetNs()
        setup_kernel_pair(ns, dev)
        dpdkapp.wait_until(lambda: link_stats(sh, dev)[2] == "UP", 10,
                           what="%s's carrier" % dev)
        counted_ping(res, ns, dev, args.kernel_pings)
        if args.restart_pings:
            restart(args, res, vub, ns, dev)
        return res
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
        return res
    finally:
        if res.get("error") or res["received"] != res["sent"]:
            res["dmesg"] = dmesg_tail()
        # vub-net first (the restarted one, if any): the namespace's end deletes the
        # TAP under it
        vub = res.pop("vub", None) or vub
        if vub:
            res["vubnet_rc"] = vub.stop()
            res["vubnet_log"] = [ln for ln in vub.output().splitlines()
                                 if "error" in ln.lower() or "refused" in ln][-5:]
        if ns:
            ns.close()


def tap_rx():
    """Frames vub-net wrote into the TAP (the kernel counts a TAP write as its Rx)."""
    with open("/sys/class/net/%s/statistics/rx_packets" % TAP) as f:
        return int(f.read())


def wait_prompt(app, timeout):
    dpdkapp.wait_until(
        lambda: (not app.alive()) or re.search(dpdkapp.PROMPT, app.output(), re.M),
        timeout, what="testpmd to start")
    if "No probed ethernet devices" in app.output() or not app.alive():
        why = [ln for ln in app.output().splitlines() if "VUSER" in ln or "EAL" in ln or
               "virtio" in ln.lower()]
        raise RuntimeError("probe failed: " + " | ".join(why[-4:]))


def bench_one(args, frontend, rnd):
    """One round of one frontend: testpmd txonly into vub-net, each size for a fixed
    window after a warm-up; one RESULT line per size."""
    sizes = [int(x) for x in args.bench_sizes.split(",")]
    out = []
    vub = app = staged = None
    try:
        vub = VubNet(args.vubnet, args.out, "bench-%s-r%d" % (frontend, rnd))
        # up, or every TAP write fails; the kernel drops the frames (not its MAC)
        sh("ip", "link", "set", TAP, "up")
        app, staged = testpmd(args, frontend, ["--forward-mode=txonly",
                                               "--txpkts=%d" % sizes[0]])
        app.start()
        wait_prompt(app, args.start_timeout)
        for size in sizes:
            app.run("set txpkts %d" % size)
            app.start_forwarding("txonly")
            time.sleep(args.bench_warmup)
            s0, r0, t0 = app.stats(0), tap_rx(), time.monotonic()
            time.sleep(args.bench_window)
            s1, r1, t1 = app.stats(0), tap_rx(), time.monotonic()
            app.cmd("stop", wait=r"Done\.", timeout=30)
            sec = t1 - t0
            out.append({"bench": True, "frontend": frontend, "round": rnd, "size": size,
                        "seconds": round(sec, 3),
                        "pps": round(((s1.get("opackets") or 0) - (s0.get("opackets") or 0))
                                     / sec),
                        "tap_pps": round((r1 - r0) / sec)})
    except Exception as e:
        out.append({"bench": True, "frontend": frontend, "round": rnd,
                    "error": "%s: %s" % (type(e).__name__, e)})
        traceback.print_exc()
    finally:
        if app:
            app.stop(timeout=15)
        if staged:
            dpdkapp.unstage_plugin(staged)
        if vub:
            vub.stop()
    return out


def bench(args, frontends):
    for rnd in range(args.bench):
        for fe in frontends:
            for res in bench_one(args, fe, rnd):
                print("RESULT " + json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--vubnet", required=True)
    ap.add_argument("--pings", type=int, default=100)
    ap.add_argument("--frontends", default="vuser,dpdk,kernel")
    ap.add_argument("--kernel-pings", type=int, default=1000)
    ap.add_argument("--restart-pings", type=int, default=0,
                    help="then kill vub-net, start it again, ping this many times")
    ap.add_argument("--gap-pings", type=int, default=3)
    ap.add_argument("--start-timeout", type=float, default=150.0)
    ap.add_argument("--bench", type=int, default=0,
                    help="rounds of the txonly benchmark instead of the tests")
    ap.add_argument("--bench-sizes", default="64,1518")
    ap.add_argument("--bench-window", type=float, default=3.0)
    ap.add_argument("--bench-warmup", type=float, default=1.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sh("ip", "link", "set", "lo", "up")
    # each run binds its driver by name (vdpa_bind), not the first one that probes
    with open("/sys/bus/vdpa/drivers_autoprobe", "w") as f:
        f.write("0\n")
    frontends = [x for x in args.frontends.split(",") if x]
    if args.bench:
        bench(args, frontends)
        return 0
    for fe in frontends:
        res = run_kernel(args) if fe == "kernel" else run_one(args, fe)
        with open(os.path.join(args.out, "result-%s.json" % fe), "w") as f:
            json.dump(res, f)
        print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
