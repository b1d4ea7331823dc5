"""Robot-user accuracy benchmark: ``python -m napari_limnet.benchmark``.

Runs the robot user of docs/design.md (6 rounds) on every case of ``shared/data/dev/cases.json``
and on a fixed synthetic hold-out set, with, in the same run:

- ``limnet``: LIM-Net with multi-round result fusion (MRF);
- ``no_mrf``: the ablation that always takes the new round's mask (its own robot session);
- ``region_growing``: 3D confidence-connected region growing given the clicks of the
  ``limnet`` session, round by round;
- ``candidate`` (with ``--candidate DIR``): LIM-Net with other weights, side by side with the
  shipped ones, and the shipping check of :func:`shipping_check`.

Prints mean Dice per round (r1..r6) and seconds per round per group, the overshoot (slices
predicted beyond the true z-extent) after round 1, and writes a JSON file and a PNG plot.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .evaluation.cases import Case, load_dev_cases, load_train_cases, synthetic_holdout
from dataclasses import replace

from .evaluation.metrics import dice, overshoot_slices, undershoot_slices
from .evaluation.region_growing import region_growing_baseline
from .evaluation.robot_user import run_session
from .evaluation.click_trust import pool_trust, session_trust
from .inference.prompt import PromptConfig
from .inference.stopping import PREVIOUS_STOPPING, DriftPlateauRule, LeakCutRule, StoppingConfig
from .inference.strip_check import SURE
from .evaluation.benchmark_plot import plot  # noqa: F401 - main() draws it; its own module

#: LIM-Net variants run as their own robot sessions: controller keyword arguments.
VARIANTS = {
    "limnet": {},
    "previous_stopping": {"stopping": PREVIOUS_STOPPING},
    "no_valley": {"stopping": replace(StoppingConfig(), valley=None)},
    "no_drift_gap": {"stopping": replace(StoppingConfig(), drift_gap=None)},
    "drift_plateau": {"stopping": replace(StoppingConfig(), drift_plateau=DriftPlateauRule())},
    "no_leak_cut": {"stopping": replace(StoppingConfig(), leak_cut=None)},
    "core_erase": {"stopping": replace(StoppingConfig(), erase_depth=0.5)},
    "no_mrf": {"fusion": "new"},
    "trim_spread": {"stopping": replace(StoppingConfig(), propagate_trims=True)},
    "no_weak_edge_look": {"prompt": PromptConfig(weak_edge_look=False, texture_edge=False)},
    "no_texture_edge": {"prompt": PromptConfig(texture_edge=False)},
    "no_small_look": {"prompt": PromptConfig(small_look=False)},
    "no_collapse_guard": {"prompt": PromptConfig(collapse_guard=False)},
    "no_border_contrast": {"prompt": PromptConfig(border_contrast=False)},
    "mirror_border": {"prompt": PromptConfig(mirror_border=True)},
    "no_reframe_guard": {"prompt": PromptConfig(reframe_guard=False)},
    "local_correction": {"prompt": PromptConfig(local_correction=True)},
    "before_click_trust": {"prompt": PromptConfig(reframe_guard=False, local_correction=False, first_click_check=False)},
    "no_growth": {"stopping": replace(StoppingConfig(), grown_erase=None, leak_cut=replace(LeakCutRule(), growth=None))},
}
#: Rows whose round 1 is another prompt on the robot's first slice (rounds 2-6 click as usual).
FIRST_PROMPTS = {"box_r1": "box", "mask_r1": "mask"}
#: Rows that run shipped LIM-Net under another robot protocol (evaluation.robot_user.run_session).
PROTOCOLS = {"two_d_first": {"two_d_first": True}}
METHODS = ("limnet", "previous_stopping", "no_valley", "no_drift_gap", "drift_plateau", "no_leak_cut", "core_erase", "trim_spread",
           "no_weak_edge_look", "no_texture_edge", "no_small_look", "no_collapse_guard", "no_border_contrast", "mirror_border",
           "no_reframe_guard", "local_correction", "before_click_trust", "no_growth", "no_mrf",
           "box_r1", "mask_r1", "two_d_first", "region_growing", "candidate")
DEFAULT_METHODS = ("limnet", "previous_stopping", "no_mrf", "region_growing")
#: Groups that are not real scans (left out of "all_real").
NOT_REAL = ("synthetic", "train", "textured_nuclei", "packed_nuclei", "composite")


def is_real_dev(group: str) -> bool:
    """Whether a case group is real dev data (not generated, not training, not a border-cut copy)."""
    return group not in NOT_REAL and not group.endswith("_border")


#: How many of the least confident slices the "go to the slice that needs you" hit rate looks at.
CONFIDENCE_TOP = 3


def _extent_errors(masks, truth) -> tuple[list[int], list[int]]:
    return [overshoot_slices(m, truth) for m in masks], [undershoot_slices(m, truth) for m in masks]


def _confidence_hits(snapshots: list[dict], clicks, seed: int) -> dict:
    """Per round r < last: is the robot's next slice among the CONFIDENCE_TOP slices that most need the user?

    Compared with two baselines over the same candidate slices: random picks, and the largest masks.
    """
    rng = np.random.default_rng(seed)
    hits, random_hits, area_hits = [], [], []
    for r in range(len(clicks) - 1):
        nxt, snap = clicks[r + 1][0], snapshots[r]
        hits.append(int(nxt in snap["need"][:CONFIDENCE_TOP]))
        pool = snap["need"]
        pick = rng.choice(pool, size=min(CONFIDENCE_TOP, len(pool)), replace=False).tolist() if pool else []
        random_hits.append(int(nxt in pick))
        area_hits.append(int(nxt in snap["largest"][:CONFIDENCE_TOP]))
    return {"hits": hits, "random_hits": random_hits, "area_hits": area_hits}


def run_variant(case: Case, rounds: int, models, precision: str, variant: str, seed: int,
                robot_jitter: int = 0) -> tuple[dict, object]:
    """One robot session of a LIM-Net variant: Dice, seconds, over/undershoot per round (+ confidence hits).

    ``robot_jitter`` > 0: the robot's clicks move up to that many pixels, drawn from ``seed``
    (:func:`~.evaluation.robot_user.jittered`)."""
    from .controller import LimNetController
    from .evaluation.robot_user import true_box

    ctrl = LimNetController(case.image, spacing=case.spacing, models=models, precision=precision, **VARIANTS.get(variant, {}))
    first = None
    if variant in FIRST_PROMPTS:
        kind = FIRST_PROMPTS[variant]
        first = (lambda z, t2d: ctrl.interact(z, box=true_box(t2d))) if kind == "box" else (
            lambda z, t2d: ctrl.interact(z, mask=t2d))
    snapshots = []

    strip = []  # (confidence, per-slice Dice) of every slice with an opinion after round 1

    def interact(z, pos, neg):
        mask = ctrl.interact(z, pos, neg)
        state = ctrl.state
        need = ctrl.slices_by_need()
        largest = sorted((k for k in state.masks if k not in state.interactions), key=lambda k: (-state.masks[k].area, k))
        snapshots.append({"need": need, "largest": largest})
        if len(snapshots) == 1:
            strip.extend((float(c), dice(mask[k], case.truth[k])) for k, c in ctrl.slice_confidence().items())
        return mask

    s = run_session(interact, case.truth, rounds, keep_masks=True, first_round=first, jitter=robot_jitter, seed=seed,
                    **PROTOCOLS.get(variant, {}))
    over, under = _extent_errors(s.masks, case.truth)
    out = {"dice": s.dice, "seconds": s.seconds, "overshoot": over, "undershoot": under,
           "trust": session_trust(s, case.truth)}
    if variant == "limnet":
        out["confidence"] = _confidence_hits(snapshots, s.clicks, seed)
        out["strip_r1"] = strip
    return out, s


def evaluate_case(case: Case, rounds: int, methods, models=None, precision: str = "fp32", seed: int = 0,
                  candidate_models=None, robot_jitter: int = 0) -> dict:
    """All methods on one case: per-method Dice, seconds and over/undershoot per round.

    ``candidate_models``: the weights of the ``candidate`` method (plain LIM-Net otherwise).
    ``robot_jitter`` / ``seed``: see :func:`run_variant`."""
    out = {"name": case.name, "group": case.group}
    session = None
    for m in methods:
        if m == "candidate":
            if candidate_models is None:
                raise ValueError("the candidate method needs candidate_models (--candidate DIR)")
            result, _ = run_variant(case, rounds, candidate_models, precision, "limnet", seed, robot_jitter)
            out[m] = {k: v for k, v in result.items() if k not in ("confidence", "strip_r1")}
        elif m in VARIANTS or m in FIRST_PROMPTS or m in PROTOCOLS:
            out[m], s = run_variant(case, rounds, models, precision, m, seed, robot_jitter)
            if m == "limnet":
                session = s
    if "limnet" in out:
        out["overshoot_r1"] = out["limnet"]["overshoot"][0]
    if "region_growing" in methods:
        if session is None:
            _, session = run_variant(case, rounds, models, precision, "limnet", seed, robot_jitter)
        rg_dice, rg_sec, by_slice = [], [], {}
        for z, yx, positive in session.clicks:
            pos, neg = by_slice.setdefault(z, ([], []))
            (pos if positive else neg).append(yx)
            t0 = time.perf_counter()
            rg = region_growing_baseline(case.image, by_slice)
            rg_sec.append(time.perf_counter() - t0)
            rg_dice.append(dice(rg, case.truth))
        rg_dice += [rg_dice[-1]] * (rounds - len(rg_dice))
        rg_sec += [0.0] * (rounds - len(rg_sec))
        out["region_growing"] = {"dice": rg_dice, "seconds": rg_sec}
    return out


#: The confidence strip's colours read as bins: red below 1/3, yellow to 2/3, green (sure, the
#: threshold the strip's self-check uses) above.
STRIP_BINS = (("red", 0.0, 1 / 3), ("yellow", 1 / 3, SURE), ("green", SURE, 1.01))


def strip_agreement(pairs) -> dict:
    """How the strip's colours after round 1 agree with per-slice Dice: per colour, the share of
    slices and their mean Dice (a slice the round leaked onto has Dice 0), and the rank correlation."""
    conf = np.array([c for c, _ in pairs])
    d = np.array([v for _, v in pairs])
    out = {}
    for name, lo, hi in STRIP_BINS:
        sel = (conf >= lo) & (conf < hi)
        out[name] = {"share": round(float(sel.mean()), 3), "mean_slice_dice": round(float(d[sel].mean()), 3) if sel.any() else None}
    if len(pairs) > 2 and conf.std() > 0 and d.std() > 0:
        rc = np.argsort(np.argsort(conf)).astype(float)
        rd = np.argsort(np.argsort(d)).astype(float)
        out["spearman"] = round(float(np.corrcoef(rc, rd)[0, 1]), 3)
    out["slices"] = len(pairs)
    return out


def dice_by_seed(rows: list[dict], method: str) -> dict[str, list[float]] | None:
    """{seed: mean Dice per round} of ``method`` over the rows of each robot seed (``--robot-seeds``);
    None when the rows hold fewer than two seeds."""
    seeds = sorted({r["robot_seed"] for r in rows if "robot_seed" in r})
    if len(seeds) < 2:
        return None
    return {str(s): np.mean([r[method]["dice"] for r in rows if r.get("robot_seed") == s], axis=0).round(4).tolist()
            for s in seeds}


def summarise(results: list[dict], methods) -> dict:
    """Mean Dice per round and mean seconds per round per group and method (plus 'all real').

    With several robot seeds (``--robot-seeds``) every (case, seed) session counts once, so each
    seed weighs the same, and each method's curve per seed is kept as ``dice_by_seed``.
    """
    groups = sorted({r["group"] for r in results})
    summary = {}
    for g in groups + ["all_real"]:
        rows = [r for r in results if (r["group"] == g if g != "all_real" else is_real_dev(r["group"]))]
        if not rows:
            continue
        entry = {"n": len({r["name"] for r in rows})}
        if len(rows) != entry["n"]:
            entry["sessions"] = len(rows)  # several robot seeds per case
        for m in methods:
            have = [r[m] for r in rows if m in r]
            if have:
                entry[m] = {
                    "dice": np.mean([h["dice"] for h in have], axis=0).round(4).tolist(),
                    "seconds_per_round": float(np.mean([np.mean(h["seconds"]) for h in have])),
                }
                for k in ("overshoot", "undershoot"):
                    if all(k in h for h in have):
                        entry[m][k] = np.mean([h[k] for h in have], axis=0).round(2).tolist()
                trust = [h["trust"] for h in have if "trust" in h]
                if trust:
                    entry[m]["trust"] = pool_trust(trust)
                by_seed = dice_by_seed([r for r in rows if m in r], m)
                if by_seed:
                    entry[m]["dice_by_seed"] = by_seed
        over = [r["overshoot_r1"] for r in rows if "overshoot_r1" in r]
        if over:
            entry["overshoot_r1_mean_slices"] = float(np.mean(over))
        strip = [p for r in rows for p in r.get("limnet", {}).get("strip_r1", [])]
        if strip:
            entry["strip_r1"] = strip_agreement(strip)
        conf = [r["limnet"]["confidence"] for r in rows if "confidence" in r.get("limnet", {})]
        if conf:
            hits = [h for c in conf for h in c["hits"]]
            rand = [h for c in conf for h in c["random_hits"]]
            area = [h for c in conf for h in c["area_hits"]]
            entry["confidence_hit_rate"] = float(np.mean(hits)) if hits else None
            entry["random_hit_rate"] = float(np.mean(rand)) if rand else None
            entry["largest_area_hit_rate"] = float(np.mean(area)) if area else None
        summary[g] = entry
    return summary


#: A candidate set of weights replaces the shipped one only if, in one run against it, ...
SHIP_TOLERANCE = 0.01


def shipping_check(summary: dict, old: str = "limnet", new: str = "candidate", tolerance: float = SHIP_TOLERANCE) -> dict:
    """The rule for shipping new weights, from one benchmark run with both: the all-real mean at the
    last round improves; no group is lower at any round by more than ``tolerance``; every mean
    curve of the candidate is non-decreasing over rounds. Returns each test and ``ship``."""
    groups = [g for g in summary if old in summary[g] and new in summary[g]]
    if "all_real" not in groups:
        raise ValueError("the shipping check needs the real dev cases in the run (all_real)")
    worst = {g: round(min(b - a for a, b in zip(summary[g][old]["dice"], summary[g][new]["dice"])), 4) for g in groups}
    drops = {g: round(min(b - a for a, b in zip(d[:-1], d[1:])), 4) for g in groups for d in [summary[g][new]["dice"]]}
    gain = round(summary["all_real"][new]["dice"][-1] - summary["all_real"][old]["dice"][-1], 4)
    out = {
        "all_real_last_round_gain": gain,
        "worst_round_change_per_group": worst,
        "largest_round_to_round_drop_per_group": drops,
        "improves_all_real": gain > 0,
        "no_group_lower": all(v >= -tolerance for v in worst.values()),
        "curves_non_decreasing": all(v >= 0 for v in drops.values()),
    }
    out["ship"] = out["improves_all_real"] and out["no_group_lower"] and out["curves_non_decreasing"]
    return out


def print_table(summary: dict, methods) -> None:
    print(f"{'group':<16}{'method':<18}" + "".join(f"{'r' + str(i + 1):>7}" for i in range(6)) + f"{'s/round':>9}{'n':>4}")
    for g, entry in summary.items():
        for m in methods:
            if m not in entry:
                continue
            d = entry[m]["dice"]
            print(f"{g:<16}{m:<18}" + "".join(f"{v:>7.3f}" for v in d) + f"{entry[m]['seconds_per_round']:>9.3f}{entry['n']:>4}")
        for m in methods:
            if m in entry and "overshoot" in entry[m]:
                print(f"{g:<16}{m[:13] + ' over/under':<24}" + "".join(
                    f"{o:>5.1f}/{u:<4.1f}" for o, u in zip(entry[m]["overshoot"], entry[m]["undershoot"])))
        for m in methods:
            t = entry.get(m, {}).get("trust")
            if t:
                print(f"{g:<16}{m[:13] + ' trust':<24} collapsed {t['collapsed_first_clicks']}/{t['sessions']}  "
                      f"slice worse {t['slice_worse_share']}  better {t['slice_better_share']}  "
                      f"3D gain/corr {t['gain_3d_per_correction']}  first slice {t['first_slice_dice']:.3f}")
        if entry.get("strip_r1"):
            st = entry["strip_r1"]
            print(f"{g:<16}{'strip after r1 (share, slice Dice)':<34} " + "  ".join(
                f"{k} {st[k]['share']:.2f}/{st[k]['mean_slice_dice'] if st[k]['mean_slice_dice'] is not None else float('nan'):.2f}"
                for k, _, _ in STRIP_BINS) + f"  spearman {st.get('spearman', float('nan')):.2f}")
        if entry.get("confidence_hit_rate") is not None:
            print(f"{g:<16}{'next click in top-3 by need':<34} {entry['confidence_hit_rate']:.2f} "
                  f"(random {entry['random_hit_rate']:.2f}, largest masks {entry['largest_area_hit_rate']:.2f})")


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line (see :func:`main`)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="folder with cases.json (default ../shared/data/dev)")
    p.add_argument("--cases", nargs="*", default=None, help="only these case names")
    p.add_argument("--synthetic", type=int, default=8, help="number of synthetic hold-out cases (0 = none)")
    p.add_argument("--no-dev", action="store_true", help="skip the real dev cases")
    p.add_argument("--textured-nuclei", type=int, default=0,
                   help="also run this many generated large textured nuclei (evaluation.textured_nuclei; 0 = none)")
    p.add_argument("--packed-nuclei", type=int, default=0,
                   help="also run this many generated small, crowded, low-contrast nuclei (evaluation.packed_nuclei; 0 = none)")
    p.add_argument("--train-cases", type=int, default=0,
                   help="also run this many structures of the real TRAINING volumes (group 'train', for tuning rules)")
    p.add_argument("--composite-train", type=int, default=0,
                   help="also run this many composite objects of the TRAINING volumes: two touching structures as one "
                        "(evaluation.cases.load_composite_train_cases; 0 = none)")
    p.add_argument("--border-cut", action="store_true",
                   help="also run a copy of every generated and training case cropped so that an image edge cuts its "
                        "object (evaluation.border_cut; group <group>_border; never dev)")
    p.add_argument("--train-held-out-every", type=int, default=0,
                   help="only the training structures a --hold-out-every K training run never trained on "
                        "(all of them unless --train-cases caps the number)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--methods", nargs="*", default=list(DEFAULT_METHODS), choices=METHODS,
                   help="add no_valley / no_drift_gap / drift_plateau / no_leak_cut / core_erase for the stopping ablations")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    p.add_argument("--weights", default=None, help="folder with interaction/propagation/fusion .pt (default: shipped)")
    p.add_argument("--candidate", default=None,
                   help="folder of candidate weights: adds the 'candidate' method and the shipping check against 'limnet'")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--robot-jitter", type=int, default=0,
                   help="move every robot click up to this many pixels within its region (0 = the exact protocol); "
                        "measures how much groups move when only the clicks' pixels change")
    p.add_argument("--robot-seed", type=int, default=0, help="seed of the jitter (and of the confidence hit-rate draw)")
    p.add_argument("--robot-seeds", type=int, nargs="+", default=None,
                   help="with --robot-jitter: run every case once per seed (replaces --robot-seed); the summary pools "
                        "all sessions (each seed weighs the same) and keeps each method's curve per seed ('dice_by_seed'), "
                        "so one report compares methods over several jitter draws, each method seeing the same seeds")
    p.add_argument("--out", default="bench_out", help="folder for <name>.json and <name>.png")
    p.add_argument("--name", default="benchmark", help="file stem of the report and plot")
    return p


def load_cases(args: argparse.Namespace) -> list[Case]:
    """The cases the parsed command line asks for: dev (unless --no-dev), then the generated,
    training and composite cases, then a border-cut copy of every non-dev case (--border-cut)."""
    cases = [] if args.no_dev else load_dev_cases(args.data, args.cases)
    if args.synthetic:
        cases += synthetic_holdout(args.synthetic)
    if args.textured_nuclei:
        from .evaluation.textured_nuclei import textured_nuclei_cases

        cases += textured_nuclei_cases(args.textured_nuclei)
    if args.packed_nuclei:
        from .evaluation.packed_nuclei import packed_nuclei_cases

        cases += packed_nuclei_cases(args.packed_nuclei)
    if args.train_cases or args.train_held_out_every:
        cases += load_train_cases(args.train_cases or None, held_out_every=args.train_held_out_every)
    if args.composite_train:
        from .evaluation.cases import load_composite_train_cases

        cases += load_composite_train_cases(args.composite_train)
    if args.border_cut:
        from .evaluation.border_cut import border_cut_cases

        cases += border_cut_cases([c for c in cases if c.group in NOT_REAL])
    return cases


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.robot_seeds and args.robot_jitter <= 0:
        parser.error("--robot-seeds needs --robot-jitter > 0 (without jitter every seed repeats the same sessions)")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from .modeling.weights import LimNetModels

    models = LimNetModels.load("cpu", args.weights) if args.weights else None
    candidate_models = LimNetModels.load("cpu", args.candidate) if args.candidate else None
    if candidate_models is not None and "candidate" not in args.methods:
        args.methods = [*args.methods, "candidate"]
    cases = load_cases(args)
    results = []
    t0 = time.time()
    seeds = args.robot_seeds or [args.robot_seed]
    for case in cases:
        for seed in seeds:
            r = evaluate_case(case, args.rounds, args.methods, models, args.precision, seed=seed,
                              candidate_models=candidate_models, robot_jitter=args.robot_jitter)
            if args.robot_seeds:
                r["robot_seed"] = seed
            results.append(r)
            line = "  ".join(f"{m}={r[m]['dice'][-1]:.3f}" for m in args.methods if m in r)
            r1 = r["limnet"]["dice"][0] if "limnet" in r else float("nan")
            tag = f" seed {seed}" if args.robot_seeds else ""
            print(f"{case.name:<16}{tag} r1={r1:.3f}  {line}  overshoot_r1={r.get('overshoot_r1')}", flush=True)
    summary = summarise(results, args.methods)
    print()
    print_table(summary, args.methods)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "rounds": args.rounds,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "robot_jitter": args.robot_jitter,
        "robot_seed": None if args.robot_seeds else args.robot_seed,
        "robot_seeds": args.robot_seeds,
        "wall_seconds": round(time.time() - t0, 1),
        "summary": summary,
        "cases": results,
    }
    if candidate_models is not None and "limnet" in args.methods:
        report["candidate"] = {"weights": str(args.candidate), **(shipping_check(summary) if "all_real" in summary else {})}
        print("\nshipping check:", json.dumps(report["candidate"]))
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=1))
    plot(summary, args.methods, out / f"{args.name}.png")
    print(f"\nwrote {out / (args.name + '.json')} and {out / (args.name + '.png')}")
    return report


if __name__ == "__main__":
    main()
