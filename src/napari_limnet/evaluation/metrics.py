"""Segmentation metrics."""

from __future__ import annotations

import numpy as np


def dice(pred, truth) -> float:
    """Dice of two bool arrays of the same shape; 1.0 when both are empty."""
    p = np.asarray(pred, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {t.shape}")
    denom = int(p.sum()) + int(t.sum())
    return 1.0 if denom == 0 else 2.0 * int(np.logical_and(p, t).sum()) / denom


def z_extent(mask) -> tuple[int, int] | None:
    """(first, last) slice index with foreground, or None."""
    zs = np.flatnonzero(np.asarray(mask, dtype=bool).reshape(np.shape(mask)[0], -1).any(axis=1))
    return (int(zs[0]), int(zs[-1])) if zs.size else None


def overshoot_slices(pred, truth) -> int:
    """Slices with predicted foreground outside the true z-extent of the object."""
    ext = z_extent(truth)
    zs = np.flatnonzero(np.asarray(pred, dtype=bool).reshape(np.shape(pred)[0], -1).any(axis=1))
    if ext is None:
        return int(zs.size)
    return int(((zs < ext[0]) | (zs > ext[1])).sum())


def undershoot_slices(pred, truth) -> int:
    """Slices inside the true z-extent of the object where the prediction is empty."""
    t = np.asarray(truth, dtype=bool).reshape(np.shape(truth)[0], -1).any(axis=1)
    p = np.asarray(pred, dtype=bool).reshape(np.shape(pred)[0], -1).any(axis=1)
    return int((t & ~p).sum())


def mean_best_dice(labels: np.ndarray, truth: np.ndarray) -> float:
    """Mean over the objects of ``labels`` (ids 1..n) of the Dice with the ``truth`` object each overlaps most
    (0 for one that overlaps none): how much pseudo-objects look like the real ones."""
    scores = []
    for i in range(1, int(labels.max()) + 1):
        m = labels == i
        hit = truth[m]
        hit = hit[hit > 0]
        if not m.any():
            continue
        if hit.size == 0:
            scores.append(0.0)
            continue
        t = truth == np.bincount(hit).argmax()
        scores.append(2.0 * float((m & t).sum()) / float(m.sum() + t.sum()))
    return float(np.mean(scores)) if scores else 0.0
