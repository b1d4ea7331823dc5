"""The undo history of a live annotation session: what each action changed, and box helpers.

:class:`CommitRecord` is the exact inverse of a commit; ``_Round``, ``_Reset`` and ``_Edit`` mark a
controller round, a Reset and the start of refining a committed object (see
:class:`~napari_limnet.annotation_session.AnnotationSession`). Boxes are half-open
``(z0, z1, y0, y1, x0, x1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CommitRecord:
    """What a commit changed: ``committed[region]`` held ``before`` (exact inverse)."""

    object_id: int
    region: tuple[slice, slice, slice]
    before: np.ndarray
    written: int
    kept_other: int
    previous_record: object = None  # the object's session record before this commit (for undo)
    previous_box: tuple | None = None  # the object's bounding box before this commit
    #: set when the object was put away right after this commit (Next object, Reset): the
    #: controller snapshot and session history, so undoing the commit brings the object back
    resume: tuple | None = None


def union_box(a, b):
    """Union of two half-open boxes (z0, z1, y0, y1, x0, x1); None entries are skipped."""
    if a is None:
        return b
    if b is None:
        return a
    return tuple(min(a[i], b[i]) if i % 2 == 0 else max(a[i], b[i]) for i in range(6))


def box_slices(box) -> tuple[slice, slice, slice]:
    return tuple(slice(int(box[2 * i]), int(box[2 * i + 1])) for i in range(3))


def _box_of(mask: np.ndarray, origin) -> tuple | None:
    """Half-open box of a bool array's True voxels, offset by the region's origin (z0, _, y0, _, x0, _)."""
    if not mask.any():
        return None
    out = []
    for ax in range(3):
        idx = np.flatnonzero(np.moveaxis(mask, ax, 0).reshape(mask.shape[ax], -1).any(1))
        out += [int(idx[0]) + origin[2 * ax], int(idx[-1]) + 1 + origin[2 * ax]]
    return tuple(out)


class _Round:
    """Marks a controller round in the session history (undone with controller.undo())."""


@dataclass
class _Reset:
    """Marks a Reset of the current object: what undoing it brings back (controller snapshot, id)."""

    snapshot: tuple
    object_id: int | None
    committed_round: int | None


@dataclass
class _Edit:
    """Marks the start of refining committed object ``object_id`` (undone: no current object)."""

    object_id: int
