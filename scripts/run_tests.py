#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run every test suite of vuser and print one closing line.

  1. unit:         meson test -C build --print-errorlogs   (cmocka suites)
  2. integration:  tests/integration/test_*.py              (real DPDK peers)
                   tests/vm/test_*.py                       (QEMU guests: vhost-net,
                                                             vub-net)
     every file is a pytest module, run by Debian's pytest one file at a time:
     /usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider <file>; tests/conftest.py
     prints its closing line, tests/integration/conftest.py has the fixtures (testpmd
     peers, backends, hugepages, the per-case env, the group runner), tests/vm/conftest.py
     the VMs' (kernel, results directory). Among them the
     acceptance of issue 3 (each a few minutes on 2 CPUs):
                   test_datapath_matrix.py   every data path x exact traffic, vhost restarts
                   test_multiqueue.py        queues=2/4: traffic on every queue, reconfig
                   test_lifecycle.py         100 stop/start and reconfig cycles without leaks,
                                             several ports, close, attach/detach
                   test_compat_matrix.py     issue 24: each command line through DPDK's
                                             net_virtio_user and vuser, same outcome

Individual cmocka tests are counted from each suite's output (from
build/meson-logs/testlog.json); a suite without cmocka summaries counts as
one test.  Each integration file's pytest run prints 'N passed, N failed' last.

The last line printed is 'N passed, N failed[, N skipped]', also written to
results/summary.txt; the exit code is 1 if anything failed or did not run.
"""

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

RE_RUNNING = re.compile(r"^\[=+\] Running (\d+) test\(s\)\.", re.M)
RE_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
RE_FAILED = re.compile(r"^\[  FAILED  \] (\d+) test\(s\), listed below:", re.M)
RE_SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\), listed below:", re.M)
RE_CLOSING = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", re.M)

INTEGRATION_TIMEOUT = 900
# Debian's interpreter, which has python3-pytest (the python3 running this script may be
# another one); -rfE: the reason of every failure and error (tests/conftest.py prints
# every skip's)
PYTEST = ["/usr/bin/python3", "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.notes = []

    def add(self, p=0, f=0, s=0):
        self.passed += p
        self.failed += f
        self.skipped += s

    def line(self):
        s = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            s += ", %d skipped" % self.skipped
        return s


def count_cmocka(text):
    """(ran, passed, failed, skipped) from cmocka's standard output format."""
    total = lambda rx: sum(int(m) for m in rx.findall(text))  # noqa: E731
    return total(RE_RUNNING), total(RE_PASSED), total(RE_FAILED), total(RE_SKIPPED)


def run_unit(build, tally):
    print("==> unit tests: meson test -C %s --print-errorlogs" % build, flush=True)
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        tally.add(f=1)
        tally.notes.append("unit: %s is not a configured build dir (run make build)" % build)
        return
    log = os.path.join(build, "meson-logs", "testlog.json")
    if os.path.exists(log):
        os.unlink(log)
    rc = subprocess.call(["meson", "test", "-C", build, "--print-errorlogs"],
                         stdin=subprocess.DEVNULL)
    if not os.path.exists(log):
        if rc != 0:
            tally.add(f=1)
            tally.notes.append("unit: meson test failed (rc=%d) without a test log" % rc)
        else:
            tally.notes.append("unit: no unit tests defined")
        return
    suites = 0
    with open(log) as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            t = json.loads(raw)
            suites += 1
            result = t.get("result", "")
            text = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
            ran, p, fl, s = count_cmocka(text)
            ok = result in ("OK", "EXPECTEDFAIL")
            if ran == 0 and p + fl + s == 0:
                # not a cmocka binary (or died before its first group)
                if result == "SKIP":
                    tally.add(s=1)
                elif ok:
                    tally.add(p=1)
                else:
                    tally.add(f=1)
                    tally.notes.append("unit: %s %s" % (t.get("name"), result))
                continue
            missing = max(ran - (p + fl + s), 0)   # tests of a group that never reported
            if not ok and fl + missing == 0:
                missing = 1                        # crashed/leaked/timed out after its summary
            tally.add(p=p, f=fl + missing, s=s)
            if fl + missing:
                tally.notes.append("unit: %s %s: %d failed%s" % (
                    t.get("name"), result, fl + missing,
                    " (%d never reported)" % missing if missing else ""))
    print("==> unit: %d suites" % suites, flush=True)


