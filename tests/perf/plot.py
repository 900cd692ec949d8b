#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bar chart of the ratios ours/theirs from a bench.py results.json.

    plot.py results/perf/<stamp>/results.json ratios.png

One panel per packet size, one group of bars per data path, one bar per
direction, on a log scale with bars growing from the parity line at 1.0 (up:
ours faster); dotted, the measure's other lines (results.json's
acceptance.bar): the 64-byte geometric-mean target (1.15 for --measure
frontend) and a per-cell floor other than 1.0 (0.95 at 1518 bytes there).
Cells without a ratio are labelled (unsup. = our driver refused the data path at
probe, n/a, err).
bench.py runs this with an interpreter that has matplotlib (Debian's
python3-matplotlib).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

DIRECTIONS = ("tx", "rx", "loop")
DIRECTION_TEXT = {
    "tx": "frontend Tx",
    "rx": "frontend Rx",
    "loop": "loopback",
}
COLORS = {"tx": "#4c72b0", "rx": "#dd8452", "loop": "#55a868"}
LABELS = {"unsupported": "unsup.", "n/a": "n/a"}


def main(src, dst):
    with open(src) as f:
        res = json.load(f)
    rows = res["cells"]
    meta, env = res["meta"], res["environment"]
    # runs from before --measure: the frontend measure's bar
    bar = res.get("acceptance", {}).get("bar") or {"cell": {"64": 1.0, "1518": 0.95},
                                                   "geomean_64": 1.15}
    sizes = sorted({r["size"] for r in rows})
    dirs = [d for d in DIRECTIONS if any(r["direction"] == d for r in rows)]
    pnames = []
    for r in rows:
        if r["path"] not in pnames:
            pnames.append(r["path"])
    by = {(r["direction"], r["path"], r["size"]): r for r in rows}

    fig, axes = plt.subplots(len(sizes), 1, squeeze=False,
                             figsize=(max(7.0, 1.25 * len(pnames) + 2), 3.7 * len(sizes)))
    width = 0.8 / max(1, len(dirs))
    ticks_all = [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2, 3, 4, 6, 8, 10, 15, 20]
    for ax, size in zip(axes[:, 0], sizes):
        ratios = [r["ratio"] for r in rows if r["size"] == size and r["ratio"]]
        lo = min([0.5] + [x / 1.3 for x in ratios])
        hi = max([2.0] + [x * 1.35 for x in ratios])
        # bars grow from the parity line (log scale): up = ours faster
        for j, d in enumerate(dirs):
            xs, ys = [], []
            for i, p in enumerate(pnames):
                r = by.get((d, p, size))
                if r is None:
                    continue
                x = i + (j - (len(dirs) - 1) / 2.0) * width
                if r["ratio"] is None:
                    ax.text(x, 1.0, LABELS.get(r["status"], "err"), rotation=90,
                            ha="center", va="bottom", fontsize=7, color="grey")
                    continue
                xs.append(x)
                ys.append(r["ratio"])
                above = r["ratio"] >= 1.0
                ax.text(x, r["ratio"] * (1.03 if above else 0.97), "%.2f" % r["ratio"],
                        rotation=90, ha="center", va="bottom" if above else "top", fontsize=7)
            if xs:
                ax.bar(xs, [y - 1.0 for y in ys], width * 0.92, bottom=1.0, color=COLORS.get(d))
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ticks = [t for t in ticks_all if lo <= t <= hi]
        ax.set_yticks(ticks)
        ax.set_yticklabels(["%g" % t for t in ticks])
        ax.minorticks_off()
        ax.axhline(1.0, color="black", linewidth=1)
        lines = [bar["cell"].get(str(size))] + ([bar["geomean_64"]] if size == 64 else [])
        for y in lines:
            if y is not None and y != 1.0:
                ax.axhline(y, color="black", linewidth=0.8, linestyle=":")
        ax.set_xticks(range(len(pnames)))
        ax.set_xticklabels(pnames, rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(pnames) - 0.4)
        ax.set_ylabel("ours / in-tree (median, log)")
        ax.set_title("%d-byte packets" % size, fontsize=10, loc="left")
        ax.legend(handles=[Patch(color=COLORS[d], label=DIRECTION_TEXT[d]) for d in dirs],
                  fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(dirs),
                  frameon=False)
    fig.suptitle("%s, %d rounds, %s, %s, git %s%s"
                 % (meta.get("title", "net_vuser / net_virtio_user"), meta["rounds"],
                    "hugepages" if "hugepages" in meta["memory"] else "no-huge",
                    env["cpu_model"], env["git_commit"][:10],
                    " (dirty)" if env.get("git_dirty") else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py results.json out.png")
    sys.exit(main(sys.argv[1], sys.argv[2]))
