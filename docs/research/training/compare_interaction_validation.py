"""The interaction net's own training validation (canvas Dice after 1, 3, 5 simulated clicks) for
several weight folders, on two fixed sets of 32 fresh synthetic volumes x 4 slices (seeds 10001,
10002), one thread:

    python docs/research/training/compare_interaction_validation.py src/napari_limnet/weights runs/diag/b64 ...

Used to ask whether a CPU fine-tuning that lowers the robot's later rounds also lowers the
objective it was trained on (docs/research/training/cpu_sweep_2026-11-30/interaction_regime.md).
"""

from __future__ import annotations

import sys

import torch

from napari_limnet.data.synthetic import make_volumes
from napari_limnet.modeling.weights import build_network, load_checkpoint
from napari_limnet.training.train_interaction import VOLUME_DEPTH, build_parser, sample_slices, validate


def main(folders: list[str]) -> None:
    torch.set_num_threads(1)
    args = build_parser().parse_args(["--out", "/tmp/unused", "--seed", "1"])
    device = torch.device("cpu")
    for seed in (1, 2):
        gen = torch.Generator().manual_seed(10_000 + seed)
        vols = make_volumes(32, (VOLUME_DEPTH, args.canvas, args.canvas), gen, device)
        val = sample_slices(vols, gen, 4, empty_p=0.0)
        for folder in folders:
            net = load_checkpoint(build_network("interaction"), f"{folder}/interaction.pt").eval()
            print(seed, folder, {k: round(v, 4) for k, v in validate(net, val, args.size, device).items()}, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
