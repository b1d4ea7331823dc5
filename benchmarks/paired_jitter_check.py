"""Candidate against shipped under the robot's click jitter, paired by jitter seed.

    python benchmarks/paired_jitter_check.py runs/jitter/dev_jitter2_s1.json,runs/jitter/dev_jitter2_s1_soup_x3.json \\
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_reports import curves, round_changes  # noqa: E402


def _curves(path: str, method: str) -> dict[str, list[float]]:
    return curves(json.loads(Path(path).read_text()), method)


def paired_changes(pairs: list[tuple[dict, dict]]) -> dict[str, list[list[float]]]:
    """Group -> per seed, candidate minus shipped Dice per round (groups in every pair only).

    ``pairs``: (shipped curves, candidate curves) per seed, each group -> Dice per round.
    Raises ValueError on no pairs.
    """
    if not pairs:
        raise ValueError("no seeds given")
    per_seed = [round_changes(s, c) for s, c in pairs]
    groups = set.intersection(*(set(d) for d in per_seed))
    return {g: [d[g] for d in per_seed] for g in sorted(groups)}


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
