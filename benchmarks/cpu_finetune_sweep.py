"""CPU fine-tuning of the shipped weights: which real/synthetic mix, learning rate and moving parts.

    python benchmarks/cpu_finetune_sweep.py [--seconds 240] [--configs m50 m30 ...] [--out docs/research/training/cpu_sweep]

Every config resumes both nets from the same starting weights (``--start``, default the shipped
ones), trains them side by side for ``--seconds`` each (one thread each, ``nice``), holding out
every third real training structure by object (``--hold-out-every 3``), then the robot scores the
held-out structures and the synthetic hold-out set (never the dev set) with the fine-tuned
interaction and propagation nets (fusion as started). A row for the starting weights is scored
in the same run. Configs already scored in ``<out>/sweep.json`` are skipped, so the sweep resumes
after a cut.

``--interpolate CONFIG:ALPHA ...`` also scores weight-space interpolations between the start and
a trained config (``(1 - alpha) * start + alpha * config`` for the interaction and propagation
nets, :mod:`napari_limnet.training.interpolate_weights`): no training, the same scoring.

``--chain NAME --chunks N`` instead continues one config for N more chunks of ``--seconds``,
each resuming from the previous chunk and scored the same way (the Dice-vs-CPU-hours curve).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from napari_limnet.training.interpolate_weights import interpolate_weights

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

#: name -> (real fraction, lr, moves, batchnorm[, optimizer]); the optimizer is AdamW unless named
CONFIGS = {
    "m50": (0.5, 3e-4, "all", "frozen"),
    "m30": (0.3, 3e-4, "all", "frozen"),
    "m70": (0.7, 3e-4, "all", "frozen"),
    "m50_bn_train": (0.5, 3e-4, "all", "train"),
    "m50_decoders": (0.5, 3e-4, "decoders", "frozen"),
    "m50_lr1e-4": (0.5, 1e-4, "all", "frozen"),
    "m50_lr1e-3": (0.5, 1e-3, "all", "frozen"),
    "m100": (1.0, 3e-4, "all", "frozen"),
    "m70_decoders": (0.7, 3e-4, "decoders", "frozen"),
    "m100_decoders": (1.0, 3e-4, "decoders", "frozen"),
    "m50_decoders_lr1e-4": (0.5, 1e-4, "decoders", "frozen"),
    "m0_decoders": (0.0, 3e-4, "decoders", "frozen"),  # control: the CPU regime on synthetic data alone
    "m0_decoders_lr3e-5": (0.0, 3e-5, "decoders", "frozen"),
    "m50_decoders_lr3e-5": (0.5, 3e-5, "decoders", "frozen"),
    # momentum SGD steps in proportion to the gradient; AdamW's ~lr per weight moved the interaction
    # net's correction rounds even on synthetic data (interaction_regime.md)
    "m70_decoders_sgd": (0.7, 1e-2, "decoders", "frozen", "sgd"),
    "m100_decoders_sgd": (1.0, 1e-2, "decoders", "frozen", "sgd"),
    # the propagation net's "object present" head alone (the interaction net is not trained): it can
    # move where a propagation stops, never the mask it draws
    "m50_presence": (0.5, 1e-3, "presence", "frozen"),
    "m100_presence": (1.0, 1e-3, "presence", "frozen"),
}


def settings(config: tuple) -> tuple:
    """(real fraction, lr, moves, batchnorm, optimizer) of a CONFIGS entry (AdamW when not named)."""
    return (*config[:4], config[4] if len(config) > 4 else "adamw")


#: CPU-sized batches and banks per net: (batch, bank, refresh batch)
SIZES = {"interaction": (16, 64, 16), "propagation": (6, 32, 8)}


def trained_nets(config: tuple) -> list[str]:
    """The nets a config fine-tunes: both, or the propagation net alone for ``moves="presence"``."""
    return ["propagation"] if settings(config)[2] == "presence" else list(SIZES)


def train_both(folder: Path, config: tuple, seconds: float, hold_out: int, seed: int, log_dir: Path) -> float:
    """Resume both nets in ``folder`` side by side; returns the wall seconds."""
    frac, lr, moves, bn, optimizer = settings(config)
    procs = []
    t0 = time.time()
    for net in trained_nets(config):
        batch, bank, refresh = SIZES[net]
        cmd = ["nice", "-n", "10", PY, "-m", f"napari_limnet.training.train_{net}", "--resume", "--out", str(folder),
               "--real", str(ROOT.parent / "shared" / "data" / "train"), "--real-fraction", str(frac), "--lr", str(lr),
               "--moves", moves, "--batchnorm", bn, "--optimizer", optimizer, "--threads", "1", "--seconds", str(seconds),
               "--batch", str(batch),
               "--bank", str(bank), "--refresh-batch", str(refresh), "--refresh-every", "2", "--device", "cpu",
               "--val-volumes", "8", "--log-every", str(seconds), "--hold-out-every", str(hold_out), "--seed", str(seed)]
        log = open(log_dir / f"{folder.name}_{net}.log", "a")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"training failed, see {log_dir}")
    return time.time() - t0


def score(weights: Path | None, hold_out: int, synthetic: int, out: Path, name: str) -> dict:
    """Robot, 6 rounds, on the held-out training structures and the synthetic hold-out."""
    cmd = [PY, "-m", "napari_limnet.benchmark", "--no-dev", "--synthetic", str(synthetic), "--train-held-out-every",
           str(hold_out), "--methods", "limnet", "--threads", "2", "--out", str(out / "scores"), "--name", name]
    if weights is not None:
        cmd += ["--weights", str(weights)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((out / "scores" / f"{name}.json").read_text())
    return {g: {"n": s["n"], "dice": s["limnet"]["dice"], "overshoot": s["limnet"]["overshoot"],
                "undershoot": s["limnet"]["undershoot"]} for g, s in report["summary"].items()}


def run_record(folder: Path, nets=tuple(SIZES)) -> dict:
    """Samples and clips of the last run of each trained net (from the weights' JSON records)."""
    out = {}
    for net in nets:
        run = json.loads((folder / f"{net}.json").read_text())["runs"][-1]
        out[net] = {k: run.get(k) for k in ("steps", "samples", "clips", "seconds", "final_validation", "real_fraction",
                                            "bank_volumes_generated", "real_structures")}
    return out


def plot(sweep: dict, path: Path) -> None:
    """Left: round-6 Dice of every config against the start. Right: the chained run, Dice against
    CPU-hours (both nets' training seconds, one thread each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({g for r in sweep["rows"].values() for g in r["scores"]})
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    names = list(sweep["rows"])
    for k, g in enumerate(groups):
        a.bar([i + 0.4 * k for i in range(len(names))], [sweep["rows"][n]["scores"][g]["dice"][-1] for n in names], 0.4, label=g)
    a.set_xticks([i + 0.2 for i in range(len(names))], names, rotation=30, ha="right", fontsize=8)
    a.set_ylabel("round-6 Dice (robot)")
    a.set_title(f"{sweep['setup']['seconds_per_net']:.0f} s per net from the start weights")
    a.legend(fontsize=8, loc="lower left")
    a.grid(axis="y", alpha=0.3)
    if sweep["chain"]:
        first = sweep["rows"][sweep["chain"][0]["config"]]
        points = [(0.0, sweep["rows"]["start"]["scores"]), (first["seconds_per_net"], first["scores"])] + [
            (c["seconds_per_net"], c["scores"]) for c in sweep["chain"]]
        for g in groups:
            xs = [2 * sec / 3600 for sec, _ in points]
            for r, style in ((0, "--o"), (5, "-o")):
                ys = [sc[g]["dice"][r] for _, sc in points]
                b.plot(xs, ys, style, label=f"{g} r{r + 1}", ms=4)
        b.set_xlabel(f"CPU-hours of fine-tuning ({sweep['chain'][0]['config']}, 1 thread per net)")
        b.set_ylabel("Dice (robot)")
        b.set_title("held-out training structures and synthetic hold-out")
        b.legend(fontsize=8)
        b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(sweep: dict) -> str:
    """One row per config: its settings, data seen, per group r1 / r6 / mean over rounds (+ r1
    over/undershoot), the worst per-round change against the start, and whether the shipping rule
    applied to these proxy groups (none lower at any round by > 0.01, curves non-decreasing) passes."""
    groups = sorted({g for r in sweep["rows"].values() for g in r["scores"]})
    head = "| config | real share | lr | moves | BN statistics | samples / clips | " + " | ".join(
        f"{g} r1 / r6 / mean | {g} r1 over / under" for g in groups) + " | worst round vs start | proxy rule |"
    lines = [head, "|" + "---|" * (8 + 2 * len(groups))]
    start = sweep["rows"]["start"]["scores"]
    for name, r in sweep["rows"].items():
        runs = r.get("runs", {})
        seen = f"{runs.get('interaction', {}).get('samples', '-')} / {runs['propagation']['clips']}" if runs else "-"
        settings = [str(r.get(k, "-")) for k in ("real_fraction", "lr", "moves", "batchnorm")]
        if r.get("only_net"):
            settings[2] = f"{r['only_net']} net only"
        if r.get("alpha") is not None:
            settings[2] += f", alpha {r['alpha']:g} toward it"
        cells = []
        for g in groups:
            sc = r["scores"][g]
            d = sc["dice"]
            cells.append(f"{d[0]:.3f} / {d[-1]:.3f} / {sum(d) / len(d):.3f}")
            cells.append(f"{sc['overshoot'][0]:.1f} / {sc['undershoot'][0]:.1f}")
        worst = {g: min(b - a for a, b in zip(start[g]["dice"], r["scores"][g]["dice"])) for g in groups}
        rising = all(min(b - a for a, b in zip(d[:-1], d[1:])) >= 0 for d in (r["scores"][g]["dice"] for g in groups))
        passes = name != "start" and all(v >= -0.01 for v in worst.values()) and rising
        lines.append(f"| {name} | " + " | ".join(settings) + f" | {seen} | " + " | ".join(cells) + " | "
                     + " / ".join(f"{worst[g]:+.3f}" for g in groups) + f" | {'passes' if passes else '-'} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=240)
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--start", type=Path, default=ROOT / "src" / "napari_limnet" / "weights", help="starting weights")
    p.add_argument("--hold-out-every", type=int, default=3)
    p.add_argument("--synthetic", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "sweep", help="weights of each config (not committed)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "training" / "cpu_sweep")
    p.add_argument("--chain", default=None, help="continue this config in chunks instead of sweeping")
    p.add_argument("--chunks", type=int, default=1)
    p.add_argument("--plot-only", action="store_true", help="redraw sweep.png from sweep.json and print the table")
    p.add_argument("--only-net", nargs="*", default=[], metavar="CONFIG:NET",
                   help="also score the start weights with one fine-tuned net of a config swapped in (e.g. m50:propagation)")
    p.add_argument("--interpolate", nargs="*", default=[], metavar="CONFIG:ALPHA",
                   help="also score (1 - alpha) * start + alpha * CONFIG (interaction and propagation nets)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "logs").mkdir(exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.out / "sweep.json"
    sweep = json.loads(path.read_text()) if path.is_file() else {"rows": {}, "chain": []}
    if args.plot_only:
        print(markdown_table(sweep))
        return plot(sweep, args.out / "sweep.png")
    setup = {"seconds_per_net": args.seconds, "hold_out_every": args.hold_out_every, "seed": args.seed,
             "synthetic": args.synthetic, "start": str(args.start), "threads": "1 per net, both nets side by side"}
    sweep["chain_setup" if args.chain else "setup"] = setup

    def save():
        path.write_text(json.dumps(sweep, indent=1))
        plot(sweep, args.out / "sweep.png")

    if "start" not in sweep["rows"]:
        sweep["rows"]["start"] = {"scores": score(None if args.start == p.get_default("start") else args.start,
                                                  args.hold_out_every, args.synthetic, args.out, "start")}
        save()
    def add_derived_row(combo: str, folder: Path, extra: dict, report: str) -> None:
        """Score ``folder`` (weights derived from the config named before the colon) as row ``combo``."""
        base = {k: v for k, v in sweep["rows"][combo.split(":")[0]].items() if k != "scores"}
        sweep["rows"][combo] = {**base, **extra, "scores": score(folder, args.hold_out_every, args.synthetic, args.out, report)}
        save()
        print(combo, {g: s["dice"][-1] for g, s in sweep["rows"][combo]["scores"].items()}, flush=True)

    for combo in (c for c in args.only_net if c not in sweep["rows"]):
        name, net = combo.split(":")
        folder = args.work / f"{name}_{net}_only"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(args.start, folder)
        shutil.copy2(args.work / name / f"{net}.pt", folder / f"{net}.pt")
        add_derived_row(combo, folder, {"only_net": net}, combo.replace(":", "_"))
    for combo in (c for c in args.interpolate if c not in sweep["rows"]):
        name, alpha = combo.split(":")
        folder = args.work / f"{name}_alpha{alpha}"
        shutil.rmtree(folder, ignore_errors=True)
        interpolate_weights(args.start, args.work / name, float(alpha), folder, ("interaction", "propagation"))
        add_derived_row(combo, folder, {"alpha": float(alpha)}, combo.replace(":", "_alpha"))
    if args.chain:
        name = args.chain
        folder = args.work / f"chain_{name}"
        if not folder.is_dir():
            shutil.copytree(args.work / name, folder)
        for _ in range(args.chunks):
            mine = [c for c in sweep["chain"] if c["config"] == name]
            done = mine[-1]["seconds_per_net"] if mine else sweep["rows"][name]["seconds_per_net"]
            wall = train_both(folder, CONFIGS[name], args.seconds, args.hold_out_every, args.seed + len(sweep["chain"]) + 1,
                              args.out / "logs")
            sweep["chain"].append({"config": name, "seconds_per_net": done + args.seconds, "wall": round(wall, 1),
                                   "runs": run_record(folder, trained_nets(CONFIGS[name])),
                                   "scores": score(folder, args.hold_out_every, args.synthetic, args.out,
                                                   f"chain_{name}_{len(sweep['chain'])}")})
            save()
            print(name, sweep["chain"][-1]["seconds_per_net"], {g: s["dice"][-1] for g, s in sweep["chain"][-1]["scores"].items()})
        return
    for name in args.configs:
        if name in sweep["rows"]:
            continue
        folder = args.work / name
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(args.start, folder)
        wall = train_both(folder, CONFIGS[name], args.seconds, args.hold_out_every, args.seed, args.out / "logs")
        frac, lr, moves, bn, optimizer = settings(CONFIGS[name])
        sweep["rows"][name] = {"real_fraction": frac, "lr": lr, "moves": moves, "batchnorm": bn, "optimizer": optimizer,
                               "seconds_per_net": args.seconds,
                               "wall": round(wall, 1),
                               "runs": run_record(folder, trained_nets(CONFIGS[name])),
                               "scores": score(folder, args.hold_out_every, args.synthetic, args.out, name)}
        save()
        print(name, {g: s["dice"][-1] for g, s in sweep["rows"][name]["scores"].items()}, flush=True)


if __name__ == "__main__":
    main()
