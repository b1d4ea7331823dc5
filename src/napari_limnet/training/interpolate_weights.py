"""Weight-space interpolation between two sets of LIM-Net weights (WiSE-FT style).

``theta = (1 - alpha) * theta_start + alpha * theta_end`` for every floating-point tensor of a
network's state dict (weights, biases, BatchNorm running statistics); integer buffers
(``num_batches_tracked``) are taken from ``start``. ``alpha = 0`` gives ``start`` (the shipped
nets), ``alpha = 1`` gives ``end`` (a fine-tuned run of the same architecture). Interpolating a
fine-tuned net back toward the one it started from is known to keep most of the fine-tuning gain
on the new data while giving back less on the old (Wortsman et al., "Robust fine-tuning of
zero-shot models", CVPR 2022). Both ends must share one architecture and, for this to be
meaningful, one starting point (``end`` fine-tuned from ``start``).

``end`` may also name several folders, e.g. the same fine-tuning recipe run with different seeds:
their uniform average (a "model soup", Wortsman et al., ICML 2022) is then the end point. Runs
that share a starting point stay in one basin, so their average is a net of its own, and it
averages out how much of the start each seed happened to keep or lose.

Command line::

    python -m napari_limnet.training.interpolate_weights --start src/napari_limnet/weights \\
        --end runs/sweep/m100_decoders --alpha 0.5 --out runs/wise/m100_decoders_a0.5
    python -m napari_limnet.training.interpolate_weights --start src/napari_limnet/weights \\
        --end runs/distill/p30_d6 runs/distill/p30_d6_s2 runs/distill/p30_d6_s3 --alpha 1 --out runs/soup/p30_d6

writes ``<out>/<name>.pt`` and ``<out>/<name>.json`` (the start's training record plus one
entry naming both ends, alpha and the end's runs) for each module asked for; modules not asked
for are copied from ``start`` unchanged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from ..modeling.weights import MODULE_NAMES


def _check_same_architecture(states: list[dict]) -> None:
    """ValueError unless every state dict holds the same keys with the same shapes as the first."""
    first = states[0]
    for other in states[1:]:
        if other.keys() != first.keys():
            diff = sorted(set(first) ^ set(other))[:5]
            raise ValueError(f"the weight sets are different architectures (keys differ, e.g. {diff})")
        for key, a in first.items():
            if a.shape != other[key].shape:
                raise ValueError(f"{key}: shapes differ, {tuple(a.shape)} vs {tuple(other[key].shape)}")


def interpolate_state(start: dict, end: dict, alpha: float, keep: tuple[str, ...] = ()) -> dict:
    """``(1 - alpha) * start + alpha * end`` over floating tensors; integer tensors from ``start``.

    Tensors whose names start with one of ``keep`` (e.g. ``"decoder.presence."``) are taken from
    ``start`` unchanged: the parts of a fine-tuning that are not to move.

    Raises ValueError when the two state dicts do not hold the same keys and shapes.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    _check_same_architecture([start, end])
    out = {}
    for key, a in start.items():
        b = end[key]
        moves = a.is_floating_point() and not key.startswith(tuple(keep))
        out[key] = torch.lerp(a.float(), b.float(), alpha) if moves else a.clone()
    return out


def average_states(states: list[dict]) -> dict:
    """Uniform mean of same-architecture state dicts over floating tensors; integers from the first.

    Raises ValueError on an empty list, or when the dicts do not hold the same keys and shapes.
    """
    if not states:
        raise ValueError("nothing to average: no weight sets given")
    _check_same_architecture(states)
    out = {}
    for key, a in states[0].items():
        tensors = [s[key] for s in states]
        if a.is_floating_point():
            out[key] = torch.stack([t.float() for t in tensors]).mean(dim=0)
        else:
            out[key] = a.clone()
    return out


def _load(path: Path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a LIM-Net checkpoint (no 'state_dict')")
    return ckpt["state_dict"]


def _record(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {"runs": []}


def interpolate_weights(start: Path, end, alpha: float, out: Path, modules=MODULE_NAMES, keep: tuple[str, ...] = ()) -> list[Path]:
    """Write interpolated ``<module>.pt`` + ``.json`` into ``out``; returns the weight paths written.

    ``end`` is one folder or a list of folders; several are averaged uniformly before interpolating.
    ``keep``: tensor-name prefixes taken from ``start`` in every module asked for.
    """
    ends = [Path(e) for e in end] if isinstance(end, (list, tuple)) else [Path(end)]
    if not ends:
        raise ValueError("no end folder given")
    start, out = Path(start), Path(out)
    unknown = set(modules) - set(MODULE_NAMES)
    if unknown:
        raise ValueError(f"unknown modules {sorted(unknown)}; expected some of {MODULE_NAMES}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MODULE_NAMES:
        target = out / f"{name}.pt"
        if name not in modules:
            if (start / f"{name}.pt").resolve() != target.resolve():
                shutil.copyfile(start / f"{name}.pt", target)
                if (start / f"{name}.json").is_file():
                    shutil.copyfile(start / f"{name}.json", out / f"{name}.json")
            continue
        end_state = average_states([_load(e / f"{name}.pt") for e in ends])
        state = interpolate_state(_load(start / f"{name}.pt"), end_state, alpha, keep)
        torch.save({"state_dict": state}, target)
        start_rec = _record(start, name)
        n_start = len(start_rec.get("runs", []))
        # each end's runs after those it shares with the start: the fine-tuning being interpolated
        end_runs = [_record(e, name).get("runs", [])[n_start:] for e in ends]
        entry = {
            "command": " ".join([Path(sys.executable).name, "-m", "napari_limnet.training.interpolate_weights"] + sys.argv[1:]),
            "kind": "weight interpolation: (1 - alpha) * start + alpha * end",
            "alpha": alpha,
            "start": str(start),
        }
        if keep:
            entry["kept_from_start"] = list(keep)
        if len(ends) == 1:
            entry.update(end=str(ends[0]), end_runs=end_runs[0])
        else:
            entry.update(kind="weight interpolation: (1 - alpha) * start + alpha * uniform mean of the ends (a soup)",
                         ends=[str(e) for e in ends], end_runs=end_runs)
        record = dict(start_rec, module=name)
        record["runs"] = list(start_rec.get("runs", [])) + [entry]
        (out / f"{name}.json").write_text(json.dumps(record, indent=1))
        written.append(target)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", required=True, type=Path, help="weights folder alpha = 0 gives (the shipped nets)")
    parser.add_argument("--end", required=True, type=Path, nargs="+",
                        help="weights folder alpha = 1 gives (a fine-tuned run); several folders are averaged (a soup)")
    parser.add_argument("--alpha", required=True, type=float)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--modules", nargs="+", default=list(MODULE_NAMES), choices=MODULE_NAMES)
    parser.add_argument("--keep", nargs="+", default=[], metavar="PREFIX",
                        help="tensor-name prefixes taken from --start unchanged, e.g. decoder.presence.")
    args = parser.parse_args(argv)
    for path in interpolate_weights(args.start, args.end, args.alpha, args.out, args.modules, tuple(args.keep)):
        print(path)


if __name__ == "__main__":
    main()
