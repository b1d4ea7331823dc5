"""Intensity normalisation that works for uint8 MRI, int16 CT (HU), uint16 microscopy and floats.

Every crop is mapped to roughly [0, 1] by a robust window (low and high percentiles). During a
propagation the window of the interacted slice's crop is reused for every slice, so that an
intensity means the same thing all along the stack. Training uses the same functions.
"""

from __future__ import annotations

import torch

LOW_QUANTILE = 0.005
HIGH_QUANTILE = 0.995
#: Normalised values are clipped to this range so outliers (metal in CT, hot pixels) stay bounded.
CLIP = (-1.0, 2.0)


def intensity_window(crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Robust (low, high) per sample.

    crops: (B, ...) float -> (low (B,), high (B,)), with high > low even on constant crops.
    """
    flat = crops.reshape(crops.shape[0], -1).float()
    if flat.shape[1] > 16384:  # quantile cost grows with size; a strided sample is enough
        flat = flat[:, :: flat.shape[1] // 16384 + 1]
    if flat.device.type == "cpu":
        q = torch.quantile(flat, torch.tensor([LOW_QUANTILE, HIGH_QUANTILE]), dim=1)
        low, high = q[0], q[1]
    else:  # the same linear-interpolation quantiles without torch.quantile's device-to-host check
        low, high = _sorted_quantiles(flat, (LOW_QUANTILE, HIGH_QUANTILE))
    span = high - low
    tiny = span <= 1e-6 * (low.abs() + 1.0)
    high = torch.where(tiny, low + 1.0, high)
    return low, high


def _sorted_quantiles(flat: torch.Tensor, qs: tuple[float, ...]) -> list[torch.Tensor]:
    """Per-row linear-interpolation quantiles of (B, N), as torch.quantile computes them, with no sync."""
    ordered = flat.sort(dim=1).values
    n = flat.shape[1]
    out = []
    for q in qs:
        pos = q * (n - 1)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo
        out.append(ordered[:, lo] + (ordered[:, hi] - ordered[:, lo]) * frac)
    return out


def apply_window(crops: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """(B, ...) raw intensities -> normalised float32, clipped to :data:`CLIP`."""
    shape = (-1,) + (1,) * (crops.ndim - 1)
    x = (crops.float() - low.view(shape)) / (high - low).view(shape)
    return x.clamp_(*CLIP)


def quartiles(values: torch.Tensor) -> tuple[float, float, float]:
    """(q25, median, q75) of a 1D tensor of intensities."""
    q = torch.quantile(values.float(), torch.tensor([0.25, 0.5, 0.75], device=values.device))
    return float(q[0]), float(q[1]), float(q[2])
