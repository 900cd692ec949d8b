#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the QEMU VM of test_vhost_net_vm.py (chrooted into the host's root, shared
read-only over 9p): testpmd with the vuser PMD on path=/dev/vhost-net and a TAP, the
kernel sending UDP through the TAP, testpmd (5tswap) sending it back.

    guest_vhost_net.py --out DIR --plugin SO --queues 1,2 --packets 1000 --jumbo 100

For each queue count prints one line
    RESULT {"queues": N, "sent": S, "returned": R, ...}
(JSON, also written to DIR/result-qN.json) and testpmd's log to DIR/testpmd-qN.log.
With --jumbo N (0: not run), testpmd in icmpecho mode with MTU 9000 (--max-pkt-len) and
the kernel pinging it N times with 8000 bytes of data through the TAP, before and after
MTU changes on the running and on the stopped port:
    RESULT {"jumbo": N, "mtu_at_start": 9000, "ping": [...], ...}
(DIR/result-jumbo.json, DIR/testpmd-jumbo.log). Queue counts may be empty (--queues "").
Standard library only; every wait is bounded.
"""

import argparse
import json
import os
import re
import select
import shutil
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


def start_forwarding(app, mode="5tswap"):
    """'start' (done once the Rx queues are drained, dpdkapp), then the link."""
    app.start_forwarding(mode)
    app.wait_link_up(timeout=30)


def tap_mtu(ifname):
    return json.loads(sh("ip", "-j", "link", "show", "dev", ifname))[0]["mtu"]


def kernel_side(res):
    """The TAP's address, and the port as the neighbour behind it (no ARP)."""
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
        kernel_side(res)
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


JUMBO_MTU = 9000
JUMBO_DATA = 8000          # ICMP data bytes: one 8042-byte frame at MTU 9000
JUMBO_FRAME = 14 + 20 + 8 + JUMBO_DATA
# testpmd's frame length for an MTU is the MTU plus the port's overhead (max_rx_pktlen -
# max_mtu = 30, as DPDK's virtio driver reports it)
JUMBO_MAX_PKT_LEN = JUMBO_MTU + 30


def ping(count, size, res, tag):
    """busybox ping (the host has no iputils): count echo requests of `size` data bytes,
    each sent once the last reply came (-A), within a deadline. Returns the replies."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    p = subprocess.run([busybox, "ping", "-q", "-A", "-c", str(count), "-s", str(size),
                        "-W", "5", "-w", str(30 + count), PEER_IP],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60 + count)
    out = p.stdout.decode()
    print("GUEST %s: %s" % (tag, " | ".join(ln for ln in out.splitlines() if ln)), flush=True)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    summary = [ln for ln in out.splitlines() if "packets transmitted" in ln]
    res.setdefault("ping", []).append({"tag": tag, "summary": summary[0] if summary else out,
                                       "sent": int(m.group(1)) if m else 0,
                                       "received": int(m.group(2)) if m else 0})
    return int(m.group(2)) if m else 0


def ping_counted(app, count, res, tag):
    """Ping through the forwarding port; testpmd's counters of the exchange alongside."""
    before = app.stats(0)
    ping(count, JUMBO_DATA, res, tag)
    after = dpdkapp.wait_stable(lambda: app.stats(0), 10.0, settle=0.5)
    res["ping"][-1]["pmd"] = {k: (after.get(k) or 0) - (before.get(k) or 0)
                              for k in ("ipackets", "opackets", "ibytes", "obytes",
                                        "ierrors", "oerrors", "rx_nombuf")}


def run_jumbo(args):
    """MTU 9000 from testpmd's command line to the TAP, 8000-byte pings through vhost-net
    (testpmd icmpecho answers them), then MTU changes on the running and the stopped port."""
    res = {"jumbo": args.jumbo}
    staged = dpdkapp.stage_plugin(args.plugin)
    vdev = "net_vuser0,path=/dev/vhost-net,iface=%s,queues=1" % TAP
    app = dpdkapp.Testpmd(
        "testpmd-jumbo", args.out, vdevs=[vdev], plugins=[staged],
        interactive=True, lcores="0,1", main_lcore=0, mem_mb=256, file_prefix="vmjumbo",
        log_levels=["pmd.net.vuser:info"],
        app_args=["--forward-mode=icmpecho", "--max-pkt-len=%d" % JUMBO_MAX_PKT_LEN,
                  "--tx-offloads=0x8000", "--nb-cores=1", "--total-num-mbufs=4096",
                  "--burst=32"])
    t0 = time.monotonic()
    try:
        app.start()
        dpdkapp.wait_until(
            lambda: (not app.alive()) or re.search(dpdkapp.PROMPT, app.output(), re.M),
            args.start_timeout, what="testpmd to start")
        res["testpmd_start_s"] = round(time.monotonic() - t0, 1)
        if "No probed ethernet devices" in app.output() or not app.alive():
            res["error"] = "probe failed"
            return res
        # configured before the start (--max-pkt-len): the TAP has it once the port runs
        res["mtu_at_start"] = tap_mtu(TAP)
        res["ip_link_at_start"] = sh("ip", "link", "show", "dev", TAP).splitlines()[0]
        print("GUEST %s" % res["ip_link_at_start"], flush=True)
        kernel_side(res)
        start_forwarding(app, "icmpecho")
        ping_counted(app, args.jumbo, res, "mtu 9000 from --max-pkt-len")
        # the running port: the TAP follows at once
        out = app.run("port config mtu 0 1500")
        res["running_set"] = out.strip().splitlines()[1:]
        res["mtu_running_1500"] = tap_mtu(TAP)
        # the stopped port: the TAP follows at the start
        app.cmd("stop", wait=r"Done\.", timeout=30)
        app.cmd("port stop 0", wait=r"Done", timeout=30)
        out = app.run("port config mtu 0 %d" % JUMBO_MTU)
        res["stopped_set"] = out.strip().splitlines()[1:]
        res["mtu_stopped_9000"] = tap_mtu(TAP)
        app.cmd("port start 0", wait=r"Done", timeout=30)
        res["mtu_restarted"] = tap_mtu(TAP)
        res["ip_link_restarted"] = sh("ip", "link", "show", "dev", TAP).splitlines()[0]
        print("GUEST %s" % res["ip_link_restarted"], flush=True)
        start_forwarding(app, "icmpecho")
        ping_counted(app, args.jumbo, res, "mtu 9000 set on the stopped port")
        return res
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
        return res
    finally:
        app.stop(timeout=15)
        res["testpmd_rc"] = app.returncode
        dpdkapp.unstage_plugin(staged)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--queues", default="1,2")
    ap.add_argument("--packets", type=int, default=1000)
    ap.add_argument("--jumbo", type=int, default=0, metavar="PINGS")
    ap.add_argument("--start-timeout", type=float, default=150.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("GUEST kernel %s, /dev/vhost-net %s" % (
        os.uname().release, "present" if os.path.exists("/dev/vhost-net") else "MISSING"),
        flush=True)
    sh("ip", "link", "set", "lo", "up")
    for q in [int(x) for x in args.queues.split(",") if x]:
        res = run_one(args, q)
        with open(os.path.join(args.out, "result-q%d.json" % q), "w") as f:
            json.dump(res, f)
        print("RESULT " + json.dumps(res), flush=True)
    if args.jumbo:
        res = run_jumbo(args)
        with open(os.path.join(args.out, "result-jumbo.json"), "w") as f:
            json.dump(res, f)
        print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
