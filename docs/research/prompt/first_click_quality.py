"""First-click 2D quality of interaction weights: the preview's Dice on the robot's first slice.

    python docs/research/prompt/first_click_quality.py shipped runs/texture/dec ...

One positive click at the deepest point of the largest slice (the robot's round 1), the preview
mask (prompt only, no propagation) against the true mask of that slice, averaged per group: the
generated large textured nuclei (``evaluation.textured_nuclei``), the held-out structures of the
training volumes (``--hold-out-every 3``) and the synthetic hold-out. Never dev.
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def main(argv=None) -> None:
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases
    from napari_limnet.modeling.weights import LimNetModels

    torch.set_num_threads(2)
    groups = {"textured nuclei": textured_nuclei_cases(8), "training structures": load_train_cases(held_out_every=3),
              "synthetic": synthetic_holdout(8)}
    for weights in (argv if argv is not None else sys.argv[1:]) or ["shipped"]:
        models = LimNetModels.load() if weights == "shipped" else LimNetModels.load(weights_dir=weights)
        cells = []
        for name, cases in groups.items():
            scores = []
            for case in cases:
                z, yx = first_click(case.truth)
                preview = LimNetController(case.image, spacing=case.spacing, models=models).preview(z, [yx], [])
                scores.append(dice(preview, case.truth[z]))
            cells.append(f"{name} {np.mean(scores):.3f}")
        print(f"{weights}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
