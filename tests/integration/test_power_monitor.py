# SPDX-License-Identifier: BSD-3-Clause
"""Power management's monitor mode on a vuser port (eth_dev_ops.get_monitor_addr).

Runs build/tests/apps/vuser_inproc with two lcores: one EAL process with a net_vhost
backend and our net_vuser port hot-plugged against it. Debian's DPDK has no
dpdk-l3fwd-power, so the app does what l3fwd-power's monitor mode does. For each data path,
with one and two queue pairs:

  power_monitor        rte_eth_get_monitor_addr on every Rx queue, over more than two laps
                       of the ring in batches of 1-5 packets: the condition taken before
                       the backend sends says "abort the sleep" once the backend has
                       written the ring, a fresh one says so while any packet is left, and
                       "sleep" once all are received (no sleeping: any CPU)
  power_pmgmt_monitor  rte_power_ethdev_pmgmt_queue_enable(MONITOR) on every Rx queue, 200
                       packets per queue from the second lcore 200 us apart, exactly 200
                       received per queue by the polling lcore. Where the CPU has no
                       UMWAIT/MONITORX (or, with two queues, no multi-queue monitoring) the
                       library answers -ENOTSUP: the check prints SKIP and what it skipped
  power_pmgmt_pause    the same flow in PAUSE mode, which every CPU runs: it proves the
                       flow the MONITOR check runs where it can

Each check of a run is a pytest test named '<path>-q<queues>/<check>' (docs/testing.md);
the checks of a run share one run of the app:

    python3 -m pytest tests/integration/test_power_monitor.py -k 'packed+mrg-q2/'
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

import dpdkapp

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

APP = os.path.join(ROOT, "build", "tests", "apps", "vuser_inproc")
CHECKS = ["power_monitor", "power_pmgmt_monitor", "power_pmgmt_pause"]
PATHS = [
    ("split", "packed_vq=0,in_order=0,mrg_rxbuf=0"),
    ("split+in_order+mrg", "packed_vq=0,in_order=1,mrg_rxbuf=1"),
    ("packed+mrg", "packed_vq=1,in_order=0,mrg_rxbuf=1"),
    ("packed+in_order+vec", "packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1"),
]


def run_case(plugin, sockdir, name, devargs, queues):
    sock = os.path.join(sockdir, "%s-%d.sock" % (re.sub(r"\W", "_", name), queues))
    prefix = dpdkapp.unique_prefix("monitor")
    argv = [APP, "-l", "0,1", "--main-lcore", "0", "--no-huge", "--single-file-segments",
            "-m", "512", "--no-pci", "--file-prefix", prefix, "-d", plugin,
            "--vdev", "net_vhost0,iface=%s,queues=%d" % (sock, queues), "--",
            str(queues), "path=%s,cq=1,queues=%d,%s" % (sock, queues, devargs)] + CHECKS
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120, text=True)
        out, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\nTIMEOUT", -1
    results = {}
    for verdict, check, why in re.findall(r"^(PASS|FAIL|SKIP) (\w+)(?:: (.*))?$", out, re.M):
        results[check] = (verdict, why)
    return results, out, rc


RUNS = [(name, devargs, queues) for name, devargs in PATHS for queues in (1, 2)]


def run_id(run):
    return "%s-q%d" % (run[0], run[2])


@pytest.fixture(scope="module")
def results(vuser_plugin):
    """results(run): {check: (verdict, why)} and the app's output, one app run per run."""
    if not os.path.isfile(APP):
        pytest.fail("build first (make build): %s is missing" % APP)
    sockdir = tempfile.mkdtemp(prefix="vuser-monitor-")
    cache = {}

    def of(run):
        if run_id(run) not in cache:
            cache[run_id(run)] = run_case(vuser_plugin, sockdir, *run)
        return cache[run_id(run)]

    yield of
    shutil.rmtree(sockdir, ignore_errors=True)


@pytest.mark.parametrize("run,check", [(r, c) for r in RUNS for c in CHECKS],
                         ids=["%s/%s" % (run_id(r), c) for r in RUNS for c in CHECKS])
def test_power_monitor(results, run, check):
    res, out, rc = results(run)
    verdict, why = res.get(check, ("FAIL", "no result line"))
    if verdict == "SKIP":
        pytest.skip(why)
    assert verdict == "PASS", "%s %s: %s; output (rc=%s):\n%s" % (
        run_id(run), check, why or verdict, rc, out[-4000:])
