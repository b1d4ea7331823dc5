"""The rule for replacing the shipped weights, read from pooled benchmark runs (issue 35).

A candidate ships when ALL of these hold, over at least 8 robot click-jitter seeds, paired per
session (case and seed) against the shipped nets (``--methods limnet candidate --robot-jitter 2
--robot-seeds 1 ... 8``, so both ran on the same clicks' draws):

1. dev all-real r6 rises by at least 0.02, and the paired 95 % bootstrap interval of that gain
   (cases resampled; each case's gain averaged over its seeds) lies above 0;
2. no dev group of 9 or more cases falls by more than 0.02 at r6, or by more than 0.03 at any round;
3. single-case groups (MNI) are reported, not gating;
4. the held-out training structures (``train`` rows, from a second report if given) do not fall at r6.

Measured: the same shipped weights pooled over seeds 1-4 and 5-8 differ by up to 0.035 per group,
so a 0.01 rule cannot be read from few seeds; this one asks for a gain twice that, with an interval.
"""

from __future__ import annotations

import numpy as np

MIN_SEEDS = 8
MIN_GAIN = 0.02
GROUP_MIN_CASES = 9
GROUP_R6_DROP = 0.02
GROUP_ANY_DROP = 0.03
REAL_DEV = ("macaque", "mni152", "nuclei3d", "nuclei_confocal")


def paired_gains(rows: list[dict], old: str, new: str) -> dict[str, np.ndarray]:
    """Case name -> (seeds, rounds) array of ``new`` minus ``old`` Dice (rows that ran both)."""
    by_case: dict[str, list] = {}
    for r in rows:
        if old in r and new in r:
            by_case.setdefault(r["name"], []).append(np.subtract(r[new]["dice"], r[old]["dice"]))
    return {name: np.array(v) for name, v in by_case.items()}


def bootstrap_interval(per_case: np.ndarray, n_boot: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean of ``per_case`` (one value per case), cases resampled with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per_case), size=(n_boot, len(per_case)))
    means = per_case[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def shipping_rule(dev_report: dict, train_report: dict | None = None, old: str = "limnet", new: str = "candidate") -> dict:
    """Apply the rule; returns ``{"ship": bool, "reasons": [...], "groups": {...}, ...}``."""
    rows = dev_report.get("cases", [])
    seeds = sorted({r.get("robot_seed") for r in rows if r.get("robot_seed") is not None})
    reasons, groups = [], {}
    if len(seeds) < MIN_SEEDS:
        reasons.append(f"only {len(seeds)} robot jitter seed(s); the rule needs {MIN_SEEDS}")
    real = [r for r in rows if r.get("group") in REAL_DEV]
    gains = paired_gains(real, old, new)
    if not gains:
        return {"ship": False, "reasons": [f"no dev case ran both '{old}' and '{new}'"], "groups": {}, "seeds": seeds}
    per_case_r6 = np.array([g[:, -1].mean() for g in gains.values()])
    gain = float(per_case_r6.mean())
    low, high = bootstrap_interval(per_case_r6)
    if gain < MIN_GAIN:
        reasons.append(f"dev all-real r6 gain {gain:+.3f} is under {MIN_GAIN}")
    if low <= 0:
        reasons.append(f"the 95 % interval of that gain [{low:+.3f}, {high:+.3f}] reaches 0")
    for group in sorted({r["group"] for r in real}):
        g = paired_gains([r for r in real if r["group"] == group], old, new)
        curve = np.mean([v.mean(axis=0) for v in g.values()], axis=0)
        entry = {"cases": len(g), "change_per_round": curve.round(4).tolist(), "gating": len(g) >= GROUP_MIN_CASES}
        groups[group] = entry
        if entry["gating"] and curve[-1] < -GROUP_R6_DROP:
            reasons.append(f"{group} falls by {-curve[-1]:.3f} at r6 (limit {GROUP_R6_DROP})")
        if entry["gating"] and curve.min() < -GROUP_ANY_DROP:
            reasons.append(f"{group} falls by {-curve.min():.3f} at round {int(curve.argmin()) + 1} (limit {GROUP_ANY_DROP})")
    train_rows = [r for r in (train_report or dev_report).get("cases", []) if r.get("group") == "train"]
    train = paired_gains(train_rows, old, new)
    train_r6 = float(np.mean([v[:, -1].mean() for v in train.values()])) if train else None
    if train_r6 is None:
        reasons.append("no held-out training structures in the runs")
    elif train_r6 < 0:
        reasons.append(f"the held-out training structures fall by {-train_r6:.3f} at r6")
    return {"ship": not reasons, "reasons": reasons, "seeds": seeds, "all_real_r6_gain": round(gain, 4),
            "interval_95": [round(low, 4), round(high, 4)], "groups": groups,
            "train_r6_change": None if train_r6 is None else round(train_r6, 4)}


def verdict_text(result: dict) -> str:
    """'SHIP' or 'NOT', then why, one line each."""
    lines = ["SHIP" if result["ship"] else "NOT"]
    if "all_real_r6_gain" in result:
        lo, hi = result["interval_95"]
        lines.append(f"dev all-real r6 change {result['all_real_r6_gain']:+.3f} (95 % interval {lo:+.3f} to {hi:+.3f}), "
                     f"{len(result['seeds'])} seeds")
    for group, g in result.get("groups", {}).items():
        tag = "" if g["gating"] else " (reported, not gating)"
        lines.append(f"{group} ({g['cases']} cases){tag}: " + " ".join(f"{v:+.3f}" for v in g["change_per_round"]))
    if result.get("train_r6_change") is not None:
        lines.append(f"held-out training structures r6 change {result['train_r6_change']:+.3f}")
    lines += [f"why not: {r}" for r in result["reasons"]]
    return "\n".join(lines)
