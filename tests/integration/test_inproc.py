#!/usr/bin/env python3
"""In-process checks: offloads, the control queue's receive filter and multi-queue.

Runs build/tests/apps/vuser_inproc, one EAL process with a net_vhost backend and our
net_vuser port hot-plugged against it, polled by one thread (so the checks are exact and
do not depend on CPU scheduling).  Each data path gets the full list of checks:

  tx_udp_checksum, tx_tcp_checksum_multiseg  VIRTIO_NET_F_CSUM header -> checksum right
  tx_tso                                     HOST_TSO4 header -> vhost sees gso_size
  rx_checksum_partial, rx_lro                GUEST_CSUM / GUEST_TSO4 -> mbuf flags
  rx_filter                                  CTRL_RX promiscuous/all-multicast/MAC table
  multiqueue                                 queue i of the backend <-> queue i of ours
  tx_vlan_insert, rx_vlan_strip              VLAN tag insertion/stripping in software

Every run ends with

  close        both ports stop and close without an error
  clean_exit   the app exits by itself, with code 0 (1 when a check failed): no signal,
               no timeout

Prints 'N passed, N failed' last; exit 1 on any failure.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402

APP = os.path.join(ROOT, "build", "tests", "apps", "vuser_inproc")
PLUGIN = dpdkapp.plugin_path()
CHECKS = ["tx_udp_checksum", "tx_tcp_checksum_multiseg", "tx_tso", "rx_checksum_partial",
          "rx_lro", "rx_filter", "multiqueue", "tx_vlan_insert", "rx_vlan_strip"]
PATHS = [
    ("split", "packed_vq=0,in_order=0,mrg_rxbuf=1"),
    ("split+in_order", "packed_vq=0,in_order=1,mrg_rxbuf=1"),
    ("packed", "packed_vq=1,in_order=0,mrg_rxbuf=1"),
    ("packed+in_order", "packed_vq=1,in_order=1,mrg_rxbuf=1"),
]


def run_case(plugin, sockdir, name, devargs, queues):
    sock = os.path.join(sockdir, "%s-%d.sock" % (name.replace("+", "_"), queues))
    prefix = dpdkapp.unique_prefix("inproc")
    argv = [APP, "-l", "0", "--no-huge", "--single-file-segments", "-m", "512", "--no-pci",
            "--file-prefix", prefix, "-d", plugin,
            "--vdev", "net_vhost0,iface=%s,tso=1,queues=%d" % (sock, queues), "--",
            str(queues), "path=%s,cq=1,queues=%d,%s" % (sock, queues, devargs)] + CHECKS
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120, text=True)
        out, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\nTIMEOUT", -1
    results = {check: verdict for verdict, check in re.findall(r"^(PASS|FAIL) (\w+)$", out, re.M)}
    return results, out, rc


def exit_problem(rc, out, checks_failed):
    """Why the app's exit is not clean (a signal, a timeout, a code other than the one
    for failed checks), or None."""
    if rc == (1 if checks_failed else 0):
        return None
    if out.endswith("TIMEOUT"):
        return "timed out"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit code %d" % rc


def main():
    passed = failed = 0
    if not os.path.isfile(APP) or not os.path.isfile(PLUGIN):
        print("build first (make build): %s or %s is missing" % (APP, PLUGIN))
        print("0 passed, 1 failed")
        return 1
    plugin = dpdkapp.stage_plugin(PLUGIN)
    sockdir = tempfile.mkdtemp(prefix="vuser-inproc-")
    try:
        for name, devargs in PATHS:
            for queues in (1, 2):
                results, out, rc = run_case(plugin, sockdir, name, devargs, queues)
                for check in CHECKS + ["close"]:
                    label = "%s queues=%d %s" % (name, queues, check)
                    if results.get(check) == "PASS":
                        passed += 1
                        print("ok   %s" % label)
                    else:
                        failed += 1
                        print("FAIL %s" % label)
                # a crash fails the run whatever the checks said
                problem = exit_problem(rc, out, any(results.get(c) != "PASS"
                                                    for c in CHECKS + ["close"]))
                label = "%s queues=%d clean_exit" % (name, queues)
                if problem is None:
                    passed += 1
                    print("ok   %s" % label)
                else:
                    failed += 1
                    print("FAIL %s: %s" % (label, problem))
                if problem or any(results.get(c) != "PASS" for c in CHECKS + ["close"]):
                    print("---- output (rc=%s) ----\n%s\n----" % (rc, out[-4000:]))
    finally:
        dpdkapp.unstage_plugin(plugin)
        subprocess.run(["rm", "-rf", sockdir])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
