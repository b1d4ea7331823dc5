"""Benchmark "annotate a volume": shipped against adapted networks on the same remaining objects.

    python benchmarks/adaptation.py --dev --k 1 3 --seconds 60 180 --modes true robot --out docs/adaptation
    python benchmarks/adaptation.py --train --k 3 --seconds 60 --variants default bn_train decoders ... \
        --out docs/adaptation --name recipe_train

See :mod:`napari_limnet.evaluation.annotate_volume` for the protocol. Volumes:

- ``--dev``: the dev volumes with several objects (macaque 16, confocal nuclei 9, synthetic
  nuclei 10). Adapting on dev objects is allowed here because they are never scored, and nothing
  adapted here is shipped;
- ``--train``: the real *training* volumes (``../shared/data/train``) with >= 5 structures, where
  the recipe (what moves, learning rate, mix, seconds) is chosen.

Each row adapts with planned steps (from the seconds, at the nominal CPU speed) and a generous
hard limit, so the machine's load does not change the result; the real seconds are reported.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from napari_limnet.adaptation import DEFAULT_RECIPE, adapt, learn_with_report
from napari_limnet.evaluation.annotate_volume import VolumeObjects, committed_labels, mean_rows, robot_scores, write_json
from napari_limnet.evaluation.memory import peak_rss_mb

#: Recipe variants (what each choice of the recipe buys): name -> changes to the default.
VARIANTS = {
    "default": {},
    "bn_train": {"batchnorm": "train"},
    "decoders": {"moves": "decoders"},
    "synthetic_25": {"user_fraction": 0.75},
    "user_half": {"user_fraction": 0.5},
    "user_only": {"user_fraction": 1.0},
    "interaction_only": {"propagation_share": 0.0},
    "propagation_only": {"propagation_share": 1.0},
    "native_axis_only": {"native_axis": 1.0},
    "all_axes": {"native_axis": 1 / 3},
    "intensity_full": {"intensity_strength": 1.0},
    "lr_1e-3": {"lr": 1e-3},
    "lr_1e-4": {"lr": 1e-4},
    "sgd": {"optimizer": "sgd", "lr": 1e-2},
}


def dev_volumes() -> list[VolumeObjects]:
    """macaque, confocal nuclei, synthetic nuclei: the objects listed in cases.json, in its order."""
    from napari_limnet.evaluation.cases import _read, default_data_dir, group_of

    folder = default_data_dir()
    listing = json.loads((folder / "cases.json").read_text())["cases"]
    by_image: dict[str, list[dict]] = {}
    for e in listing:
        by_image.setdefault(e["image"], []).append(e)
    out = []
    for image_name, entries in by_image.items():
        if len(entries) < 4:
            continue
        image, spacing = _read(str(folder / image_name))
        labels, _ = _read(str(folder / entries[0]["labels"]))
        if "spacing_zyx" in entries[0]:
            spacing = tuple(float(s) for s in entries[0]["spacing_zyx"])
        ids = [int(e["label"]) for e in entries]
        kept = np.where(np.isin(labels, ids), labels, 0).astype(np.int32)
        out.append(VolumeObjects(group_of(entries[0]["name"]), group_of(entries[0]["name"]), image, kept, ids, spacing))
    return out


def train_volumes(min_objects: int = 5, min_voxels: int = 500, min_slices: int = 5) -> list[VolumeObjects]:
    """The real training volumes with >= ``min_objects`` usable structures, largest first."""
    from napari_limnet.data.real_volumes import load_real_volumes

    out = []
    for v in load_real_volumes():
        ids, sizes = [], []
        for lab in np.unique(v.labels):
            t = v.labels == lab
            if lab != 0 and t.sum() >= min_voxels and t.any(axis=(1, 2)).sum() >= min_slices:
                ids.append(int(lab))
                sizes.append(int(t.sum()))
        if len(ids) < min_objects:
            continue
        order = [i for _, i in sorted(zip(sizes, ids), key=lambda p: (-p[0], p[1]))]
        kept = np.where(np.isin(v.labels, order), v.labels, 0).astype(np.int32)
        out.append(VolumeObjects(v.name, "train", np.ascontiguousarray(v.image), kept, order, tuple(v.spacing)))
    return out


def scored_ids(vol: VolumeObjects, k_max: int, max_scored: int) -> list[int]:
    rest = vol.ids[k_max:]
    if max_scored and len(rest) > max_scored:
        rest = [rest[int(i * len(rest) / max_scored)] for i in range(max_scored)]
    return rest


def run_volume(vol, ks, seconds_list, modes, variants, max_scored, seed, log, guarded: bool = False) -> dict:
    from napari_limnet.modeling.weights import shipped_models

    shipped = shipped_models("cpu")
    k_max = max(ks)
    scored = scored_ids(vol, k_max, max_scored)
    t0 = time.perf_counter()
    robot_needed = vol.ids[:k_max] if "robot" in modes else []
    base_scores = robot_scores(shipped, vol, scored + robot_needed, keep_last_mask=True)
    robot_masks = {i: base_scores[i].pop("mask") for i in base_scores}
    log(f"{vol.name}: shipped robot on {len(scored)} scored + {len(robot_needed)} committed objects, "
        f"{time.perf_counter() - t0:.0f} s")
    result = {"volume": vol.name, "group": vol.group, "scored": scored, "shipped": mean_rows(base_scores, scored),
              "shipped_per_object": {i: base_scores[i]["dice"] for i in scored}, "rows": []}
    if robot_needed:
        result["robot_commit_dice"] = {i: base_scores[i]["dice"][-1] for i in robot_needed}
    for k in ks:
        for mode in modes:
            labels = committed_labels(vol, vol.ids[:k], mode, robot_masks)
            for seconds in seconds_list:
                for variant in variants:
                    recipe = replace(DEFAULT_RECIPE, **VARIANTS[variant])
                    t1 = time.perf_counter()
                    report = None
                    if guarded:  # as the widget: adapt on some, check on the held-out committed objects
                        models, report = learn_with_report(vol.image, labels, vol.spacing, seconds=seconds, seed=seed,
                                                           recipe=recipe, time_limit=10 * seconds)
                    else:
                        models = adapt(vol.image, labels, vol.spacing, seconds=seconds, seed=seed, recipe=recipe,
                                       time_limit=10 * seconds)
                    t_adapt = time.perf_counter() - t1
                    if report is not None and not report.helps:  # the widget keeps the shipped model
                        scores = {i: base_scores[i] for i in scored}
                    else:
                        scores = robot_scores(models, vol, scored)
                    name = variant + (" guarded" if guarded else "")
                    row = {"k": k, "mode": mode, "seconds": seconds, "variant": name, **mean_rows(scores, scored),
                           "adapt_seconds": round(t_adapt, 1), "steps": models.info["adaptation"]["steps"],
                           "time_limited": models.info["adaptation"]["time_limited"],
                           "per_object": {i: scores[i]["dice"] for i in scored}, "peak_rss_mb": round(peak_rss_mb())}
                    if report is not None:
                        row["report"] = report.to_json()
                    result["rows"].append(row)
                    log(f"{vol.name} k={k} {mode} T={seconds} {name}: r1 {row['dice'][0]:.3f} r6 {row['dice'][-1]:.3f} "
                        f"(shipped {result['shipped']['dice'][0]:.3f} / {result['shipped']['dice'][-1]:.3f}), "
                        f"adapt {t_adapt:.0f} s, steps {row['steps']}")
    return result


def summarise(results: list[dict]) -> dict:
    """Per group and row key: mean over volumes' scored objects (object-weighted)."""
    groups: dict[str, dict] = {}
    for res in results:
        g = groups.setdefault(res["group"], {"objects": 0, "shipped": [], "rows": {}})
        n = len(res["scored"])
        g["objects"] += n
        g["shipped"].append((n, res["shipped"]))
        for row in res["rows"]:
            key = f"k={row['k']} {row['mode']} T={row['seconds']} {row['variant']}"
            g["rows"].setdefault(key, []).append((n, row))
    out = {}
    for name, g in groups.items():
        def wmean(items, field):
            total = sum(n for n, _ in items)
            return (sum(n * np.asarray(r[field]) for n, r in items) / total).round(4).tolist()

        entry = {"objects": g["objects"], "shipped": {f: wmean(g["shipped"], f) for f in ("dice", "overshoot", "undershoot")}}
        for key, items in g["rows"].items():
            entry[key] = {f: wmean(items, f) for f in ("dice", "overshoot", "undershoot")}
            entry[key]["adapt_seconds"] = float(np.mean([r["adapt_seconds"] for _, r in items]))
            entry[key]["peak_rss_mb"] = max(r["peak_rss_mb"] for _, r in items)
        out[name] = entry
    return out


