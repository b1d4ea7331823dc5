"""Record every correction round's clicked slice on the training structures (never dev), for
choosing how a correction may change its slice offline.

    LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain \
        python docs/research/click_trust/capture.py OUT.npz [--cases 60] [--seeds 0 1]

Per correction round (robot rounds 2-6, jitter 2): the slice's mask before the round, the prompt
net's answer (after clean-up, before the erase decision), the slice's clicks (old and this
round's), the truth slice and the case's group. Arrays are cut to the union bounding box + 16 px.
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np

import napari_limnet.inference.prompt as prompt_module
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.cases import load_train_cases
from napari_limnet.evaluation.robot_user import run_session


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--cases", type=int, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args()
    seen = {}
    original = prompt_module.clean_prompt_mask

    def spy(mask, positive, negative, previous):
        out = original(mask, positive, negative, previous)
        seen["answer"] = out
        return out

    prompt_module.clean_prompt_mask = spy
    records = []
    for case in load_train_cases(args.cases):
        for seed in args.seeds:
            ctrl = LimNetController(case.image, spacing=case.spacing)
            shape = case.image.shape[1:]

            def interact(z, pos, neg):
                before = ctrl.slice_mask(z)
                old = ctrl.state.interactions.get(z)
                seen.clear()
                mask = ctrl.interact(z, pos, neg)
                if ctrl.n_rounds > 1 and "answer" in seen:
                    answer = seen["answer"].dense(shape) if seen["answer"] is not None else np.zeros(shape, bool)
                    records.append({
                        "case": case.name, "seed": seed, "round": ctrl.n_rounds, "z": z,
                        "before": before, "answer": answer, "after": mask[z].copy(), "truth": case.truth[z].copy(),
                        "old_pos": list(old.positive) if old else [], "old_neg": list(old.negative) if old else [],
                        "pos": list(pos), "neg": list(neg), "spacing": case.spacing,
                    })
                return mask

            s = run_session(interact, case.truth, 6, jitter=2, seed=seed)
            print(case.name, seed, [round(d, 3) for d in s.dice], flush=True)
        save(records, args.out)  # after every case: a cut-off run keeps what it has
    print(f"{len(records)} correction rounds -> {args.out}")


def save(records: list[dict], out: str) -> None:
    """Crop each new record to its union bounding box + 16 px, then pickle all of them to ``out``."""
    for r in records:
        if isinstance(r["before"], tuple):
            continue  # cropped already
        union = r["before"] | r["answer"] | r["truth"]
        ys, xs = np.nonzero(union) if union.any() else (np.array([0]), np.array([0]))
        y0, x0 = max(0, ys.min() - 16), max(0, xs.min() - 16)
        y1, x1 = ys.max() + 17, xs.max() + 17
        for k in ("before", "answer", "after", "truth"):
            r[k] = np.packbits(r[k][y0:y1, x0:x1]), r[k][y0:y1, x0:x1].shape
        for k in ("old_pos", "old_neg", "pos", "neg"):
            r[k] = [(y - y0, x - x0) for y, x in r[k]]
    with open(out, "wb") as f:
        pickle.dump(records, f)


if __name__ == "__main__":
    main()
