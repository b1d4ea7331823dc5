"""Click-by-click trust, new against old, from one benchmark report run over several jitter seeds.

    python benchmarks/click_trust_table.py REPORT.json [--old before_click_trust] [--new limnet] [--extra two_d_first]
        [--also OTHER.json]

``REPORT.json``: ``python -m napari_limnet.benchmark --robot-jitter 2 --robot-seeds 0 1 2 3 --methods
limnet before_click_trust ...``: every (case, seed) session of each method on the same clicks'
jitter draws. Prints a markdown table per group: Dice per round, the collapsed first clicks
(3D Dice under 0.1), the share of correction rounds whose clicked slice lost more than 0.02 of 2D
Dice, the mean 3D gain per correction round and seconds per round; then, paired per session, the
new-minus-old Dice change per round with a 95 % bootstrap interval at round 6 (resampling cases).
``--also OTHER.json``: methods of another report run on the same cases and seeds, joined by (case,
seed); the robot's sessions are deterministic on the CPU, so the rows pair as if run together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from napari_limnet.benchmark import is_real_dev  # noqa: E402
from napari_limnet.evaluation.click_trust import pool_trust  # noqa: E402


def groups_of(rows: list[dict]) -> dict[str, list[dict]]:
    """Group name -> its sessions, plus 'all_real' for the real dev groups."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["group"], []).append(r)
    real = [r for r in rows if is_real_dev(r["group"])]
    if len({r["group"] for r in real}) > 1:
        out["all_real"] = real
    return out


def paired(rows: list[dict], old: str, new: str, seed: int = 0, draws: int = 2000) -> dict:
    """New minus old Dice per round (mean over sessions) and the case-bootstrap 95 % interval at the last round."""
    diffs = np.array([np.array(r[new]["dice"]) - np.array(r[old]["dice"]) for r in rows if old in r and new in r])
    by_case: dict[str, list[float]] = {}
    for r in rows:
        if old in r and new in r:
            by_case.setdefault(r["name"], []).append(r[new]["dice"][-1] - r[old]["dice"][-1])
    case_means = np.array([np.mean(v) for v in by_case.values()])
    rng = np.random.default_rng(seed)
    boot = [rng.choice(case_means, size=len(case_means)).mean() for _ in range(draws)]
    return {"per_round": diffs.mean(0).round(4).tolist(), "worst_round": round(float(diffs.mean(0).min()), 4),
            "last_ci95": [round(float(np.percentile(boot, 2.5)), 4), round(float(np.percentile(boot, 97.5)), 4)]}


def _share(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def table(report: dict, methods: list[str], old: str, new: str) -> str:
    lines = ["| group (cases, sessions) | method | r1 | r2 | r3 | r4 | r5 | r6 | collapsed r1 | slice worse (Dice) | "
             "slice more wrong pixels | 3D gain / correction | s/round |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g, rows in groups_of(report["cases"]).items():
        head = f"{g} ({len({r['name'] for r in rows})}, {len(rows)})"
        for m in methods:
            have = [r[m] for r in rows if m in r]
            if not have:
                continue
            d = np.mean([h["dice"] for h in have], axis=0)
            t = pool_trust([h["trust"] for h in have])
            sec = np.mean([np.mean(h["seconds"]) for h in have])
            lines.append(f"| {head} | {m} | " + " | ".join(f"{v:.3f}" for v in d)
                         + f" | {t['collapsed_first_clicks']}/{t['sessions']} | {t['slice_worse_share']:.2f} | "
                         f"{_share(t.get('slice_more_wrong_share'))} | {t['gain_3d_per_correction']:+.3f} | {sec:.2f} |")
            head = ""
        p = paired(rows, old, new)
        lines.append(f"| | {new} - {old}, paired | " + " | ".join(f"{v:+.3f}" for v in p["per_round"])
                     + f" | r6 95 % CI [{p['last_ci95'][0]:+.3f}, {p['last_ci95'][1]:+.3f}] | worst round "
                     f"{p['worst_round']:+.3f} | | | |")
    return "\n".join(lines)


def joined(report: dict, other: dict) -> dict:
    """``report`` with each session's methods from ``other`` added (same case and robot seed)."""
    extra = {(r["name"], r.get("robot_seed")): r for r in other["cases"]}
    cases = []
    for r in report["cases"]:
        o = extra.get((r["name"], r.get("robot_seed")), {})
        cases.append({**{k: v for k, v in o.items() if isinstance(v, dict)}, **r})
    return {**report, "cases": cases}


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--old", default="before_click_trust")
    ap.add_argument("--new", default="limnet")
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--also", action="append", default=[], help="another report on the same cases and seeds")
    a = ap.parse_args(argv)
    report = json.loads(Path(a.report).read_text())
    for path in a.also:
        report = joined(report, json.loads(Path(path).read_text()))
    out = table(report, [a.new, a.old, *a.extra], a.old, a.new)
    print(out)
    return out


if __name__ == "__main__":
    main()
