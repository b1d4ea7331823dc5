"""Object-centred crops: where to look on a slice, and how to map between slice and crop.

A :class:`CropBox` is an integer pixel window ``[y0, y1) x [x0, x1)`` on one slice. It may
extend past the slice edge (the outside is filled by edge replication). The window is square in
*physical* units (millimetres, micrometres), so on a slice with in-plane spacing (dy, dx) it is
``side_mm / dy`` pixels tall and ``side_mm / dx`` pixels wide. The network always sees the
window resized to ``size x size`` pixels, so its cost does not depend on the slice size.

Mapping between a slice pixel centre ``y`` and a crop pixel centre ``i`` (bilinear, half-pixel
convention, as ``torch.nn.functional.interpolate(align_corners=False)``)::

    i = (y - y0 + 0.5) * size / (y1 - y0) - 0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: Network input size (pixels per side) for all crops.
CROP_SIZE = 128
#: Window side = object extent * CONTEXT + 2 * PAD_PIXELS at the standard framing.
CONTEXT = 1.6
PAD_PIXELS = 6
#: Smallest window side, in pixels, so tiny objects are not blown up beyond recognition.
MIN_SIDE_PIXELS = 24


@dataclass(frozen=True)
class CropBox:
    """Integer window [y0, y1) x [x0, x1) on a slice, possibly extending past its edges."""

    y0: int
    y1: int
    x0: int
    x1: int

    def __post_init__(self):
        if self.y1 <= self.y0 or self.x1 <= self.x0:
            raise ValueError(f"empty crop box {self}")

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def center(self) -> tuple[float, float]:
        return ((self.y0 + self.y1) / 2.0, (self.x0 + self.x1) / 2.0)

    @classmethod
    def square_mm(
        cls, center_yx: tuple[float, float], side_mm: float, spacing_yx: tuple[float, float]
    ) -> "CropBox":
        """A window of ``side_mm`` physical units per side centred at ``center_yx`` (pixels)."""
        dy, dx = spacing_yx
        min_side_mm = MIN_SIDE_PIXELS * min(dy, dx)
        side_mm = max(float(side_mm), min_side_mm)
        hy, hx = side_mm / dy / 2.0, side_mm / dx / 2.0
        cy, cx = center_yx
        y0 = int(np.floor(cy + 0.5 - hy))
        x0 = int(np.floor(cx + 0.5 - hx))
        return cls(y0, y0 + max(1, int(round(2 * hy))), x0, x0 + max(1, int(round(2 * hx))))

    @classmethod
    def framing(
        cls,
        bbox: tuple[int, int, int, int],
        spacing_yx: tuple[float, float],
        context: float = CONTEXT,
        pad_pixels: int = PAD_PIXELS,
    ) -> "CropBox":
        """The standard framing of an object whose bounding box is (ymin, ymax, xmin, xmax), inclusive.

        Side (physical) = max extent * ``context`` + 2 * ``pad_pixels`` pixels; centred on the box.
        """
        ymin, ymax, xmin, xmax = bbox
        dy, dx = spacing_yx
        extent_mm = max((ymax - ymin + 1) * dy, (xmax - xmin + 1) * dx)
        side_mm = extent_mm * context + 2 * pad_pixels * min(dy, dx)
        return cls.square_mm(((ymin + ymax) / 2.0, (xmin + xmax) / 2.0), side_mm, spacing_yx)

    def scaled(self, factor: float) -> "CropBox":
        """The same centre, each side multiplied by ``factor``."""
        cy, cx = self.center
        hy, hx = self.height * factor / 2.0, self.width * factor / 2.0
        y0, x0 = int(np.floor(cy - hy)), int(np.floor(cx - hx))
        return CropBox(y0, y0 + max(1, int(round(2 * hy))), x0, x0 + max(1, int(round(2 * hx))))

    def clipped(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """The part inside a slice of ``shape`` (H, W): (ya, yb, xa, xb); may be empty."""
        h, w = shape
        return max(self.y0, 0), min(self.y1, h), max(self.x0, 0), min(self.x1, w)

    def inside_crop(self, shape: tuple[int, int], size: int = CROP_SIZE) -> torch.Tensor:
        """(size, size) bool: which crop pixels show the slice of ``shape`` (H, W), not padding."""
        ya, yb, xa, xb = self.clipped(shape)
        window = torch.zeros(self.height, self.width)
        if yb > ya and xb > xa:
            window[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0] = 1.0
        return self.resample_to_crop(window, size, mode="nearest") > 0.5

    def within_slice(self, shape: tuple[int, int]) -> bool:
        """True if the window lies wholly inside a slice of ``shape`` (H, W): no padding."""
        return self.y0 >= 0 and self.x0 >= 0 and self.y1 <= shape[0] and self.x1 <= shape[1]

    def covers_slice(self, shape: tuple[int, int]) -> bool:
        """True if the window contains the whole slice."""
        return self.y0 <= 0 and self.x0 <= 0 and self.y1 >= shape[0] and self.x1 >= shape[1]

    # -- coordinates -------------------------------------------------------------------------
    def to_crop(self, points_yx: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
        """Slice pixel coordinates (N, 2) -> crop pixel coordinates (N, 2), float."""
        p = np.asarray(points_yx, dtype=np.float64).reshape(-1, 2)
        out = np.empty_like(p)
        out[:, 0] = (p[:, 0] - self.y0 + 0.5) * size / self.height - 0.5
        out[:, 1] = (p[:, 1] - self.x0 + 0.5) * size / self.width - 0.5
        return out

    def to_slice(self, points_ij: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
        """Crop pixel coordinates (N, 2) -> slice pixel coordinates (N, 2), float."""
        p = np.asarray(points_ij, dtype=np.float64).reshape(-1, 2)
        out = np.empty_like(p)
        out[:, 0] = (p[:, 0] + 0.5) * self.height / size - 0.5 + self.y0
        out[:, 1] = (p[:, 1] + 0.5) * self.width / size - 0.5 + self.x0
        return out

    # -- resampling --------------------------------------------------------------------------
    def pad_to_box(self, region: np.ndarray, shape: tuple[int, int], mode: str = "edge") -> np.ndarray:
        """Pad ``region`` (the :meth:`clipped` part of a slice) to the full (height, width) window.

        ``mode``: ``"edge"`` repeats the slice's border pixels; ``"symmetric"`` mirrors the slice
        across its border (an object cut by the edge looks whole).
        """
        ya, yb, xa, xb = self.clipped(shape)
        pads = ((ya - self.y0, self.y1 - yb), (xa - self.x0, self.x1 - xb))
        if region.size == 0:
            return np.zeros((self.height, self.width), dtype=region.dtype)
        if any(p for pair in pads for p in pair):
            region = np.pad(region, pads, mode=mode)
        return region

    def resample_to_crop(self, window: torch.Tensor, size: int = CROP_SIZE, mode: str = "bilinear") -> torch.Tensor:
        """(height, width) or (C, height, width) window -> (size, size) / (C, size, size) crop.

        Downsampling is antialiased, so a 2048-pixel window still gives a clean 128-pixel crop.
        """
        squeeze = window.ndim == 2
        x = window[None, None] if squeeze else window[None]
        x = x.float()
        if mode == "bilinear":
            antialias = self.height > size or self.width > size
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
        else:
            x = F.interpolate(x, size=(size, size), mode=mode)
        return x[0, 0] if squeeze else x[0]

    def paste_logits(self, crop_logits: torch.Tensor, shape: tuple[int, int]) -> tuple[int, int, torch.Tensor]:
        """(size, size) crop logits -> (ya, xa, logits of the in-slice part of the window).

        The returned tensor covers slice rows ya.. and columns xa.., so
        ``slice[ya:ya+h, xa:xa+w] = logits > 0`` pastes the mask back.
        """
        full = F.interpolate(
            crop_logits[None, None].float(), size=(self.height, self.width), mode="bilinear", align_corners=False
        )[0, 0]
        ya, yb, xa, xb = self.clipped(shape)
        return ya, xa, full[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0]


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive bounding box (ymin, ymax, xmin, xmax) of a 2D bool mask, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def union_bbox(*boxes: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    """Inclusive bounding box covering all given boxes (None entries are skipped)."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def points_bbox(points_yx: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive integer bounding box of (N, 2) points, or None for no points."""
    p = np.asarray(points_yx).reshape(-1, 2)
    if p.size == 0:
        return None
    p = np.rint(p).astype(int)
    return int(p[:, 0].min()), int(p[:, 0].max()), int(p[:, 1].min()), int(p[:, 1].max())
