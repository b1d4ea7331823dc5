"""Checks of what a caller passes to a round: slice index and clicks (pure functions).

Each raises ``ValueError`` with what is wrong and what to do; nothing is changed before they pass.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def check_z(z, n_slices: int) -> int:
    """A slice index in 0..n_slices-1 (ints, or floats that are whole numbers)."""
    if isinstance(z, bool) or not isinstance(z, (Integral, Real)):
        raise ValueError(f"slice index z must be an integer, got {z!r}")
    if isinstance(z, Real) and not isinstance(z, Integral):
        if not math.isfinite(z) or not float(z).is_integer():
            raise ValueError(f"slice index z must be an integer, got {z!r}")
    z = int(z)
    if not 0 <= z < n_slices:
        raise ValueError(f"slice index z={z} is outside the volume (it has {n_slices} slices, 0..{n_slices - 1})")
    return z


def check_clicks(points, kind: str, slice_shape: tuple[int, int]) -> np.ndarray:
    """(N, 2) rounded (y, x) clicks inside a slice of ``slice_shape`` (H, W); ``kind`` names them in errors."""
    if points is None:
        return np.zeros((0, 2))
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{kind} clicks must be a list of (y, x) pairs, got {points!r}") from None
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{kind} clicks must be a list of (y, x) pairs, got an array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{kind} clicks contain NaN or infinite coordinates: {arr.tolist()}")
    h, w = slice_shape
    rounded = np.rint(arr)
    outside = (rounded[:, 0] < 0) | (rounded[:, 0] >= h) | (rounded[:, 1] < 0) | (rounded[:, 1] >= w)
    if outside.any():
        y, x = arr[np.flatnonzero(outside)[0]]
        raise ValueError(
            f"{kind} click (y={y:g}, x={x:g}) is outside the slice, which has {h} rows and {w} columns "
            f"(y in 0..{h - 1}, x in 0..{w - 1}). Click inside the image."
        )
    return rounded


def check_round(z, positive, negative, shape: tuple[int, int, int]) -> tuple[int, np.ndarray, np.ndarray]:
    """(z, positive (N, 2), negative (M, 2)) of one round on a (Z, Y, X) volume, at least one click."""
    z, pos, neg, _, _ = check_prompts(z, positive, negative, None, None, shape)
    return z, pos, neg


def check_box(box, slice_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """An inclusive (ymin, xmin, ymax, xmax) box inside a slice of ``slice_shape`` (H, W), or None."""
    if box is None:
        return None
    try:
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"box must be (ymin, xmin, ymax, xmax), got {box!r}") from None
    if arr.shape != (4,) or not np.isfinite(arr).all():
        raise ValueError(f"box must be four finite numbers (ymin, xmin, ymax, xmax), got {box!r}")
    ymin, xmin, ymax, xmax = (int(v) for v in np.rint(arr))
    h, w = slice_shape
    if ymin > ymax or xmin > xmax:
        raise ValueError(f"box {tuple(int(v) for v in np.rint(arr))} is inverted: it needs ymin <= ymax and xmin <= xmax")
    if ymin < 0 or xmin < 0 or ymax >= h or xmax >= w:
        raise ValueError(f"box {(ymin, xmin, ymax, xmax)} reaches outside the slice, which has {h} rows and {w} columns "
                         f"(y in 0..{h - 1}, x in 0..{w - 1})")
    if ymax - ymin < 1 or xmax - xmin < 1:
        raise ValueError(f"box {(ymin, xmin, ymax, xmax)} is empty: draw a rectangle at least 2 pixels wide and tall")
    return ymin, xmin, ymax, xmax


def check_prompt_mask(mask, slice_shape: tuple[int, int]) -> np.ndarray | None:
    """A (Y, X) bool mask of a slice of ``slice_shape`` with at least one pixel set, or None."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.shape != tuple(slice_shape):
        raise ValueError(f"the mask has shape {arr.shape} but a slice has shape {tuple(slice_shape)}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("the mask contains NaN or infinite values")
    arr = arr.astype(bool)
    if not arr.any():
        raise ValueError("the mask is empty: paint the object on the slice first (use negative clicks to erase)")
    return arr


def check_prompts(z, positive, negative, box, mask, shape: tuple[int, int, int]):
    """(z, positive, negative, box, mask) of one round: clicks, a box (with or without clicks), or a mask alone."""
    z = check_z(z, shape[0])
    pos = check_clicks(positive, "positive", shape[1:])
    neg = check_clicks(negative, "negative", shape[1:])
    box = check_box(box, shape[1:])
    mask = check_prompt_mask(mask, shape[1:])
    if mask is not None and (box is not None or len(pos) or len(neg)):
        raise ValueError("a painted mask is the slice's result as is: give it alone, without clicks or a box")
    if box is None and mask is None and len(pos) == 0 and len(neg) == 0:
        raise ValueError("no clicks were given: pass at least one positive or negative (y, x) click on the slice")
    return z, pos, neg, box, mask
