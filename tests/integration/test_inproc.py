#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""In-process checks: payloads, offloads, the control queue's receive filter, multi-queue.

Runs build/tests/apps/vuser_inproc, one EAL process with a net_vhost backend and our
net_vuser port hot-plugged against it, polled by one thread (so the checks are exact and
do not depend on CPU scheduling).

Every data path (split/packed x in_order x mrg_rxbuf x vectorized), with a port that asks
for no offload as testpmd's defaults do (the Rx bursts that take whole ring lines, plain C
and AVX2, run only then), gets:

  rx_path     (vectorized=1) the PMD's line naming the Rx burst: the AVX2 one on a packed
              ring, the scalar one on a split ring; on a CPU without AVX2 the packed
              vectorized paths are skipped (their AVX2 burst cannot run), with the reason
  payload     805 numbered frames each way (3 laps of the 256-entry rings), 60 to 1514
              bytes (to 9000 with mrg_rxbuf=1: several Rx buffers each), sent as chains of
              several segment sizes in bursts of 1 to 32: each arrives once, in order, with
              every byte and the mbuf fields (pkt_len, nb_segs, data_len, port) right

The offload data paths (mergeable buffers, split/packed x in-order, with every offload the
device grants) get the full list of checks, at 1 and 2 queue pairs:

  tx_udp_checksum, tx_tcp_checksum_multiseg  VIRTIO_NET_F_CSUM header -> checksum right
  tx_tso                                     HOST_TSO4 header -> vhost sees gso_size
  rx_checksum_partial, rx_lro                GUEST_CSUM / GUEST_TSO4 -> mbuf flags
  rx_filter                                  CTRL_RX promiscuous/all-multicast/MAC table
  multiqueue                                 queue i of the backend <-> queue i of ours
  tx_vlan_insert, rx_vlan_strip              VLAN tag insertion/stripping in software
  payload                                    as above, through the offload code
  tx_mtu                                     MTU range 68..9698; a 9000-byte frame whole;
                                             VIRTIO_NET_F_MTU: rte_eth_tx_prepare stops a
                                             frame over the device's mtu + 22 (EINVAL)

Every run ends with

  close        both ports stop and close without an error
  clean_exit   the app exits by itself, with code 0 (1 when a check failed): no signal,
               no timeout

Prints 'N passed, N failed[, N skipped]' last; exit 1 on any failure.
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
          "rx_lro", "rx_filter", "multiqueue", "tx_vlan_insert", "rx_vlan_strip", "payload",
          "tx_mtu"]
PATHS = [
    ("split", "packed_vq=0,in_order=0,mrg_rxbuf=1"),
    ("split+in_order", "packed_vq=0,in_order=1,mrg_rxbuf=1"),
    ("packed", "packed_vq=1,in_order=0,mrg_rxbuf=1"),
    ("packed+in_order", "packed_vq=1,in_order=1,mrg_rxbuf=1"),
]
# Every data path, without offloads: (name, devargs).
DATAPATHS = [
    ("%s%s%s%s" % ("packed" if packed else "split", "+in_order" if in_order else "",
                   "+mrg" if mrg else "", "+vec" if vec else ""),
     "packed_vq=%d,in_order=%d,mrg_rxbuf=%d,vectorized=%d" % (packed, in_order, mrg, vec))
    for packed in (0, 1) for in_order in (0, 1) for mrg in (0, 1) for vec in (0, 1)]
PLAIN_CHECKS = ["payload"]
# What the PMD says at start with vectorized=1 (vuser_select_bursts): (packed_vq, line).
RX_PATH_LINES = {1: "vectorized=1: SIMD (AVX2) Rx burst on the packed ring",
                 0: "vectorized=1: scalar split-ring data path: the SIMD Rx burst is not used, "
                    "it is written for packed rings"}


def run_case(plugin, sockdir, name, devargs, queues, checks, plain=False):
    sock = os.path.join(sockdir, "%s-%d%s.sock" % (name.replace("+", "_"), queues,
                                                  "-plain" if plain else ""))
    prefix = dpdkapp.unique_prefix("inproc")
    argv = [APP, "-l", "0", "--no-huge", "--single-file-segments", "-m", "512", "--no-pci",
            "--file-prefix", prefix, "-d", plugin,
            "--vdev", "net_vhost0,iface=%s,tso=1,queues=%d" % (sock, queues), "--",
            str(queues), "path=%s,cq=1,queues=%d,%s" % (sock, queues, devargs)] + (
            ["--no-offloads"] if plain else []) + checks
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


def rx_path_verdict(devargs, out):
    """(vectorized=1) Did the PMD say it runs the Rx burst this CPU and ring should get?"""
    packed = int("packed_vq=1" in devargs)
    return RX_PATH_LINES[packed] in out


def run_and_judge(plugin, sockdir, name, devargs, queues, checks, plain=False):
    """One run of the app: a verdict per check, and one for its exit; returns the
    verdicts [(label, ok)], ok None for a check skipped."""
    prefix = "%s queues=%d%s" % (name, queues, " (no offloads)" if plain else "")
    vec = "vectorized=1" in devargs
    if vec and "packed_vq=1" in devargs and not dpdkapp.host_has_avx2():
        print("skip %s: the CPU has no AVX2, the AVX2 Rx burst under test cannot run" % prefix)
        return [("%s %s" % (prefix, c), None) for c in checks]
    results, out, rc = run_case(plugin, sockdir, name, devargs, queues, checks, plain)
    verdicts = [("%s %s" % (prefix, c), results.get(c) == "PASS") for c in checks + ["close"]]
    # a crash fails the run whatever the checks said
    problem = exit_problem(rc, out, not all(ok for _, ok in verdicts))
    if vec:
        verdicts.insert(0, ("%s rx_path" % prefix, rx_path_verdict(devargs, out)))
    verdicts.append(("%s clean_exit%s" % (prefix, ": " + problem if problem else ""),
                     problem is None))
    for label, ok in verdicts:
        print("%s %s" % ("ok  " if ok else "FAIL", label))
    if not all(ok for _, ok in verdicts):
        print("---- output (rc=%s) ----\n%s\n----" % (rc, out[-4000:]))
    return verdicts


def main():
    verdicts = []
    if not os.path.isfile(APP) or not os.path.isfile(PLUGIN):
        print("build first (make build): %s or %s is missing" % (APP, PLUGIN))
        print("0 passed, 1 failed")
        return 1
    plugin = dpdkapp.stage_plugin(PLUGIN)
    sockdir = tempfile.mkdtemp(prefix="vuser-inproc-")
    try:
        for name, devargs in DATAPATHS:
            verdicts += run_and_judge(plugin, sockdir, name, devargs, 1, PLAIN_CHECKS,
                                      plain=True)
        for name, devargs in PATHS:
            for queues in (1, 2):
                verdicts += run_and_judge(plugin, sockdir, name, devargs, queues, CHECKS)
    finally:
        dpdkapp.unstage_plugin(plugin)
        subprocess.run(["rm", "-rf", sockdir])
    failed = sum(ok is False for _, ok in verdicts)
    skipped = sum(ok is None for _, ok in verdicts)
    print("%d passed, %d failed%s" % (len(verdicts) - failed - skipped, failed,
                                      ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
