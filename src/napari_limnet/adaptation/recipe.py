"""What an adaptation run does: which parts move, how fast, on what mix of data, for how long.

The defaults were chosen on the structures of the real *training* volumes (never the dev set):
see ``docs/adaptation/`` for the runs behind each choice. On three training volumes (k = 3
objects committed with their true masks, 60 s, 12 held-out structures), mean Dice at round 6:
shipped 0.459; all parameters, BatchNorm statistics frozen, 75 % user / 25 % synthetic 0.473;
the same with BatchNorm statistics learned 0.465; decoders and heads only 0.455 (two volumes);
50 % user 0.552; **100 % user 0.642** (the default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..training.what_moves import BATCHNORM, MOVES, OPTIMIZERS

#: Adaptation fine-tunes both nets, so only the choices that apply to both ("presence" is a
#: propagation-only head).
ADAPT_MOVES = tuple(m for m in MOVES if m != "presence")


@dataclass(frozen=True)
class AdaptRecipe:
    """One adaptation recipe.

    lr: peak learning rate (cosine schedule over the planned steps).
    moves: 'all' parameters, or only the 'decoders' and heads (:data:`napari_limnet.training.what_moves.DECODER_PREFIXES`).
    batchnorm: 'frozen' keeps the shipped running statistics (BatchNorm layers in eval mode, their
        affine weights still learn); 'train' updates the statistics from each small batch.
    user_fraction: share of bank refreshes drawn from the user's objects; the rest are synthetic
        volumes of the shipped training distribution (against forgetting).
    propagation_share: share of the planned steps' *time* that goes to the propagation net.
    native_axis: how often a canvas is sliced along the volume's own z axis (the axis the user
        annotates); the rest is split between y and x (more views of the same objects).
    intensity_strength: random intensity changes of the user's canvases (1 = as in training).
    interaction_batch, propagation_batch: samples per step (CPU-sized).
    optimizer: 'adamw', or 'sgd' (momentum 0.9; steps in proportion to the gradient, where a fresh
        AdamW moves every weight by about lr: docs/research/training/cpu_sweep_2026-11-30/interaction_regime.md).
    """

    lr: float = 3e-4
    moves: str = "all"
    batchnorm: str = "frozen"
    user_fraction: float = 1.0
    propagation_share: float = 0.6
    native_axis: float = 0.6
    intensity_strength: float = 0.3
    interaction_batch: int = 16
    propagation_batch: int = 6
    optimizer: str = "adamw"

    def __post_init__(self):
        if self.moves not in ADAPT_MOVES:
            raise ValueError(f"moves must be one of {ADAPT_MOVES}, not {self.moves!r}")
        if self.batchnorm not in BATCHNORM:
            raise ValueError(f"batchnorm must be 'frozen' or 'train', not {self.batchnorm!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        for name in ("user_fraction", "propagation_share", "native_axis"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.lr <= 0 or self.interaction_batch < 4 or self.propagation_batch < 1:
            raise ValueError("lr must be > 0, interaction_batch >= 4 and propagation_batch >= 1")

    def to_json(self) -> dict:
        return asdict(self)


DEFAULT_RECIPE = AdaptRecipe()
