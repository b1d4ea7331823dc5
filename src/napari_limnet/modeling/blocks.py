"""Small convolutional building blocks shared by the three LIM-Net networks."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ConvBNReLU(nn.Sequential):
    """3x3 (or kxk) convolution, batch norm, ReLU. Keeps H and W unless ``stride`` > 1."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 3):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two ConvBNReLU layers: (B, c_in, H, W) -> (B, c_out, H/stride, W/stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__(ConvBNReLU(c_in, c_out, stride=stride), ConvBNReLU(c_out, c_out))


class ResBlock(nn.Module):
    """Residual block: (B, c_in, H, W) -> (B, c_out, H/stride, W/stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = ConvBNReLU(c_in, c_out, stride=stride)
        self.conv2 = nn.Sequential(
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.skip(x), inplace=True)


class UpBlock(nn.Module):
    """Upsample x2, concatenate a skip, DoubleConv.

    (B, c_in, H, W) + skip (B, c_skip, 2H, 2W) -> (B, c_out, 2H, 2W).
    """

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.conv = DoubleConv(c_in + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
