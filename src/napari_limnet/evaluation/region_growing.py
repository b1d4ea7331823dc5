"""The classical baseline: 3D confidence-connected region growing (as ITK's ConfidenceConnected).

From the positive clicks: the mean and standard deviation of the 3x3x3 neighbourhoods of the
seeds give an interval mean +/- k * std; the connected region of voxels inside the interval
that contains a seed is grown, the statistics are re-estimated from the region, and this is
repeated. Finally, connected components that contain a negative click are removed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def confidence_connected(
    volume: np.ndarray, seeds: np.ndarray, multiplier: float = 2.5, iterations: int = 4, radius: int = 1
) -> np.ndarray:
    """Grow from (N, 3) integer (z, y, x) seeds; returns a (Z, Y, X) bool mask."""
    vol = np.asarray(volume, dtype=np.float32)
    seeds = np.asarray(seeds, dtype=int).reshape(-1, 3)
    if len(seeds) == 0:
        return np.zeros(vol.shape, dtype=bool)
    values = []
    for z, y, x in seeds:
        sl = tuple(slice(max(0, c - radius), c + radius + 1) for c in (z, y, x))
        values.append(vol[sl].ravel())
    values = np.concatenate(values)
    mean, std = float(values.mean()), float(values.std())
    region = np.zeros(vol.shape, dtype=bool)
    for _ in range(iterations + 1):
        inside = np.abs(vol - mean) <= multiplier * max(std, 1e-6)
        labels, _ = ndimage.label(inside)
        ids = {int(labels[z, y, x]) for z, y, x in seeds if labels[z, y, x] > 0}
        if not ids:
            break
        region = np.isin(labels, sorted(ids))
        sel = vol[region]
        mean, std = float(sel.mean()), float(sel.std())
    return region


def region_growing_baseline(volume: np.ndarray, clicks_by_slice: dict) -> np.ndarray:
    """Baseline mask from ``{z: (positive [(y, x)...], negative [...])}``."""
    pos = [(z, y, x) for z, (p, _) in clicks_by_slice.items() for y, x in p]
    neg = [(z, y, x) for z, (_, n) in clicks_by_slice.items() for y, x in n]
    mask = confidence_connected(volume, np.array(pos).reshape(-1, 3))
    if neg and mask.any():
        labels, _ = ndimage.label(mask)
        bad = {int(labels[z, y, x]) for z, y, x in neg if labels[z, y, x] > 0}
        if bad:
            mask &= ~np.isin(labels, sorted(bad))
    return mask
