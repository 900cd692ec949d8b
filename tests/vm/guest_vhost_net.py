#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the QEMU VM of test_vhost_net_vm.py (chrooted into the host's root, shared
read-only over 9p): testpmd with the vuser PMD on path=/dev/vhost-net and a TAP, the
kernel sending UDP through the TAP, testpmd (5tswap) sending it back.

    guest_vhost_net.py --out DIR --plugin SO --queues 1,2 --packets 1000

For each queue count prints one line
    RESULT {"queues": N, "sent": S, "returned": R, ...}
(JSON, also written to DIR/result-qN.json) and testpmd's log to DIR/testpmd-qN.log.
Standard library only; every wait is bounded.
"""

import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402

TAP = "vutap0"
KERNEL_IP = "10.99.0.1"
PEER_IP = "10.99.0.2"      # behind the DPDK port: a permanent neighbour, no ARP
# The neighbour's MAC is the port's own, which the TAP has too (mac= goes to both): the
# port accepts it whatever its receive filter (promiscuous or not) is at the moment.
DST_PORT = 9000
WINDOW = 32                # packets in flight: bounded so no ring or TAP queue overflows
REPLY_TIMEOUT = 5.0        # no reply for this long: the rest counts as lost


def sh(*argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stdout.decode().strip()))
    return p.stdout.decode()


def tap_queues(ifname):
    """numqueues of the TAP as the kernel reports it (1 for a single-queue TAP)."""
    info = json.loads(sh("ip", "-j", "-d", "link", "show", "dev", ifname))[0]
    data = info.get("linkinfo", {}).get("info_data", {})
    return data.get("numqueues", 1) if data.get("multi_queue") else 1, data


def exchange(npackets, nflows):
    """Send npackets UDP datagrams to PEER_IP over nflows source ports (so that a
    multi-queue TAP spreads them), at most WINDOW unanswered; count the answers."""
    socks = []
    for i in range(nflows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((KERNEL_IP, 40000 + i))
        s.setblocking(False)
        socks.append(s)
    by_fd = {s.fileno(): s for s in socks}
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    sent = 0
    answered = set()
    bad = 0
    last_progress = time.monotonic()
    t0 = time.monotonic()
    while len(answered) < npackets:
        while sent < npackets and sent - len(answered) < WINDOW:
            payload = b"vuser-%06d" % sent + bytes(40)
            socks[sent % nflows].sendto(payload, (PEER_IP, DST_PORT))
            sent += 1
        events = poller.poll(200)
        for fd, _ in events:
            while True:
                try:
                    data, src = by_fd[fd].recvfrom(2048)
                except BlockingIOError:
                    break
                m = re.match(rb"vuser-(\d{6})", data)
                # 5tswap answers from the address and port we sent to
                if m and src == (PEER_IP, DST_PORT):
                    answered.add(int(m.group(1)))
                    last_progress = time.monotonic()
                else:
                    bad += 1
        if time.monotonic() - last_progress > REPLY_TIMEOUT:
            break
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    return sent, len(answered), bad, elapsed


def start_forwarding(app):
    """'start' (done once the Rx queues are drained, dpdkapp), then the link."""
    app.start_forwarding("5tswap")
    app.wait_link_up(timeout=30)


def run_one(args, queues):
    res = {"queues": queues, "sent": 0, "returned": 0}
    prefix = "vmq%d" % queues
    staged = dpdkapp.stage_plugin(args.plugin)
    vdev = "net_vuser0,path=/dev/vhost-net,iface=%s,queues=%d" % (TAP, queues)
    app = dpdkapp.Testpmd(
        "testpmd-q%d" % queues, args.out, vdevs=[vdev], plugins=[staged],
        interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix=prefix,
        log_levels=["pmd.net.vuser:info"],
        app_args=["--forward-mode=5tswap", "--rxq=%d" % queues, "--txq=%d" % queues,
                  "--nb-cores=1", "--total-num-mbufs=4096", "--burst=32"])
    t0 = time.monotonic()
    try:
        app.start()
        dpdkapp.wait_until(
            lambda: (not app.alive()) or re.search(dpdkapp.PROMPT, app.output(), re.M),
            args.start_timeout, what="testpmd to start")
        res["testpmd_start_s"] = round(time.monotonic() - t0, 1)
        out = app.output()
        if "No probed ethernet devices" in out or not app.alive():
            why = [ln for ln in out.splitlines() if "VUSER" in ln or "EAL: " in ln]
            res["error"] = "probe failed: " + " | ".join(why[-3:])
            return res
        res["tap_queues"], res["tap_info"] = tap_queues(TAP)
        # no IPv6 chatter (router solicitations) mixed into the counts
        v6 = "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % TAP
        if os.path.exists(v6):
            with open(v6, "w") as f:
                f.write("1\n")
        sh("ip", "addr", "add", "%s/24" % KERNEL_IP, "dev", TAP)
        sh("ip", "link", "set", TAP, "up")
        with open("/sys/class/net/%s/address" % TAP) as f:
            res["port_mac"] = f.read().strip()
        sh("ip", "neigh", "replace", PEER_IP, "lladdr", res["port_mac"], "dev", TAP,
           "nud", "permanent")
        start_forwarding(app)
        before = app.stats(0)
        sent, returned, bad, elapsed = exchange(args.packets, nflows=8 * queues)
        # let the counters settle (bounded), then read them
        after = dpdkapp.wait_stable(lambda: app.stats(0), 10.0, settle=0.5)
        res.update(sent=sent, returned=returned, foreign=bad, seconds=round(elapsed, 2))
        for k in ("ipackets", "opackets", "ierrors", "oerrors", "rx_nombuf", "imissed"):
            res["pmd_" + k] = (after.get(k) or 0) - (before.get(k) or 0)
        nq = queues
        res["pmd_q_ipackets"] = [(after.get("q_ipackets") or [0] * nq)[i] -
                                 (before.get("q_ipackets") or [0] * nq)[i] for i in range(nq)]
        res["pmd_q_opackets"] = [(after.get("q_opackets") or [0] * nq)[i] -
                                 (before.get("q_opackets") or [0] * nq)[i] for i in range(nq)]
        # stop and restart the port: the rings are handed to vhost-net again (the kernel
        # refuses to change a ring that still has a backend), and traffic flows again
        app.cmd("stop", wait=r"Done\.", timeout=30)
        app.cmd("port stop 0", wait=r"Done", timeout=30)
        app.cmd("port start 0", wait=r"Done", timeout=30)
        start_forwarding(app)
        before = app.stats(0)
        r_sent, r_returned, _, _ = exchange(100, nflows=8 * queues)
        after = dpdkapp.wait_stable(lambda: app.stats(0), 10.0, settle=0.5)
        res.update(restart_sent=r_sent, restart_returned=r_returned)
        res["restart_pmd"] = {k: (after.get(k) or 0) - (before.get(k) or 0)
                              for k in ("ipackets", "opackets", "ierrors", "oerrors",
                                        "rx_nombuf", "imissed")}
        tap = json.loads(sh("ip", "-j", "-s", "link", "show", "dev", TAP))[0]["stats64"]
        res["tap_tx_dropped"] = tap["tx"]["dropped"]
        res["tap_rx_dropped"] = tap["rx"]["dropped"]
        return res
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
        return res
    finally:
        app.stop(timeout=15)
        res["testpmd_rc"] = app.returncode
        res["tap_left"] = os.path.exists("/sys/class/net/%s" % TAP)
        dpdkapp.unstage_plugin(staged)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--queues", default="1,2")
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--start-timeout", type=float, default=150.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("GUEST kernel %s, /dev/vhost-net %s" % (
        os.uname().release, "present" if os.path.exists("/dev/vhost-net") else "MISSING"),
        flush=True)
    sh("ip", "link", "set", "lo", "up")
    for q in [int(x) for x in args.queues.split(",")]:
        res = run_one(args, q)
        with open(os.path.join(args.out, "result-q%d.json" % q), "w") as f:
            json.dump(res, f)
        print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
