"""Record, after every robot round, what "Go to the slice that needs you" (G) could know per slice
and what the truth says, for choosing G's ranking offline.

    LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain \
        python docs/research/goto/collect.py train OUT.pkl [--cases 60] [--seeds 0 1] [--rounds 4]
    python docs/research/goto/collect.py dev OUT.pkl          # checking only, never for choosing
    python docs/research/goto/collect.py synthetic OUT.pkl    # synthetic 3D nuclei (generated)

Per round and slice with an opinion (and every slice the truth has but the mask misses): the
mask's area, the evidence (presence, drift, the net's uncertain pixels), confidence and expected
wrong pixels as shipped, whether it lies past an area valley, its distance to the nearest
interacted slice, how well its outline sits on an image edge (raw and averaged contrast, on a crop
around the mask), the intensity drift of its inside against the interacted slices' insides, and
the truth: wrong pixels (mask XOR truth) and the truth's area. Also the slice the robot clicks next
(the slice with the largest error).
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import torch

from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.robot_user import run_session
from napari_limnet.inference.confidence import confidence_and_stakes, slices_past_valley
from napari_limnet.inference.outline import boundary_contrast, TEXTURE_SMOOTH
from napari_limnet.inference.stopping import ValleyRule

PAD = 12


def load(which: str, n: int):
    from napari_limnet.evaluation.cases import load_dev_cases, load_train_cases, synthetic_holdout

    if which == "train":
        return load_train_cases(n)
    if which == "dev":
        return load_dev_cases()
    if which == "synthetic":
        return synthetic_holdout(n=min(n, 12), seed=4242)
    raise SystemExit(f"unknown set {which}")


def slice_contrast(image2d: np.ndarray, mask2d: np.ndarray) -> tuple[float, float]:
    """(raw, averaged) boundary contrast of the mask on a crop around it."""
    ys, xs = np.nonzero(mask2d)
    if len(ys) < 4:
        return 0.0, 0.0
    y0, y1 = max(0, ys.min() - PAD), min(mask2d.shape[0], ys.max() + PAD + 1)
    x0, x1 = max(0, xs.min() - PAD), min(mask2d.shape[1], xs.max() + PAD + 1)
    img = torch.as_tensor(image2d[y0:y1, x0:x1].astype(np.float32))
    m = torch.as_tensor(mask2d[y0:y1, x0:x1].astype(np.float32))
    return boundary_contrast(img, m), boundary_contrast(img, m, smooth=TEXTURE_SMOOTH)


def inside_median(image2d, mask2d):
    v = image2d[mask2d]
    return float(np.median(v)) if v.size else float("nan")


def record_round(ctrl, case, mask: np.ndarray) -> list[dict]:
    state = ctrl.state
    stakes = confidence_and_stakes(state, ctrl.stopping.valley or ValleyRule())
    valley = slices_past_valley(state, ctrl.stopping.valley or ValleyRule())
    inter = sorted(state.interactions)
    ref = [inside_median(case.image[z], mask[z]) for z in inter if mask[z].any()]
    ref_med = float(np.median(ref)) if ref else float("nan")
    ref_spread = float(np.std(case.image[inter[0]][mask[inter[0]]])) if inter and mask[inter[0]].any() else float("nan")
    rows = []
    truth_slices = set(np.nonzero(case.truth.any(axis=(1, 2)))[0].tolist())
    for z in sorted(set(stakes) | truth_slices | set(state.masks)):
        m, t = mask[z], case.truth[z]
        e = state.evidence.get(z)
        c, s = stakes.get(z, (None, None))
        raw, avg = slice_contrast(case.image[z], m) if m.any() else (0.0, 0.0)
        rows.append({
            "z": z, "area": int(m.sum()), "truth_area": int(t.sum()), "wrong": int((m ^ t).sum()),
            "opinion": z in stakes, "interacted": z in state.interactions,
            "conf": c, "stakes": s, "past_valley": z in valley,
            "presence": e.presence if e else None, "drift": e.drift if e else None,
            "uncertain": e.uncertain if e else None, "proposed": e.area if e else None,
            "dist": min((abs(z - i) for i in inter), default=None),
            "contrast_raw": raw, "contrast_avg": avg,
            "drift_to_inter": (abs(inside_median(case.image[z], m) - ref_med) / (ref_spread + 1e-6)) if m.any() else None,
        })
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which")
    p.add_argument("out")
    p.add_argument("--cases", type=int, default=60)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(2)
    records = []
    t0 = time.time()
    for case in load(args.which, args.cases):
        for seed in args.seeds:
            ctrl = LimNetController(case.image, spacing=case.spacing)
            rounds = []

            def interact(z, pos, neg):
                mask = ctrl.interact(z, pos, neg)
                rounds.append({"round": ctrl.n_rounds, "clicked": z, "need": ctrl.slices_by_need(),
                               "slices": record_round(ctrl, case, mask)})
                return mask

            s = run_session(interact, case.truth, args.rounds, jitter=2, seed=seed)
            for i, r in enumerate(rounds):  # one click per round: the robot's next slice is round i+1's
                r["robot_next"] = s.clicks[i + 1][0] if i + 1 < len(s.clicks) else None
            records.append({"case": case.name, "group": case.group, "seed": seed, "rounds": rounds,
                            "dice": s.dice, "n_slices": case.image.shape[0]})
        print(f"{case.name}: {time.time() - t0:.0f} s", flush=True)
    with open(args.out, "wb") as f:
        pickle.dump(records, f)


if __name__ == "__main__":
    main()
