"""The robot user of docs/design.md (section 6): simulated clicks that correct the largest error, round by round.

- Round 1: on the slice with the largest object area, one positive click at the object pixel
  farthest from the object's boundary (maximum of the 2D Euclidean distance transform).
- Round k > 1: on the slice with the largest error area (FP + FN pixels), take the largest
  connected error region (FN and FP regions separately, 8-connectivity) and click at its point
  farthest from its boundary: positive for FN, negative for FP. All clicks on that slice so
  far are passed.

``run_session(..., jitter=J, seed=S)`` (J > 0; off by default) moves every click to a random pixel
of its kind (the object on round 1; later the slice's FN pixels for a positive click, FP pixels
for a negative one) at most J pixels from that point, seeded: an imprecise user, used to measure
how much a benchmark's groups move when nothing but the clicks' exact pixels changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import ndimage

from ..inference.clicks import deepest_point  # noqa: F401 - part of the robot's protocol
from .metrics import dice

_EIGHT = np.ones((3, 3), dtype=bool)


def first_click(truth: np.ndarray) -> tuple[int, tuple[int, int]]:
    """Round 1: (z, (y, x)) of the positive click."""
    areas = truth.reshape(truth.shape[0], -1).sum(1)
    z = int(np.argmax(areas))
    return z, deepest_point(truth[z])


def slice_click(pred2d: np.ndarray, truth2d: np.ndarray) -> tuple[tuple[int, int], bool] | None:
    """The corrective click on one (Y, X) slice: ((y, x), positive) in its largest connected error
    region (FN and FP separately, 8-connectivity), or None when the slice is perfect."""
    best = None
    for positive, region in ((True, truth2d & ~pred2d), (False, pred2d & ~truth2d)):
        labels, n = ndimage.label(region, structure=_EIGHT)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        i = int(np.argmax(sizes))
        if best is None or sizes[i] > best[0]:
            best = (int(sizes[i]), positive, labels == i + 1)
    if best is None:
        return None
    _, positive, region = best
    return deepest_point(region), positive


def corrective_click(pred: np.ndarray, truth: np.ndarray) -> tuple[int, tuple[int, int], bool] | None:
    """Round k > 1: (z, (y, x), positive) or None when the mask is perfect."""
    err = (pred != truth).reshape(truth.shape[0], -1).sum(1)
    if err.max() == 0:
        return None
    z = int(np.argmax(err))
    yx, positive = slice_click(pred[z], truth[z])
    return z, yx, positive


#: The "2D first" protocol (issue 34): the robot keeps clicking on its first slice until that
#: slice's 2D Dice reaches FIRST_SLICE_DICE or it has clicked FIRST_SLICE_CLICKS times there.
FIRST_SLICE_DICE = 0.9
FIRST_SLICE_CLICKS = 3


def jittered(region: np.ndarray, yx: tuple[int, int], jitter: int, rng: np.random.Generator) -> tuple[int, int]:
    """A random pixel of the 2D bool ``region`` within ``jitter`` pixels (both axes) of ``yx``; ``yx``
    itself when ``jitter`` is 0 (``yx`` is always a candidate, so one always exists)."""
    if jitter <= 0:
        return yx
    y, x = yx
    y0, x0 = max(0, y - jitter), max(0, x - jitter)
    ys, xs = np.nonzero(region[y0 : y + jitter + 1, x0 : x + jitter + 1])
    if len(ys) == 0:
        return yx
    i = int(rng.integers(len(ys)))
    return int(ys[i] + y0), int(xs[i] + x0)


@dataclass
class Session:
    """What one robot-user session recorded."""

    dice: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    clicks: list[tuple[int, tuple[int, int], bool]] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)


def true_box(truth2d: np.ndarray) -> tuple[int, int, int, int]:
    """The inclusive (ymin, xmin, ymax, xmax) bounding box of a 2D bool mask."""
    ys, xs = np.nonzero(truth2d)
    return int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())


def run_session(
    interact: Callable[[int, list, list], np.ndarray],
    truth: np.ndarray,
    rounds: int = 6,
    keep_masks: bool = False,
    first_round: Callable[[int, np.ndarray], np.ndarray] | None = None,
    jitter: int = 0,
    seed: int = 0,
    two_d_first: bool = False,
) -> Session:
    """Drive ``interact(z, positive, negative) -> mask`` for ``rounds`` rounds against ``truth``.

    ``first_round(z, truth2d) -> mask``, when given, replaces round 1's click on the robot's first
    slice z (e.g. the true box of that slice, or its true mask); later rounds click as usual.
    ``jitter`` > 0 moves each click up to that many pixels within its region (:func:`jittered`),
    drawn from ``seed``; 0 is the exact protocol. ``two_d_first``: the "2D first" protocol, whose
    rounds 2-3 click on the first slice until its 2D Dice reaches :data:`FIRST_SLICE_DICE`
    (:data:`FIRST_SLICE_CLICKS` clicks there at most), after which the robot corrects as usual.
    """
    truth = np.asarray(truth, dtype=bool)
    rng = np.random.default_rng(seed)
    session = Session()
    by_slice: dict[int, tuple[list, list]] = {}
    pred = np.zeros_like(truth)
    first_slice_open = True
    for r in range(rounds):
        if r == 0:
            z, yx = first_click(truth)
            positive = True
            yx = jittered(truth[z], yx, jitter, rng)
        else:
            nxt = None
            if two_d_first and r < FIRST_SLICE_CLICKS and first_slice_open:
                z0 = session.clicks[0][0]
                here = slice_click(pred[z0], truth[z0]) if dice(pred[z0], truth[z0]) < FIRST_SLICE_DICE else None
                nxt = (z0, *here) if here is not None else None
                first_slice_open = nxt is not None
            if nxt is None:
                nxt = corrective_click(pred, truth)
            if nxt is None:  # perfect: the remaining rounds keep the score
                session.dice.append(session.dice[-1])
                session.seconds.append(0.0)
                continue
            z, yx, positive = nxt
            yx = jittered(truth[z] & ~pred[z] if positive else pred[z] & ~truth[z], yx, jitter, rng)
        t0 = time.perf_counter()
        if r == 0 and first_round is not None:
            session.clicks.append((z, yx, True))
            pred = np.asarray(first_round(z, truth[z]), dtype=bool)
            session.seconds.append(time.perf_counter() - t0)
            session.dice.append(dice(pred, truth))
            if keep_masks:
                session.masks.append(pred.copy())
            continue
        pos, neg = by_slice.setdefault(z, ([], []))
        (pos if positive else neg).append(yx)
        session.clicks.append((z, yx, positive))
        pred = np.asarray(interact(z, list(pos), list(neg)), dtype=bool)
        session.seconds.append(time.perf_counter() - t0)
        session.dice.append(dice(pred, truth))
        if keep_masks:
            session.masks.append(pred.copy())
    return session
