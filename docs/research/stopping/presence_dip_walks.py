"""Diagnostic: does a single marginal presence dip end a walk that should go on?

    python docs/research/stopping/presence_dip_walks.py [--weights DIR] [--out docs/research/stopping/presence_dip_walks.json]

Round 1 of the robot on the training structures, composite training objects, the synthetic
hold-out and the generated textured and packed nuclei (never dev), walked with the presence
threshold lowered to ``WALK_THRESHOLD`` (the other rules as shipped, the intensity gap replayed).
On those walks the shipped stop (presence < 0.5) is replayed against two ways of not stopping at
one marginal slice:

- ``dip``: a slice with presence in [low, 0.5) is kept when the next slice's presence is >= 0.5
  again (one slice of look-ahead); two such slices in a row end the walk before the first.
- ``steady``: a slice with presence in [low, 0.5) is kept when its drift is under ``drift`` spreads
  (the mask still sits on the anchor's intensities).

Exact for round 1 where the replayed rule stops no later than the walk did. Prints per group the
mean Dice change, the worst case and how many cases are lower.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from drift_gap_walks import proxy_walks, walk_args, walk_drifts  # noqa: E402

WALK_THRESHOLD = 0.25
THRESHOLD = 0.5


def shipped_stop(rows: list) -> int:
    """Slices kept by the shipped presence stop: up to the first slice under 0.5."""
    return next((i for i, r in enumerate(rows) if r[1] < THRESHOLD), len(rows))


def dip_stop(rows: list, low: float) -> int:
    """Slices kept when one marginal slice (presence in [low, 0.5)) followed by a confident one
    does not end the walk."""
    for i, r in enumerate(rows):
        if r[1] >= THRESHOLD:
            continue
        if r[1] >= low and i + 1 < len(rows) and rows[i + 1][1] >= THRESHOLD:
            continue
        return i
    return len(rows)


def steady_stop(rows: list, low: float, drift: float) -> int:
    """Slices kept when a marginal slice whose mask stays on the anchor's intensities goes on."""
    for i, r in enumerate(rows):
        if r[1] >= THRESHOLD or (r[1] >= low and r[2] > 0 and r[0] < drift):
            continue
        return i
    return len(rows)


def replay(record: dict, stop) -> float:
    """3D Dice of round 1 had ``stop(rows) -> kept`` and the shipped intensity gap ended the walks."""
    from napari_limnet.inference.stopping import DriftGapRule

    gap = DriftGapRule()
    kept, hit = record["anchor"][0], record["anchor"][1]
    for rows in record["walks"].values():
        k = stop(rows)
        g = gap.find(walk_drifts(rows[:k]))
        k = min(k, g) if g is not None else k
        kept += sum(r[3] for r in rows[:k])
        hit += sum(r[4] for r in rows[:k])
    return 2 * hit / (kept + record["total_truth"])


def main(argv=None) -> None:
    args = walk_args(__doc__, "docs/research/stopping/presence_dip_walks.json", argv)
    records = proxy_walks(args.weights, presence_threshold=WALK_THRESHOLD)
    groups = sorted({r["group"] for r in records})
    base = {id(r): replay(r, shipped_stop) for r in records}
    rules = [({"rule": "dip", "low": lo}, lambda rows, lo=lo: dip_stop(rows, lo)) for lo in (0.3, 0.4, 0.45)]
    rules += [({"rule": "steady", "low": lo, "drift": d}, lambda rows, lo=lo, d=d: steady_stop(rows, lo, d))
              for lo, d in itertools.product((0.4, 0.45), (0.1, 0.25, 0.5))]
    table = []
    for params, stop in rules:
        row = dict(params)
        for g in groups:
            deltas = [replay(r, stop) - base[id(r)] for r in records if r["group"] == g]
            row[g] = {"mean_change": round(float(np.mean(deltas)), 4), "worst": round(float(min(deltas)), 4),
                      "lower": int(sum(d < -0.005 for d in deltas)), "higher": int(sum(d > 0.005 for d in deltas))}
        table.append(row)
        print("  ".join(f"{k} {v}" for k, v in params.items()) + "  " +
              "  ".join(f"{g} {row[g]['mean_change']:+.4f} (worst {row[g]['worst']:+.3f}, {row[g]['lower']} lower, "
                        f"{row[g]['higher']} higher)" for g in groups), flush=True)
    baseline = {g: round(float(np.mean([base[id(r)] for r in records if r["group"] == g])), 4) for g in groups}
    with open(args.out, "w") as f:
        json.dump({"weights": args.weights or "shipped", "walk_threshold": WALK_THRESHOLD,
                   "round1_dice_shipped_stop": baseline, "grid": table, "walks": records}, f)
    print("round-1 Dice with the shipped stop:", baseline, "->", args.out)


if __name__ == "__main__":
    main()
