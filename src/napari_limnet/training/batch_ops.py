"""Batched, differentiable-where-needed tensor operations for training on the GPU or CPU.

Training mirrors inference (``napari_limnet.inference``) with batched tensors: square crop
boxes ``(cy, cx, side)`` in canvas pixels, the same framing rule, the same intensity window and
click maps. Canvases are (B, H, W) slices of synthetic volumes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..inference.crops import CONTEXT, PAD_PIXELS, MIN_SIDE_PIXELS


def batch_bbox(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W) bool -> (bbox (B, 4) float inclusive (ymin, ymax, xmin, xmax), nonempty (B,) bool)."""
    b, h, w = mask.shape
    rows, cols = mask.any(2), mask.any(1)
    ar_h = torch.arange(h, device=mask.device)
    ar_w = torch.arange(w, device=mask.device)
    big = 10**6
    ymin = torch.where(rows, ar_h, big).amin(1)
    ymax = torch.where(rows, ar_h, -1).amax(1)
    xmin = torch.where(cols, ar_w, big).amin(1)
    xmax = torch.where(cols, ar_w, -1).amax(1)
    nonempty = rows.any(1)
    box = torch.stack([ymin, ymax, xmin, xmax], 1).float()
    return box, nonempty


def points_bbox(points: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, 2) points with (B, K) validity -> (bbox (B, 4), any (B,))."""
    big = 1e9
    y, x = points[..., 0], points[..., 1]
    box = torch.stack(
        [
            torch.where(valid, y, big).amin(1),
            torch.where(valid, y, -big).amax(1),
            torch.where(valid, x, big).amin(1),
            torch.where(valid, x, -big).amax(1),
        ],
        1,
    )
    return box, valid.any(1)


def union_bbox(a: torch.Tensor, a_ok: torch.Tensor, b: torch.Tensor, b_ok: torch.Tensor):
    """Union of two batched boxes where each may be missing."""
    lo = torch.minimum(a, b)
    hi = torch.maximum(a, b)
    both = torch.stack([lo[:, 0], hi[:, 1], lo[:, 2], hi[:, 3]], 1)
    out = torch.where(a_ok.unsqueeze(1), torch.where(b_ok.unsqueeze(1), both, a), b)
    return out, a_ok | b_ok


def framing(bbox: torch.Tensor, context: torch.Tensor | float = CONTEXT, pad: float = PAD_PIXELS) -> torch.Tensor:
    """Standard framing of inclusive boxes (B, 4) -> square boxes (B, 3) = (cy, cx, side)."""
    ext = torch.maximum(bbox[:, 1] - bbox[:, 0] + 1, bbox[:, 3] - bbox[:, 2] + 1)
    side = (ext * context + 2 * pad).clamp_min(MIN_SIDE_PIXELS)
    cy = (bbox[:, 0] + bbox[:, 1]) / 2
    cx = (bbox[:, 2] + bbox[:, 3]) / 2
    return torch.stack([cy, cx, side], 1)


def crop_grid(boxes: torch.Tensor, canvas_hw: tuple[int, int], size: int) -> torch.Tensor:
    """Sampling grid (B, S, S, 2) that reads square boxes (cy, cx, side) from a (H, W) canvas."""
    h, w = canvas_hw
    b = boxes.shape[0]
    frac = (torch.arange(size, device=boxes.device, dtype=torch.float32) + 0.5) / size  # (S,)
    # box top/left edge in pixel-centre coordinates (canvas pixel k has its centre at k)
    y0 = (boxes[:, 0] - boxes[:, 2] / 2).view(b, 1)
    x0 = (boxes[:, 1] - boxes[:, 2] / 2).view(b, 1)
    ys = y0 + frac.view(1, -1) * boxes[:, 2].view(b, 1)  # crop pixel centres, canvas centre coordinates
    xs = x0 + frac.view(1, -1) * boxes[:, 2].view(b, 1)
    gy = (ys + 0.5) * 2 / h - 1  # align_corners=False: canvas pixel k spans [k, k+1) in edge coordinates
    gx = (xs + 0.5) * 2 / w - 1
    return torch.stack(torch.broadcast_tensors(gx.view(b, 1, size), gy.view(b, size, 1)), dim=-1)


def crop(canvas: torch.Tensor, boxes: torch.Tensor, size: int, padding: str = "border") -> torch.Tensor:
    """(B, C, H, W) -> (B, C, S, S) bilinear crops of square boxes."""
    grid = crop_grid(boxes, canvas.shape[-2:], size)
    return F.grid_sample(canvas.float(), grid, mode="bilinear", padding_mode=padding, align_corners=False)


def paste(crops: torch.Tensor, boxes: torch.Tensor, canvas_hw: tuple[int, int]) -> torch.Tensor:
    """(B, C, S, S) crops -> (B, C, H, W) canvas values (zeros outside each box)."""
    b, _, s, _ = crops.shape
    h, w = canvas_hw
    ys = torch.arange(h, device=crops.device, dtype=torch.float32)
    xs = torch.arange(w, device=crops.device, dtype=torch.float32)
    # canvas pixel centre y -> crop pixel centre i = (y - y0) * S / side - 0.5, y0 = the box's top edge
    y0 = (boxes[:, 0] - boxes[:, 2] / 2).view(b, 1)
    x0 = (boxes[:, 1] - boxes[:, 2] / 2).view(b, 1)
    side = boxes[:, 2].view(b, 1)
    iy = (ys.view(1, -1) - y0) * s / side - 0.5
    ix = (xs.view(1, -1) - x0) * s / side - 0.5
    gy = (iy + 0.5) * 2 / s - 1
    gx = (ix + 0.5) * 2 / s - 1
    grid = torch.stack(torch.broadcast_tensors(gx.view(b, 1, w), gy.view(b, h, 1)), dim=-1)
    return F.grid_sample(crops.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def to_crop_coords(points: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, K, 2) canvas (y, x) -> crop pixel coordinates for square boxes (B, 3)."""
    y0 = (boxes[:, 0] - boxes[:, 2] / 2).view(-1, 1)
    x0 = (boxes[:, 1] - boxes[:, 2] / 2).view(-1, 1)
    scale = size / boxes[:, 2].view(-1, 1)
    return torch.stack([(points[..., 0] - y0) * scale - 0.5, (points[..., 1] - x0) * scale - 0.5], -1)


