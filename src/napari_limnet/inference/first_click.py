"""A first click never silently collapses: check the first mask, and say so when it is implausible.

The interaction net's first answer on a slice can be implausible in two ways, measured on the
robot's first clicks on the training structures (brain MRI atlases and body CT/MR, never dev;
docs/research/click_trust):

- a *speck*: a few pixels inside a structure many times larger. The net itself is unsure of it:
  its expected wrong pixels (``PromptResult.uncertain``, the sum of min(p, 1 - p) over the window)
  exceed :data:`SPECK_UNCERTAINTY` x the mask's area, where plausible masks stay under 0.69 (90th
  percentile);
- a *fill*: the mask covers more than :data:`FILL_SHARE` of the slice's foreground (the pixels
  above its Otsu threshold), where that foreground is a body or a head (:data:`BODY_SHARE`): the
  outline of the head or the body around the structure clicked.

Such a mask is shown as it is, and the round's note (the status line) says what it looks like and
what the user can do. It is never swapped silently for another window's mask: both kinds are
ambiguous. A faint CT structure of 80 pixels looks to the net exactly like a speck of a larger
one (expected wrong pixels 1.06-1.28 x the area against 1.04-1.22 x), and wider windows replace it
with a blob ten times its size; a large uniform object that is most of the image is a fill by the
same measure as a hemisphere around a small brain structure. Re-doing fills and specks from the
0.5x-4x windows raised the training structures' first-slice Dice (0.510 -> 0.539, collapses
7 -> 1 of 160) but broke both of those cases, so it was taken out (docs/research/click_trust).
"""

from __future__ import annotations

import numpy as np

#: A first mask is a speck when its expected wrong pixels exceed this many times its area.
SPECK_UNCERTAINTY = 0.9
#: A first mask fills the slice when it covers more than this share of the slice's foreground ...
FILL_SHARE = 0.5
#: ... and that foreground is a body or a head: at least this share of the slice. A lone object on a
#: dark background is most of a small foreground, and a mask of all of it is the object itself.
#: (On the training structures' first slices the foreground covers 0.07-0.98 of the slice, and
#: the fills found there 0.39-0.59; the result above is the same for any value up to 0.35.)
BODY_SHARE = 0.25


def foreground(image2d: np.ndarray) -> np.ndarray:
    """(Y, X) bool: the slice's pixels above its Otsu threshold (128 bins; NaN is background; all
    False for a flat slice)."""
    image = np.asarray(image2d, dtype=np.float64)
    values = image[np.isfinite(image)]
    if values.size == 0 or values.min() == values.max():
        return np.zeros(image.shape, dtype=bool)
    hist, edges = np.histogram(values, 128)
    centres = (edges[1:] + edges[:-1]) / 2
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * centres)
    between = (mass[-1] * weight - mass * weight[-1]) ** 2 / np.maximum(weight * (weight[-1] - weight), 1e-12)
    with np.errstate(invalid="ignore"):
        return image > centres[int(np.argmax(between[:-1]))]


def covered_share(mask, fg: np.ndarray) -> float:
    """Share of the foreground pixels ``fg`` ((Y, X) bool) inside ``mask`` (a SliceMask or None)."""
    total = int(fg.sum())
    if mask is None or total == 0:
        return 0.0
    h, w = mask.crop.shape
    return float((fg[mask.y0: mask.y0 + h, mask.x0: mask.x0 + w] & mask.crop).sum()) / total


def implausible(area: int, uncertain: float, covered: float, body: float = 1.0, *,
                speck: float = SPECK_UNCERTAINTY, fill: float = FILL_SHARE) -> str | None:
    """Why a first mask of ``area`` pixels with ``uncertain`` expected wrong pixels, covering the
    share ``covered`` of the slice's foreground, is implausible: 'empty', 'speck', 'fill', or None.
    ``body``: the share of the slice that foreground is; ``speck``, ``fill``: the two thresholds
    (a research sweep varies them)."""
    if area <= 0:
        return "empty"
    if uncertain > speck * area:
        return "speck"
    if covered > fill and body >= BODY_SHARE:
        return "fill"
    return None


_WORDS = {"empty": "is empty", "speck": "is a speck the net is unsure of",
          "fill": "covers most of the image's foreground"}
#: What the user can do, by why the first mask is implausible.
_ADVICE = {"empty": "click nearer the object's middle or draw a box.",
           "speck": "add a click or draw a box if the object is larger.",
           "fill": "if you meant a smaller structure, add a negative click outside it or draw a box."}


def first_mask_note(result, slice_shape: tuple[int, int], read_slice) -> str:
    """The status-line sentence about a first click's prompt result ('' when it is plausible).

    ``result``: the :class:`~.prompt.PromptResult` on a slice of ``slice_shape`` (Y, X);
    ``read_slice()`` -> that (Y, X) slice, read only when the mask is large enough to be a fill
    (over FILL_SHARE x BODY_SHARE of the slice's pixels; a fill covers more of a foreground that is
    at least that share), so a first click on a small object reads nothing beyond the net's window.
    """
    area = result.mask.area if result.mask is not None else 0
    why = implausible(area, result.uncertain, 0.0)
    if why is None and area > FILL_SHARE * BODY_SHARE * slice_shape[0] * slice_shape[1]:
        fg = foreground(read_slice())
        why = implausible(area, result.uncertain, covered_share(result.mask, fg), float(fg.mean()) if fg.size else 0.0)
    return "" if why is None else f"The first mask {_WORDS[why]}: {_ADVICE[why]}"
