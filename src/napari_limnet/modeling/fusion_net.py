"""MRF slice selector: is the previous round's mask on this slice better than the new one?

LIM-Net's multi-round result fusion is a whole-slice choice, not pixel blending: per slice, a
CNN looks at the image with the old and the new mask and gives P(old is better). The caller
keeps the old mask when P > tau. We add the slice's distance (in slices) to each round's
interacted slice, since propagated masks degrade with distance.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBNReLU, ResBlock

#: Image channels, in order.
FUSION_CHANNELS = ("image", "old_mask", "new_mask")
#: Scalar features, in order (see :func:`distance_features`).
FUSION_SCALARS = ("old_distance", "new_distance", "old_area", "new_area")


def distance_features(
    old_distance: torch.Tensor, new_distance: torch.Tensor, old_mask: torch.Tensor, new_mask: torch.Tensor
) -> torch.Tensor:
    """Scalar features (B, 4) from slice distances (B,) and masks (B, 1, S, S).

    Distances are squashed to [0, 1) with d / (d + 8) so the net sees the same range at any depth.
    """
    squash = lambda d: d.float() / (d.float() + 8.0)  # noqa: E731
    return torch.stack(
        [
            squash(old_distance),
            squash(new_distance),
            old_mask.float().mean(dim=(1, 2, 3)),
            new_mask.float().mean(dim=(1, 2, 3)),
        ],
        dim=1,
    )


class FusionNet(nn.Module):
    """(B, 3, S, S) image/old/new + (B, 4) scalars -> (B,) logit of P(old mask is better)."""

    def __init__(self, width: int = 24):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            ConvBNReLU(len(FUSION_CHANNELS), w, stride=2),
            ResBlock(w, 2 * w, stride=2),
            ResBlock(2 * w, 4 * w, stride=2),
            ResBlock(4 * w, 4 * w, stride=2),
        )
        self.head = nn.Sequential(
            nn.Linear(8 * w + len(FUSION_SCALARS), 64), nn.ReLU(inplace=True), nn.Linear(64, 1)
        )

    def forward(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        f = self.features(images)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3)), scalars], dim=1)
        return self.head(pooled).squeeze(1)
