"""Box and painted-slice prompts: a rectangle, or the user's own mask, on one slice.

A **box** ``(ymin, xmin, ymax, xmax)`` (inclusive pixel corners) settles the window the
interaction net sees: the crop is the standard framing of the box (what re-framing converges to
for an object of that extent), so there is no size prior, no multi-scale search and no
collapsing re-framing. The net gets the box's centre as a positive click when the user gave none
(plus any clicks on the slice), and the result is kept inside the box (with a small tolerance):
the object's extent on this slice is what the box says.

A **painted slice** is the user's own (Y, X) mask: it is the slice's result as is, no net runs.

Both then propagate like a positive round.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .crops import CROP_SIZE, CropBox
from .mask_store import SliceMask
from .prompt import PromptResult, interaction_input
from .runner import NetRunner
from .slice_io import paste_mask
from .stopping import uncertain_pixels
from .volume import VolumeSource

#: The mask may reach this far past the box (fraction of the box side, at least 1 pixel).
BOX_TOLERANCE = 0.04
_EIGHT = np.ones((3, 3), dtype=bool)


def box_center(box) -> np.ndarray:
    """(1, 2) the (y, x) centre pixel of an inclusive (ymin, xmin, ymax, xmax) box."""
    ymin, xmin, ymax, xmax = box
    return np.array([[round((ymin + ymax) / 2), round((xmin + xmax) / 2)]], dtype=np.float64)


def _inside_box(shape, box) -> np.ndarray:
    ymin, xmin, ymax, xmax = box
    ty = max(1, int(round(BOX_TOLERANCE * (ymax - ymin + 1))))
    tx = max(1, int(round(BOX_TOLERANCE * (xmax - xmin + 1))))
    keep = np.zeros(shape, dtype=bool)
    keep[max(0, ymin - ty): ymax + ty + 1, max(0, xmin - tx): xmax + tx + 1] = True
    return keep


def predict_box_mask(
    runner: NetRunner,
    source: VolumeSource,
    spacing_yx: tuple[float, float],
    z: int,
    box: tuple[int, int, int, int],
    positive: np.ndarray,
    negative: np.ndarray,
    previous: SliceMask | None,
    size: int = CROP_SIZE,
) -> PromptResult:
    """The prompt mask of a box round on slice z (clicks on the slice, if any, are used too)."""
    ymin, xmin, ymax, xmax = box
    crop = CropBox.framing((ymin, ymax, xmin, xmax), spacing_yx)
    pos = positive if len(positive) else box_center(box)
    x = interaction_input(source, z, crop, pos, negative, previous, size)
    logits = runner.interaction(x)[0, 0]
    shape = source.slice_shape
    mask = paste_mask(logits, crop, shape)
    if mask is None:
        return PromptResult(None, crop, 1, uncertain_pixels(logits, crop.height * crop.width))
    dense = mask.dense(shape) & _inside_box(shape, box)
    labels, n = ndimage.label(dense, structure=_EIGHT)
    if n:
        drop = {int(labels[int(y), int(x)]) for y, x in np.rint(negative).astype(int) if labels[int(y), int(x)]}
        drop -= {int(labels[int(y), int(x)]) for y, x in np.rint(positive).astype(int) if labels[int(y), int(x)]}
        if drop:
            dense &= ~np.isin(labels, sorted(drop))
    return PromptResult(SliceMask.from_dense(dense), crop, 1, uncertain_pixels(logits, crop.height * crop.width))


def painted_mask(mask2d: np.ndarray, spacing_yx: tuple[float, float]) -> PromptResult:
    """The user's own (Y, X) mask as the slice's prompt result (no net)."""
    m = SliceMask.from_dense(np.asarray(mask2d, dtype=bool))
    ymin, ymax, xmin, xmax = m.bbox
    return PromptResult(m, CropBox.framing((ymin, ymax, xmin, xmax), spacing_yx), 0)
