"""Record MRF training pairs from real multi-round sessions (LIM-Net's simulated sequences).

    python -m napari_limnet.training.fusion_rollouts --seconds 600 --seed 5000000 --out rollouts_0.npz
    python -m napari_limnet.training.fusion_rollouts --real 0/2 --out real_0.npz   # training volumes

The robot user (docs/design.md, section 6) drives the controller with the shipped interaction and propagation
nets on fresh synthetic volumes. Every time a round asks MRF to choose between a slice's old and
new mask, the choice's input (image / old / new crop, distances) is stored with the Dice of both
masks against the truth. ``train_fusion --rollouts`` then learns from these real propagation
errors instead of synthetic corruptions. Sessions alternate between MRF and "always new" fusion
so both kinds of trajectories are seen. Volumes: synthetic ones, or (``--real k/n``) every n-th
structure of the real *training* volumes (``../shared/data/train``, never the dev set), each in
four sessions: MRF or always-new fusion, with trims spreading or not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ..controller import LimNetController
from ..evaluation.cases import synthetic_case
from ..evaluation.metrics import dice
from ..evaluation.robot_user import run_session
from ..inference.fusion import fusion_input, keep_old
from ..modeling.fusion_net import distance_features


def _synthetic_sessions(seed: int, shape):
    """Endless (case, controller keyword arguments): fresh synthetic volumes, MRF and always-new alternating."""
    i = 0
    while True:
        case = synthetic_case(seed + i, shape, name=f"synthetic_{seed + i}")
        i += 1
        if case is not None:
            yield case, {"fusion": "mrf" if i % 2 else "new"}


def _real_sessions(part: int, parts: int, hold_out_every: int = 0):
    """Every ``parts``-th structure of the real training volumes (from ``part``), four sessions each;
    without the structures a ``--hold-out-every`` run holds out."""
    from dataclasses import replace

    from ..evaluation.cases import load_train_cases
    from ..inference.stopping import StoppingConfig

    cases = load_train_cases(max_cases=None, held_out_every=hold_out_every, held_out="exclude")[part::parts]
    for case in cases:
        for fusion in ("mrf", "new"):
            for trims in (False, True):
                yield case, {"fusion": fusion, "stopping": replace(StoppingConfig(), propagate_trims=trims)}


def record_sessions(seconds: float, seed: int, shape=(32, 128, 128), rounds: int = 6,
                    real: tuple[int, int] | None = None, models=None, hold_out_every: int = 0) -> dict[str, np.ndarray]:
    """Run robot sessions for ``seconds`` (or until the real structures are done) with ``models``
    (default: the shipped nets); returns arrays
    x (N, 3, S, S) float16, scalars (N, 4), dice_old, dice_new, the case name of each choice and of
    each session."""
    xs, scalars, d_old, d_new, names = [], [], [], [], []
    truth_ref: dict[str, np.ndarray] = {}

    def recording_keep_old(runner, source, spacing_yx, choices, config):
        truth = truth_ref["truth"]
        for c in choices:
            x = fusion_input(source, spacing_yx, c)
            xs.append(x.numpy().astype(np.float16))
            s = distance_features(torch.tensor([c.old_distance]), torch.tensor([c.new_distance]), x[None, 1:2], x[None, 2:3])
            scalars.append(s[0].numpy())
            shape2d = truth.shape[1:]
            old = c.old.dense(shape2d) if c.old is not None else np.zeros(shape2d, bool)
            new = c.new.dense(shape2d) if c.new is not None else np.zeros(shape2d, bool)
            d_old.append(dice(old, truth[c.z]))
            d_new.append(dice(new, truth[c.z]))
            names.append(truth_ref["name"])
        return keep_old(runner, source, spacing_yx, choices, config)

    start, sessions = time.time(), []
    for case, kwargs in (_real_sessions(*real, hold_out_every) if real is not None else _synthetic_sessions(seed, shape)):
        if time.time() - start >= seconds:
            break
        ctrl = LimNetController(case.image, spacing=case.spacing, models=models, **kwargs)
        ctrl.fusion_scorer = recording_keep_old  # the controller's hook: every MRF choice is recorded
        truth_ref["truth"], truth_ref["name"] = case.truth, case.name
        run_session(ctrl.interact, case.truth, rounds)
        sessions.append(case.name)
    print(f"{len(sessions)} sessions, {len(xs)} MRF choices in {time.time() - start:.0f} s", flush=True)
    return {
        "x": np.stack(xs) if xs else np.zeros((0, 3, 64, 64), np.float16),
        "scalars": np.stack(scalars) if scalars else np.zeros((0, 4), np.float32),
        "dice_old": np.asarray(d_old, np.float32),
        "dice_new": np.asarray(d_new, np.float32),
        "case": np.asarray(names),
        "session_cases": np.asarray(sessions),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=5_000_000, help="first synthetic seed (hold-out seeds are 777000+)")
    p.add_argument("--real", default=None, metavar="K/N",
                   help="record on every N-th structure of the real training volumes, starting at K")
    p.add_argument("--weights", type=Path, default=None,
                   help="folder with the interaction/propagation/fusion nets to record (default: shipped)")
    p.add_argument("--hold-out-every", type=int, default=0,
                   help="with --real: skip the structures a training run with this --hold-out-every held out")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    real = tuple(int(v) for v in args.real.split("/")) if args.real else None
    models = None
    if args.weights is not None:
        from ..modeling.weights import LimNetModels

        models = LimNetModels.load("cpu", args.weights)
    data = record_sessions(args.seconds, args.seed, real=real, models=models, hold_out_every=args.hold_out_every)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
