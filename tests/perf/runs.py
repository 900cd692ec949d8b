#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Several full benchmark runs side by side: each cell's ratio in every run, its median over
the runs, and in how many runs it met its bar.

One run of tests/perf/bench.py is a draw from a machine whose speed moves by 2x (see
docs/performance.md, Noise); this puts the draws next to each other, so that a cell that is
below its bar in every run (a real deficit) stands apart from one that is below in one run
and above in the next (its spread). Then every round of those runs, pooled per cell and
vCPU placement: hundreds of back-to-back pairs per cell, near and far apart, which says
which cells trail in which state of the machine.

    python3 tests/perf/runs.py                          # every full run in results/perf
    python3 tests/perf/runs.py --since 20261127-104000  # the full runs from then on
    python3 tests/perf/runs.py results/perf/A results/perf/B
    python3 tests/perf/runs.py --measure backend        # the full runs of --measure backend
    python3 tests/perf/runs.py --run                    # run the matrix 3 times, judge those
    python3 tests/perf/runs.py --run 5 --huge no        # 5 runs; unknown options go to bench.py

The verdict (issue 30): every cell judged on the median of all its rounds pooled over the
runs (each round ours / in-tree, back to back), with each run's own ratio beside it, so
that one unlucky placement cannot decide. For the frontend the bar is issue 30's: "every
64 B cell >= 1.0 and every 1518 B cell >= 0.97, geometric mean >= 1.2 at 64 B and >= 1.3
at 1518 B"; for the other measures their own (below).

A full run is one with every cell of the matrix, of the chosen --measure (bench.py's; runs
from before it are of the frontend measure), not an A/B of two builds (--against). The bars
are the measure's (bench.MEASURES): for the frontend, issue 5's (at 64 bytes a ratio of at
least 1.0 per cell and a geometric mean of at least 1.15, at 1518 bytes no cell below
0.95); for the backend, issue 26's (every cell at least 1.0, a 64-byte geometric mean of at
least 1.2); for the pair, issue 26's 64-byte geometric mean of at least 1.5, with no bar
per cell (1.0 stands in for one in the columns). Prints markdown.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the matrix, geomean and the acceptance rule)

MATRIX = [bench.cell_id(d, p.name, s) for s in bench.SIZES for p in bench.DATA_PATHS
          for d in bench.DIRECTIONS]


def load(path, measure):
    """A run's results.json as {"stamp", "git", "cells": {cell: ratio}, "acc"}, or None
    when it is not a full run of `measure` (a bench.py --measure; why on stderr)."""
    f = os.path.join(path, "results.json")
    try:
        with open(f) as fh:
            j = json.load(fh)
    except (OSError, ValueError) as e:
        print("runs: %s: %s" % (path, e), file=sys.stderr)
        return None
    ratios = {c["cell"]: c.get("ratio") for c in j.get("cells", [])}
    if j.get("meta", {}).get("measure", "frontend") != measure:
        why = "--measure %s" % j["meta"]["measure"]
    elif j.get("meta", {}).get("against"):
        why = "an A/B of two builds (--against)"
    elif set(ratios) != set(MATRIX):
        why = "%d of the %d cells" % (len(set(ratios) & set(MATRIX)), len(MATRIX))
    else:
        why = None
    if why:
        print("runs: %s: left out: %s" % (path, why), file=sys.stderr)
        return None
    return {"stamp": os.path.basename(os.path.normpath(path)),
            "git": j.get("environment", {}).get("git_commit", "")[:7],
            "cells": ratios, "acc": j.get("acceptance", {}),
            "paired": {c["cell"]: paired_by_placement(c) for c in j["cells"]},
            "rounds": {c["cell"]: [x for x, _ in bench.paired_rounds(c)] for c in j["cells"]}}


def paired_by_placement(cell):
    """{placement: [ours / in-tree of each round whose two samples ran in that placement]}
    for one cell of a run: the two drivers measured back to back, on the same footing."""
    out = {}
    for ratio, pl in bench.paired_rounds(cell):
        if pl and ratio > 0:
            out.setdefault(pl, []).append(ratio)
    return out


BAR = {}   # the chosen measure's bar per size (main); 1.0 where it has none


def cell_bar(cell):
    return BAR[int(cell.rsplit("/", 1)[1])]


# issue 30, pooled over runs: "every 64 B cell >= 1.0 and every 1518 B cell >= 0.97,
# geometric mean >= 1.2 at 64 B and >= 1.3 at 1518 B". (per-cell bars, geomean bars)
POOLED_BARS = {"frontend": ({64: 1.0, 1518: 0.97}, {64: 1.2, 1518: 1.3})}


