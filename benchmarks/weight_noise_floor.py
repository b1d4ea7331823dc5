"""How much does the robot benchmark move when the weights move by a tiny, meaningless amount?

    python benchmarks/weight_noise_floor.py [--seeds 0 1 2 3] [--relative 0.01] [--dev] [--out docs/research/training/noise_floor]

Each seed adds Gaussian noise to the parameters a decoders-only fine-tuning moves
(:data:`napari_limnet.training.what_moves.DECODER_PREFIXES`, interaction and propagation nets), with
a standard deviation of ``--relative`` times each tensor's own standard deviation (0.01: about the
size of the change 240 s of fine-tuning at lr 3e-5 makes), then the robot scores the perturbed
weights exactly as the CPU sweep scores a config (held-out training structures + synthetic
hold-out; with ``--dev`` also the dev cases, against the shipped weights in the same run). The
spread across seeds is the noise floor a fine-tuning's measured change has to clear before it
means anything: the robot's rounds are a cascade of discrete choices (where the next click goes,
where propagation stops, which mask the selector keeps), so a tiny change can flip an object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from cpu_finetune_sweep import ROOT, score  # this folder is on sys.path when run as a script
from napari_limnet.modeling.weights import shipped_weights_dir
from napari_limnet.training.what_moves import DECODER_PREFIXES


def perturb(start: Path, out: Path, relative: float, seed: int) -> None:
    """Copy ``start`` to ``out`` with the decoder parameters of both nets perturbed (seeded)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(start, out)
    gen = torch.Generator().manual_seed(seed)
    for net, prefixes in DECODER_PREFIXES.items():
        ckpt = torch.load(start / f"{net}.pt", map_location="cpu", weights_only=True)
        state = ckpt["state_dict"]
        for key, value in state.items():
            if key.startswith(prefixes) and value.is_floating_point() and "running_" not in key and value.numel() > 1:
                state[key] = value + torch.randn(value.shape, generator=gen) * value.std() * relative
        torch.save({"state_dict": state}, out / f"{net}.pt")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--relative", type=float, default=0.01)
    p.add_argument("--dev", action="store_true", help="also score the dev cases (candidate beside the shipped weights)")
    p.add_argument("--hold-out-every", type=int, default=3)
    p.add_argument("--synthetic", type=int, default=8)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "noise_floor")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "training" / "noise_floor")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "noise_floor.json"
    result = json.loads(path.read_text()) if path.is_file() else {"rows": {}}
    result["setup"] = {"relative": args.relative, "hold_out_every": args.hold_out_every, "synthetic": args.synthetic,
                       "perturbed": {k: list(v) for k, v in DECODER_PREFIXES.items()}}
    for seed in args.seeds:
        key = f"seed{seed}_rel{args.relative:g}"
        row = result["rows"].get(key, {})
        folder = args.work / key
        if "proxy" not in row or (args.dev and "dev" not in row):
            perturb(shipped_weights_dir(), folder, args.relative, seed)
        if "proxy" not in row:  # scored exactly as the CPU sweep scores a config
            row["proxy"] = {g: sc["dice"] for g, sc in score(folder, args.hold_out_every, args.synthetic, args.out, key).items()}
        if args.dev and "dev" not in row:
            subprocess.run([sys.executable, "-m", "napari_limnet.benchmark", "--methods", "limnet", "--candidate", str(folder),
                            "--threads", "2", "--out", str(args.out / "scores"), "--name", f"dev_{key}"],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            report = json.loads((args.out / "scores" / f"dev_{key}.json").read_text())
            row["dev"] = {g: s["candidate"]["dice"] for g, s in report["summary"].items()}
            row["dev_shipped"] = {g: s["limnet"]["dice"] for g, s in report["summary"].items()}
        result["rows"][key] = row
        path.write_text(json.dumps(result, indent=1))
        print(key, {part: {g: d[-1] for g, d in row[part].items()} for part in ("proxy", "dev") if part in row}, flush=True)
    print(summary(result))


def summary(result: dict) -> str:
    """Markdown: per group, round-6 Dice of every seed, their mean and the range (max - min)."""
    lines = ["| part | group | round-6 Dice per seed | mean | range |", "|---|---|---|---|---|"]
    rows = list(result["rows"].values())
    for part in ("proxy", "dev"):
        have = [r[part] for r in rows if part in r]
        if not have:
            continue
        for g in have[0]:
            vals = [r[g][-1] for r in have]
            lines.append(f"| {part} | {g} | " + " / ".join(f"{v:.3f}" for v in vals)
                         + f" | {statistics.mean(vals):.3f} | {max(vals) - min(vals):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
