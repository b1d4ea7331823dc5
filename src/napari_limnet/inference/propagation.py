"""Propagating a 2D mask through the stack, one slice at a time, with the memory network.

From the interacted slice z0 the mask is carried to z0 +/- 1, 2, ... in a crop that follows
the object (each crop frames the previous slice's mask). It stops (see :mod:`.stopping`)

- when the network's "object present" output falls below a threshold, the mask vanishes, the
  mask's intensity drifts out of the interacted object's range, the area profile shows a
  valley (the object tapered, then grew into something else: the slices after the valley's
  bottom are dropped), the intensity crossed a gap (it left the object's range on one slice
  and came back: the slices from the gap on are dropped), or the intensity stayed off the
  object's for a run of slices (sustained drift: the slices from the run's first on are dropped)
  -- all when ``stop_when_empty``;
- at the limit the caller gives: the nearest slice the user already interacted with, the
  volume's edge or the user's propagation range.

Every visited slice gets a :class:`~.stopping.SliceEvidence` (presence, drift, area), also the
one where it stopped; the controller keeps them for leak cuts and per-slice confidence.

Each result is kept only where it connects to the previous slice's mask (dilated a little),
so the propagation cannot jump to a similar-looking neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy import ndimage

from .cancel import Cancelled
from .crops import CROP_SIZE, CropBox
from .intensity import apply_window, intensity_window, quartiles
from .mask_store import SliceMask
from .memory import MemoryBank
from .runner import NetRunner
from .slice_io import mask_to_crop, paste_mask, read_crop
from .stopping import DriftGapRule, DriftPlateauRule, SliceEvidence, ValleyRule, uncertain_pixels
from .volume import VolumeSource


#: Smallest intensity spread (normalised units) the drift check uses.
MIN_SPREAD = 0.05


@dataclass(frozen=True)
class PropagationConfig:
    """Knobs of the propagation loop."""

    n_recent: int = 3
    presence_threshold: float = 0.5
    min_area_pixels: int = 3
    stop_when_empty: bool = True
    link_dilation: int = 2
    size: int = CROP_SIZE
    #: Stop when the median intensity inside the mask moves further than this many anchor
    #: spreads (inter-quartile range, at least MIN_SPREAD of the window) from the interacted
    #: slice's: the mask has run into other tissue. None disables the check.
    intensity_tolerance: float | None = 2.0
    #: Stop at an area valley (None disables the rule).
    valley: ValleyRule | None = ValleyRule()
    #: Stop at an intensity gap (None disables the rule).
    drift_gap: DriftGapRule | None = DriftGapRule()
    #: Stop at sustained drift after a step (None disables the rule; off by default, see StoppingConfig).
    drift_plateau: DriftPlateauRule | None = None


@dataclass
class PropagationResult:
    """Masks for the visited slices (None = empty) and why each direction stopped."""

    masks: dict[int, SliceMask | None]
    stop_reasons: dict[int, str]  # direction (+1 / -1) -> reason
    evidence: dict[int, SliceEvidence]


def linked_to_previous(mask: SliceMask | None, previous: SliceMask, dilation: int) -> SliceMask | None:
    """Keep the components of ``mask`` that touch ``previous`` dilated by ``dilation`` pixels."""
    if mask is None:
        return None
    labels, n = ndimage.label(mask.crop, structure=np.ones((3, 3), dtype=bool))
    prev = np.zeros(labels.shape, dtype=bool)
    previous.paste_into(prev, mask.y0, mask.x0)
    if dilation > 0:
        prev = ndimage.binary_dilation(prev, iterations=dilation)
    ids = np.unique(labels[prev & (labels > 0)])
    if ids.size == 0:
        return None
    if ids.size == n:
        return mask
    return SliceMask.from_region(mask.y0, mask.x0, np.isin(labels, ids))


class SliceSegmenter:
    """Encodes the interacted slice once and segments further slices against the memory."""

    def __init__(
        self,
        runner: NetRunner,
        source: VolumeSource,
        spacing_yx: tuple[float, float],
        z0: int,
        mask0: SliceMask,
        config: PropagationConfig,
    ):
        self.runner, self.source, self.spacing_yx, self.config = runner, source, spacing_yx, config
        box0 = CropBox.framing(mask0.bbox, spacing_yx)
        raw0 = read_crop(source, z0, box0, config.size)[None]
        self.low, self.high = intensity_window(raw0)
        image0 = apply_window(raw0, self.low, self.high)[None]
        feats0 = runner.encode_image(image0)
        mask0_crop = mask_to_crop(mask0, box0, config.size)
        value0 = runner.encode_value(image0, mask0_crop[None, None], feats0)
        self.anchor = MemoryBank(feats0.key, value0, config.n_recent)
        inside = image0[0, 0][mask0_crop > 0.5]
        if inside.numel() >= 4:
            q25, median, q75 = quartiles(inside)
            self.anchor_median, self.anchor_spread = median, max(q75 - q25, MIN_SPREAD)
        else:
            self.anchor_median, self.anchor_spread = None, None

    def drift(self, image: torch.Tensor, mask_crop: torch.Tensor) -> float:
        """|median intensity inside the mask - the interacted slice's| in anchor spreads (0 if unknown)."""
        if self.anchor_median is None:
            return 0.0
        inside = image.reshape(mask_crop.shape)[mask_crop > 0.5]
        if inside.numel() < 4:
            return 0.0
        return abs(float(inside.median()) - self.anchor_median) / self.anchor_spread

    def step(self, z: int, previous: SliceMask, memory: MemoryBank) -> tuple[SliceMask | None, SliceEvidence]:
        """Segment slice z given the previous slice's mask; on success, remember it.

        Returns (mask or None, the slice's evidence).
        """
        cfg = self.config
        box = CropBox.framing(previous.bbox, self.spacing_yx)
        raw = read_crop(self.source, z, box, cfg.size)[None]
        image = apply_window(raw, self.low, self.high)[None]
        feats = self.runner.encode_image(image)
        keys, values = memory.read()
        prev_crop = mask_to_crop(previous, box, cfg.size)[None, None]
        logits, presence = self.runner.segment(feats, keys, values, prev_crop)
        p_present = float(torch.sigmoid(presence)[0])
        mask = linked_to_previous(paste_mask(logits[0, 0], box, self.source.slice_shape), previous, cfg.link_dilation)
        if mask is None or mask.area < cfg.min_area_pixels:
            return None, SliceEvidence(p_present, 0.0, 0)
        mask_crop = mask_to_crop(mask, box, cfg.size)
        evidence = SliceEvidence(p_present, self.drift(image, mask_crop), mask.area,
                                 uncertain_pixels(logits[0, 0], box.height * box.width))
        if p_present < cfg.presence_threshold:
            return None, evidence
        tol = cfg.intensity_tolerance
        if tol is not None and evidence.drift > tol:
            return None, evidence
        value = self.runner.encode_value(image, mask_crop[None, None], feats)
        memory.add(feats.key, value)
        return mask, evidence


