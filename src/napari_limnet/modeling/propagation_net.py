"""Memory propagation network (STCN/XMem-style, kept small).

One slice at a time, in an object-centred crop of S x S pixels (S = 128 by default):

- the **image encoder** turns the crop into multi-scale features and a *key* at stride 8;
- the **value encoder** turns (image features, mask) of a finished slice into a *value*;
- the **memory read** matches the query key against the keys of the memory slices with a
  top-k softmax over L2 affinities and returns the weighted values;
- the **decoder** turns the readout, the query features and the previous slice's prediction
  (resampled into this crop) into mask logits and an "object present" logit.

The stateful memory (which slices are kept) lives in :mod:`napari_limnet.inference.memory`;
this module only holds the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .blocks import ConvBNReLU, DoubleConv, ResBlock

KEY_DIM = 64
VALUE_DIM = 128


@dataclass
class ImageFeatures:
    """Features of one batch of crops.

    s2: (B, 24, S/2, S/2); s4: (B, 48, S/4, S/4); s8: (B, 128, S/8, S/8);
    key: (B, KEY_DIM, S/8, S/8).
    """

    s2: torch.Tensor
    s4: torch.Tensor
    s8: torch.Tensor
    key: torch.Tensor


class ImageEncoder(nn.Module):
    """(B, 1, S, S) normalised image -> :class:`ImageFeatures`."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBNReLU(1, 24, stride=2)
        self.layer4 = ResBlock(24, 48, stride=2)
        self.layer8 = nn.Sequential(ResBlock(48, 96, stride=2), ResBlock(96, 128))
        self.key_proj = nn.Conv2d(128, KEY_DIM, 1)

    def forward(self, image: torch.Tensor) -> ImageFeatures:
        s2 = self.stem(image)
        s4 = self.layer4(s2)
        s8 = self.layer8(s4)
        return ImageFeatures(s2=s2, s4=s4, s8=s8, key=self.key_proj(s8))


class ValueEncoder(nn.Module):
    """(image (B,1,S,S), mask (B,1,S,S) in [0,1], image features s8) -> value (B, VALUE_DIM, S/8, S/8)."""

    def __init__(self):
        super().__init__()
        self.mask_path = nn.Sequential(
            ConvBNReLU(2, 16, stride=2), ResBlock(16, 32, stride=2), ResBlock(32, 64, stride=2)
        )
        self.fuse = nn.Sequential(ResBlock(64 + 128, VALUE_DIM), ResBlock(VALUE_DIM, VALUE_DIM))

    def forward(self, image: torch.Tensor, mask: torch.Tensor, s8: torch.Tensor) -> torch.Tensor:
        m = self.mask_path(torch.cat([image, mask], dim=1))
        return self.fuse(torch.cat([m, s8], dim=1))


def read_memory(
    query_key: torch.Tensor,
    memory_keys: torch.Tensor,
    memory_values: torch.Tensor,
    top_k: int = 20,
) -> torch.Tensor:
    """Top-k softmax readout over negative squared L2 distance between keys.

    query_key: (B, Ck, h, w); memory_keys: (B, Ck, N); memory_values: (B, Cv, N),
    where N is the number of memory positions (slices x h x w).
    Returns the readout (B, Cv, h, w).
    """
    b, ck, h, w = query_key.shape
    q = query_key.flatten(2)  # (B, Ck, HW)
    # -||k_m - q||^2 up to a per-query constant: 2 k_m.q - ||k_m||^2
    affinity = 2 * torch.einsum("bcn,bcq->bnq", memory_keys, q)
    affinity = affinity - memory_keys.pow(2).sum(1).unsqueeze(2)
    affinity = affinity / (ck**0.5)  # (B, N, HW)
    k = min(top_k, affinity.shape[1])
    top_val, top_idx = torch.topk(affinity, k=k, dim=1)
    weights = torch.softmax(top_val, dim=1)
    sparse = torch.zeros_like(affinity).scatter_(1, top_idx, weights)
    readout = torch.bmm(memory_values, sparse)  # (B, Cv, HW)
    return readout.view(b, memory_values.shape[1], h, w)


class MaskDecoder(nn.Module):
    """Readout + query features + previous prediction -> (mask logits (B,1,S,S), presence logit (B,))."""

    def __init__(self):
        super().__init__()
        self.fuse8 = nn.Sequential(ResBlock(VALUE_DIM + 128 + 1, 128), ResBlock(128, 128))
        self.up4 = DoubleConv(128 + 48 + 1, 64)
        self.up2 = DoubleConv(64 + 24 + 1, 32)
        self.head = nn.Conv2d(32, 1, 3, padding=1)
        self.presence = nn.Sequential(nn.Linear(2 * 128 + 2, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(
        self, feats: ImageFeatures, readout: torch.Tensor, previous_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size = previous_mask.shape[-2:]

        def prev_at(ref: torch.Tensor) -> torch.Tensor:
            return F.adaptive_avg_pool2d(previous_mask, ref.shape[-2:])

        x8 = self.fuse8(torch.cat([readout, feats.s8, prev_at(feats.s8)], dim=1))
        x = F.interpolate(x8, size=feats.s4.shape[-2:], mode="bilinear", align_corners=False)
        x = self.up4(torch.cat([x, feats.s4, prev_at(feats.s4)], dim=1))
        x = F.interpolate(x, size=feats.s2.shape[-2:], mode="bilinear", align_corners=False)
        x = self.up2(torch.cat([x, feats.s2, prev_at(feats.s2)], dim=1))
        logits = F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)
        prev_area = previous_mask.mean(dim=(1, 2, 3))
        pooled = torch.cat(
            [
                x8.mean(dim=(2, 3)),
                x8.amax(dim=(2, 3)),
                prev_area[:, None],
                torch.sigmoid(logits).mean(dim=(1, 2, 3))[:, None],
            ],
            dim=1,
        )
        return logits, self.presence(pooled).squeeze(1)


class PropagationNet(nn.Module):
    """The propagation network's weights. See the module docstring for the data flow."""

    def __init__(self, top_k: int = 20):
        super().__init__()
        self.top_k = top_k
        self.image_encoder = ImageEncoder()
        self.value_encoder = ValueEncoder()
        self.decoder = MaskDecoder()

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """image: (B, 1, S, S) -> ImageFeatures."""
        return self.image_encoder(image)

    def encode_value(self, image: torch.Tensor, mask: torch.Tensor, feats: ImageFeatures) -> torch.Tensor:
        """image, mask: (B, 1, S, S) -> value (B, VALUE_DIM, S/8, S/8)."""
        return self.value_encoder(image, mask, feats.s8)

    def segment(
        self,
        feats: ImageFeatures,
        memory_keys: torch.Tensor,
        memory_values: torch.Tensor,
        previous_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Read memory and decode.

        memory_keys: (B, Ck, N); memory_values: (B, Cv, N); previous_mask: (B, 1, S, S) in [0,1].
        Returns mask logits (B, 1, S, S) and the object-present logit (B,).
        """
        readout = read_memory(feats.key, memory_keys, memory_values, self.top_k)
        return self.decoder(feats, readout, previous_mask)
