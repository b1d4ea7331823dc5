"""Moving pixels between a volume's slices and fixed-size crops (read side and paste side)."""

from __future__ import annotations

import numpy as np
import torch

from .crops import CROP_SIZE, CropBox
from .mask_store import SliceMask
from .volume import VolumeSource


def read_crop(source: VolumeSource, z: int, box: CropBox, size: int = CROP_SIZE, padding: str = "edge") -> torch.Tensor:
    """Raw intensities of ``box`` on slice z, resized to (size, size) float32.

    ``padding``: how the window is filled past the slice's edges (``CropBox.pad_to_box``'s mode).
    """
    ya, yb, xa, xb = box.clipped(source.slice_shape)
    if yb <= ya or xb <= xa:  # box entirely outside the slice: use the nearest edge pixels
        ya, yb = min(max(ya, 0), source.shape[1] - 1), min(max(yb, 1), source.shape[1])
        xa, xb = min(max(xa, 0), source.shape[2] - 1), min(max(xb, 1), source.shape[2])
        region = source.read(z, ya, yb, xa, xb)
        window = np.full((box.height, box.width), float(region.mean()), dtype=np.float32)
    else:
        window = box.pad_to_box(source.read(z, ya, yb, xa, xb), source.slice_shape, padding)
    return box.resample_to_crop(torch.from_numpy(np.ascontiguousarray(window)), size)


def mask_to_crop(mask: SliceMask | None, box: CropBox, size: int = CROP_SIZE) -> torch.Tensor:
    """A slice mask seen through ``box``: (size, size) float in [0, 1] (zeros outside the slice)."""
    if mask is None:
        return torch.zeros(size, size)
    window = np.zeros((box.height, box.width), dtype=np.float32)
    as_bool = np.zeros((box.height, box.width), dtype=bool)
    mask.paste_into(as_bool, box.y0, box.x0)
    window[as_bool] = 1.0
    return box.resample_to_crop(torch.from_numpy(window), size)


def paste_mask(crop_logits: torch.Tensor, box: CropBox, slice_shape: tuple[int, int]) -> SliceMask | None:
    """Threshold (size, size) crop logits at 0 and place them on the slice."""
    ya, xa, logits = box.paste_logits(crop_logits.detach().float().cpu(), slice_shape)
    if logits.numel() == 0:
        return None
    return SliceMask.from_region(ya, xa, (logits > 0).numpy())
