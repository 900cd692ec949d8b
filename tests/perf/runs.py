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
            "paired": {c["cell"]: paired_by_placement(c) for c in j["cells"]}}


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
    args = ap.parse_args()
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
