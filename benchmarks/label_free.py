"""Benchmark "annotate a volume, no objects committed": shipped vs label-free adapted networks.

    python benchmarks/label_free.py --seeds 1 2 3 4 --out docs/adaptation

On the dev volumes of blob-like objects (confocal nuclei, synthetic 3D nuclei), per volume:

- ``shipped``: the shipped networks;
- ``label_free``: adapted on the image's own pseudo-objects (:func:`napari_limnet.adaptation.learn_label_free`,
  180 s planned at the nominal CPU speed, seed 0), no object committed;
- ``label_free_typical``: the same with the pseudo-objects' size range from the size-weighted
  typical size instead of count percentiles (``--size-rules``: the first rule is ``label_free``);
- ``label_free+3``: then adapted further on the first 3 listed objects' true masks (60 s), starting
  from the ``label_free`` networks (a user who committed three objects and pressed Learn).

The robot user annotates every object with 2-pixel click jitter, once per seed; rows are paired
on the same objects and seeds. All rows are scored on the objects after the first 3 (the ones
``label_free+3`` never saw); ``shipped`` and ``label_free`` are also scored on all objects. The
pseudo-objects never use the labels; the dev volumes' objects are only scored (and, for the
``+3`` row, the first 3 are committed, as the adaptation benchmark does), nothing here is shipped.
The brain MRI dev volumes are checked for the verdict only (the widget must not offer it there).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROUNDS = 6


def robot_curves(models, vol, ids, seeds, jitter: int) -> dict:
    """{seed: {id: dice per round}} of robot sessions with ``models`` (None = shipped)."""
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.robot_user import run_session

    out = {}
    for seed in seeds:
        out[seed] = {}
        for oid in ids:
            ctrl = LimNetController(vol.image, spacing=vol.spacing, models=models)
            s = run_session(ctrl.interact, vol.labels == oid, ROUNDS, jitter=jitter, seed=seed)
            dice = list(s.dice) + [s.dice[-1]] * (ROUNDS - len(s.dice))
            out[seed][int(oid)] = [round(float(d), 4) for d in dice]
    return out


def pooled(curves: dict, ids) -> list[float]:
    """Mean Dice per round over seeds and objects ``ids``."""
    return np.mean([curves[s][i] for s in curves for i in ids], axis=0).round(4).tolist()


def collapsed(curves: dict, ids) -> int:
    return int(sum(curves[s][i][0] < 0.1 for s in curves for i in ids))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--jitter", type=int, default=2)
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--out", default="bench_out")
    p.add_argument("--size-rules", nargs="+", default=["percentiles", "typical"],
                   help="pseudo-object size rules to compare (the first one also gets the +k row)")
    p.add_argument("--time-limit-factor", type=float, default=8.0,
                   help="wall-clock limit of an adaptation as a multiple of --seconds (the planned steps should finish)")
    args = p.parse_args(argv)
    import torch

    from napari_limnet.adaptation import adapt, learn_label_free, pseudo_objects

    torch.manual_seed(0)
    here = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(here))
    from adaptation import dev_volumes

    report = {"seeds": args.seeds, "jitter": args.jitter, "seconds": args.seconds, "k": args.k,
              "size_rules": {("label_free" if i == 0 else f"label_free_{r}"): r for i, r in enumerate(args.size_rules)},
              "volumes": {}}
    for vol in dev_volumes():
        t0 = time.perf_counter()
        _, pseudo = pseudo_objects(vol.image, vol.spacing)
        entry = {"verdict": pseudo.to_json(), "text": pseudo.text()}
        report["volumes"][vol.name] = entry
        print(f"{vol.name}: {pseudo.text()}", flush=True)
        if not pseudo.suitable:
            continue
        first = vol.ids[: args.k]
        labels_k = np.where(np.isin(vol.labels, first), vol.labels, 0)
        scored = vol.ids[args.k:]
        curves = {"shipped": robot_curves(None, vol, vol.ids, args.seeds, args.jitter)}
        learned = {}
        for i, rule in enumerate(args.size_rules):
            name = "label_free" if i == 0 else f"label_free_{rule}"
            lf, lf_report, lf_pseudo = learn_label_free(vol.image, vol.spacing, seconds=args.seconds, seed=0,
                                                        time_limit=args.time_limit_factor * args.seconds, size_rule=rule)
            learned[name] = (lf, lf_report, lf_pseudo)
            curves[name] = robot_curves(lf, vol, vol.ids, args.seeds, args.jitter)
            print(f"  {name} ({rule}): {lf_pseudo.n_objects} pseudo-objects; {lf_report.text()}", flush=True)
        lf, lf_report, _ = learned["label_free"]
        plus = adapt(vol.image, labels_k, vol.spacing, seconds=60.0, seed=0, base=lf, time_limit=240.0)
        curves[f"label_free+{args.k}"] = robot_curves(plus, vol, scored, args.seeds, args.jitter)
        rows = {}
        for name, c in curves.items():
            rows[name] = {"scored_after_k": pooled(c, scored), "collapsed_first_clicks": collapsed(c, scored)}
            if not name.endswith(f"+{args.k}"):
                rows[name]["all_objects"] = pooled(c, vol.ids)
                rows[name]["collapsed_all"] = collapsed(c, vol.ids)
        for name, (_, rep, _) in learned.items():  # what the widget uses: adapted only where its check shows a gain
            rows[f"{name}_guarded"] = rows[name] if rep.helps else rows["shipped"]
        paired = {name: (np.array(rows[name]["scored_after_k"]) - np.array(rows["shipped"]["scored_after_k"])).round(4).tolist()
                  for name in rows}
        paired_all = {name: (np.array(r["all_objects"]) - np.array(rows["shipped"]["all_objects"])).round(4).tolist()
                      for name, r in rows.items() if "all_objects" in r}
        entry.update({"learn_report": lf_report.to_json(), "rows": rows, "paired_vs_shipped_after_k": paired,
                      "paired_vs_shipped_all": paired_all, "curves": curves,
                      "learn_reports": {name: rep.to_json() for name, (_, rep, _) in learned.items()},
                      "adaptations": {name: {k: v for k, v in m.info["adaptation"].items() if k != "crops"}
                                      for name, (m, _, _) in learned.items()},
                      "seconds": round(time.perf_counter() - t0, 1)})
        _write(report, args.out)  # after each volume: a stopped run keeps what it measured
        for name, r in rows.items():
            allo = r.get("all_objects")
            print(f"  {name:<14} after {args.k}: " + " ".join(f"{d:.3f}" for d in r["scored_after_k"])
                  + (f" | all: {' '.join(f'{d:.3f}' for d in allo)}" if allo else ""), flush=True)
    _write(report, args.out)
    return report


def _write(report: dict, out: str) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "label_free_dev.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
