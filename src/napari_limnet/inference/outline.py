"""How well a mask's outline sits on an image edge, in an interaction-net crop.

The first-click rules of :mod:`.prompt` compare windows and passes by this contrast.
"""

from __future__ import annotations

import torch

from .intensity import quartiles

#: A larger window's mask may also show its clear edge on the crop averaged over this many pixels
#: square (boundary_contrast's ``smooth``): a textured nucleus's outline is a clear step at that
#: scale while its chromatin spreads the raw intensities inside (contrast 0.2-1.2 raw, 1.1-1.7 averaged).
TEXTURE_SMOOTH = 5


def boundary_contrast(image: torch.Tensor, mask: torch.Tensor, smooth: int = 0, inside_slice: torch.Tensor | None = None) -> float:
    """How well a mask's outline sits on an image edge, in a (S, S) crop.

    |median inside - median of a 3-pixel ring outside| over the two inter-quartile ranges. A blob
    drawn inside a uniform region (no edge to follow) scores near 0.

    ``smooth`` (odd k > 1): the same on the crop averaged over k x k pixels, with the inside eroded
    and the ring moved out by k // 2 pixels so that no average straddles the outline. Fine texture
    (chromatin in a nucleus) inflates the inter-quartile ranges of the raw crop; the averages keep
    the step across the outline and lose the texture.

    ``inside_slice``: (S, S) bool, the crop pixels that show the slice (``CropBox.inside_crop``);
    when given, both sides are measured there only, never on the padding past the image edge.
    """
    inside = mask > 0.5
    if smooth > 1:
        r = smooth // 2
        image = torch.nn.functional.avg_pool2d(image[None, None], smooth, 1, r, count_include_pad=False)[0, 0]
        grown = torch.nn.functional.max_pool2d(inside[None, None].float(), 2 * r + 1, 1, r)[0, 0].bool()
        core = -torch.nn.functional.max_pool2d(-inside[None, None].float(), 2 * r + 1, 1, r)[0, 0] > 0.5
        far = torch.nn.functional.max_pool2d(inside[None, None].float(), 2 * r + 7, 1, r + 3)[0, 0].bool()
        inside, ring = core, far & ~grown
    else:
        ring = torch.nn.functional.max_pool2d(inside[None, None].float(), 7, 1, 3)[0, 0].bool() & ~inside
    if inside_slice is not None:
        inside, ring = inside & inside_slice, ring & inside_slice
    if inside.sum() < 4 or ring.sum() < 4:
        return 0.0
    a25, a50, a75 = quartiles(image[inside])
    b25, b50, b75 = quartiles(image[ring])
    return abs(a50 - b50) / (a75 - a25 + b75 - b25 + 1e-3)


def outline_contrast(image: torch.Tensor, drawn: torch.Tensor, averaged: bool, inside_slice: torch.Tensor | None = None) -> float:
    """boundary_contrast of a (S, S) mask on its crop; with ``averaged``, the larger of raw and averaged.

    ``inside_slice``: see :func:`boundary_contrast` (None = the whole crop counts).
    """
    contrast = boundary_contrast(image, drawn, inside_slice=inside_slice)
    if averaged:
        contrast = max(contrast, boundary_contrast(image, drawn, smooth=TEXTURE_SMOOTH, inside_slice=inside_slice))
    return contrast
