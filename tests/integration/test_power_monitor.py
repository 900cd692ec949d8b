#!/usr/bin/env python3
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

Prints 'N passed, N failed[, N skipped]' last; exit 1 on any failure.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import dpdkapp  # noqa: E402

APP = os.path.join(ROOT, "build", "tests", "apps", "vuser_inproc")
PLUGIN = dpdkapp.plugin_path()
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


def main():
    passed = failed = skipped = 0
    if not os.path.isfile(APP) or not os.path.isfile(PLUGIN):
        print("build first (make build): %s or %s is missing" % (APP, PLUGIN))
        print("0 passed, 1 failed")
        return 1
    plugin = dpdkapp.stage_plugin(PLUGIN)
    sockdir = tempfile.mkdtemp(prefix="vuser-monitor-")
    try:
        for name, devargs in PATHS:
            for queues in (1, 2):
                results, out, rc = run_case(plugin, sockdir, name, devargs, queues)
                for check in CHECKS:
                    label = "%s queues=%d %s" % (name, queues, check)
                    verdict, why = results.get(check, ("FAIL", "no result line"))
                    if verdict == "PASS":
                        passed += 1
                        print("ok   %s" % label)
                    elif verdict == "SKIP":
                        skipped += 1
                        print("skip %s: %s" % (label, why))
                    else:
                        failed += 1
                        print("FAIL %s" % label)
                if any(results.get(c, ("FAIL",))[0] == "FAIL" for c in CHECKS):
                    print("---- output (rc=%s) ----\n%s\n----" % (rc, out[-4000:]))
    finally:
        dpdkapp.unstage_plugin(plugin)
        subprocess.run(["rm", "-rf", sockdir])
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
