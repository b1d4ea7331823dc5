"""Diagnostic: the small-window look of the first click, and how its gain and floor were chosen.

    python docs/research/prompt/small_window_look.py

For the robot's first click of the 40 training structures, the synthetic hold-out and the
generated textured nuclei (never dev): the masks of the 0.5x, 1x, 2x and 4x first windows, each
with its Dice on the slice and its outline contrast (``prompt.boundary_contrast``, raw and averaged).
The window choice is then replayed from those numbers, without the re-framing that follows it:
the windows that only grow (the release before), and the small look for a grid of
(SMALL_GAIN, SMALL_FLOOR). Prints per group the mean Dice, how many first windows turned small,
and how many of them lost more than 0.05 Dice.
"""

from __future__ import annotations

import numpy as np
import torch

FACTORS = (0.5, 1, 2, 4)
GRID = [(gain, floor) for gain in (1.25, 1.5, 2.0) for floor in (0.2, 0.3, 0.5)]


def window_scores(case) -> dict:
    """{factor: (Dice, raw contrast, averaged-or-raw contrast)} of the first windows on the robot's first slice."""
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.inference.prompt import TEXTURE_SMOOTH, boundary_contrast, clean_prompt_mask, interaction_input, size_prior_box
    from napari_limnet.inference.slice_io import paste_mask

    z, yx = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape
    pos, neg = np.array([yx], dtype=float), np.zeros((0, 2))
    box = size_prior_box(pos, ctl.spacing[1:])
    out = {}
    for factor in FACTORS:
        cand = box.scaled(factor) if factor != 1 else box
        x = interaction_input(ctl._source, z, cand, pos, neg, None)
        logits = ctl._runner.interaction(x)[0, 0]
        mask = clean_prompt_mask(paste_mask(logits, cand, shape), pos, neg, None)
        drawn = (logits > 0).float()
        raw = boundary_contrast(x[0, 0], drawn)
        both = max(raw, boundary_contrast(x[0, 0], drawn, smooth=TEXTURE_SMOOTH))
        out[factor] = (dice(mask.dense(shape) if mask is not None else np.zeros(shape, bool), case.truth[z]), raw, both)
    return out


def growing_choice(s: dict) -> float:
    """The window the release before the small look picks (prompt._first_scale with small_look off)."""
    from napari_limnet.inference.prompt import EDGE_CONTRAST, NO_EDGE_CONTRAST

    first = s[1][1]
    if first >= EDGE_CONTRAST:
        return 1
    for factor in (2,) if first >= NO_EDGE_CONTRAST else (2, 4):
        if s[factor][2] >= EDGE_CONTRAST:
            return factor
    return 1


def small_choice(s: dict, gain: float, floor: float) -> float:
    from napari_limnet.inference.prompt import EDGE_CONTRAST

    grown = growing_choice(s)
    if grown == 1 and s[1][1] < EDGE_CONTRAST and s[0.5][2] >= max(floor, gain * s[1][2]):
        return 0.5
    return grown


def main() -> None:
    from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases

    torch.set_num_threads(2)
    groups = {"training structures": load_train_cases(), "synthetic": synthetic_holdout(8),
              "textured nuclei": textured_nuclei_cases(8)}
    for name, cases in groups.items():
        scores = [window_scores(case) for case in cases]
        base = [s[growing_choice(s)][0] for s in scores]
        cells = [f"only growing {np.mean(base):.3f}"]
        for gain, floor in GRID:
            picks = [small_choice(s, gain, floor) for s in scores]
            took = [s[p][0] for s, p in zip(scores, picks)]
            small = sum(p == 0.5 for p in picks)
            worse = sum(t < b - 0.05 for t, b in zip(took, base))
            cells.append(f"gain {gain} floor {floor}: {np.mean(took):.3f} ({small} small, {worse} worse)")
        print(f"{name} ({len(cases)}):\n  " + "\n  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