def pooled_bars(measure):
    """The pooled verdict's bars: issue 30's for the frontend, else the measure's own."""
    if measure.name in POOLED_BARS:
        return POOLED_BARS[measure.name]
    return ({sz: 1.0 if b is None else b for sz, b in measure.cell_bar.items()},
            {64: measure.geomean_bar_64})


def verdict(runs, measure):
    """Each cell on the median of all its rounds over the runs, each run's ratio beside it;
    then the geometric means of those medians. Returns (markdown lines, met)."""
    cell_bars, geo_bars = pooled_bars(measure)
    L = ["Verdict on the pooled rounds (bars: %s; geometric mean %s): the median of every "
         "round of the cell over the %d runs, each run's own ratio beside it; **bold**: "
         "below the bar." % (
             ", ".join("%s at %d B" % (bench.fmt_bar(b), sz) for sz, b in cell_bars.items()),
             ", ".join(">= %s at %d B" % (bench.fmt_bar(b), sz) for sz, b in geo_bars.items()),
             len(runs)), "",
         "| cell | pooled median | rounds | " + " | ".join(
             "run %d" % (i + 1) for i in range(len(runs))) + " | verdict |",
         "|---|---:|---:|" + "---:|" * len(runs) + "---|"]
    medians, below = {}, []
    for c in MATRIX:
        bar = cell_bars[int(c.rsplit("/", 1)[1])]
        xs = [x for r in runs for x in r["rounds"].get(c, [])]
        medians[c] = statistics.median(xs) if xs else None
        # A cell no run has a ratio for is one bench.py judges n/a (no such path there).
        na = not xs and all(r["cells"].get(c) is None for r in runs)
        ok = na or (medians[c] is not None and medians[c] >= bar)
        if not ok:
            below.append(c)
        L.append("| %s | %s | %d | %s | %s |" % (
            c, fmt_ratio(medians[c], bar), len(xs),
            " | ".join(fmt_ratio(r["cells"].get(c), bar) for r in runs),
            "n/a" if na else "met" if ok else "**below**"))
    L.append("")
    met = not below
    for sz, gbar in geo_bars.items():
        g = bench.geomean([m for c, m in medians.items() if c.endswith("/%d" % sz)])
        met = met and g is not None and g >= gbar
        L.append("Geometric mean of the pooled %d B medians: %s (bar %s)." % (
            sz, "-" if g is None else "%.2f" % g, bench.fmt_bar(gbar)))
    L.append("Cells below their bar: %s." % (", ".join(below) or "none"))
    L.append("Verdict: %s." % ("met" if met else "not met"))
    return L, met


def run_matrix(n, out, bench_args):
    """Run bench.py's full matrix n times (results in out/<stamp>/); their folders, or
    None when a run left none."""
    paths = []
    for i in range(n):
        before = set(glob.glob(os.path.join(out, "2*")))
        print("runs: run %d of %d: bench.py %s" % (i + 1, n, " ".join(bench_args)),
              file=sys.stderr)
        rc = subprocess.run([sys.executable, os.path.join(HERE, "bench.py"), "--out", out]
                            + bench_args).returncode
        new = sorted(set(glob.glob(os.path.join(out, "2*"))) - before)
        if not new:
            print("runs: run %d of %d left no results (exit %d)" % (i + 1, n, rc),
                  file=sys.stderr)
            return None
        paths.append(new[-1])
    return paths


