"""Sparse per-slice storage of a 3D mask.

A mask of a (Z, Y, X) volume is kept as a mapping ``z -> SliceMask``, where a
:class:`SliceMask` holds only the bounding-box crop of the slice's foreground. A dense bool
mask of a 1000 x 2048 x 2048 volume would take 4 GB; this takes a few MB per object. Entries
are immutable, so a round's snapshot is a cheap shallow copy of a dict (undo is exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .crops import bbox_of


@dataclass(frozen=True, eq=False)
class SliceMask:
    """Foreground of one slice: ``crop`` (h, w) bool placed at rows y0.., columns x0.."""

    y0: int
    x0: int
    crop: np.ndarray

    def __post_init__(self):
        self.crop.setflags(write=False)

    @classmethod
    def from_dense(cls, mask2d: np.ndarray) -> "SliceMask | None":
        """Tight crop of a (Y, X) bool mask; None when empty."""
        box = bbox_of(mask2d)
        if box is None:
            return None
        ymin, ymax, xmin, xmax = box
        return cls(ymin, xmin, np.array(mask2d[ymin : ymax + 1, xmin : xmax + 1], dtype=bool))

    @classmethod
    def from_region(cls, ya: int, xa: int, region: np.ndarray) -> "SliceMask | None":
        """Tight crop of a bool ``region`` whose top-left pixel is (ya, xa); None when empty."""
        box = bbox_of(region)
        if box is None:
            return None
        ymin, ymax, xmin, xmax = box
        return cls(ya + ymin, xa + xmin, np.array(region[ymin : ymax + 1, xmin : xmax + 1], dtype=bool))

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """Inclusive (ymin, ymax, xmin, xmax)."""
        h, w = self.crop.shape
        return self.y0, self.y0 + h - 1, self.x0, self.x0 + w - 1

    @property
    def area(self) -> int:
        return int(self.crop.sum())

    def dense(self, shape: tuple[int, int]) -> np.ndarray:
        """(Y, X) bool."""
        out = np.zeros(shape, dtype=bool)
        self.paste_into(out)
        return out

    def paste_into(self, out: np.ndarray, y_offset: int = 0, x_offset: int = 0) -> None:
        """OR this mask into ``out`` whose pixel (0, 0) is slice pixel (y_offset, x_offset)."""
        h, w = self.crop.shape
        ya, xa = self.y0 - y_offset, self.x0 - x_offset
        yb, xb = ya + h, xa + w
        cya, cxa = max(0, -ya), max(0, -xa)
        ya, xa = max(ya, 0), max(xa, 0)
        yb, xb = min(yb, out.shape[0]), min(xb, out.shape[1])
        if yb <= ya or xb <= xa:
            return
        out[ya:yb, xa:xb] |= self.crop[cya : cya + yb - ya, cxa : cxa + xb - xa]

    def intersect(self, other: "SliceMask | None") -> "SliceMask | None":
        """Pixels in both masks (None when they do not overlap or ``other`` is None)."""
        if other is None:
            return None
        (a0, a1, b0, b1), (c0, c1, d0, d1) = self.bbox, other.bbox
        y0, y1, x0, x1 = max(a0, c0), min(a1, c1), max(b0, d0), min(b1, d1)
        if y1 < y0 or x1 < x0:
            return None
        mine = self.crop[y0 - self.y0 : y1 - self.y0 + 1, x0 - self.x0 : x1 - self.x0 + 1]
        theirs = other.crop[y0 - other.y0 : y1 - other.y0 + 1, x0 - other.x0 : x1 - other.x0 + 1]
        return SliceMask.from_region(y0, x0, mine & theirs)

    def equals(self, other: "SliceMask | None") -> bool:
        """Same pixels (same placement and crop)."""
        return (
            other is not None
            and (self.y0, self.x0) == (other.y0, other.x0)
            and self.crop.shape == other.crop.shape
            and bool(np.array_equal(self.crop, other.crop))
        )


def dense_slice(slices: Mapping[int, SliceMask], z: int, shape: tuple[int, int]) -> np.ndarray:
    """(Y, X) bool mask of slice z (zeros where there is no entry)."""
    entry = slices.get(z)
    return entry.dense(shape) if entry is not None else np.zeros(shape, dtype=bool)


def dense_volume(slices: Mapping[int, SliceMask], shape: tuple[int, int, int]) -> np.ndarray:
    """(Z, Y, X) bool mask from sparse slices."""
    out = np.zeros(shape, dtype=bool)
    for z, entry in slices.items():
        entry.paste_into(out[z])
    return out


class LazyMask:
    """Read-only (Z, Y, X) bool array-like over sparse slices; only indexed parts are built.

    Supports ``shape``, ``dtype``, ``ndim``, ``len()``, basic indexing (``mask[z]``,
    ``mask[z, y0:y1, x0:x1]``, ``mask[z0:z1]``) and ``np.asarray`` (which does build the
    whole mask; avoid it for volumes larger than RAM).
    """

    dtype = np.dtype(bool)
    ndim = 3

    def __init__(self, slices: Mapping[int, SliceMask], shape: tuple[int, int, int]):
        self._slices = MappingProxyType(dict(slices))
        self.shape = tuple(shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def nonempty_slices(self) -> list[int]:
        """Sorted indices of slices with foreground."""
        return sorted(self._slices)

    def slice_mask(self, z: int) -> SliceMask | None:
        return self._slices.get(z)

    def sum(self) -> int:
        return sum(entry.area for entry in self._slices.values())

    def any(self) -> bool:
        return bool(self._slices)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (3 - len(key))
        zkey, ykey, xkey = key[:3]
        if isinstance(zkey, (int, np.integer)):
            z = int(zkey) + (self.shape[0] if zkey < 0 else 0)
            if not 0 <= z < self.shape[0]:
                raise IndexError(f"slice {zkey} out of range for {self.shape[0]} slices")
            return self._slice_window(z, ykey, xkey)
        zs = range(*zkey.indices(self.shape[0])) if isinstance(zkey, slice) else [int(i) for i in zkey]
        return np.stack([self._slice_window(z, ykey, xkey) for z in zs]) if len(zs) else np.zeros(
            (0,) + self._slice_window(0, ykey, xkey).shape, dtype=bool
        )

    def _slice_window(self, z: int, ykey, xkey) -> np.ndarray:
        ys = ykey if isinstance(ykey, slice) else slice(int(ykey), int(ykey) + 1)
        xs = xkey if isinstance(xkey, slice) else slice(int(xkey), int(xkey) + 1)
        ya, yb, ystep = ys.indices(self.shape[1])
        xa, xb, xstep = xs.indices(self.shape[2])
        out = np.zeros((max(0, yb - ya), max(0, xb - xa)), dtype=bool)
        entry = self._slices.get(z)
        if entry is not None:
            entry.paste_into(out, ya, xa)
        out = out[::ystep, ::xstep]
        if not isinstance(ykey, slice):
            out = out[0]
        if not isinstance(xkey, slice):
            out = out[..., 0]
        return out

    def __array__(self, dtype=None, copy=None):
        arr = dense_volume(self._slices, self.shape)
        return arr if dtype is None else arr.astype(dtype)
