"""Which slices make a correction round better or worse? Robot sessions on the proxy cases only.

    python docs/research/training/cpu_sweep_2026-12-01/correction_round_attribution.py --out runs/attribution.json [--weights DIR]

Runs the robot user (6 rounds) on the proxy cases of issue 21 (training structures held out by
object, synthetic, textured and packed nuclei, each also cut by an image edge; never dev) and,
for every correction round (rounds 2-6), splits the slices it changed into three kinds:

- ``added``: empty before the round, non-empty after (the round extended the object);
- ``removed``: non-empty before, empty after (the round retracted it or cut a leak);
- ``changed``: non-empty before and after, with a different mask.

Each kind's effect is exact and counterfactual: the Dice of the previous round's volume with only
that kind's slices replaced by the new round's, minus the previous round's Dice. Prints, per kind
and click sign, the summed Dice effect over rounds that lowered the case's Dice by more than
``--drop`` and over all rounds, and writes every round's row to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "greedy"))  # greedy_soup's proxy set

KINDS = ("added", "removed", "changed")


def slice_kinds(before: np.ndarray, after: np.ndarray) -> dict[str, list[int]]:
    """Slices (axis 0 of (Z, Y, X) bool volumes) that differ, by kind: added, removed, changed."""
    had, has = before.any(axis=(1, 2)), after.any(axis=(1, 2))
    differ = (before != after).any(axis=(1, 2))
    return {
        "added": np.flatnonzero(differ & ~had & has).tolist(),
        "removed": np.flatnonzero(differ & had & ~has).tolist(),
        "changed": np.flatnonzero(differ & had & has).tolist(),
    }


def kind_effects(before: np.ndarray, after: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per kind, Dice(before with only that kind's slices taken from after) - Dice(before)."""
    from napari_limnet.evaluation.metrics import dice

    base = dice(before, truth)
    out = {}
    for kind, slices in slice_kinds(before, after).items():
        mixed = before.copy()
        mixed[slices] = after[slices]
        out[kind] = dice(mixed, truth) - base
    return out


def proxy_cases():
    """The issue-21 proxy cases, never dev: the benchmark's cases for ``greedy_soup.PROXY_ARGS``."""
    from greedy_soup import PROXY_ARGS

    from napari_limnet import benchmark

    return benchmark.load_cases(benchmark.build_parser().parse_args(PROXY_ARGS))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=None, help="weights folder (default: shipped)")
    p.add_argument("--drop", type=float, default=0.03, help="a round 'made things worse' below this Dice change")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    import torch

    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.robot_user import run_session
    from napari_limnet.modeling.weights import LimNetModels

    torch.set_num_threads(args.threads)
    models = LimNetModels.load("cpu", args.weights) if args.weights else None
    rows = []
    for case in proxy_cases():
        ctrl = LimNetController(case.image, spacing=case.spacing, models=models)
        session = run_session(ctrl.interact, case.truth, 6, keep_masks=True)
        truth = np.asarray(case.truth, dtype=bool)
        for r in range(1, len(session.masks)):  # one mask per click; none once the case is perfect
            z, _, positive = session.clicks[r]
            before, after = session.masks[r - 1], session.masks[r]
            rows.append({"case": case.name, "group": case.group, "round": r + 1, "positive": bool(positive),
                         "same_slice": z in [c[0] for c in session.clicks[:r]],
                         "dice_change": session.dice[r] - session.dice[r - 1],
                         "slices": {k: len(v) for k, v in slice_kinds(before, after).items()},
                         "effect": kind_effects(before, after, truth)})
        print(f"{case.name:<32} " + " ".join(f"{d:.2f}" for d in session.dice), flush=True)
    table = {}
    for sign in ("positive", "negative"):
        mine = [row for row in rows if row["positive"] == (sign == "positive")]
        drops = [row for row in mine if row["dice_change"] < -args.drop]
        table[sign] = {"rounds": len(mine), "rounds_that_dropped": len(drops),
                       **{f"{k} in drops": round(sum(row["effect"][k] for row in drops), 3) for k in KINDS},
                       **{f"{k} in all": round(sum(row["effect"][k] for row in mine), 3) for k in KINDS}}
    print(json.dumps(table, indent=1))
    report = {"weights": args.weights or "shipped", "drop": args.drop, "table": table, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
