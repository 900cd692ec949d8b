# SPDX-License-Identifier: BSD-3-Clause
"""In-process checks: payloads, offloads, the control queue's receive filter, multi-queue.

Runs build/tests/apps/vuser_inproc, one EAL process with a net_vhost backend and our
net_vuser port hot-plugged against it, polled by one thread (so the checks are exact and
do not depend on CPU scheduling).

Every data path (split/packed x in_order x mrg_rxbuf x vectorized), with a port that asks
for no offload as testpmd's defaults do (the Rx bursts that take whole ring lines, plain C
and AVX2, run only then), gets:

  rx_path     (vectorized=1) the PMD's line naming the bursts: the AVX2 Rx and Tx ones on
              a packed ring, AVX2 Rx and scalar Tx on a split ring; on a CPU without AVX2 the
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

Each verdict of a run is a pytest test named '<run>/<verdict>' (docs/testing.md); a run
of the app is shared by its verdicts:

    python3 -m pytest tests/integration/test_inproc.py -k 'packed+in_order-q2/'
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

import dpdkapp

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

APP = os.path.join(ROOT, "build", "tests", "apps", "vuser_inproc")
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
RX_PATH_LINES = {1: "vectorized=1: SIMD Rx burst (AVX2) and SIMD Tx burst (AVX2) on the "
                    "packed ring",
                 0: "vectorized=1: SIMD Rx burst (AVX2) on the split ring, scalar Tx (the "
                    "SIMD Tx burst is written for packed rings)"}


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


# The app's runs: (name, devargs, queues, checks, plain).
RUNS = [(name, devargs, 1, PLAIN_CHECKS, True) for name, devargs in DATAPATHS] + [
    (name, devargs, queues, CHECKS, False) for name, devargs in PATHS for queues in (1, 2)]


def run_id(run):
    name, _, queues, _, plain = run
    return "%s-q%d%s" % (name, queues, "-plain" if plain else "")


def verdict_names(run):
    """What a run is judged on: the Rx burst it names (vectorized=1), each check, the
    ports' close, the app's exit."""
    _, devargs, _, checks, _ = run
    return (["rx_path"] if "vectorized=1" in devargs else []) + checks + ["close",
                                                                        "clean_exit"]


def judge(plugin, sockdir, run):
    """One run of the app: {verdict: (ok, detail)}, ok None when the run is skipped."""
    name, devargs, queues, checks, plain = run
    vec = "vectorized=1" in devargs
    if vec and not dpdkapp.host_has_avx2():
        why = "the CPU has no AVX2, the AVX2 Rx burst under test cannot run"
        return {v: (None, why) for v in verdict_names(run)}
    results, out, rc = run_case(plugin, sockdir, name, devargs, queues, checks, plain)
    tail = "output (rc=%s):\n%s" % (rc, out[-4000:])
    verdicts = {c: (results.get(c) == "PASS", tail) for c in checks + ["close"]}
    # a crash fails the run whatever the checks said
    problem = exit_problem(rc, out, not all(ok for ok, _ in verdicts.values()))
    if vec:
        verdicts["rx_path"] = (rx_path_verdict(devargs, out), tail)
    verdicts["clean_exit"] = (problem is None, "%s; %s" % (problem, tail))
    return verdicts


@pytest.fixture(scope="module")
def verdicts(vuser_plugin):
    """verdicts(run): judge()'s verdicts, the app run once per run."""
    if not os.path.isfile(APP):
        pytest.fail("build first (make build): %s is missing" % APP)
    sockdir = tempfile.mkdtemp(prefix="vuser-inproc-")
    cache = {}

    def of(run):
        if run_id(run) not in cache:
            cache[run_id(run)] = judge(vuser_plugin, sockdir, run)
        return cache[run_id(run)]

    yield of
    shutil.rmtree(sockdir, ignore_errors=True)


@pytest.mark.parametrize("run,verdict", [(r, v) for r in RUNS for v in verdict_names(r)],
                         ids=["%s/%s" % (run_id(r), v) for r in RUNS for v in verdict_names(r)])
def test_inproc(verdicts, run, verdict):
    ok, detail = verdicts(run)[verdict]
    if ok is None:
        pytest.skip(detail)
    assert ok, "%s %s: %s" % (run_id(run), verdict, detail)
