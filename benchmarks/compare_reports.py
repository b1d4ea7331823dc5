"""Side-by-side Dice per round of benchmark reports (``python -m napari_limnet.benchmark`` JSONs).

    python benchmarks/compare_reports.py shipped=runs/x.json:limnet cand=runs/y.json:candidate ...

Each argument is ``label=REPORT:METHOD`` (METHOD defaults to ``candidate`` when the report has
one, else ``limnet``). Prints, per group, each label's r1..r6 and its worst per-round change
against the first label.
"""

from __future__ import annotations

import json
import sys


def curves(report: dict, method: str) -> dict[str, list[float]]:
    """Group -> Dice per round of ``method`` in a benchmark report (groups that ran it)."""
    return {g: s[method]["dice"] for g, s in report["summary"].items() if method in s}


def round_changes(base: dict[str, list[float]], other: dict[str, list[float]]) -> dict[str, list[float]]:
    """Group -> ``other`` minus ``base`` Dice per round, over the groups both hold (sorted)."""
    return {g: [b - a for a, b in zip(base[g], other[g])] for g in sorted(set(base) & set(other))}


def load(spec: str) -> tuple[str, dict]:
    label, _, rest = spec.partition("=")
    path, _, method = rest.partition(":")
    summary = json.loads(open(path).read())["summary"]
    out = {}
    for group, by_method in summary.items():
        m = method or ("candidate" if "candidate" in by_method else "limnet")
        if m in by_method:
            out[group] = by_method[m]["dice"]
    return label, out


def main(argv=None) -> None:
    specs = [load(s) for s in (argv if argv is not None else sys.argv[1:])]
    base_label, base = specs[0]
    groups = [g for g in base if all(g in s for _, s in specs)]
    changes = [round_changes(base, s) for _, s in specs]
    for g in groups:
        print(f"{g}:")
        for (label, s), change in zip(specs, changes):
            worst = min(change[g])
            print(f"  {label:>24} " + " ".join(f"{x:.3f}" for x in s[g]) + f"   worst vs {base_label}: {worst:+.3f}")


if __name__ == "__main__":
    main()
