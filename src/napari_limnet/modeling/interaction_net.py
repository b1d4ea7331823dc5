"""Interaction network: clicks on one slice -> 2D mask logits (the 'prompt mask').

A small U-Net. It always sees an object-centred crop resized to a fixed size (128 x 128 by
default), never the whole slice, so its cost does not depend on the slice size.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import DoubleConv, UpBlock

#: Input channels, in order: normalised image, positive click map, negative click map,
#: the slice's current mask (zeros when there is none).
INTERACTION_CHANNELS = ("image", "positive", "negative", "previous_mask")


class InteractionNet(nn.Module):
    """U-Net: (B, 4, S, S) float -> (B, 1, S, S) mask logits.

    Channels of the input are :data:`INTERACTION_CHANNELS`. ``S`` must be divisible by 8.
    """

    def __init__(self, widths: tuple[int, int, int, int] = (24, 48, 96, 192)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.widths = tuple(widths)
        self.enc1 = DoubleConv(len(INTERACTION_CHANNELS), w1)
        self.enc2 = DoubleConv(w1, w2, stride=2)
        self.enc3 = DoubleConv(w2, w3, stride=2)
        self.enc4 = DoubleConv(w3, w4, stride=2)
        self.up3 = UpBlock(w4, w3, w3)
        self.up2 = UpBlock(w3, w2, w2)
        self.up1 = UpBlock(w2, w1, w1)
        self.head = nn.Conv2d(w1, 1, 1)
        # Start close to "nothing selected" so untrained outputs are not all-foreground.
        nn.init.constant_(self.head.bias, -2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 4, S, S) -> logits (B, 1, S, S)."""
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.up3(e4, e3)
        d2 = self.up2(d3, e2)
        d1 = self.up1(d2, e1)
        return self.head(d1)
