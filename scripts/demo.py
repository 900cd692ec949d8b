#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vuser demo: a virtio-user frontend talking to DPDK's net_vhost backend.

Runs three short scenarios with two dpdk-testpmd processes and prints packet
counts and rates read from their telemetry counters:

  frontend-Tx   frontend txonly  ->  backend rxonly
  frontend-Rx   frontend rxonly  <-  backend txonly
  loopback      packets circulate: backend io (start tx_first) <-> frontend io

Rates are counter deltas between two telemetry samples taken after a
warm-up.  Both apps poll, one CPU each (-l 0,1 with different main lcores).

  scripts/demo.py                    # our plugin (build/.../librte_net_vuser.so)
  scripts/demo.py --frontend dpdk    # DPDK's own net_virtio_user, for comparison
  scripts/demo.py --container        # the frontend in a container (make demo-container)

With --container the frontend testpmd runs in a container of a private dockerd
(tests/lib/container.py; no iptables rules, no forwarding, no bridge), from an image
built FROM scratch with the host's testpmd and DPDK, and the plugin: --network none,
--cap-drop ALL, no-new-privileges, a read-only root, a tmpfs for EAL's runtime
directory and the socket directory bind-mounted.  The runtime and its containers are
stopped at the end, also on a failure, Ctrl-C or SIGTERM.  See docs/containers.md.
"""

import argparse
import os
import signal
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import container  # noqa: E402
import dpdkapp  # noqa: E402
from dpdkapp import Testpmd, wait_until  # noqa: E402



class Demo:
    def __init__(self, args):
        self.args = args
        self.log_dir = args.log_dir
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-demo-")
        self.staged = None
        self.apps = []
        self.docker = None
        if args.frontend == "vuser":
            self.fe_vdev, self.fe_driver = "virtio_user0", "net_vuser"
        else:
            self.fe_vdev, self.fe_driver = "net_virtio_user0", "net_virtio_user"

    def common(self):
        a = self.args
        return ["--burst=%d" % a.burst, "--txpkts=%d" % a.pkt_len, "--nb-cores=1",
                "--total-num-mbufs=%d" % a.mbufs]

    def backend(self, name, sock, mode, interactive=False):
        args = ["--forward-mode=%s" % mode] + self.common()
        if not interactive:
            args.append("--stats-period=%d" % self.args.stats_period)
        app = Testpmd("%s-backend" % name, self.log_dir,
                      vdevs=["net_vhost0,iface=%s,queues=1" % sock],
                      interactive=interactive, lcores="0,1", main_lcore=0,
                      mem_mb=self.args.mem, app_args=args)
        self.apps.append(app)
        app.start()
        wait_until(lambda: os.path.exists(sock) or not app.alive(), 15,
                   what="backend socket %s" % sock)
        if not app.alive():
            raise dpdkapp.DpdkAppError("backend exited:\n" + dpdkapp.tail(app.output(), 30))
        return app

    def frontend(self, name, sock, mode):
        args = ["--forward-mode=%s" % mode, "--stats-period=%d" % self.args.stats_period]
        args += self.common()
        common = dict(interactive=False, lcores="0,1", main_lcore=1, mem_mb=self.args.mem,
                      app_args=args)
        if self.docker:
            # the socket's directory is mounted, not the socket: a new backend's socket
            # (a new inode) shows in a directory mount, a file mount would pin the old one
            inside = os.path.join(container.SOCK_DIR_IN, os.path.basename(sock))
            plugins = [container.plugin_in_image(self.args.plugin)] \
                if self.fe_driver == "net_vuser" else []
            app = container.ContainerTestpmd(
                "%s-frontend" % name, self.log_dir, self.docker,
                mounts={self.sock_dir: container.SOCK_DIR_IN},
                vdevs=["%s,path=%s" % (self.fe_vdev, inside)], plugins=plugins, **common)
        else:
            app = Testpmd("%s-frontend" % name, self.log_dir,
                          vdevs=["%s,path=%s" % (self.fe_vdev, sock)],
                          plugins=[self.staged] if self.staged else [], **common)
        self.apps.append(app)
        app.start()
        return app

    def stop_all(self):
        for app in sorted(self.apps, key=lambda a: not a.name.endswith("frontend")):
            app.stop(timeout=10)
        bad = [(a.name, a.returncode) for a in self.apps if a.returncode != 0]
        self.apps = []
        return bad

    # ---- one scenario
    def run(self, name, be_mode, fe_mode, moving, tx_first=None):
        """Start both apps, wait until ``moving`` (app, counter) advances,
        warm up, then measure.  Returns rows for the table."""
        sock = os.path.join(self.sock_dir, "%s.sock" % name)
        print("  %-12s starting (backend %s, frontend %s)..." % (name, be_mode, fe_mode),
              flush=True)
        be = self.backend(name, sock, be_mode, interactive=tx_first is not None)
        be.wait_ready()
        fe = self.frontend(name, sock, fe_mode)
        fe.wait_ready()
        be.wait_link_up(timeout=15)
        if tx_first is not None:
            be.cmd("start tx_first %d" % tx_first)
        apps = {"frontend": fe, "backend": be}
        who, key = moving
        wait_until(lambda: (apps[who].stats().get(key) or 0) > 0, 15,
                   what="%s %s to move" % (who, key))
        time.sleep(self.args.warmup)
        rates = dpdkapp.measure_rates(apps, self.args.duration)
        totals = {n: a.counters() for n, a in apps.items()}
        bad = self.stop_all()
        if bad:
            print("  warning: unclean exit: %s" % bad)
        return rates, totals

    def main(self):
        a = self.args
        if a.frontend == "vuser":
            if not os.path.isfile(a.plugin):
                print("demo: plugin %s not found: run 'make build' first, or use "
                      "--frontend dpdk for DPDK's own virtio_user" % a.plugin, file=sys.stderr)
                return 1
            if not a.container:
                self.staged = dpdkapp.stage_plugin(a.plugin)
        os.makedirs(self.log_dir, exist_ok=True)
        where = self.staged or ("built into DPDK" if a.frontend == "dpdk" else a.plugin)
        print("vuser demo: frontend %s (%s)%s <-> backend net_vhost (vhost-user)"
              % (self.fe_driver, where, " in a container" if a.container else ""))
        if a.container:
            self.start_container_runtime()
        print("  %d-byte packets, burst %d, warm-up %.1fs, measured over %.1fs; logs in %s"
              % (a.pkt_len, a.burst, a.warmup, a.duration, self.log_dir))
        scenarios = [
            ("frontend-Tx", "rxonly", "txonly", ("backend", "ipackets"), None,
             [("frontend", "opackets", "frontend sent"), ("backend", "ipackets", "backend received")]),
            ("frontend-Rx", "txonly", "rxonly", ("frontend", "ipackets"), None,
             [("backend", "opackets", "backend sent"), ("frontend", "ipackets", "frontend received")]),
            ("loopback", "io", "io", ("backend", "ipackets"), a.in_flight // a.burst,
             [("backend", "opackets", "backend sent"), ("frontend", "ipackets", "frontend received"),
              ("frontend", "opackets", "frontend returned"), ("backend", "ipackets", "backend received")]),
        ]
        others = dpdkapp.running_dpdk_apps()
        if others:
            print("  note: other DPDK apps are running (file prefixes: %s); they share the "
                  "2 CPUs, so rates will be lower and noisy" % ", ".join(others))
        if a.only:
            scenarios = [s for s in scenarios if s[0] in a.only]
        results = []
        for name, be_mode, fe_mode, moving, txf, rows in scenarios:
            rates, totals = self.run(name, be_mode, fe_mode, moving, txf)
            results.append((name, rates, totals, rows))

        print()
        hdr = "%-12s  %-18s  %14s  %9s  %14s" % ("scenario", "counter", "packets/window",
                                                 "Mpps", "total packets")
        print(hdr)
        print("-" * len(hdr))
        for name, rates, totals, rows in results:
            first = True
            for who, key, label in rows:
                r = rates[who]
                print("%-12s  %-18s  %14s  %9.3f  %14s"
                      % (name if first else "", label, "{:,}".format(r.delta(key)),
                         r.mpps(key), "{:,}".format(totals[who][key] or 0)))
                first = False
            errs = {"%s.%s" % (w, k): v for w in ("frontend", "backend")
                    for k, v in totals[w].items()
                    if k in ("imissed", "ierrors", "oerrors", "rx_nombuf") and v}
            if errs:
                print("%-12s  errors: %s" % ("", errs))
        print()
        print("frontend: %s; rates from telemetry counters over %.1fs" % (self.fe_driver,
                                                                        a.duration))
        return 0

    def start_container_runtime(self):
        """The private dockerd and the frontend's image (docs/containers.md)."""
        self.docker = container.Docker(self.log_dir, tag="demo")
        self.docker.start()
        size = container.build_image(self.docker, self.args.plugin)
        print("  container runtime: private dockerd (%s), image %s (%.1f MB, FROM scratch)"
              % (self.docker.dir, container.IMAGE, size / 1e6))
        print("  container: %s, tmpfs on %s, %s mounted on %s"
              % (" ".join(container.HARDENING), container.RUNTIME_DIR_IN, self.sock_dir,
                 container.SOCK_DIR_IN))

    def cleanup(self):
        dpdkapp.kill_all(self.apps)
        if self.docker:
            self.docker.stop()
            self.docker = None
        dpdkapp.unstage_plugin(self.staged)
        import shutil
        shutil.rmtree(self.sock_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frontend", choices=("vuser", "dpdk"),
                    default=os.environ.get("VUSER_FRONTEND", "vuser"))
    ap.add_argument("--plugin", default=dpdkapp.plugin_path())
    ap.add_argument("--duration", type=float, default=5.0, help="measure window, s")
    ap.add_argument("--warmup", type=float, default=1.0, help="s before the first sample")
    ap.add_argument("--pkt-len", type=int, default=64)
    ap.add_argument("--burst", type=int, default=32)
    ap.add_argument("--in-flight", type=int, default=128,
                    help="packets circulating in the loopback scenario")
    ap.add_argument("--mbufs", type=int, default=8192)
    ap.add_argument("--mem", type=int, default=512, help="-m for each app, MB")
    ap.add_argument("--stats-period", type=int, default=60,
                    help="testpmd --stats-period (keeps non-interactive apps running)")
    ap.add_argument("--only", action="append", choices=("frontend-Tx", "frontend-Rx", "loopback"))
    ap.add_argument("--log-dir", default=os.path.join(ROOT, "results", "demo"))
    ap.add_argument("--container", action="store_true",
                    help="run the frontend in a container (docs/containers.md)")
    args = ap.parse_args()
    demo = Demo(args)
    # SIGTERM and SIGHUP clean up as Ctrl-C does: containers and the runtime are stopped.
    # SIGINT too, set again: a shell starting the demo in the background ignores it, and
    # Python then installs no handler of its own.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        return demo.main()
    except container.RuntimeUnavailable as e:
        print("demo: the container runtime cannot start: %s" % e, file=sys.stderr)
        return 1
    except (dpdkapp.DpdkAppError, OSError) as e:
        print("demo failed: %s" % e, file=sys.stderr)
        for app in demo.apps:
            print("---- %s (%s)" % (app.name, app.log_path), file=sys.stderr)
            print(dpdkapp.tail(app.output(), 25), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        demo.cleanup()


if __name__ == "__main__":
    sys.exit(main())