def run_integration(tally, pattern):
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "integration", pattern)))
    # the VM tests (tests/vm) boot QEMU guests: run after the others
    files += sorted(glob.glob(os.path.join(ROOT, "tests", "vm", pattern)))
    if not files:
        tally.notes.append("integration: no test files match %s" % pattern)
        return
    for path in files:
        rel = os.path.relpath(path, ROOT)
        print("==> integration: %s (VUSER_FRONTEND=%s)"
              % (rel, os.environ.get("VUSER_FRONTEND", "vuser")), flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen(PYTEST + [path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        out = []
        deadline = t0 + INTEGRATION_TIMEOUT

        def on_alarm(signum, frame):
            raise TimeoutError()

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(INTEGRATION_TIMEOUT)
        timed_out = False
        try:
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                out.append(line)
                sys.stdout.write(line)
                sys.stdout.flush()
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except (TimeoutError, subprocess.TimeoutExpired):
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        text = "".join(out)
        matches = RE_CLOSING.findall(text)
        if timed_out:
            tally.add(f=1)
            tally.notes.append("integration: %s timed out after %ds" % (rel, INTEGRATION_TIMEOUT))
            # its own partial counts are unreliable: keep only the timeout
            continue
        if not matches:
            tally.add(f=1)
            tally.notes.append("integration: %s printed no result line (rc=%s)"
                               % (rel, proc.returncode))
            continue
        p, f, s = matches[-1]
        p, f, s = int(p), int(f), int(s or 0)
        if proc.returncode != 0 and f == 0:
            f = 1
            tally.notes.append("integration: %s exited %d" % (rel, proc.returncode))
        tally.add(p=p, f=f, s=s)
        if f:
            tally.notes.append("integration: %s: %d failed" % (rel, f))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-unit", action="store_true")
    ap.add_argument("--no-integration", action="store_true")
    ap.add_argument("--integration", default="test_*.py", metavar="GLOB")
    ap.add_argument("--summary", default="summary.txt", metavar="NAME",
                    help="file under results/ that gets the closing line")
    ap.add_argument("--sanitizer-logs", metavar="DIR",
                    help="ASan/UBSan log_path directory of the apps (make test-asan): "
                         "emptied first, and any report in it afterwards is a failure")
    args = ap.parse_args()

    results = os.path.join(ROOT, "results")
    os.makedirs(results, exist_ok=True)
    summary = os.path.join(results, args.summary)
    if args.sanitizer_logs:
        os.makedirs(args.sanitizer_logs, exist_ok=True)
        for f in glob.glob(os.path.join(args.sanitizer_logs, "*")):
            os.unlink(f)
    if os.path.exists(summary):
        os.unlink(summary)

    tally = Tally()
    t0 = time.monotonic()
    if not args.no_unit:
        run_unit(args.build_dir, tally)
    if not args.no_integration:
        run_integration(tally, args.integration)
    if args.sanitizer_logs:
        reports = sorted(glob.glob(os.path.join(args.sanitizer_logs, "*")))
        for r in reports:
            tally.add(f=1)
            tally.notes.append("sanitizer report: %s" % r)
            with open(r, errors="replace") as f:
                for ln in f.read().splitlines()[:12]:
                    print("    " + ln)
    print()
    print("==> summary (%.0fs)" % (time.monotonic() - t0))
    for n in tally.notes:
        print("    " + n)
    line = tally.line()
    with open(summary, "w") as f:
        f.write(line + "\n")
    print(line, flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
