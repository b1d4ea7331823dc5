"""Diagnostic: where does each set of weights want its presence threshold?

    python docs/research/stopping/presence_threshold_walks.py [--weights DIR] [--out docs/research/stopping/presence_threshold_walks.json]

Round 1 of the robot on the proxy cases (never dev: training structures, composite objects, the
synthetic hold-out, textured and packed nuclei, and a border-cut copy of each), walked with the
presence threshold lowered to ``WALK_THRESHOLD`` (the other rules as shipped, the intensity gap
replayed). On those walks the stop "first slice with presence < t" is replayed for every t of
``THRESHOLDS``. Fine-tuned propagation nets move the presence calibration (a border-cut candidate
kept presence 0.6-0.8 on slices past an object's end, where the shipped net fell under 0.5), so
one fixed threshold favours the net it was set for; this prints, per group, round-1 Dice against
t, and the t that is best over all proxy cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from drift_gap_walks import proxy_walks, walk_args  # noqa: E402
from presence_dip_walks import replay  # noqa: E402

WALK_THRESHOLD = 0.2
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def threshold_stop(t: float):
    """Slices kept by "stop at the first slice with presence < t"."""
    return lambda rows: next((i for i, r in enumerate(rows) if r[1] < t), len(rows))


def main(argv=None) -> None:
    args = walk_args(__doc__, "docs/research/stopping/presence_threshold_walks.json", argv)
    records = proxy_walks(args.weights, WALK_THRESHOLD, border_cut=True)
    groups = sorted({r["group"] for r in records})
    table = {}
    for g in groups + ["all"]:
        rs = [r for r in records if g in ("all", r["group"])]
        table[g] = {str(t): float(np.mean([replay(r, threshold_stop(t)) for r in rs])) for t in THRESHOLDS}
    print(f"{'group':28s} " + " ".join(f"{t:>5}" for t in THRESHOLDS))
    for g, row in table.items():
        print(f"{g:28s} " + " ".join(f"{v:5.3f}" for v in row.values()))
    best = max(THRESHOLDS, key=lambda t: table["all"][str(t)])
    print(f"best threshold over all proxy cases: {best}")
    out = {"weights": args.weights or "shipped", "walk_threshold": WALK_THRESHOLD, "round1_dice": table,
           "best_threshold": best, "cases": len(records)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
