"""Diagnostic: how the intensity-gap stop (``stopping.DriftGapRule``) was chosen.

    python scripts/drift_gap_walks.py [--out docs/stopping/drift_gap_walks.json]

Round 1 of the robot on the 40 training structures, the synthetic hold-out, the generated
textured nuclei and the generated packed nuclei (never dev), with the gap rule off: for each
direction of the walk from the first slice, every visited slice's drift, presence, proposed
area, kept area, true positives and true area. Then the rule is replayed on those walks for a
grid of (height, fall, within): where it fires, the boundary slice and the rest of that walk are
dropped, and the case's 3D Dice is recomputed. Exact for round 1 (the rule only ends a walk
earlier). Prints per group the mean Dice change, the worst single case, and how many cases fire.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace

import numpy as np
import torch

GRID = list(itertools.product((0.5, 0.6, 0.75, 0.9, 1.0), (0.5, 0.67, 0.8), (2, 3, 5)))


def walks_of(case, models=None) -> dict:
    """The round-1 walks of one case (rule off): {"anchor": [kept, tp, true], "walks": {+1/-1: rows}}.

    ``models``: the nets to walk with (None = the shipped ones).

    rows: [drift, presence, proposed area, kept area, true positives, true area] per visited slice.
    """
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.inference.stopping import StoppingConfig

    t = case.truth
    ctl = LimNetController(case.image, spacing=case.spacing, models=models,
                           stopping=replace(StoppingConfig(), drift_gap=None))
    z0, yx = first_click(t)
    m = ctl.interact(z0, [yx], [])
    ev = ctl.state.evidence
    per = lambda a: a.reshape(a.shape[0], -1).sum(1)  # noqa: E731
    ta, pa, tp = per(t), per(m), per(t & m)
    walks = {}
    for d in (1, -1):
        rows, z = [], z0 + d
        while 0 <= z < t.shape[0] and z in ev:
            e = ev[z]
            rows.append([round(e.drift, 4), round(e.presence, 4), int(e.area), int(pa[z]), int(tp[z]), int(ta[z])])
            z += d
        walks[str(d)] = rows
    return {"name": case.name, "group": case.group, "anchor": [int(pa[z0]), int(tp[z0]), int(ta[z0])],
            "total_truth": int(t.sum()), "walks": walks}


def walk_drifts(rows: list) -> list[float | None]:
    """The drifts of a recorded walk as the rule sees them online (None = a slice without a mask)."""
    return [r[0] if r[2] > 0 else None for r in rows]


def replay_dice(record: dict, rule) -> float:
    """3D Dice of round 1 had ``rule`` (a DriftGapRule or None) stopped the walks."""
    kept, hit = record["anchor"][0], record["anchor"][1]
    for rows in record["walks"].values():
        k = len(rows)
        if rule is not None:
            gap = rule.find(walk_drifts(rows))
            k = k if gap is None else gap
        kept += sum(r[3] for r in rows[:k])
        hit += sum(r[4] for r in rows[:k])
    return 2 * hit / (kept + record["total_truth"])


def main(argv=None) -> None:
    from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.packed_nuclei import packed_nuclei_cases
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases
    from napari_limnet.inference.stopping import DriftGapRule

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/stopping/drift_gap_walks.json")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", default=None, help="walk with the nets in this folder (default: the shipped ones)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = None
    if args.weights:
        from napari_limnet.modeling.weights import LimNetModels
        models = LimNetModels.load("cpu", args.weights)
    cases = load_train_cases(40) + synthetic_holdout(8) + textured_nuclei_cases(8) + packed_nuclei_cases(12)
    records = [walks_of(c, models) for c in cases]
    groups = sorted({r["group"] for r in records})
    base = {id(r): replay_dice(r, None) for r in records}
    table = []
    for height, fall, within in GRID:
        rule = DriftGapRule(height, fall, within)
        row = {"height": height, "fall": fall, "within": within, "fires": 0}
        for g in groups:
            deltas = [replay_dice(r, rule) - base[id(r)] for r in records if r["group"] == g]
            row[g] = {"mean_change": round(float(np.mean(deltas)), 4), "worst": round(float(min(deltas)), 4)}
        row["fires"] = sum(any(rule.find(walk_drifts(rows)) is not None
                               for rows in r["walks"].values()) for r in records)
        table.append(row)
        print(f"height {height:4.2f} fall {fall:4.2f} within {within}  fires {row['fires']:2d}  " +
              "  ".join(f"{g} {row[g]['mean_change']:+.4f} (worst {row[g]['worst']:+.3f})" for g in groups))
    baseline = {g: round(float(np.mean([base[id(r)] for r in records if r["group"] == g])), 4) for g in groups}
    with open(args.out, "w") as f:
        json.dump({"round1_dice_without_rule": baseline, "grid": table, "walks": records}, f)
    print("round-1 Dice without the rule:", baseline, "->", args.out)


if __name__ == "__main__":
    main()
