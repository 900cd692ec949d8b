#!/usr/bin/env python3
"""Bar chart of the ratios ours/in-tree from a bench.py results.json.

    plot.py results/perf/<stamp>/results.json ratios.png

One panel per packet size, one group of bars per data path, one bar per
direction; a line at 1.0 (parity) and, at 64 bytes, a dotted one at 1.15
(the geometric-mean target).  Cells without a ratio are labelled
(unsup. = our driver refused the data path at probe, n/a, err).
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
    for ax, size in zip(axes[:, 0], sizes):
        top = 1.4
        for j, d in enumerate(dirs):
            xs, ys = [], []
            for i, p in enumerate(pnames):
                r = by.get((d, p, size))
                if r is None:
                    continue
                x = i + (j - (len(dirs) - 1) / 2.0) * width
                if r["ratio"] is None:
                    ax.text(x, 0.03, LABELS.get(r["status"], "err"), rotation=90,
                            ha="center", va="bottom", fontsize=7, color="grey")
                    continue
                xs.append(x)
                ys.append(r["ratio"])
                ax.text(x, r["ratio"] + 0.02, "%.2f" % r["ratio"], rotation=90,
                        ha="center", va="bottom", fontsize=7)
            top = max([top] + [y + 0.35 for y in ys])
            if xs:
                ax.bar(xs, ys, width * 0.92, color=COLORS.get(d))
        ax.axhline(1.0, color="black", linewidth=1)
        if size == 64:
            ax.axhline(1.15, color="black", linewidth=0.8, linestyle=":")
        ax.set_xticks(range(len(pnames)))
        ax.set_xticklabels(pnames, rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(pnames) - 0.4)
        ax.set_ylim(0, top)
        ax.set_ylabel("ours / in-tree (median)")
        ax.set_title("%d-byte packets" % size, fontsize=10)
        ax.legend(handles=[Patch(color=COLORS[d], label=DIRECTION_TEXT[d]) for d in dirs],
                  fontsize=7, loc="upper right", ncol=len(dirs))
    fig.suptitle("net_vuser / net_virtio_user, %d rounds, %s, %s, git %s%s"
                 % (meta["rounds"], "hugepages" if "hugepages" in meta["memory"]
                    else "no-huge", env["cpu_model"], env["git_commit"][:10],
                    " (dirty)" if env.get("git_dirty") else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py results.json out.png")
    sys.exit(main(sys.argv[1], sys.argv[2]))
