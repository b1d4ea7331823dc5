"""Which window should an implausible first mask be re-done from? (training structures, never dev)

    LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain \
        python docs/research/click_trust/first_click_windows.py OUT.pkl          # collect, then evaluate
    python docs/research/click_trust/first_click_windows.py OUT.pkl --evaluate   # evaluate a collection

Collect: for the robot's first click on 80 training structures (jitter 2, seeds 0 and 1), the
prompt result of the multi-scale search (None) and of each start window 0.5x, 1x, 2x, 4x the size
prior: (2D Dice, area, expected wrong pixels, covered share of the slice's Otsu foreground), and
the foreground's share of the slice.

Evaluate: the rule of inference/first_click.py over a grid of its two thresholds (speck: expected
wrong pixels over area; fill: covered share of the foreground), printing mean 2D Dice and the
collapses (2D Dice under 0.1).
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np

K = (0.5, 1, 2, 4)


def collect(out: str) -> None:
    import torch

    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.cases import load_train_cases
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.robot_user import first_click, jittered
    from napari_limnet.inference.first_click import covered_share, foreground
    from napari_limnet.inference.prompt import predict_prompt_mask

    torch.set_num_threads(2)
    records = []
    for case in load_train_cases(80):
        z, yx0 = first_click(case.truth)
        fg = foreground(case.image[z])
        for seed in (0, 1):
            yx = jittered(case.truth[z], yx0, 2, np.random.default_rng(seed))
            ctrl = LimNetController(case.image, spacing=case.spacing, max_slices=0)
            pos, neg = np.array([yx], float), np.zeros((0, 2))
            rec = {"case": case.name, "seed": seed, "body": float(fg.mean())}
            for k in (None, *K):
                res = predict_prompt_mask(ctrl._runner, ctrl._source, ctrl.spacing[1:], z, pos, neg, None, start=k,
                                          config=ctrl.prompt)
                m = res.mask.dense(case.image.shape[1:]) if res.mask is not None else np.zeros(case.image.shape[1:], bool)
                rec[k] = (dice(m, case.truth[z]), int(m.sum()), float(res.uncertain), covered_share(res.mask, fg))
            records.append(rec)
            print(case.name, seed, {k: round(rec[k][0], 3) for k in (None, *K)}, flush=True)
    with open(out, "wb") as f:
        pickle.dump(records, f)


def verdict(v, body: float, speck: float, fill: float) -> str | None:
    """inference.first_click.implausible of one recorded result (Dice, area, uncertain, covered)."""
    from napari_limnet.inference.first_click import implausible

    _, area, uncertain, covered = v
    return implausible(area, uncertain, covered, body, speck=speck, fill=fill)


def evaluate(path: str) -> None:
    records = pickle.load(open(path, "rb"))
    base = np.array([r[None][0] for r in records])
    print(f"{len(records)} first clicks; shipped: mean 2D Dice {base.mean():.4f}, collapsed {(base < 0.1).sum()}")
    for speck in (0.8, 0.9, 1.0, None):
        for fill in (0.3, 0.4, 0.5, 0.6, None):
            dices, changed = [], 0
            for r in records:
                s, f = speck if speck is not None else np.inf, fill if fill is not None else np.inf
                d = r[None][0]
                if verdict(r[None], r.get("body", 1.0), s, f):
                    ok = [(r[k][2] / r[k][1], k) for k in K if verdict(r[k], r.get("body", 1.0), s, f) is None]
                    if ok:
                        d, changed = r[min(ok)[1]][0], changed + 1
                dices.append(d)
            d = np.array(dices)
            print(f"speck {speck}  fill {fill}: mean {d.mean():.4f}  collapsed {(d < 0.1).sum()}  re-done {changed}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("pkl")
    p.add_argument("--evaluate", action="store_true", help="only evaluate an earlier collection")
    a = p.parse_args()
    if not a.evaluate:
        collect(a.pkl)
    evaluate(a.pkl)
