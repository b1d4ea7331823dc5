"""Carry a trim through the stack: the part a negative click cut off one slice goes on the neighbours too.

A trim (a negative-only round that keeps part of slice z's mask) splits z's old mask into the part
kept and the part removed. The removed part is usually a leak into touching tissue, and the same
leak sits on the slices the propagation carried it to. Walking away from z, each neighbour's old
mask is split the same way: its pixels no farther (in-plane) from the previous slice's removed part
than from its kept part, in connected pieces that touch the removed part's footprint, are removed;
the rest is kept. The walk leads away from the interacted slice that z's mask was propagated from
(both ways on an interacted slice: :func:`outward_steps`). It stops at the end of the range, at a
slice without a mask, where nothing is removed any more, or where the whole mask would go (a trim
never empties a slice it did not click).

Only pixels are removed, never added, so a carried cut cannot start a leak.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import ndimage

from .mask_store import SliceMask

_EIGHT = np.ones((3, 3), dtype=bool)


def split_by_cut(mask: np.ndarray, removed: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The pixels of the 2D bool ``mask`` that continue ``removed`` rather than ``kept``.

    A pixel continues the removed part when it is no farther from ``removed`` than from ``kept``
    (Euclidean, in pixels; a pixel on ``kept``'s footprint never does) and lies in a connected piece (8-connectivity) of such pixels that
    touches ``removed`` dilated by one pixel. All three arrays are (H, W) bool on one window.
    """
    if not removed.any() or not mask.any():
        return np.zeros_like(mask)
    d_removed = ndimage.distance_transform_edt(~removed)
    d_kept = ndimage.distance_transform_edt(~kept) if kept.any() else np.full(mask.shape, np.inf)
    side = mask & (d_removed <= d_kept) & (d_kept > 0)
    labels, n = ndimage.label(side, structure=_EIGHT)
    if n == 0:
        return side
    touching = np.unique(labels[ndimage.binary_dilation(removed, structure=_EIGHT) & side])
    return np.isin(labels, touching[touching > 0])


def outward_steps(z: int, source: int | None) -> tuple[int, ...]:
    """The directions a trim on z carries its cut: away from the interacted slice its mask came from.

    A propagated leak is inherited by the slices beyond the one it entered on, walking away from
    the source; the slices between the source and z hold the object growing towards its middle
    (a rim trimmed near an object's end is object on those slices). On an interacted slice (or a
    slice of unknown origin) both ways lead away from it.
    """
    if source is None or source == z:
        return (1, -1)
    return (1,) if z > source else (-1,)


def _window(masks: list[SliceMask], shape: tuple[int, int], pad: int = 2) -> tuple[int, int, int, int]:
    """(ya, yb, xa, xb): the union of the masks' bounding boxes, padded, within the slice."""
    ymin = min(m.bbox[0] for m in masks)
    ymax = max(m.bbox[1] for m in masks)
    xmin = min(m.bbox[2] for m in masks)
    xmax = max(m.bbox[3] for m in masks)
    return max(0, ymin - pad), min(shape[0], ymax + pad + 1), max(0, xmin - pad), min(shape[1], xmax + pad + 1)


def carry_cut(old: Mapping[int, SliceMask], z: int, before: SliceMask, after: SliceMask | None,
              low: int, high: int, shape: tuple[int, int], steps: tuple[int, ...] = (1, -1)) -> dict[int, SliceMask]:
    """New masks for the slices of [low, high] (z excluded) that a trim on z carries its cut to.

    ``old``: slice -> its current mask; ``before`` / ``after``: slice z's mask before and after
    the trim (``after`` None or empty = not a trim: nothing is carried); ``shape``: (H, W);
    ``steps``: the directions to walk (+1 = towards higher slices; see :func:`outward_steps`).
    Returns only the slices that change; each new mask is a non-empty subset of the old one.
    """
    if after is None:
        return {}
    out: dict[int, SliceMask] = {}
    for step in steps:
        s = z + step
        chain = []
        while low <= s <= high and s in old:
            chain.append(s)
            s += step
        if not chain:
            continue
        ya, yb, xa, xb = _window([before, *(old[c] for c in chain)], shape)
        kept = after.dense(shape)[ya:yb, xa:xb]
        removed = before.dense(shape)[ya:yb, xa:xb] & ~kept
        for c in chain:
            mask = old[c].dense(shape)[ya:yb, xa:xb]
            cut = split_by_cut(mask, removed, kept)
            if not cut.any() or cut.sum() == mask.sum():
                break
            kept = mask & ~cut
            removed = cut
            out[c] = SliceMask.from_region(ya, xa, kept)
    return out