def print_summary(summary: dict) -> None:
    for group, entry in summary.items():
        print(f"\n{group} ({entry['objects']} scored objects)")
        print(f"  {'row':<40}" + "".join(f"{'r' + str(i + 1):>7}" for i in range(6)) + "   over/under r1   adapt s")
        for key, row in entry.items():
            if key == "objects":
                continue
            extra = f"{row['adapt_seconds']:>8.0f}" if "adapt_seconds" in row else ""
            print(f"  {key:<40}" + "".join(f"{v:>7.3f}" for v in row["dice"])
                  + f"   {row['overshoot'][0]:>5.1f}/{row['undershoot'][0]:<5.1f}" + extra)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", action="store_true", help="the dev volumes with several objects")
    p.add_argument("--train", action="store_true", help="the real training volumes (choose the recipe here)")
    p.add_argument("--volumes", nargs="*", default=None, help="only these volume names")
    p.add_argument("--k", nargs="+", type=int, default=[1, 3])
    p.add_argument("--seconds", nargs="+", type=float, default=[60.0, 180.0])
    p.add_argument("--modes", nargs="+", default=["true", "robot"], choices=["true", "robot"])
    p.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS))
    p.add_argument("--max-scored", type=int, default=0, help="score at most this many objects per volume (0 = all)")
    p.add_argument("--guarded", action="store_true",
                   help="as the widget: hold out committed objects, use the adapted model only when they improve")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="bench_out")
    p.add_argument("--name", default="adaptation")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    vols = (dev_volumes() if args.dev else []) + (train_volumes() if args.train else [])
    if args.volumes:
        vols = [v for v in vols if v.name in args.volumes]
    if not vols:
        raise SystemExit("no volumes: give --dev and/or --train")
    t0 = time.time()
    results = []
    out = Path(args.out)
    for vol in vols:
        results.append(run_volume(vol, args.k, args.seconds, args.modes, args.variants, args.max_scored, args.seed,
                                  lambda m: print(m, flush=True), args.guarded))
        write_json(out / f"{args.name}.json", {"args": vars(args), "results": results, "summary": summarise(results),
                                                "wall_seconds": round(time.time() - t0)})
    summary = summarise(results)
    print_summary(summary)
    write_json(out / f"{args.name}.json", {"args": vars(args), "results": results, "summary": summary,
                                            "wall_seconds": round(time.time() - t0), "threads": args.threads})
    print(f"\nwrote {out / (args.name + '.json')}")


if __name__ == "__main__":
    main()
