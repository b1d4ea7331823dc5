"""A correction changes its slice near the click, and never against the slice's clicks.

The interaction net answers a corrective click by re-predicting the whole object on the slice
(with the slice's current mask as an input). It fixes the region the user clicked, and now and
then also redraws parts of the object far from the click: a trim that shrinks the whole outline, a
positive click that bleeds into a neighbour elsewhere. Measured on the training structures, such
answers made the clicked slice worse in about a fifth of correction rounds (docs/research/click_trust).

FocalClick (Chen et al., CVPR 2022) re-predicts a focus region around the new click and pastes
back only that region. Here the same principle is applied to the net's answer on the slice:

1. The change the net proposes is split into added and removed connected pieces (8-connectivity).
2. A piece of the *opposite* sense to this round's clicks (an added piece after negative clicks,
   a removed one after positive clicks) is taken only when it lies within ``reach`` of one of
   this round's new clicks, where reach is :attr:`CorrectionRule.reach` times the equivalent
   radius of the slice's current mask (a piece containing the click is at distance 0); farther
   away the old mask stays. Pieces of the same sense are taken anywhere: a positive click on an
   under-segmented object rightly grows its other parts too. On the training rounds, the mean
   slice Dice after a correction: the net's whole answer 0.371, near the click only 0.377, this
   rule 0.379 (docs/research/click_trust/evaluate_rules.txt).
3. A piece that would contradict one of the slice's clicks is never taken: an added piece over
   a negative click, or a removed piece under a positive click.
4. Afterwards every positive click is inside the mask and every negative click outside: a
   positive click still outside gets the net's piece under it (or, with none, a disk of
   :attr:`CorrectionRule.click_disk` pixels); a negative click still inside cuts a disk of that
   size out of the mask.

Arrays are (Y, X) bool in one frame; clicks are (y, x) pixel coordinates in that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .crops import points_bbox, union_bbox
from .mask_store import SliceMask

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class CorrectionRule:
    """How far a correction may change its slice (see the module docstring).

    reach: pieces of the net's change within this many equivalent radii of the current mask
    from a new click are taken (None = every piece: the shipped behaviour before this rule).
    click_disk: radius in pixels of the disk a click constraint adds or cuts when the net's answer
    has nothing under the click.
    """

    reach: float | None = 0.5
    click_disk: int = 2
    #: far pieces of the same sense as this round's clicks (added pieces after positive clicks,
    #: removed ones after negative clicks) are taken too; only the opposite sense must be near
    same_sense_anywhere: bool = True


def _points(points, shape) -> np.ndarray:
    """(N, 2) int (y, x) of the points inside ``shape``."""
    pts = np.rint(np.asarray(points, dtype=np.float64).reshape(-1, 2)).astype(int)
    keep = (pts[:, 0] >= 0) & (pts[:, 0] < shape[0]) & (pts[:, 1] >= 0) & (pts[:, 1] < shape[1])
    return pts[keep]


def _disk(shape, center, radius: int) -> np.ndarray:
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius * radius


def _distance_to(points: np.ndarray, shape) -> np.ndarray:
    """(Y, X) float: each pixel's distance to the nearest point (inf with no points)."""
    if len(points) == 0:
        return np.full(shape, np.inf)
    seeds = np.ones(shape, dtype=bool)
    seeds[points[:, 0], points[:, 1]] = False
    return ndimage.distance_transform_edt(seeds)


def _take_pieces(change: np.ndarray, near: np.ndarray, veto: np.ndarray) -> np.ndarray:
    """The pieces of the bool ``change`` that touch ``near`` and do not touch ``veto``."""
    labels, n = ndimage.label(change, structure=_EIGHT)
    if n == 0:
        return np.zeros_like(change)
    ids = np.arange(n + 1)
    touch_near = np.isin(ids, labels[near & change])
    touch_veto = np.isin(ids, labels[veto & change])
    take = touch_near & ~touch_veto
    take[0] = False
    return take[labels]