def dilate(mask: torch.Tensor, radius: torch.Tensor | int, max_radius: int | None = None) -> torch.Tensor:
    """(B, H, W) bool dilated by a per-sample square radius (B,) or a fixed int.

    With a per-sample radius, ``max_radius`` (an upper bound the caller knows) avoids reading
    ``radius.max()`` back from the device, which would stall a GPU pipeline.
    """
    if isinstance(radius, int):
        if radius <= 0:
            return mask
        return F.max_pool2d(mask.float().unsqueeze(1), 2 * radius + 1, 1, radius)[:, 0] > 0.5
    out = mask.clone()
    top = int(radius.max().item()) if max_radius is None else int(max_radius)
    for r in range(1, top + 1):
        out = torch.where((radius >= r).view(-1, 1, 1), _grow_once(out), out)
    return out


def erode(mask: torch.Tensor, radius: torch.Tensor | int, max_radius: int | None = None) -> torch.Tensor:
    """(B, H, W) bool eroded by a per-sample radius."""
    return ~dilate(~mask, radius, max_radius)


def _grow_once(mask: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool dilated by one pixel (3x3 square); outside the canvas counts as background.

    Separable logical ORs of shifted views: on the CPU about 30x cheaper than the equivalent
    ``max_pool2d`` on floats, and the same on a GPU (no host sync)."""
    p = F.pad(mask, (1, 1, 1, 1), value=False)
    rows = p[:, :, :-2] | p[:, :, 1:-1] | p[:, :, 2:]
    return rows[:, :-2] | rows[:, 1:-1] | rows[:, 2:]


def _shrink_once(mask: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool eroded by one pixel (3x3 square); outside the canvas counts as background."""
    p = F.pad(mask, (1, 1, 1, 1), value=False)
    rows = p[:, :, :-2] & p[:, :, 1:-1] & p[:, :, 2:]
    return rows[:, :-2] & rows[:, 1:-1] & rows[:, 2:]


def depth_map(mask: torch.Tensor, iterations: int = 24) -> torch.Tensor:
    """Chessboard distance (pixels) to the nearest background pixel, capped at ``iterations``.

    (B, H, W) bool -> (B, H, W) float. The canvas border counts as background.
    """
    x = mask.bool()
    depth = torch.zeros(mask.shape, dtype=torch.uint8, device=mask.device)
    for _ in range(iterations):
        if x.device.type == "cpu" and not x.any():  # early exit only where it costs no device sync
            break
        depth += x
        x = _shrink_once(x)
    return depth.float()
