#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the slave VM of test_vvu_vm.py (chrooted into the host's root over 9p):
testpmd with net_vubackend on the virtio-vhost-user device (transport=vvu), the vhost-user
backend of masters that connect to the slave VMM's socket on the host.

    guest_vvu.py --out DIR --plugin SO --pci 0000:00:10.0 --pci2 0000:00:11.0 \
        --rounds 4 --restarts 2 --bursts 313

The host and the guest take turns through files in DIR (shared over 9p), one round per
master connection:

    guest  slave-ready            testpmd is up, the device waits for a master
    host   round<K>-go            a master is connected and its link is up
    guest  round<K>-rx-ready      the slave forwards (counting sink, Tx retry)
    host   round<K>-tx-sent       the master sent BURSTS x 32 frames, now it counts
    guest  round<K>.json          the slave counted them, then sent as many back
    host   round<K>-master-done   the master of the round has exited (or, in the
                                  restart rounds, has counted)
    guest  slave-done.json        after the last round: testpmd's exit codes

Then the restart rounds, on the second device (whose VMM connects to a master in server
mode on the host, reconnecting): each starts a new slave testpmd, says
round<K>-slave-up, runs the round as above and quits, while the master stays up. The
host's masters-done ends every wait early.

Standard library only (and tests/lib); every wait is bounded.
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

# libvub's VVU transport keeps its message rings in one 2 MiB huge page; testpmd itself
# runs without (net_vubackend copies, nothing in it is DMA'd)
HUGEPAGES = 4
TURN_TIMEOUT = 300.0      # the host's part of a round under TCG
SETTLE_TIMEOUT = 180.0


def wait_file(out, name, timeout=TURN_TIMEOUT):
    """The host's file; the host giving up (masters-done) ends the wait early."""
    path, done = os.path.join(out, name), os.path.join(out, "masters-done")
    dpdkapp.wait_until(lambda: os.path.exists(path) or os.path.exists(done), timeout,
                       interval=0.2, what="the host's %s" % name)
    if not os.path.exists(path):
        raise RuntimeError("the host stopped before %s" % name)
    return path


def put(out, name, data=None):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data or {}, f)
    os.rename(tmp, os.path.join(out, name))


def one_round(app, args, k):
    n = args.bursts * vhostpeer.BURST
    wait_file(args.out, "round%d-go" % k)
    s0 = app.stats(0)
    app.start_forwarding()
    put(args.out, "round%d-rx-ready" % k)
    wait_file(args.out, "round%d-tx-sent" % k)
    res = {"round": k}
    try:
        rx = dpdkapp.settle_all([(app, 0, s0, "ipackets", n)], SETTLE_TIMEOUT)[0]
    finally:
        app.run("stop")
    res["rx"] = dpdkapp.shown(rx)
    s1 = app.stats(0)
    t0 = time.monotonic()
    try:
        app.run("start tx_first %d" % args.bursts, timeout=SETTLE_TIMEOUT)
        tx = dpdkapp.settle_all([(app, 0, s1, "opackets", n)], SETTLE_TIMEOUT)[0]
    finally:
        app.run("stop")
    res["tx"] = dpdkapp.shown(tx)
    res["tx_seconds"] = round(time.monotonic() - t0, 1)
    return res


def start_slave(args, pci, name):
    """testpmd with net_vubackend on the device at pci, up and forwarding-ready."""
    app = dpdkapp.Testpmd(
        name, args.out, vdevs=["net_vubackend0,transport=vvu,pci=%s" % pci],
        plugins=[args.staged], interactive=True, lcores="0,1", main_lcore=0, mem_mb=128,
        file_prefix=name.replace("-", ""), log_levels=["pmd.net.vubackend:info"],
        app_args=vhostpeer.app_args())
    app.start()
    app.wait_ready(timeout=args.start_timeout)
    vhostpeer.enable_tx_retry(app, vhostpeer.SINK)
    return app


def restarts(args, done):
    """The backend restarts while the master (server mode, behind the second device)
    stays up: one round per slave testpmd, each a new start of the backend."""
    for r in range(args.restarts):
        k = args.rounds + r
        app = start_slave(args, args.pci2, "slave-restart%d" % r)
        try:
            put(args.out, "round%d-slave-up" % k)
            res = one_round(app, args, k)
            print("RESULT " + json.dumps(res), flush=True)
            put(args.out, "round%d.json" % k, res)
            wait_file(args.out, "round%d-master-done" % k)
        finally:
            app.stop(timeout=30)
            done["restart%d_rc" % r] = app.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--pci", required=True)
    ap.add_argument("--pci2", required=True)
    ap.add_argument("--restarts", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--bursts", type=int, required=True)
    ap.add_argument("--start-timeout", type=float, default=200.0)
    args = ap.parse_args()
    with open("/proc/sys/vm/nr_hugepages", "w") as f:
        f.write("%d\n" % HUGEPAGES)
    args.staged = dpdkapp.stage_plugin(args.plugin)
    done = {}
    app = None
    try:
        app = start_slave(args, args.pci, "slave-testpmd")
        put(args.out, "slave-ready")
        for k in range(args.rounds):
            res = one_round(app, args, k)
            print("RESULT " + json.dumps(res), flush=True)
            put(args.out, "round%d.json" % k, res)
            # the backend leaving disconnects a master still quitting (DPDK's
            # virtio_user then dies of SIGPIPE): each master goes first
            wait_file(args.out, "round%d-master-done" % k)
        app.stop(timeout=30)
        done["testpmd_rc"] = app.returncode
        app = None
        restarts(args, done)
    except Exception as e:
        done["error"] = "%s: %s" % (type(e).__name__, e)
        traceback.print_exc()
    finally:
        if app:
            app.stop(timeout=30)
            done["testpmd_rc"] = app.returncode
        dpdkapp.unstage_plugin(args.staged)
        put(args.out, "slave-done.json", done)
        print("RESULT " + json.dumps({"done": done}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
