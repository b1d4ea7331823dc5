"""First clicks on the training structures (never dev): 2D Dice of the robot's first slice under
several prompt configurations, side by side.

    LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain \
        python docs/research/click_trust/first_click_proxies.py [N_CASES] [--jitter 2 --seeds 0 1]

Prints per configuration the mean 2D Dice, the collapses (2D Dice < 0.1) and, per group (brain
MRI, body CT/MR), the same; one round each with propagation off (max_slices=0).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.cases import load_train_cases
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
from napari_limnet.inference.prompt import PromptConfig

CONFIGS = {
    "before (neither)": replace(PromptConfig(), reframe_guard=False, first_click_check=False),
    "re-framing guard": replace(PromptConfig(), first_click_check=False),
    "re-framing guard + first-click check": PromptConfig(),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int, nargs="?", default=80)
    p.add_argument("--jitter", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args()
    torch.set_num_threads(1)
    scores = {k: {} for k in CONFIGS}
    for case in load_train_cases(args.n):
        group = "brain" if ("deepmriprep" in case.name or "hippunfold" in case.name) else "body"
        z, yx0 = first_click(case.truth)
        for seed in args.seeds:
            yx = jittered(case.truth[z], yx0, args.jitter, np.random.default_rng(seed))
            for name, config in CONFIGS.items():
                ctrl = LimNetController(case.image, spacing=case.spacing, max_slices=0, prompt=config)
                d = dice(ctrl.interact(z, [yx], [])[z], case.truth[z])
                scores[name].setdefault(group, []).append(d)
        print(case.name, " ".join(f"{scores[k][group][-1]:.3f}" for k in CONFIGS), flush=True)
    for name, by_group in scores.items():
        allv = np.concatenate([np.array(v) for v in by_group.values()])
        parts = [f"{g} {np.mean(v):.3f} ({int(np.sum(np.array(v) < 0.1))}/{len(v)} < 0.1)" for g, v in sorted(by_group.items())]
        print(f"{name:<32} all {allv.mean():.3f} ({int((allv < 0.1).sum())}/{len(allv)} < 0.1)  " + "  ".join(parts))


if __name__ == "__main__":
    main()
