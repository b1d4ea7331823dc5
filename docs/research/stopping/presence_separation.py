"""Does the propagation net's "object present" output tell slices inside an object from slices past its end?

    python docs/research/stopping/presence_separation.py [--weights DIR]

Round 1 of the robot user (one click on the largest slice) on the held-out structures of the
training volumes (``--hold-out-every 3``, never dev). For every propagated slice with a mask, its
presence and intensity drift (``inference.stopping.SliceEvidence``) are pooled by whether the true
object is on that slice ("inside") or not ("past end", an overshoot). A stopping signal needs the
two apart; prints their means and the share below 0.5 / 0.9.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main(argv=None) -> None:
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.cases import load_train_cases
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.modeling.weights import LimNetModels

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights folder (default: the shipped ones)")
    p.add_argument("--hold-out-every", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    models = LimNetModels.load(weights_dir=args.weights)
    pooled = {"inside": [], "past end": []}
    for case in load_train_cases(held_out_every=args.hold_out_every):
        z, yx = first_click(case.truth)
        ctrl = LimNetController(case.image, spacing=case.spacing, models=models)
        ctrl.interact(z, [yx], [])
        present = case.truth.reshape(case.truth.shape[0], -1).any(1)
        for s, ev in ctrl.state.evidence.items():
            if s != z and ev.area > 0:
                pooled["inside" if present[s] else "past end"].append((ev.presence, ev.drift))
    for name, rows in pooled.items():
        a = np.array(rows)
        print(f"{name}: {len(a)} slices, presence mean {a[:, 0].mean():.3f}, < 0.5 {np.mean(a[:, 0] < 0.5):.2f}, "
              f"< 0.9 {np.mean(a[:, 0] < 0.9):.2f} | drift mean {a[:, 1].mean():.2f}, > 1 {np.mean(a[:, 1] > 1):.2f}")


if __name__ == "__main__":
    main()
