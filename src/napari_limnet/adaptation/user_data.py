"""The user's committed objects as training structures (a :class:`RealVolumes` of one volume).

Only the region around the objects is kept (their union's bounding box, widened by one object
size on every side, at least :data:`MARGIN_VOXELS`), so a 512 x 512 x 300 volume with a few
objects costs a few hundred MB at most while adapting, not the whole volume in float32 twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.real_volumes import RealVolume, RealVolumes

#: Objects smaller than this (voxels) are not used as targets (they stay as context).
MIN_OBJECT_VOXELS = 20
#: The kept region reaches at least this far past the objects (voxels, per side and axis).
MARGIN_VOXELS = (4, 32, 32)


@dataclass
class UserObjects:
    """What :func:`user_structures` kept: the sampler, the object ids and the crop (z0, z1, y0, y1, x0, x1)."""

    structures: RealVolumes
    ids: list[int]
    region: tuple[int, int, int, int, int, int]


def check_labels(volume_shape, labels) -> np.ndarray:
    """The labels as an integer (Z, Y, X) array; ValueError when they cannot be adapted on."""
    if len(tuple(volume_shape)) != 3:
        raise ValueError(f"adaptation needs a 3D (Z, Y, X) volume, got shape {tuple(volume_shape)}")
    arr = np.asarray(labels)
    if arr.shape != tuple(volume_shape):
        raise ValueError(f"the labels have shape {arr.shape} but the volume has {tuple(volume_shape)}")
    if arr.dtype.kind not in "ui":
        raise ValueError(f"the labels must be an integer array (0 = not annotated), got {arr.dtype}")
    return arr


def object_ids(labels: np.ndarray, min_voxels: int = MIN_OBJECT_VOXELS) -> list[int]:
    """Ids of the objects with at least ``min_voxels`` voxels, ascending."""
    counts = np.bincount(labels.ravel().astype(np.int64)) if labels.size else np.zeros(1, np.int64)
    return [int(i) for i in np.flatnonzero(counts) if i != 0 and counts[i] >= min_voxels]


def _region(labels: np.ndarray) -> tuple[int, ...]:
    """Half-open crop around every labelled voxel, widened by one object-union size per side."""
    out = []
    for ax in range(3):
        present = np.flatnonzero(np.moveaxis(labels, ax, 0).reshape(labels.shape[ax], -1).any(1))
        lo, hi = int(present[0]), int(present[-1]) + 1
        pad = max(MARGIN_VOXELS[ax], hi - lo)
        out += [max(0, lo - pad), min(labels.shape[ax], hi + pad)]
    return tuple(out)


def user_structures(volume, labels, spacing, *, native_axis: float, intensity_strength: float,
                    name: str = "user") -> UserObjects:
    """The user's objects in ``labels`` (int, 0 = not annotated) on ``volume`` as a structure sampler.

    Every labelled object is a target; everything else is background *for that target* (partial
    annotation is fine). Raises ValueError when no object has :data:`MIN_OBJECT_VOXELS` voxels.
    """
    labels = check_labels(np.shape(volume), labels)
    ids = object_ids(labels)
    if not ids:
        raise ValueError(f"no committed object has {MIN_OBJECT_VOXELS} voxels or more: nothing to learn from")
    region = _region(labels)
    sl = tuple(slice(region[2 * i], region[2 * i + 1]) for i in range(3))
    image = np.asarray(volume[sl], dtype=np.float32)
    if not np.isfinite(image).all():
        raise ValueError("the volume contains NaN or infinite values around the objects")
    lab = np.asarray(labels[sl]).astype(np.int16 if labels.max() < 2**15 else np.int32)
    side = (1.0 - native_axis) / 2
    structures = RealVolumes(
        [RealVolume(name, image, lab, tuple(float(s) for s in spacing))], "cpu",
        min_voxels=MIN_OBJECT_VOXELS, axis_weights=(native_axis, side, side), intensity_strength=intensity_strength,
    )
    return UserObjects(structures, ids, region)
