"""Diagnostic: how the first click's 1x and 2x windows score on boundary contrast, raw and smoothed.

    python docs/research/prompt/first_window_contrast.py

For the robot's first click of every case of the generated textured nuclei, the held-out training
structures and the synthetic hold-out (never dev): the 1x window's mask (the size prior) and the
2x window's mask, each with its Dice on the slice, its raw boundary contrast and the contrast
measured on a smoothed crop (``prompt.boundary_contrast(..., smooth=k)``). Prints per group how
often the 2x mask is better, and how each measure's "2x wins" (contrast >= EDGE_CONTRAST) agrees.
"""

from __future__ import annotations

import numpy as np
import torch


def main() -> None:
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases
    from napari_limnet.inference.prompt import EDGE_CONTRAST, boundary_contrast, interaction_input, size_prior_box
    from napari_limnet.inference.slice_io import paste_mask

    torch.set_num_threads(1)
    groups = {"textured nuclei": textured_nuclei_cases(8), "training structures": load_train_cases(held_out_every=3),
              "synthetic": synthetic_holdout(8)}
    smooths = (0, 3, 5)
    for name, cases in groups.items():
        rows = []
        for case in cases:
            z, yx = first_click(case.truth)
            ctl = LimNetController(case.image, spacing=case.spacing, models=None)
            spacing = ctl.spacing[1:]
            pos, neg = np.array([yx], dtype=float), np.zeros((0, 2))
            box = size_prior_box(pos, spacing)
            row = []
            for factor in (1, 2):
                cand = box.scaled(factor) if factor != 1 else box
                x = interaction_input(ctl._source, z, cand, pos, neg, None)
                logits = ctl._runner.interaction(x)[0, 0]
                m = paste_mask(logits, cand, ctl._source.slice_shape)
                d = dice(m.dense(ctl._source.slice_shape) if m is not None else np.zeros_like(case.truth[z]), case.truth[z])
                row.append((d, [boundary_contrast(x[0, 0], (logits > 0).float(), smooth=k) for k in smooths]))
            rows.append(row)
        better = [r[1][0] > r[0][0] + 0.05 for r in rows]
        print(f"{name}: {len(rows)} cases, 2x better in {sum(better)}; mean Dice 1x {np.mean([r[0][0] for r in rows]):.3f}, "
              f"2x {np.mean([r[1][0] for r in rows]):.3f}")
        for i, k in enumerate(smooths):
            wins = [r[1][1][i] >= EDGE_CONTRAST for r in rows]
            took = np.mean([r[1][0] if w else r[0][0] for r, w in zip(rows, wins)])
            c1 = np.median([r[0][1][i] for r in rows])
            c2 = np.median([r[1][1][i] for r in rows])
            print(f"  smooth {k}: 2x clears the bar in {sum(wins)} (of them better {sum(w and b for w, b in zip(wins, better))}); "
                  f"Dice if it decided alone {took:.3f}; median contrast 1x {c1:.2f} 2x {c2:.2f}")


if __name__ == "__main__":
    main()
