"""Diagnostic: how the intensity-gap and sustained-drift stops (``stopping.DriftGapRule``,
``stopping.DriftPlateauRule``) were chosen.

    python docs/research/stopping/drift_gap_walks.py [--out docs/research/stopping/drift_gap_walks.json] [--weights DIR]

Round 1 of the robot on the 40 training structures, 24 composite objects of the training volumes
(two touching structures as one), the synthetic hold-out, the generated textured nuclei and the
generated packed nuclei (never dev), with both rules off: for each direction of the walk from the
first slice, every visited slice's drift, presence, proposed area, kept area, true positives and
true area. Then the rules are replayed on those walks: the gap rule alone for a grid of (height,
fall, within), and the plateau rule, next to the shipped gap rule, for a grid of (height, run,
rise_within, rise_from).
Where a rule fires, the rest of that walk is dropped and the case's 3D Dice is recomputed. Exact
for round 1 (the rules only end a walk earlier). Prints per group the mean Dice change, the worst
single case, and how many cases fire.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace

import numpy as np
import torch

GRID = list(itertools.product((0.5, 0.6, 0.75, 0.9, 1.0), (0.5, 0.67, 0.8), (2, 3, 5)))
#: (height, run, rise_within, rise_from); rise_from 100 = no step asked for (any rise counts)
PLATEAU_GRID = list(itertools.product((0.75, 1.0), (3, 5, 8), (2, 3, 4), (0.5, 100.0)))


def walks_of(case, models=None, presence_threshold: float | None = None) -> dict:
    """The round-1 walks of one case (rule off): {"anchor": [kept, tp, true], "walks": {+1/-1: rows}}.

    ``models``: the nets to walk with (None = the shipped ones). ``presence_threshold``: walk on
    until the presence falls under this (None = the shipped threshold), to replay presence rules.

    rows: [drift, presence, proposed area, kept area, true positives, true area] per visited slice.
    """
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.inference.stopping import StoppingConfig

    t = case.truth
    stopping = replace(StoppingConfig(), drift_gap=None, drift_plateau=None)
    if presence_threshold is not None:
        stopping = replace(stopping, presence_threshold=presence_threshold)
    ctl = LimNetController(case.image, spacing=case.spacing, models=models, stopping=stopping)
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


def replay_dice(record: dict, *rules) -> float:
    """3D Dice of round 1 had ``rules`` (DriftGapRule / DriftPlateauRule, or None) stopped the walks."""
    kept, hit = record["anchor"][0], record["anchor"][1]
    for rows in record["walks"].values():
        drifts = walk_drifts(rows)
        stops = [r.find(drifts) for r in rules if r is not None]
        k = min([len(rows), *(i for i in stops if i is not None)])
        kept += sum(r[3] for r in rows[:k])
        hit += sum(r[4] for r in rows[:k])
    return 2 * hit / (kept + record["total_truth"])


def replay_grid(records: list, groups: list, rules: list, base: dict, also=()) -> list:
    """Per (parameters dict, rule) in ``rules``: per group the mean and worst Dice change against
    ``base`` and how many cases are lower, and how many cases it fires on. ``also``: rules that run
    next to it in every replay."""
    table = []
    for name, rule in rules:
        row = {**name, "fires": 0}
        for g in groups:
            deltas = [replay_dice(r, rule, *also) - base[id(r)] for r in records if r["group"] == g]
            row[g] = {"mean_change": round(float(np.mean(deltas)), 4), "worst": round(float(min(deltas)), 4),
                      "lower": int(sum(d < -0.005 for d in deltas))}
        row["fires"] = sum(any(rule.find(walk_drifts(rows)) is not None for rows in r["walks"].values()) for r in records)
        table.append(row)
        print("  ".join(f"{k} {v}" for k, v in name.items()) + f"  fires {row['fires']:2d}  " +
              "  ".join(f"{g} {row[g]['mean_change']:+.4f} (worst {row[g]['worst']:+.3f})" for g in groups), flush=True)
    return table


def walk_args(doc: str, default_out: str, argv=None) -> argparse.Namespace:
    """The walk scripts' command line (--out, --threads, --weights); sets torch's thread count."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=default_out)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", default=None, help="walk with the nets in this folder (default: the shipped ones)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    return args


def proxy_cases(border_cut: bool = False) -> list:
    """The proxy cases, never dev: 40 training structures, 24 composite objects, the synthetic
    hold-out and the generated textured and packed nuclei (``border_cut``: and a border-cut copy
    of each that allows one, ``evaluation.border_cut``)."""
    from napari_limnet.evaluation.border_cut import border_cut_cases
    from napari_limnet.evaluation.cases import load_composite_train_cases, load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.packed_nuclei import packed_nuclei_cases
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases

    cases = (load_train_cases(40) + load_composite_train_cases(24) + synthetic_holdout(8) + textured_nuclei_cases(8)
             + packed_nuclei_cases(12))
    return cases + border_cut_cases(cases) if border_cut else cases


def proxy_walks(weights: str | None = None, presence_threshold: float | None = None, border_cut: bool = False) -> list[dict]:
    """Round-1 walks (:func:`walks_of`) of :func:`proxy_cases`.

    ``weights``: a folder of nets to walk with (None = the shipped ones).
    """
    models = None
    if weights:
        from napari_limnet.modeling.weights import LimNetModels
        models = LimNetModels.load("cpu", weights)
    return [walks_of(c, models, presence_threshold) for c in proxy_cases(border_cut)]


def main(argv=None) -> None:
    from napari_limnet.inference.stopping import DriftGapRule, DriftPlateauRule

    args = walk_args(__doc__, "docs/research/stopping/drift_gap_walks.json", argv)
    records = proxy_walks(args.weights)
    groups = sorted({r["group"] for r in records})
    base = {id(r): replay_dice(r) for r in records}
    print("the gap rule alone:")
    gap_rules = [({"height": h, "fall": f, "within": w}, DriftGapRule(h, f, w)) for h, f, w in GRID]
    table = replay_grid(records, groups, gap_rules, base)
    print("the plateau rule, next to the shipped gap rule:")
    with_gap = {id(r): replay_dice(r, DriftGapRule()) for r in records}
    plateau_rules = [({"height": h, "run": n, "rise_within": w, "rise_from": f}, DriftPlateauRule(h, n, w, f))
                     for h, n, w, f in PLATEAU_GRID]
    plateau = replay_grid(records, groups, plateau_rules, with_gap, also=(DriftGapRule(),))
    baseline = {g: round(float(np.mean([base[id(r)] for r in records if r["group"] == g])), 4) for g in groups}
    with open(args.out, "w") as f:
        json.dump({"weights": args.weights or "shipped", "round1_dice_without_rules": baseline, "grid": table,
                   "plateau_grid": plateau, "walks": records}, f)
    print("round-1 Dice without the rules:", baseline, "->", args.out)


if __name__ == "__main__":
    main()
