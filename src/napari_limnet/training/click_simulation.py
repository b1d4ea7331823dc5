"""Batched click simulation for training, in the spirit of the robot user (docs/design.md).

- First click: positive, at the point of the target farthest from its boundary (or, for
  variety, a random interior point).
- Later clicks: on the larger error (false negative vs false positive, judged by how deep
  the error region is), at its deepest point: positive on a false negative, negative on a
  false positive. This is what RITM / nnInteractive do with the net's own errors.
"""

from __future__ import annotations

import torch

from .batch_ops import depth_map


def _argmax_point(score: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, 2) float (y, x) of the maximum."""
    b, h, w = score.shape
    idx = score.flatten(1).argmax(1)
    return torch.stack([(idx // w).float(), (idx % w).float()], 1)


def first_click(target: torch.Tensor, gen: torch.Generator, exact_p: float = 0.5) -> torch.Tensor:
    """(B, H, W) bool -> (B, 2) positive click inside each target (centre of the image if empty)."""
    depth = depth_map(target)
    jitter = torch.rand(target.shape, generator=gen, device=target.device)
    exact = torch.rand(target.shape[0], generator=gen, device=target.device) < exact_p
    # exact: deepest point (ties broken at random); else: a random point at >= 40% of the max depth
    max_d = depth.flatten(1).amax(1).view(-1, 1, 1)
    loose = (depth >= 0.4 * max_d) & target
    score = torch.where(exact.view(-1, 1, 1), depth + 0.01 * jitter, loose.float() * (1 + jitter))
    return _argmax_point(score)


def error_click(
    pred: torch.Tensor, target: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Next corrective click from the current prediction.

    pred, target: (B, H, W) bool. Returns (points (B, 2), positive (B,) bool, has_error (B,) bool).
    """
    fn = target & ~pred
    fp = pred & ~target
    d_fn, d_fp = depth_map(fn), depth_map(fp)
    jitter = 0.01 * torch.rand(target.shape, generator=gen, device=target.device)
    m_fn = d_fn.flatten(1).amax(1)
    m_fp = d_fp.flatten(1).amax(1)
    positive = m_fn >= m_fp
    score = torch.where(positive.view(-1, 1, 1), d_fn, d_fp) + jitter
    has_error = torch.maximum(m_fn, m_fp) > 0
    return _argmax_point(score), positive, has_error


class ClickSet:
    """Clicks of a batch as padded tensors: points (B, K, 2), positive (B, K), valid (B, K)."""

    def __init__(self, batch: int, device):
        self.points = torch.zeros(batch, 0, 2, device=device)
        self.positive = torch.zeros(batch, 0, dtype=torch.bool, device=device)
        self.valid = torch.zeros(batch, 0, dtype=torch.bool, device=device)

    def add(self, points: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor) -> None:
        self.points = torch.cat([self.points, points.unsqueeze(1)], 1)
        self.positive = torch.cat([self.positive, positive.unsqueeze(1)], 1)
        self.valid = torch.cat([self.valid, valid.unsqueeze(1)], 1)

    def of_kind(self, positive: bool) -> torch.Tensor:
        """Validity (B, K) of the positive or the negative clicks."""
        return self.valid & (self.positive if positive else ~self.positive)
