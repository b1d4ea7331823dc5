"""Multi-round result fusion (MRF): per slice, keep the previous round's mask or take the new one.

The choice is made for whole slices (no pixel blending), by the fusion net's P(old is better)
against a threshold tau. Which slices are even up for a choice is decided by the controller
(see :mod:`napari_limnet.inference.rounds`); this module only scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..modeling.fusion_net import distance_features
from .crops import CropBox, union_bbox
from .intensity import apply_window, intensity_window
from .mask_store import SliceMask
from .runner import NetRunner
from .slice_io import mask_to_crop, read_crop
from .volume import VolumeSource

FUSION_CROP = 64


@dataclass(frozen=True)
class FusionConfig:
    """mode 'mrf' asks the fusion net; 'new' always takes the new round (the paper's ablation)."""

    mode: str = "mrf"
    tau: float = 0.5
    batch: int = 64

    def __post_init__(self):
        if self.mode not in ("mrf", "new"):
            raise ValueError(f"fusion mode must be 'mrf' or 'new', got {self.mode!r}")


@dataclass(frozen=True)
class SliceChoice:
    """One slice up for a choice between rounds."""

    z: int
    old: SliceMask | None
    new: SliceMask | None
    old_distance: int  # slices from the interaction that produced ``old``
    new_distance: int  # slices from this round's interaction


def fusion_input(source: VolumeSource, spacing_yx, choice: SliceChoice, size: int = FUSION_CROP):
    """(3, size, size) image/old/new crop of one choice."""
    bbox = union_bbox(
        choice.old.bbox if choice.old is not None else None, choice.new.bbox if choice.new is not None else None
    )
    box = CropBox.framing(bbox, spacing_yx)
    raw = read_crop(source, choice.z, box, size)[None]
    low, high = intensity_window(raw)
    image = apply_window(raw, low, high)[0]
    return torch.stack([image, mask_to_crop(choice.old, box, size), mask_to_crop(choice.new, box, size)])


def keep_old(
    runner: NetRunner,
    source: VolumeSource,
    spacing_yx: tuple[float, float],
    choices: list[SliceChoice],
    config: FusionConfig = FusionConfig(),
) -> np.ndarray:
    """For each choice, True when the old mask is kept. Empty-vs-empty and identical masks keep old."""
    out = np.zeros(len(choices), dtype=bool)
    todo = []
    for i, c in enumerate(choices):
        if c.old is None and c.new is None:
            out[i] = True
        elif c.old is not None and c.old.equals(c.new):
            out[i] = True
        elif config.mode == "mrf":
            todo.append(i)
    for start in range(0, len(todo), config.batch):
        idx = todo[start : start + config.batch]
        images = torch.stack([fusion_input(source, spacing_yx, choices[i]) for i in idx])
        scalars = distance_features(
            torch.tensor([choices[i].old_distance for i in idx]),
            torch.tensor([choices[i].new_distance for i in idx]),
            images[:, 1:2],
            images[:, 2:3],
        )
        p_old = runner.fusion(images, scalars).cpu().numpy()
        out[idx] = p_old > config.tau
    return out
