"""Replay the recorded correction rounds (capture.py) under each local-correction rule, offline.

    python docs/research/click_trust/evaluate_rules.py ROUNDS.pkl

For every rule: mean 2D Dice of the clicked slice after the round, the share of rounds whose
slice got worse by more than 0.02 (against the slice before the round), the share that got
better, and the share with a click on the wrong side. The erase decision (a negative-only round
keeping under half the old mask empties the slice) runs after the rule, as in the product.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np

from napari_limnet.evaluation.metrics import dice
from napari_limnet.inference.correction import CorrectionRule, correct_locally
from napari_limnet.inference.prompt import ERASE_FRACTION

RULES = {
    "shipped (net's answer)": None,
    "clicks only (reach inf)": CorrectionRule(reach=None),
    "reach 2": CorrectionRule(reach=2.0, same_sense_anywhere=False),
    "reach 1": CorrectionRule(reach=1.0, same_sense_anywhere=False),
    "reach 0.5": CorrectionRule(reach=0.5, same_sense_anywhere=False),
    "reach 0.5, same sense anywhere": CorrectionRule(reach=0.5),
    "reach 1, same sense anywhere": CorrectionRule(reach=1.0),
    "reach 0, same sense anywhere": CorrectionRule(reach=0.0),
    "reach 0.25": CorrectionRule(reach=0.25, same_sense_anywhere=False),
    "reach 0 (the click's own piece)": CorrectionRule(reach=0.0, same_sense_anywhere=False),
}


def unpack(r: dict) -> dict:
    out = dict(r)
    for k in ("before", "answer", "after", "truth"):
        bits, shape = r[k]
        out[k] = np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)
    return out


def violations(mask, pos, neg) -> bool:
    bad = any(not mask[int(round(y)), int(round(x))] for y, x in pos)
    return bad or any(mask[int(round(y)), int(round(x))] for y, x in neg)


def main(path: str) -> None:
    records = [unpack(r) for r in pickle.load(open(path, "rb"))]
    print(f"{len(records)} correction rounds, {len({r['case'] for r in records})} structures")
    groups = {"all": records,
              "brain": [r for r in records if "deepmriprep" in r["case"] or "hippunfold" in r["case"]],
              "ct/mr body": [r for r in records if not ("deepmriprep" in r["case"] or "hippunfold" in r["case"])]}
    for name, rule in RULES.items():
        line = []
        for g, rows in groups.items():
            before, after, bad = [], [], []
            for r in rows:
                new = [p for p in r["pos"] if tuple(p) not in map(tuple, r["old_pos"])] + \
                      [p for p in r["neg"] if tuple(p) not in map(tuple, r["old_neg"])]
                if rule is None:
                    out = r["after"]
                else:
                    out = correct_locally(r["before"], r["answer"], new, r["pos"], r["neg"], rule)
                    if not r["pos"] and r["before"].any() and out.sum() < ERASE_FRACTION * r["before"].sum():
                        out = np.zeros_like(out)
                before.append(dice(r["before"], r["truth"]))
                after.append(dice(out, r["truth"]))
                bad.append(violations(out, r["pos"], r["neg"]))
            b, a = np.array(before), np.array(after)
            line.append(f"{g}: n={len(rows)} {b.mean():.3f}->{a.mean():.3f} worse {np.mean(a < b - 0.02):.2f} "
                        f"better {np.mean(a > b + 0.02):.2f} clicks-wrong {np.mean(bad):.2f}")
        print(f"{name:<34}" + " | ".join(line))


if __name__ == "__main__":
    main(sys.argv[1])
