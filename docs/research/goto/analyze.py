"""Compare rankings for "Go to the slice that needs you" (G) on recorded rounds (collect.py).

    python docs/research/goto/analyze.py train.pkl [more.pkl ...]

Per round with a next robot click, over the slices G may propose (an opinion, not interacted):
* reach: the true wrong pixels of G's first slice over the largest true wrong pixels among them
  (1 = G proposes the worst slice it could);
* hit3: the robot's next slice (the slice with the largest error anywhere) is among G's first three.
Per group, each ranking, with random (expected value) and the oracle as references.
"""

from __future__ import annotations

import pickle
import sys
from collections import defaultdict

import numpy as np

RANKERS = {
    "shipped (area x (2 - conf))": lambda s: s["stakes"],
    "area": lambda s: s["area"],
    "area x (2 - conf) x weak edge": lambda s: s["stakes"] * (1.0 + 1.0 / (1.0 + max(s["contrast_raw"], s["contrast_avg"]))),
    "area x weak edge": lambda s: s["area"] * (1.0 + 1.0 / (1.0 + max(s["contrast_raw"], s["contrast_avg"]))),
    "area x (1 + dist/10)": lambda s: s["area"] * (1.0 + (s["dist"] or 0) / 10.0),
    "stakes x (1 + dist/10)": lambda s: s["stakes"] * (1.0 + (s["dist"] or 0) / 10.0),
    "area x (1 + drift)": lambda s: s["area"] * (1.0 + min(3.0, s["drift_to_inter"] or 0.0)),
    "area x (1 - conf)": lambda s: s["area"] * (1.0 - s["conf"]) if s["area"] else s["stakes"],
    "area x (1.25 - conf)": lambda s: s["area"] * (1.25 - s["conf"]) if s["area"] else s["stakes"],
    "area x (1.5 - conf)": lambda s: s["area"] * (1.5 - s["conf"]) if s["area"] else s["stakes"],
    "sqrt(area) x (1.25 - conf)": lambda s: (s["area"] ** 0.5) * (1.25 - s["conf"]) if s["area"] else s["stakes"] ** 0.5,
    "1 - conf": lambda s: 1.0 - s["conf"],
}


def decisions(records):
    for rec in records:
        for r in rec["rounds"]:
            if r.get("robot_next") is None:
                continue
            cands = [s for s in r["slices"] if s["opinion"] and not s["interacted"]]
            if len(cands) < 2:
                continue
            yield modality(rec), rec["case"], r, cands


def modality(rec) -> str:
    """Training structures split by source: brain MRI, other MRI, CT (dev and synthetic keep their group)."""
    name = rec["case"]
    if rec["group"] != "train":
        return "dev " + rec["group"] if not rec["group"].startswith(("synthetic",)) else rec["group"]
    if "deepmriprep" in name or "hippunfold" in name:
        return "train brain MRI"
    return "train MRI (body)" if "mr" in name.split("_")[2] else "train CT"


def main(paths):
    records = [rec for p in paths for rec in pickle.load(open(p, "rb"))]
    reach = defaultdict(lambda: defaultdict(list))
    hit = defaultdict(lambda: defaultdict(list))
    for group, _case, r, cands in decisions(records):
        wrong = np.array([s["wrong"] for s in cands], float)
        worst = wrong.max()
        if worst <= 0:
            continue
        anywhere = max(s["wrong"] for s in r["slices"])
        zs = [s["z"] for s in cands]
        for g in (group, "all"):
            reach[g]["random"].append(float(wrong.mean() / worst))
            reach[g]["oracle"].append(1.0)
            reach[g]["worst slice is in G's pool"].append(float(worst >= anywhere))
            for name, f in RANKERS.items():
                score = np.array([f(s) for s in cands], float)
                order = np.argsort(-score, kind="stable")
                reach[g][name].append(float(wrong[order[0]] / worst))
                hit[g][name].append(int(r["robot_next"] in [zs[i] for i in order[:3]]))
    names = ["worst slice is in G's pool", "random"] + list(RANKERS)
    for g in sorted(reach):
        n = len(reach[g]["random"])
        print(f"\n{g} ({n} decisions)   reach / hit3")
        for name in names:
            h = f"{np.mean(hit[g][name]):.2f}" if hit[g].get(name) else "  - "
            print(f"  {name:<36} {np.mean(reach[g][name]):.3f}  {h}")


if __name__ == "__main__":
    main(sys.argv[1:])


def slice_dice(s) -> float:
    inter = (s["area"] + s["truth_area"] - s["wrong"]) / 2.0
    total = s["area"] + s["truth_area"]
    return 1.0 if total == 0 else 2.0 * inter / total


