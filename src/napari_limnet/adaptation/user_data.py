"""The user's committed objects as training structures (a :class:`RealVolumes` of crops).

Only the region around the objects is kept: their union's bounding box widened by one object-union
size on every side (at least :data:`MARGIN_VOXELS`). When that region is larger than
:data:`REGION_VOXELS` (objects spread over a large volume), each object gets its own crop instead
(its bounding box widened by half its extent per side; overlapping crops merged), so a 512 x 512 x 300
volume costs a few hundred MB while adapting, not the whole volume in float32 twice. Every crop
holds the labels of all objects in it (the others are background for each target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..data.real_volumes import RealVolume, RealVolumes, label_counts

#: Objects smaller than this (voxels) are not used as targets (they stay as context).
MIN_OBJECT_VOXELS = 20
#: A crop reaches at least this far past its object(s) (voxels, per side and axis).
MARGIN_VOXELS = (4, 32, 32)
#: Largest union region kept whole (voxels; ~128 MB of float32 image and as much of labels).
REGION_VOXELS = 1 << 25


@dataclass
class UserObjects:
    """What :func:`user_structures` kept: the sampler, the object ids and the crops."""

    structures: RealVolumes
    ids: list[int]
    crops: list[list[int]]  # half-open [z0, z1, y0, y1, x0, x1] each


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
    if labels.size and labels.min() < 0:
        raise ValueError("the labels must not be negative (0 = not annotated, 1, 2, ... = objects)")
    counts = label_counts(labels) if labels.size else np.zeros(1, np.int64)
    return [int(i) for i in np.flatnonzero(counts) if i != 0 and counts[i] >= min_voxels]


def _region(boxes, shape) -> list[int]:
    """Half-open crop around every object box, widened by one object-union size per side."""
    boxes = [b for b in boxes if b is not None]
    out = []
    for ax in range(3):
        lo, hi = min(b[ax].start for b in boxes), max(b[ax].stop for b in boxes)
        pad = max(MARGIN_VOXELS[ax], hi - lo)
        out += [max(0, lo - pad), min(shape[ax], hi + pad)]
    return out


def _crop_of(box, shape) -> list[int]:
    """Half-open [z0, z1, y0, y1, x0, x1] of a find_objects box widened by half its extent per side
    (the standard framing, 1.6 x the object, fits inside)."""
    out = []
    for ax, sl in enumerate(box):
        ext = sl.stop - sl.start
        pad = max(MARGIN_VOXELS[ax], (ext + 1) // 2)
        out += [max(0, sl.start - pad), min(shape[ax], sl.stop + pad)]
    return out


def _overlap(a, b) -> bool:
    return all(a[2 * i] < b[2 * i + 1] and b[2 * i] < a[2 * i + 1] for i in range(3))


def _merge(a, b) -> list[int]:
    return [min(a[i], b[i]) if i % 2 == 0 else max(a[i], b[i]) for i in range(6)]


def object_crops(labels: np.ndarray, ids: list[int]) -> list[list[int]]:
    """The union region when it is small enough, else one crop per object (overlapping crops
    merged); half-open [z0, z1, y0, y1, x0, x1] each."""
    boxes = ndimage.find_objects(labels)
    region = _region([boxes[i - 1] for i in ids], labels.shape)
    if int(np.prod([region[2 * i + 1] - region[2 * i] for i in range(3)])) <= REGION_VOXELS:
        return [region]
    crops = [_crop_of(boxes[i - 1], labels.shape) for i in ids]
    merged = True
    while merged:  # merge until no two crops overlap
        merged = False
        for a in range(len(crops)):
            for b in range(a + 1, len(crops)):
                if _overlap(crops[a], crops[b]):
                    crops[a] = _merge(crops[a], crops.pop(b))
                    merged = True
                    break
            if merged:
                break
    return crops


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
    crops, parts = object_crops(labels, ids), []
    lab_dtype = np.int16 if labels.max() < 2**15 else np.int32
    for k, c in enumerate(crops):
        sl = tuple(slice(c[2 * i], c[2 * i + 1]) for i in range(3))
        image = np.asarray(volume[sl])  # a view of numpy volumes; RealVolumes makes the one float32 copy
        if image.dtype.kind == "f" and not np.isfinite(image).all():
            raise ValueError("the volume contains NaN or infinite values around the objects")
        parts.append(RealVolume(name if len(crops) == 1 else f"{name}_{k}", image, np.asarray(labels[sl]).astype(lab_dtype),
                                tuple(float(s) for s in spacing)))
    side = (1.0 - native_axis) / 2
    structures = RealVolumes(parts, "cpu", min_voxels=MIN_OBJECT_VOXELS, axis_weights=(native_axis, side, side),
                             intensity_strength=intensity_strength)
    return UserObjects(structures, ids, [list(map(int, c)) for c in crops])
