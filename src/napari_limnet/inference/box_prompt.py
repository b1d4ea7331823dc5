"""Box and painted-slice prompts: a rectangle, or the user's own mask, on one slice.

A **box** ``(ymin, xmin, ymax, xmax)`` (inclusive pixel corners) settles the window the
interaction net sees: the crop is the standard framing of the box (what re-framing converges to
for an object of that extent), so there is no size prior, no multi-scale search and no
collapsing re-framing. The result is kept inside the box (with a small tolerance): the object's
extent on this slice is what the box says. The interaction net was trained on clicks, so:

- without positive clicks, it is run from a 3 x 3 grid of candidate clicks over the box's
  centre (:data:`GRID`); a candidate counts only when its click lies in its own mask, and the
  one whose bounding box fits the user's box best (IoU) wins -- the box is the only thing known
  about the object, and a mask that fills it edge to edge is what it asks for;
- the winner (or the mask from the user's own clicks) is refined once, as the slice's current
  mask, with a click at its deepest point.

Chosen on the structures of the real training volumes (never dev): 2D Dice on the robot's first
slice, one click 0.534, box with a centre click 0.583, grid + fit 0.623, + refinement 0.634.

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
from .clicks import deepest_point
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


#: Candidate clicks, as fractions of the box's half-height and half-width from its centre.
GRID = (-0.4, 0.0, 0.4)


def _box_pass(runner, source, spacing_yx, z, box, crop, positive, negative, previous, size) -> tuple[np.ndarray | None, object]:
    """One interaction-net pass in the box's crop: ((Y, X) mask kept inside the box, or None; logits)."""
    x = interaction_input(source, z, crop, positive, negative, previous, size)
    logits = runner.interaction(x)[0, 0]
    shape = source.slice_shape
    mask = paste_mask(logits, crop, shape)
    if mask is None:
        return None, logits
    dense = mask.dense(shape) & _inside_box(shape, box)
    labels, n = ndimage.label(dense, structure=_EIGHT)
    if n:
        drop = {int(labels[int(y), int(x)]) for y, x in np.rint(negative).astype(int) if labels[int(y), int(x)]}
        drop -= {int(labels[int(y), int(x)]) for y, x in np.rint(positive).astype(int) if labels[int(y), int(x)]}
        if drop:
            dense &= ~np.isin(labels, sorted(drop))
    return (dense if dense.any() else None), logits


def bbox_fit(mask: np.ndarray, box) -> float:
    """IoU of a (Y, X) mask's bounding box with an inclusive (ymin, xmin, ymax, xmax) box."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return 0.0
    b = (ys.min(), xs.min(), ys.max(), xs.max())
    iy = max(0, min(b[2], box[2]) - max(b[0], box[0]) + 1)
    ix = max(0, min(b[3], box[3]) - max(b[1], box[1]) + 1)
    area = lambda q: (q[2] - q[0] + 1) * (q[3] - q[1] + 1)  # noqa: E731
    inter = iy * ix
    return inter / float(area(b) + area(box) - inter)


def grid_clicks(box) -> list[np.ndarray]:
    """The candidate clicks (1, 2) of a box without positive clicks, centre first."""
    ymin, xmin, ymax, xmax = box
    cy, cx, hy, hx = (ymin + ymax) / 2, (xmin + xmax) / 2, (ymax - ymin) / 2, (xmax - xmin) / 2
    pts = [(0.0, 0.0)] + [(fy, fx) for fy in GRID for fx in GRID if (fy, fx) != (0.0, 0.0)]
    return [np.array([[round(cy + fy * hy), round(cx + fx * hx)]], dtype=np.float64) for fy, fx in pts]


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
    candidates = [positive] if len(positive) else grid_clicks(box)
    best, best_fit, passes, logits = None, -1.0, 0, None
    for pos in candidates:
        mask, logits_k = _box_pass(runner, source, spacing_yx, z, box, crop, pos, negative, previous, size)
        passes += 1
        inside = mask is not None and all(mask[int(y), int(x)] for y, x in np.rint(pos).astype(int))
        fit = bbox_fit(mask, box) if inside else -1.0
        if mask is not None and fit > best_fit:
            best, best_fit, logits = mask, fit, logits_k
        logits = logits if logits is not None else logits_k
    if best is not None:  # refine the winner as the slice's current mask, clicked at its deepest point
        deep = np.array([deepest_point(best)], dtype=np.float64)
        clicks = np.concatenate([positive, deep]) if len(positive) else deep
        refined, logits_r = _box_pass(runner, source, spacing_yx, z, box, crop, clicks, negative,
                                      SliceMask.from_dense(best), size)
        passes += 1
        if refined is not None:
            best, logits = refined, logits_r
    mask = SliceMask.from_dense(best) if best is not None else None
    return PromptResult(mask, crop, passes, uncertain_pixels(logits, crop.height * crop.width))


def painted_mask(mask2d: np.ndarray, spacing_yx: tuple[float, float]) -> PromptResult:
    """The user's own (Y, X) mask as the slice's prompt result (no net)."""
    m = SliceMask.from_dense(np.asarray(mask2d, dtype=bool))
    ymin, ymax, xmin, xmax = m.bbox
    return PromptResult(m, CropBox.framing((ymin, ymax, xmin, xmax), spacing_yx), 0)
