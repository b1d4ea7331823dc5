"""Small, crowded, touching nuclei at low contrast: an evaluation group that is neither dev nor training data.

Light-sheet and widefield stacks of tissue or embryos image nuclei a few slices thick and 10-20
pixels across, packed so that neighbours touch in-plane and along Z, with a dim, blurred outline
(contrast-to-noise 1.5-4). Propagating through such a stack, the hard part is the end: the slice
past a nucleus' pole shows the next nucleus at the same place, and a propagator that learned
organ-sized objects follows it. Neither the synthetic hold-out (isolated objects) nor the textured
nuclei (large, high contrast) test that, and the dev set must not be tuned on, so this generator
makes the case on its own terms. Group ``packed_nuclei`` in the benchmark (``--packed-nuclei N``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .cases import Case
from .textured_nuclei import rotated_ellipsoid

#: Voxel spacing (dz, dy, dx) in micrometres and the volume shape (Z, Y, X).
SPACING = (2.0, 0.5, 0.5)
SHAPE = (32, 96, 96)


def packed_nuclei_volume(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(image (Z, Y, X) uint16, labels (Z, Y, X) int32) of crowded, touching ellipsoidal nuclei.

    Nuclei are 4-14 um across in-plane and 5-14 um along Z; centres are placed so that neighbours
    may overlap by up to a fifth of their size (the earlier-placed nucleus keeps the contested
    voxels). Each volume draws its own contrast-to-noise ratio in [1.5, 4] and blur.
    """
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING)), indexing="ij")
    extent = np.array(SHAPE) * np.array(SPACING)
    labels = np.zeros(SHAPE, np.int32)
    placed: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(4000):
        if len(placed) >= 200:
            break
        radii = rng.uniform([2.5, 2.0, 2.0], [7.0, 7.0, 7.0])
        centre = rng.uniform([0, 0, 0], extent)
        if any(np.linalg.norm((centre - c) / (radii + r)) < 0.8 for c, r in placed):
            continue
        inside = rotated_ellipsoid((zz, yy, xx), centre, radii, rng.uniform(0, np.pi))
        labels[inside & (labels == 0)] = len(placed) + 1
        placed.append((centre, radii))
    cnr = rng.uniform(1.5, 4.0)
    noise_sd = 20.0
    haze = ndimage.gaussian_filter(rng.normal(size=SHAPE), (4, 12, 12))
    background = 150.0 + 15.0 * haze / haze.std()
    brightness = rng.uniform(0.6, 1.4, len(placed) + 1)
    img = background + np.where(labels > 0, cnr * noise_sd * brightness[labels], 0.0)
    img = ndimage.gaussian_filter(img, (rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.5), rng.uniform(0.8, 1.5)))
    img = img + rng.normal(0.0, noise_sd, SHAPE)
    return np.clip(img, 0, 65535).astype(np.uint16), labels


def packed_nuclei_cases(n: int = 8, seed: int = 5151) -> list[Case]:
    """``n`` cases, one volume each (fixed seeds): the nucleus nearest the volume's centre among
    those that touch another nucleus and do not reach the top or bottom slice."""
    cases = []
    centre = np.array(SHAPE) / 2
    k = 0
    while len(cases) < n:
        if k >= 4 * n + 8:  # every volume so far had a pick; this only guards against an endless loop
            raise RuntimeError(f"packed_nuclei_cases: no touching inner nucleus in {k} volumes from seed {seed}")
        image, labels = packed_nuclei_volume(seed + k)
        k += 1
        slices = ndimage.find_objects(labels)
        picks = []
        for i, sl in enumerate(slices, start=1):
            if sl is None or sl[0].start == 0 or sl[0].stop == SHAPE[0] or sl[0].stop - sl[0].start < 3:
                continue
            grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
            region = labels[grown] == i
            shell = ndimage.binary_dilation(region, np.ones((3, 3, 3), bool)) & ~region
            if not np.any(labels[grown][shell] > 0):
                continue
            com = np.array(ndimage.center_of_mass(region)) + [s.start for s in grown]
            picks.append((np.linalg.norm((com - centre) * SPACING), i))
        if picks:
            pick = min(picks)[1]
            cases.append(Case(f"packed_nuclei_{len(cases)}", "packed_nuclei", image, labels == pick, SPACING))
    return cases