def correct_locally(before: np.ndarray, answer: np.ndarray, new_clicks, positive, negative,
                    rule: CorrectionRule = CorrectionRule()) -> np.ndarray:
    """The slice after a correction: the net's ``answer`` taken near this round's clicks only.

    before, answer: (Y, X) bool, the slice's current mask and the net's answer. new_clicks: (K, 2)
    this round's clicks (y, x); positive, negative: (N, 2) / (M, 2) all the slice's clicks,
    including the new ones. Returns (Y, X) bool that holds every positive click and no negative one.
    """
    before, answer = np.asarray(before, dtype=bool), np.asarray(answer, dtype=bool)
    shape = before.shape
    pos, neg, new = _points(positive, shape), _points(negative, shape), _points(new_clicks, shape)
    pos_map = np.zeros(shape, dtype=bool)
    pos_map[pos[:, 0], pos[:, 1]] = True
    neg_map = np.zeros(shape, dtype=bool)
    neg_map[neg[:, 0], neg[:, 1]] = True
    if rule.reach is None:
        near = np.ones(shape, dtype=bool)
    else:
        radius = np.sqrt(max(int(before.sum()), 1) / np.pi)
        near = _distance_to(new, shape) <= rule.reach * radius
    new_positive = any(pos_map[y, x] for y, x in new)
    new_negative = any(neg_map[y, x] for y, x in new)
    anywhere = np.ones(shape, dtype=bool)
    grow_near = anywhere if rule.same_sense_anywhere and new_positive else near
    shrink_near = anywhere if rule.same_sense_anywhere and new_negative else near
    added = _take_pieces(answer & ~before, grow_near, neg_map)
    removed = _take_pieces(before & ~answer, shrink_near, pos_map)
    out = (before | added) & ~removed
    labels = None  # the answer's pieces, labelled once when a positive click needs one
    for y, x in pos:
        if not out[y, x]:
            if answer[y, x] and labels is None:
                labels, _ = ndimage.label(answer, structure=_EIGHT)
            piece = labels == labels[y, x] if answer[y, x] else _disk(shape, (y, x), rule.click_disk)
            out |= piece & ~neg_map
    for y, x in neg:
        if out[y, x]:
            out &= ~(_disk(shape, (y, x), rule.click_disk) & ~pos_map)
    return out


def new_clicks(before, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """(K, 2) the clicks of ``positive`` and ``negative`` (each (N, 2) (y, x)) that the slice's
    earlier :class:`~.rounds.Interaction` ``before`` (None = none) does not hold."""
    seen = set()
    if before is not None:
        seen = {(round(float(y), 3), round(float(x), 3)) for y, x in (*before.positive, *before.negative)}
    clicks = np.concatenate([np.reshape(positive, (-1, 2)), np.reshape(negative, (-1, 2))]).astype(np.float64)
    fresh = [c for c in clicks if (round(float(c[0]), 3), round(float(c[1]), 3)) not in seen]
    return np.array(fresh, dtype=np.float64).reshape(-1, 2)


def correct_slice_mask(previous: SliceMask, answer: SliceMask | None, new_clicks, positive, negative,
                     slice_shape: tuple[int, int]) -> SliceMask | None:
    """:func:`correct_locally` on slice masks: ``previous`` (the slice's current mask) and the net's
    ``answer`` (None = empty), in the frame (inside the slice) that holds both masks and every click.
    Returns the corrected SliceMask (None = empty)."""
    boxes = [previous.bbox, points_bbox(np.concatenate([positive, negative, np.reshape(new_clicks, (-1, 2))]))]
    if answer is not None:
        boxes.append(answer.bbox)
    ymin, ymax, xmin, xmax = union_bbox(*boxes)
    y0, x0 = max(0, ymin - 1), max(0, xmin - 1)
    shape = (min(ymax + 2, slice_shape[0]) - y0, min(xmax + 2, slice_shape[1]) - x0)
    before = np.zeros(shape, dtype=bool)
    previous.paste_into(before, y0, x0)
    proposed = np.zeros(shape, dtype=bool)
    if answer is not None:
        answer.paste_into(proposed, y0, x0)
    shift = np.array([y0, x0], dtype=np.float64)
    out = correct_locally(before, proposed, np.reshape(new_clicks, (-1, 2)) - shift, positive - shift, negative - shift)
    return SliceMask.from_region(y0, x0, out)
