"""Large textured nuclei at microscope resolution: an evaluation group that is neither dev nor training data.

A nucleus imaged at high resolution is tens of pixels across, larger than the first click's
64-pixel window, and its chromatin gives it a strong, fine internal texture: seen through a small
window, the texture has edges of its own. The synthetic training volumes rarely look like that and
the dev set must not be tuned on, so this generator makes the case on its own terms: packed
ellipsoidal nuclei, 48-80 pixels across in-plane, with chromatin-like texture and bright spots,
blur and Poisson noise. Group ``textured_nuclei`` in the benchmark (``--textured-nuclei N``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .cases import Case

#: Voxel spacing (dz, dy, dx) in micrometres and the volume shape (Z, Y, X).
SPACING = (1.0, 0.25, 0.25)
SHAPE = (28, 224, 224)


def rotated_ellipsoid(grid: tuple[np.ndarray, np.ndarray, np.ndarray], centre, radii, theta: float) -> np.ndarray:
    """Bool (Z, Y, X): inside the ellipsoid of ``centre`` and ``radii`` (z, y, x; the grid's units),
    rotated in-plane by ``theta``. ``grid``: the (zz, yy, xx) coordinate arrays."""
    zz, yy, xx = grid
    u = (yy - centre[1]) * np.cos(theta) + (xx - centre[2]) * np.sin(theta)
    v = -(yy - centre[1]) * np.sin(theta) + (xx - centre[2]) * np.cos(theta)
    return ((zz - centre[0]) / radii[0]) ** 2 + (u / radii[1]) ** 2 + (v / radii[2]) ** 2 < 1


def textured_nuclei_volume(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(image (Z, Y, X) uint16, labels (Z, Y, X) int32) of 6-12 packed nuclei."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING)), indexing="ij")
    extent = np.array(SHAPE) * np.array(SPACING)
    labels = np.zeros(SHAPE, np.int32)
    centres: list[np.ndarray] = []
    for _ in range(60):
        if len(centres) >= 12:
            break
        radii = rng.uniform([5.0, 6.0, 6.0], [8.0, 10.0, 10.0])
        centre = rng.uniform([radii[0] * 0.6, 4, 4], extent - [radii[0] * 0.6, 4, 4])
        if any(np.linalg.norm((centre - c) / [1.6, 1, 1]) < 13 for c in centres):
            continue
        inside = rotated_ellipsoid((zz, yy, xx), centre, radii, rng.uniform(0, np.pi))
        labels[inside & (labels == 0)] = len(centres) + 1
        centres.append(centre)
    chromatin = ndimage.gaussian_filter(rng.normal(size=SHAPE), (0.8, 2.0, 2.0))
    chromatin /= chromatin.std()
    spots = ndimage.gaussian_filter((rng.random(SHAPE) < 0.002).astype(np.float32), (0.8, 1.5, 1.5))
    spots /= max(spots.max(), 1e-6)
    brightness = rng.uniform(0.7, 1.3, len(centres) + 1)
    img = np.where(labels > 0, 600.0 * brightness[labels] * (1 + 0.35 * chromatin) + 900.0 * spots, 60.0)
    img = ndimage.gaussian_filter(np.clip(img, 0, None), (0.7, 1.0, 1.0))
    img = rng.poisson(img).astype(np.float32)
    return img.astype(np.uint16), labels


def textured_nuclei_case(k: int, seed: int = 4242) -> Case | None:
    """Case ``textured_nuclei_{k}``: the nucleus nearest the centre of volume ``seed + k`` (None without one)."""
    image, labels = textured_nuclei_volume(seed + k)
    ids = [i for i in np.unique(labels) if i]
    if not ids:
        return None
    centre = np.array(SHAPE) / 2
    coms = ndimage.center_of_mass(labels > 0, labels, ids)
    pick = ids[int(np.argmin([np.linalg.norm((np.array(c) - centre) * SPACING) for c in coms]))]
    return Case(f"textured_nuclei_{k}", "textured_nuclei", image, labels == pick, SPACING)


def textured_nuclei_cases(n: int = 8, seed: int = 4242) -> list[Case]:
    """``n`` cases: the nucleus nearest each volume's centre, one volume per case (fixed seeds)."""
    return [c for c in (textured_nuclei_case(k, seed) for k in range(n)) if c is not None]