def report(runs, measure):
    L = []
    if measure.name != "frontend":
        L.append("Runs of --measure %s (%s)." % (measure.name, measure.title))
        L.append("")
    L.append("Columns: each run by its start (HHMM of its folder's time stamp, local time), "
             "then the cell's median over the runs and in how many runs it met its bar "
             "(%s); **bold**: below the bar." % ", ".join(
                 "%.2f at %d B%s" % (BAR[sz], sz, "" if measure.cell_bar[sz] is not None
                                     else " (no bar per cell)") for sz in bench.SIZES))
    L.append("")
    L.append("| cell | " + " | ".join(r["stamp"][-6:-2] for r in runs)
             + " | median | runs at the bar |")
    L.append("|---|" + "---:|" * (len(runs) + 2))
    medians = {}
    for c in MATRIX:
        vals = [r["cells"][c] for r in runs]
        have = [v for v in vals if v is not None]
        medians[c] = statistics.median(have) if have else None
        met = sum(1 for v in have if v >= cell_bar(c))
        L.append("| %s | %s | %s | %d of %d |" % (
            c, " | ".join(fmt_ratio(v, cell_bar(c)) for v in vals),
            fmt_ratio(medians[c], cell_bar(c)), met, len(runs)))
    L.append("")
    L.append("Runs (UTC stamp, git): " + "; ".join(
        "%s %s" % (r["stamp"], r["git"]) for r in runs) + ".")
    for size in bench.SIZES:
        g = [r["acc"].get("geomean_%d" % size) for r in runs]
        L.append("Geometric mean at %d B per run: %s." % (
            size, ", ".join("-" if x is None else "%.2f" % x for x in g)))
    L.append("Runs that met the whole bar: %d of %d." % (
        sum(1 for r in runs if r["acc"].get("met")), len(runs)))
    below = [c for c in MATRIX if medians[c] is not None and medians[c] < cell_bar(c)]
    always = [c for c in MATRIX
              if all(r["cells"][c] is not None and r["cells"][c] < cell_bar(c) for r in runs)]
    g64 = bench.geomean([medians[c] for c in MATRIX if c.endswith("/64")])
    L.append("Geometric mean of the 64 B cell medians: %s (bar %.2f)." % (
        "-" if g64 is None else "%.2f" % g64, measure.geomean_bar_64))
    L.append("Cells whose median over the runs is below their bar: %s." % (
        ", ".join(below) or "none"))
    L.append("Cells below their bar in every run: %s." % (", ".join(always) or "none"))
    L.append("")
    L += pooled(runs)
    L.append("")
    L += verdict(runs, measure)[0]
    return "\n".join(L)


def pooled(runs):
    """Every round of every run pooled per cell and vCPU placement: the rounds whose two
    samples ran in the same placement, near or far, each giving ours / in-tree. Which cells
    trail in which placement, with hundreds of rounds instead of six."""
    places = ("near", "far")
    L = ["Rounds pooled over the runs, per placement: median of the within-round ratios, "
         "rounds, share of them below 1.0.", "",
         "| cell | " + " | ".join(places) + " |", "|---|" + "---:|" * len(places)]
    per_place = {p: [] for p in places}
    for c in MATRIX:
        cols = []
        for p in places:
            xs = [x for r in runs for x in r["paired"].get(c, {}).get(p, [])]
            if not xs:
                cols.append("-")
                continue
            m = statistics.median(xs)
            if c.endswith("/64"):
                per_place[p].append(m)
            cols.append("%s (%d, %d %%)" % (fmt_ratio(m, cell_bar(c)), len(xs),
                                            round(100 * sum(x < 1 for x in xs) / len(xs))))
        L.append("| %s | %s |" % (c, " | ".join(cols)))
    L.append("")
    L.append("Geometric mean of the pooled 64 B medians: " + ", ".join(
        "%s %s" % (p, "-" if not v else "%.2f" % bench.geomean(v))
        for p, v in per_place.items()) + ".")
    return L


def fmt_ratio(v, bar):
    if v is None:
        return "-"
    return "**%.2f**" % v if v < bar else "%.2f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="result folders (default: every one in --out)")
    ap.add_argument("--out", default=os.path.join(bench.ROOT, "results", "perf"))
    ap.add_argument("--measure", choices=sorted(bench.MEASURES), default="frontend",
                    help="which bench.py --measure to gather (default frontend)")
    ap.add_argument("--since", metavar="STAMP",
                    help="only runs whose folder name (a time stamp) is at or after STAMP")
    ap.add_argument("--run", type=int, nargs="?", const=3, metavar="N",
                    help="run bench.py's full matrix N times (default 3) and judge those "
                    "runs; options runs.py does not know go to bench.py")
    args, bench_args = ap.parse_known_args()
    if bench_args and args.run is None:
        ap.error("unrecognized arguments: %s" % " ".join(bench_args))
    if args.run is not None:
        if args.run < 1 or args.runs or args.since:
            ap.error("--run N (N >= 1) runs and judges its own runs: no folders, no --since")
        paths = run_matrix(args.run, args.out, ["--measure", args.measure] + bench_args)
        if paths is None:
            return 1
    else:
        paths = args.runs or sorted(p for p in glob.glob(os.path.join(args.out, "2*"))
                                    if os.path.isdir(p))
    if args.since:
        paths = [p for p in paths if os.path.basename(os.path.normpath(p)) >= args.since]
    measure = bench.MEASURES[args.measure]
    BAR.update({sz: 1.0 if b is None else b for sz, b in measure.cell_bar.items()})
    runs = [r for r in (load(p, args.measure) for p in paths) if r]
    if not runs:
        print("runs: no full run of --measure %s found" % args.measure, file=sys.stderr)
        return 1
    print(report(runs, measure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
