"""Robot user (6 rounds): shipped nets vs a fine-tuned interaction net used for first clicks only.

    python docs/research/prompt/first_click_net_only.py WEIGHTS_DIR OUT.json [THREADS]

The candidate answers a first click (no negative clicks, no previous mask on the slice) with the
interaction net in WEIGHTS_DIR and every correction with the shipped one; propagation and fusion
are shipped. Scored side by side with the shipped nets on the synthetic hold-out, the generated
textured nuclei and the held-out training structures (never dev). An experiment, not a product
path: does a better first click survive the corrections?
"""

import json
import sys

import torch
from torch import nn

from napari_limnet.benchmark import evaluate_case, summarise
from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases
from napari_limnet.modeling.weights import LimNetModels, build_network, load_checkpoint


class FirstClickDispatch(nn.Module):
    """(1, 4, S, S) -> logits from ``first`` on a fresh first click, else from ``corrections``."""

    def __init__(self, first: nn.Module, corrections: nn.Module):
        super().__init__()
        self.first, self.corrections = first, corrections

    def forward(self, x):
        fresh = bool(x[:, 2].abs().sum() == 0) and bool(x[:, 3].abs().sum() == 0)
        return (self.first if fresh else self.corrections)(x)


def main() -> None:
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    shipped = LimNetModels.load()
    first = load_checkpoint(build_network("interaction"), f"{sys.argv[1]}/interaction.pt")
    corrections = build_network("interaction")
    corrections.load_state_dict(shipped.interaction.state_dict())
    cand = LimNetModels(FirstClickDispatch(first, corrections), shipped.propagation, shipped.fusion)
    cases = synthetic_holdout(8) + textured_nuclei_cases(8) + load_train_cases(held_out_every=3)
    results = [evaluate_case(c, 6, ["limnet", "candidate"], None, candidate_models=cand) for c in cases]
    with open(sys.argv[2], "w") as f:
        json.dump({"summary": summarise(results, ["limnet", "candidate"])}, f, indent=1)


if __name__ == "__main__":
    main()
