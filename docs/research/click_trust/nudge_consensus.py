"""Is a first click's mask stable when the click moves a little? (training structures, never dev)

    LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain \
        python docs/research/click_trust/nudge_consensus.py [N_CASES] [--step 3]

For each structure's robot first click (jitter 2, seeds 0 and 1): the 2D mask of the click and of
four clicks moved by ``step`` pixels (up, down, left, right; inside the image). Prints, per
structure, the click's 2D Dice, the mean IoU of the moved clicks' masks with the click's own, and
the Dice of the medoid mask (highest mean IoU with the other four); then the summaries by
collapse and how well stability predicts a collapse.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.cases import load_train_cases
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int, nargs="?", default=80)
    p.add_argument("--step", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for case in load_train_cases(args.n):
        z, yx0 = first_click(case.truth)
        for seed in args.seeds:
            y, x = jittered(case.truth[z], yx0, 2, np.random.default_rng(seed))
            ctrl = LimNetController(case.image, spacing=case.spacing, max_slices=0)
            h, w = case.image.shape[1:]
            clicks = [(y, x)] + [(min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1))
                                 for dy, dx in ((-args.step, 0), (args.step, 0), (0, -args.step), (0, args.step))]
            masks = [ctrl.preview(z, [c], []) for c in clicks]
            ious = np.array([[iou(a, b) for b in masks] for a in masks])
            medoid = int(np.argmax(ious.sum(1)))
            d0, dm = dice(masks[0], case.truth[z]), dice(masks[medoid], case.truth[z])
            stab = float(ious[0, 1:].mean())
            rows.append((d0, dm, stab, masks[0].sum() / max(case.truth[z].sum(), 1)))
            print(f"{case.name:34s} seed {seed} dice {d0:.3f} stability {stab:.2f} medoid {medoid} dice {dm:.3f} "
                  f"area ratio {rows[-1][3]:.2f}", flush=True)
    r = np.array(rows)
    print(f"click mask mean Dice {r[:, 0].mean():.3f} ({(r[:, 0] < 0.1).sum()} < 0.1); medoid {r[:, 1].mean():.3f} "
          f"({(r[:, 1] < 0.1).sum()} < 0.1)")
    for lo, hi in ((0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 1.01)):
        sel = (r[:, 2] >= lo) & (r[:, 2] < hi)
        if sel.any():
            print(f"stability {lo:.1f}-{hi:.1f}: n={sel.sum()} click Dice {r[sel, 0].mean():.3f} medoid {r[sel, 1].mean():.3f} "
                  f"collapsed {(r[sel, 0] < 0.1).sum()}")


if __name__ == "__main__":
    main()
