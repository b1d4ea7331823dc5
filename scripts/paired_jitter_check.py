"""Candidate against shipped under the robot's click jitter, paired by jitter seed.

    python scripts/paired_jitter_check.py runs/jitter/dev_jitter2_s1.json,runs/jitter/dev_jitter2_s1_soup_x3.json \\
        runs/jitter/dev_jitter2_s3_both.json ...

Each argument is one jitter seed: either one report holding both ``limnet`` (shipped) and
``candidate``, or ``SHIPPED_REPORT,CANDIDATE_REPORT`` (the shipped report's ``limnet``, the other's
``candidate``), all run with the same ``--robot-jitter`` and that seed's ``--robot-seed``.
Prints, per group and round, the candidate-minus-shipped Dice change averaged over the seeds
and its range across them, then the same at round 6. The shipping rule's 0.01 tolerance can
only be read against that range.
"""

from __future__ import annotations

import json
import sys


def _curves(path: str, method: str) -> dict[str, list[float]]:
    summary = json.loads(open(path).read())["summary"]
    return {g: s[method]["dice"] for g, s in summary.items() if method in s}


def paired_changes(pairs: list[tuple[dict, dict]]) -> dict[str, list[list[float]]]:
    """Group -> per seed, candidate minus shipped Dice per round (groups in every pair only).

    ``pairs``: (shipped curves, candidate curves) per seed, each group -> Dice per round.
    Raises ValueError on no pairs.
    """
    if not pairs:
        raise ValueError("no seeds given")
    groups = set.intersection(*(set(s) & set(c) for s, c in pairs))
    return {g: [[b - a for a, b in zip(s[g], c[g])] for s, c in pairs] for g in sorted(groups)}


def main(argv=None) -> dict:
    args = argv if argv is not None else sys.argv[1:]
    pairs = []
    for arg in args:
        shipped, _, candidate = arg.partition(",")
        pairs.append((_curves(shipped, "limnet"), _curves(candidate or shipped, "candidate")))
    changes = paired_changes(pairs)
    print(f"{len(pairs)} jitter seeds; candidate - shipped, mean over seeds [min, max] per round")
    for g, per_seed in changes.items():
        rounds = list(zip(*per_seed))
        cells = " ".join(f"{sum(r) / len(r):+.3f}[{min(r):+.3f},{max(r):+.3f}]" for r in rounds)
        print(f"  {g:<16} {cells}")
    return changes


if __name__ == "__main__":
    main()