def propagate(
    runner: NetRunner,
    source: VolumeSource,
    spacing_yx: tuple[float, float],
    z0: int,
    mask0: SliceMask,
    limits: tuple[int, int],
    config: PropagationConfig = PropagationConfig(),
    on_slice: Callable[[int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> PropagationResult:
    """Propagate ``mask0`` from slice z0 up and down within ``limits`` = (z_low, z_high), inclusive.

    Slices within the limits that the propagation did not reach are not in the result.
    """
    segmenter = SliceSegmenter(runner, source, spacing_yx, z0, mask0, config)
    masks: dict[int, SliceMask | None] = {}
    reasons: dict[int, str] = {}
    evidence: dict[int, SliceEvidence] = {}
    for direction, end in ((+1, limits[1]), (-1, limits[0])):
        memory = segmenter.anchor.copy()
        previous = mask0
        areas = [float(mask0.area)]
        drifts: list[float | None] = []  # per visited slice, None where it has no mask
        z = z0 + direction
        reasons[direction] = "range limit"
        while (z <= end) if direction > 0 else (z >= end):
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            mask, ev = segmenter.step(z, previous, memory)
            masks[z] = mask
            evidence[z] = ev
            if on_slice is not None:
                on_slice(z)
            drifts.append(ev.drift if ev.area > 0 else None)
            if config.stop_when_empty:
                # the mask crossed the boundary to a touching neighbour at the gap's slice, or has
                # been in other tissue since the plateau's first slice (indices into ``drifts``)
                gap = config.drift_gap.find(drifts) if config.drift_gap is not None else None
                plateau = config.drift_plateau.find(drifts) if config.drift_plateau is not None else None
                if gap is not None or plateau is not None:
                    first = min(i for i in (gap, plateau) if i is not None)
                    for k in range(first + 1, len(drifts) + 1):
                        masks[z0 + direction * k] = None
                    reasons[direction] = "intensity gap" if first == gap else "sustained drift"
                    break
            if mask is None and config.stop_when_empty:
                reasons[direction] = "object ended"
                break
            if mask is not None:
                previous = mask
                areas.append(float(mask.area))
                bottom = config.valley.find(areas) if (config.valley is not None and config.stop_when_empty) else None
                if bottom is not None:
                    # the object tapered to the valley's bottom, then grew into something else
                    for k in range(bottom + 1, len(areas)):
                        masks[z0 + direction * k] = None
                    reasons[direction] = "area valley"
                    break
            z += direction
    return PropagationResult(masks, reasons, evidence)
