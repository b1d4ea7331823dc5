"""Click encoding: click positions -> disk maps the networks read.

Clicks are given as (y, x) in crop pixel coordinates. A click becomes a filled disk of radius
:data:`CLICK_RADIUS` crop pixels; several clicks of one kind are combined with max.
"""

from __future__ import annotations

import numpy as np
import torch

CLICK_RADIUS = 4.0


def click_maps(points: torch.Tensor, valid: torch.Tensor, size: int, radius: float = CLICK_RADIUS) -> torch.Tensor:
    """Batched disk maps.

    points: (B, K, 2) float (y, x) crop coordinates; valid: (B, K) bool (padding = False).
    Returns (B, 1, size, size) float in {0, 1}.
    """
    b, k, _ = points.shape
    coords = torch.arange(size, device=points.device, dtype=torch.float32)
    if k == 0:
        return torch.zeros(b, 1, size, size, device=points.device)
    dy = coords.view(1, 1, size, 1) - points[..., 0].float().view(b, k, 1, 1)
    dx = coords.view(1, 1, 1, size) - points[..., 1].float().view(b, k, 1, 1)
    inside = (dy * dy + dx * dx) <= radius * radius
    inside = inside & valid.view(b, k, 1, 1)
    return inside.any(dim=1, keepdim=True).float()


def click_map(points_yx: np.ndarray, size: int, radius: float = CLICK_RADIUS) -> torch.Tensor:
    """One (size, size) disk map from (N, 2) crop coordinates (N may be 0)."""
    p = torch.as_tensor(np.asarray(points_yx, dtype=np.float32).reshape(1, -1, 2))
    valid = torch.ones(p.shape[:2], dtype=torch.bool)
    return click_maps(p, valid, size, radius)[0, 0]


def deepest_point(region: np.ndarray) -> tuple[int, int]:
    """(y, x) of the maximum of the 2D EDT of a bool region (image edges count as boundary)."""
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(y), int(x)
