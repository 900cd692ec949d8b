#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Soak: backend kill -9 and restart, N times, against one frontend in server mode.

    make soak                                  # 1000 cycles, evil backend (~5-10 min)
    python3 tests/soak/server_soak.py --cycles 1000 --backend vhost   # net_vhost (~30 min)
    python3 tests/soak/server_soak.py --cycles 50 --restart-port 10   # + port stop/start

One frontend (dpdk-testpmd with the plugin, virtio_user0,...,server=1, io forwarding)
stays up for the whole run. Each cycle starts a backend that connects to it, checks that
traffic resumes (frames delivered to the frontend come back on its Tx), kills the backend
with SIGKILL while it runs, and checks that the frontend's link goes down. Every
--restart-port cycles the frontend's port is also stopped and started.

  --backend evil   tests/lib/evil_backend.py --client (a process; it delivers frames and
                   reaps the frontend's Tx)
  --backend vhost  dpdk-testpmd --vdev net_vhost0,...,client=1 with 'start tx_first'

At the end (and every --sample cycles) the frontend's open fds and RSS are compared with
the values after the first cycles (warm-up): fds must be equal, RSS may grow by at most
--rss-slack-kb. The frontend must be alive and exit 0; no error counter may move.
Prints 'N passed, N failed' (one check per cycle, plus the final resource check).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import dpdkapp  # noqa: E402
from dpdkapp import Testpmd, wait_until  # noqa: E402
import test_faults  # noqa: E402  (the Evil process wrapper)

PLUGIN = dpdkapp.plugin_path()
ERROR_KEYS = ("ierrors", "oerrors", "rx_nombuf")


def link(app):
    return (app.link_status() or {}).get("status")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--backend", choices=("evil", "vhost"), default="evil")
    ap.add_argument("--devargs", default=",packed_vq=0,in_order=1,mrg_rxbuf=1")
    ap.add_argument("--restart-port", type=int, default=0, metavar="N",
                    help="also stop/start the frontend's port every N cycles")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--rss-slack-kb", type=int, default=8192)
    ap.add_argument("--log-dir", default=os.path.join(ROOT, "results", "soak"))
    args = ap.parse_args()
    os.makedirs(args.log_dir, exist_ok=True)
    sock_dir = tempfile.mkdtemp(prefix="vuser-soak-")
    sock = os.path.join(sock_dir, "soak.sock")
    plugin = dpdkapp.stage_plugin(PLUGIN)
    passed = failed = 0
    fe = None
    be_apps = []
    t0 = time.monotonic()
    try:
        fe = Testpmd("soak-frontend", args.log_dir,
                     vdevs=["virtio_user0,path=%s,server=1%s" % (sock, args.devargs)],
                     plugins=[plugin], interactive=True, lcores="0,1", main_lcore=1,
                     app_args=["--forward-mode=io", "--disable-link-check", "--burst=32",
                               "--total-num-mbufs=4096", "--nb-cores=1"]).start()
        fe.wait_ready(30)
        fe.start_forwarding()
        base = None
        samples = []
        for cyc in range(1, args.cycles + 1):
            ok = True
            why = ""
            before = fe.stats()
            try:
                if args.backend == "evil":
                    be = test_faults.Evil("soak-evil", args.log_dir, sock, ["--client"])
                    be.cmd("wait_ready 15")
                    wait_until(lambda: link(fe) == "UP", 5, interval=0.01, what="link up")
                    be.cmd("rx 32")
                    moved = wait_until(lambda: fe.stats()["opackets"] >= before["opackets"] + 32,
                                       5, interval=0.01)
                    if moved:
                        be.cmd("tx_reap 0.05")
                    pid = be.proc.pid
                else:
                    be = Testpmd("soak-vhost", args.log_dir,
                                 vdevs=["net_vhost0,iface=%s,queues=1,client=1" % sock],
                                 interactive=True, lcores="0,1", main_lcore=0, mem_mb=64,
                                 app_args=["--forward-mode=io", "--burst=32",
                                           "--total-num-mbufs=4096", "--nb-cores=1"]).start()
                    be_apps.append(be)
                    be.wait_for_output(Testpmd.READY_INTERACTIVE, 30)
                    wait_until(lambda: link(fe) == "UP", 15, interval=0.01, what="link up")
                    wait_until(lambda: link(be) == "UP", 10, interval=0.01, what="vhost up")
                    be.cmd("start tx_first")
                    moved = wait_until(
                        lambda: (fe.stats()["ipackets"] > before["ipackets"]
                                 and fe.stats()["opackets"] > before["opackets"]), 5,
                        interval=0.01)
                    pid = be.pid
                if not moved:
                    ok, why = False, "traffic did not resume: %s" % fe.stats()
                os.kill(pid, signal.SIGKILL)
                if args.backend == "evil":
                    be.kill()
                else:
                    be.wait_exit(5)
                    be.kill()
                    be_apps.remove(be)
                if not wait_until(lambda: link(fe) == "DOWN", 3, interval=0.01):
                    ok, why = False, "link still up after kill"
                if args.restart_port and cyc % args.restart_port == 0:
                    fe.run("stop")
                    fe.run("port stop 0", timeout=20)
                    fe.run("port start 0", timeout=20)
                    fe.start_forwarding()
            except Exception as e:  # one cycle's failure is reported, the soak goes on
                ok, why = False, "%s: %s" % (type(e).__name__, e)
            if not fe.alive():
                ok, why = False, "the frontend died (rc=%s)" % fe.poll()
            errs = {k: fe.stats().get(k) for k in ERROR_KEYS} if fe.alive() else {}
            if any(errs.values()):
                ok, why = False, "error counters moved: %s" % errs
            if ok:
                passed += 1
            else:
                failed += 1
                print("cycle %d: FAIL: %s" % (cyc, why), flush=True)
                if not fe.alive():
                    break
            if cyc == args.warmup:
                time.sleep(0.2)
                base = dpdkapp.proc_resources(fe.pid)
                print("after %d cycles (warm-up): %d fds, RSS %d kB" % (
                    cyc, base["fds"], base["rss_kb"]), flush=True)
            if base and cyc % args.sample == 0:
                time.sleep(0.2)
                r = dpdkapp.proc_resources(fe.pid)
                samples.append((cyc, r["fds"], r["rss_kb"]))
                print("cycle %d: %d fds, RSS %d kB (%.0fs)" % (
                    cyc, r["fds"], r["rss_kb"], time.monotonic() - t0), flush=True)
        # final resource check
        if fe.alive() and base:
            time.sleep(0.3)
            r = dpdkapp.proc_resources(fe.pid)
            grow = r["rss_kb"] - base["rss_kb"]
            if r["fds"] == base["fds"] and grow <= args.rss_slack_kb:
                passed += 1
                print("resources: %d fds (warm-up %d), RSS %d kB (warm-up %d, %+d kB)" % (
                    r["fds"], base["fds"], r["rss_kb"], base["rss_kb"], grow))
            else:
                failed += 1
                print("resources: FAIL: %d fds (warm-up %d), RSS %d kB (warm-up %d, %+d kB,"
                      " slack %d); kinds %s" % (r["fds"], base["fds"], r["rss_kb"],
                                                base["rss_kb"], grow, args.rss_slack_kb,
                                                r["fd_kinds"]))
        if fe.alive():
            fe.stop()
            if fe.returncode != 0:
                failed += 1
                print("frontend exited %s" % fe.returncode)
    finally:
        dpdkapp.kill_all(([fe] if fe else []) + be_apps)
        dpdkapp.unstage_plugin(plugin)
        subprocess.call(["rm", "-rf", sock_dir])
    print("soak: %d cycles, backend %s, %.0fs" % (args.cycles, args.backend,
                                                  time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
