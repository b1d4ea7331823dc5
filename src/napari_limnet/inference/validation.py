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
    z = check_z(z, shape[0])
    pos = check_clicks(positive, "positive", shape[1:])
    neg = check_clicks(negative, "negative", shape[1:])
    if len(pos) == 0 and len(neg) == 0:
        raise ValueError("no clicks were given: pass at least one positive or negative (y, x) click on the slice")
    return z, pos, neg
