"""Greedy weight soup of fine-tuning seeds, chosen on the proxy cases only (never dev).

    python docs/research/training/cpu_sweep_2026-12-01/greedy/greedy_soup.py --start src/napari_limnet/weights \\
        --ingredients runs/edge/p30_d6_e40_t50_s1 runs/edge/p30_d6_e40_t50_s3 ... \\
        --shipped-report runs/edge/scores/e40_t50_s1.json --out runs/edge/greedy

Wortsman et al. (ICML 2022), "greedy soup": rank the ingredients (runs of one fine-tuning
recipe from the same start, different seeds) by their held-out score, start the soup with the
best, and add each next one only if the uniform average with it scores no lower. A uniform soup
of every seed lets a weak seed drag the rest down; the greedy one keeps only seeds that help.

Held-out score: the robot benchmark (``napari_limnet.benchmark``) on the proxy cases — the
training structures a ``--hold-out-every 3`` run never trained on, synthetic, textured and
packed nuclei, each also cut by an image edge — against the shipped nets' curves in
``--shipped-report`` (a proxy report of the same cases with the ``limnet`` method). Per proxy
group g and round r, ``d[g][r]`` is candidate minus shipped Dice. The objective mirrors the
shipping rule's two halves:

    J = mean over groups of mean over rounds of d   (gain)
        + mean over groups of min over rounds of d   (each group's worst round)

The second term averages each group's worst round rather than taking the single worst of all:
on these 8-23-case groups the single worst is one chaotic case most of the time
(``textured_nuclei_3_border``, whose round 3 swings 0.07-0.77 between seeds of one recipe), so it
would rank seeds by that case alone.

Writes ``<out>/greedy_soup.json`` (every ingredient's and every tried soup's J and its parts;
the kept list) and the final soup's weights in ``<out>/soup``. Only the propagation net moves
(the recipe fine-tunes nothing else); the other modules are copied from ``--start``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))  # compare_reports

from compare_reports import curves, round_changes  # noqa: E402
from napari_limnet import benchmark  # noqa: E402
from napari_limnet.training.interpolate_weights import interpolate_weights  # noqa: E402

#: The proxy cases of every issue-21 comparison: no dev case is ever loaded (--no-dev).
PROXY_ARGS = ["--no-dev", "--synthetic", "8", "--train-held-out-every", "3", "--textured-nuclei", "8",
              "--packed-nuclei", "12", "--border-cut"]


def objective(candidate: dict[str, list[float]], shipped: dict[str, list[float]]) -> dict:
    """J = gain (mean per-round change) + mean_worst (mean of each group's lowest per-round change).

    ``candidate`` and ``shipped``: group -> Dice per round; only groups in both count.
    Raises ValueError when they share no group.
    """
    deltas = round_changes(shipped, candidate)
    if not deltas:
        raise ValueError("the candidate and shipped reports share no proxy group")
    groups = list(deltas)
    gain = sum(sum(d) / len(d) for d in deltas.values()) / len(groups)
    mean_worst = sum(min(d) for d in deltas.values()) / len(groups)
    worst_group = min(groups, key=lambda g: min(deltas[g]))
    return {"J": round(gain + mean_worst, 4), "gain": round(gain, 4), "mean_worst": round(mean_worst, 4),
            "worst": round(min(deltas[worst_group]), 4), "worst_group": worst_group,
            "r6": {g: round(d[-1], 4) for g, d in deltas.items()}}


def score(weights: Path, out: Path, name: str, threads: int) -> dict[str, list[float]]:
    """Proxy curves of ``weights`` (the candidate method only; shipped curves come from a report)."""
    report = benchmark.main([*PROXY_ARGS, "--methods", "candidate", "--candidate", str(weights),
                             "--threads", str(threads), "--out", str(out), "--name", name])
    return curves(report, "candidate")


def greedy_soup(start: Path, ingredients: list[Path], shipped: dict, out: Path, threads: int,
                known: dict[str, dict] | None = None) -> dict:
    """Rank ``ingredients`` by J, then add each to the soup if the soup's J does not fall.

    ``known``: ingredient path -> proxy curves already measured (skips re-scoring it).
    Returns the log written to ``<out>/greedy_soup.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    known = known or {}
    ranked = []
    for path in ingredients:
        c = known.get(str(path)) or score(path, out / "scores", path.name, threads)
        ranked.append({"ingredient": str(path), **objective(c, shipped)})
    ranked.sort(key=lambda e: e["J"], reverse=True)
    kept = [Path(ranked[0]["ingredient"])]
    best = ranked[0]
    tried = []
    for entry in ranked[1:]:
        trial = [*kept, Path(entry["ingredient"])]
        folder = out / f"trial_{len(tried) + 1}"
        interpolate_weights(start, trial, 1.0, folder, modules=("propagation",))
        result = {"soup": [str(p) for p in trial], **objective(score(folder, out / "scores", folder.name, threads), shipped)}
        result["kept"] = result["J"] >= best["J"]
        tried.append(result)
        verdict = "keep" if result["kept"] else "drop"
        print(f"soup of {len(trial)}: J {result['J']:+.4f} (best {best['J']:+.4f}) -> {verdict} {entry['ingredient']}", flush=True)
        if result["kept"]:
            kept, best = trial, result
    interpolate_weights(start, kept, 1.0, out / "soup", modules=("propagation",))
    log = {"objective": "J = mean over proxy groups of mean over rounds of (candidate - shipped) + mean over groups of min over rounds",
           "proxy_args": PROXY_ARGS, "ingredients": ranked, "tried": tried, "kept": [str(p) for p in kept], "final": best}
    (out / "greedy_soup.json").write_text(json.dumps(log, indent=1))
    return log


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--start", type=Path, required=True, help="the weights every ingredient was fine-tuned from")
    p.add_argument("--ingredients", type=Path, nargs="+", required=True, help="weight folders of one recipe, several seeds")
    p.add_argument("--shipped-report", type=Path, required=True, help="a proxy benchmark report with the 'limnet' method")
    p.add_argument("--ingredient-reports", type=Path, nargs="*", default=[],
                   help="proxy reports that already score some ingredients (their 'candidate' weights)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    shipped_report = json.loads(args.shipped_report.read_text())
    if any(benchmark.is_real_dev(g) for g in shipped_report["summary"]):  # all_real included
        raise SystemExit(f"{args.shipped_report} holds dev groups: the soup is chosen on proxy cases only")
    known = {}
    for path in args.ingredient_reports:
        report = json.loads(path.read_text())
        known[str(Path(report["candidate"]["weights"]))] = curves(report, "candidate")
    log = greedy_soup(args.start, args.ingredients, curves(shipped_report, "limnet"), args.out, args.threads, known)
    print(json.dumps({k: log[k] for k in ("kept", "final")}, indent=1))


if __name__ == "__main__":
    main()
