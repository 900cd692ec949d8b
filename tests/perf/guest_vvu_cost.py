#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the slave VM of tests/perf/vvu_cost.py: the same backend (testpmd with
net_vubackend) over both of libvub's transports, one after the other, measured the same
way.

    guest_vvu_cost.py --out DIR --plugin VUB.so --vuser-plugin VUSER.so --pci ADDR \
        --rounds 5 --warmup 1 --window 3

1. vvu: net_vubackend transport=vvu on the device; its master is net_vuser's testpmd on
   the host, which the host starts and drives through files in DIR (shared over 9p):
       guest  vvu-slave-up         host  vvu-master-up   (the master's link is up)
       guest  cmd<N>.json          host  ack<N>          ({"fwd": mode} or {"stop": 1})
       guest  vvu-done             host  vvu-master-done
2. af_unix: net_vubackend on a socket in the guest and a net_vuser testpmd master in
   the guest too (the two forwarding lcores on the two vCPUs).

Per transport and direction (m2s: the master sends txonly, the backend counts rxonly;
s2m: the backend sends txonly, the master rxonly), each round starts both sides,
waits --warmup s, and takes the backend's counter growth over --window s (the guest's
clock). The frames: testpmd's 64-byte txonly UDP, bursts of 32. cost.json has the
rates. Standard library only (and tests/lib).
"""

import argparse
import json
import os
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402
import vhostpeer  # noqa: E402

HUGEPAGES = 4             # the VVU transport's message rings: one 2 MiB page
TURN_TIMEOUT = 300.0
START_TIMEOUT = 200.0
UNIX_SOCK = "/run/vub-cost.sock"
# direction: (the master's mode, the backend's mode, the backend counter measured)
DIRECTIONS = {"m2s": ("txonly", "rxonly", "ipackets"),
              "s2m": ("rxonly", "txonly", "opackets")}


def wait_file(out, name, timeout=TURN_TIMEOUT):
    path = os.path.join(out, name)
    dpdkapp.wait_until(lambda: os.path.exists(path), timeout, interval=0.1,
                       what="the host's %s" % name)
    return path


def put(out, name, data=None):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data or {}, f)
    os.rename(tmp, os.path.join(out, name))


class HostMaster:
    """The master on the host, driven through command files."""

    def __init__(self, out):
        self.out, self.n = out, 0

    def command(self, cmd):
        self.n += 1
        put(self.out, "cmd%d.json" % self.n, cmd)
        wait_file(self.out, "ack%d" % self.n)

    def start(self, mode):
        self.command({"fwd": mode})

    def stop(self):
        self.command({"stop": 1})


class LocalMaster:
    """The master in the guest."""

    def __init__(self, app):
        self.app = app

    def start(self, mode):
        self.app.run("set fwd %s" % mode)
        self.app.start_forwarding(mode)

    def stop(self):
        self.app.run("stop")


def measure(slave, master, args):
    """{direction: [packets per second of each round]} at the backend."""
    res = {}
    for d, (mmode, smode, key) in DIRECTIONS.items():
        rates = []
        for _ in range(args.rounds):
            # the receiver first: the sender's first bursts find it polling
            first, second = ((slave, smode), (master, mmode)) if d == "m2s" else \
                ((master, mmode), (slave, smode))
            for side, mode in (first, second):
                if side is slave:
                    slave.run("set fwd %s" % mode)
                    slave.start_forwarding(mode)
                else:
                    side.start(mode)
            time.sleep(args.warmup)
            t0, s0 = dpdkapp.sample(slave)
            time.sleep(args.window)
            t1, s1 = dpdkapp.sample(slave)
            slave.run("stop")
            master.stop()
            rates.append(round(dpdkapp.Rate(s0, s1, t0, t1).pps(key)))
        res[d] = rates
        print("RESULT %s" % json.dumps({d: rates}), flush=True)
    return res


def start_slave(args, name, vdev):
    app = dpdkapp.Testpmd(name, args.out, vdevs=[vdev], plugins=[args.staged],
                          interactive=True, lcores="0,1", main_lcore=0, mem_mb=128,
                          file_prefix=name.replace("-", ""), app_args=vhostpeer.app_args())
    app.start()
    app.wait_ready(timeout=START_TIMEOUT)
    return app


def vvu_phase(args):
    slave = start_slave(args, "cost-vvu", "net_vubackend0,transport=vvu,pci=%s" % args.pci)
    try:
        put(args.out, "vvu-slave-up")
        wait_file(args.out, "vvu-master-up")
        slave.wait_link_up(timeout=TURN_TIMEOUT)
        res = measure(slave, HostMaster(args.out), args)
        put(args.out, "vvu-done")
        wait_file(args.out, "vvu-master-done")
        return res
    finally:
        slave.stop(timeout=30)


def unix_phase(args):
    slave = start_slave(args, "cost-unix", "net_vubackend0,iface=%s" % UNIX_SOCK)
    master = None
    try:
        master = vhostpeer.start_frontend("cost-unix-master", args.out, "vuser",
                                          "path=%s" % UNIX_SOCK, vhostpeer.app_args(),
                                          plugin=args.staged_vuser)
        master.wait_ready(timeout=START_TIMEOUT)
        slave.wait_link_up(timeout=TURN_TIMEOUT)
        master.wait_link_up(timeout=TURN_TIMEOUT)
        return measure(slave, LocalMaster(master), args)
    finally:
        if master:
            master.stop(timeout=30)
        slave.stop(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--vuser-plugin", required=True)
    ap.add_argument("--pci", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--warmup", type=float, required=True)
    ap.add_argument("--window", type=float, required=True)
    args = ap.parse_args()
    with open("/proc/sys/vm/nr_hugepages", "w") as f:
        f.write("%d\n" % HUGEPAGES)
    args.staged = dpdkapp.stage_plugin(args.plugin)
    args.staged_vuser = dpdkapp.stage_plugin(args.vuser_plugin)
    res = {}
    try:
        res["vvu"] = vvu_phase(args)
        res["af_unix"] = unix_phase(args)
    except Exception as e:  # the host reports it
        res["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
    finally:
        dpdkapp.unstage_plugin(args.staged)
        dpdkapp.unstage_plugin(args.staged_vuser)
        put(args.out, "cost.json", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