def spearman(a, b) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def strip_rows(records):
    """Per session after round 1: the strip's rank correlation with per-slice Dice, and session-level
    observables (the clicked slice's outline contrast, the share of green slices, presence spread)."""
    out = []
    for rec in records:
        r = rec["rounds"][0]
        ops = [s for s in r["slices"] if s["opinion"] and not s["interacted"]]
        clicked = next((s for s in r["slices"] if s["interacted"]), None)
        if clicked is None or len(ops) < 3:
            continue
        rho = spearman([s["conf"] for s in ops], [slice_dice(s) for s in ops])
        if rho is None:
            continue
        out.append({"group": modality(rec), "case": rec["case"], "rho": rho,
                    "contrast": max(clicked["contrast_raw"], clicked["contrast_avg"]),
                    "contrast_raw": clicked["contrast_raw"],
                    "green": float(np.mean([s["conf"] >= 2 / 3 for s in ops])),
                    "conf_sd": float(np.std([s["conf"] for s in ops])),
                    "n": len(ops)})
    return out


def report_strip(paths) -> None:
    rows = strip_rows([rec for p in paths for rec in pickle.load(open(p, "rb"))])
    print("\nstrip after round 1: rank correlation of confidence with per-slice Dice")
    for g in sorted({r["group"] for r in rows}):
        rs = [r for r in rows if r["group"] == g]
        print(f"  {g:<22} n={len(rs):3d} rho {np.mean([r['rho'] for r in rs]):+.2f}  "
              f"clicked-slice contrast median {np.median([r['contrast'] for r in rs]):.2f}")
    c = np.array([r["contrast"] for r in rows])
    rho = np.array([r["rho"] for r in rows])
    print(f"  all: spearman(contrast, rho) {spearman(c, rho):+.2f}")
    for t in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
        lo, hi = rho[c < t], rho[c >= t]
        print(f"  contrast < {t:.2f}: n={len(lo):3d} rho {lo.mean() if len(lo) else float('nan'):+.2f} | "
              f">=: n={len(hi):3d} rho {hi.mean() if len(hi) else float('nan'):+.2f}")


if __name__ == "__main__" and len(sys.argv) > 1:
    report_strip(sys.argv[1:])


def judged_corrections(rec, change=0.3):
    """Per round index i >= 1 of a session: (strip colour of the corrected slice before it, large change?)
    for round i's correction, or None when the round is not judged (the product's StripCheck, with the
    changed pixels approximated by max(|area change|, |wrong-pixel change|) from the recorded rows)."""
    rounds = rec["rounds"]
    out = [None]
    for i in range(1, len(rounds)):
        z = rounds[i]["clicked"]
        b = {s["z"]: s for s in rounds[i - 1]["slices"]}.get(z)
        a = {s["z"]: s for s in rounds[i]["slices"]}.get(z)
        if b is None or not b["opinion"] or b["interacted"]:
            out.append(None)
            continue
        aa = a["area"] if a else 0
        ch = max(abs(aa - b["area"]), abs((a["wrong"] if a else b["truth_area"]) - b["wrong"])) / max(b["area"], aa, 1)
        out.append((b["conf"] >= 2 / 3, ch > change) if ch > change else None)
    return out


ADAPTIVE = {
    "adaptive: reliable -> area x (1.25 - conf)": 1.25,
    "adaptive: reliable -> area x (1 - conf)": 1.0,
    "adaptive: reliable -> area x (1.5 - conf)": 1.5,
}


def report_adaptive(paths) -> None:
    """G's ranking chosen by the strip's record so far in the session: shipped before any judged
    correction, area alone when most were misses, area x (k - conf) when the strip has been right."""
    records = [rec for p in paths for rec in pickle.load(open(p, "rb"))]
    reach = defaultdict(lambda: defaultdict(list))
    for rec in records:
        judged = judged_corrections(rec)
        for i, r in enumerate(rec["rounds"]):
            if r.get("robot_next") is None:
                continue
            cands = [s for s in r["slices"] if s["opinion"] and not s["interacted"]]
            wrong = np.array([s["wrong"] for s in cands], float)
            if len(cands) < 2 or wrong.max() <= 0:
                continue
            seen = [j for j in judged[: i + 1] if j is not None]
            misses = sum(1 for green, _ in seen if green)
            state = None if not seen else (2 * misses <= len(seen))
            for g in (modality(rec), "all"):
                for name, k in ADAPTIVE.items():
                    if state is None:
                        f = RANKERS["shipped (area x (2 - conf))"]
                    elif state:
                        f = lambda s, k=k: s["area"] * (k - s["conf"]) if s["area"] else s["stakes"]  # noqa: E731
                    else:
                        f = RANKERS["area"]
                    score = np.array([f(s) for s in cands], float)
                    reach[g][name].append(float(wrong[int(np.argmax(score))] / wrong.max()))
                score = np.array([s["stakes"] for s in cands], float)
                reach[g]["shipped"].append(float(wrong[int(np.argmax(score))] / wrong.max()))
                reach[g]["strip state"].append({None: 0.5, True: 1.0, False: 0.0}[state])
    print("\nadaptive G (reach; 'strip state' = share reliable, None counted 0.5)")
    for g in sorted(reach):
        print(f"  {g:<22} " + "  ".join(f"{n.split('->')[-1].strip() if '->' in n else n}: {np.mean(v):.3f}"
                                         for n, v in reach[g].items()) + f"  (n={len(reach[g]['shipped'])})")


if __name__ == "__main__" and len(sys.argv) > 1:
    report_adaptive(sys.argv[1:])
