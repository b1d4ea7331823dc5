"""Keep what the starting nets do where they already work: distillation toward a frozen copy.

Fine-tuning the shipped nets on real CT/MR structures teaches real boundaries, and costs them the
blob-like objects they were good at (nuclei: docs/research/training/cpu_sweep_2026-11-30). A synthetic
share with ground-truth targets does not prevent it: even synthetic-only fine-tuning moves the
robot's correction rounds (interaction_regime.md), because the simulated sessions do not pin down
what the robot's rounds lean on.

``--distill W`` adds a second stream to every step: synthetic volumes (a share of them textured,
``--distill-texture``) whose target is the *starting* net's own output on the same input, for the
states the learning net visits itself (its own clicks and crops, its own propagated masks).
The step's loss is ``ground-truth loss on the main stream + W x distillation loss``. With the
main stream all real, the net learns real structures and is held to its old answers elsewhere.

The teacher is a frozen deep copy of the net as loaded (after ``--resume``), in eval mode.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..data.synthetic import SyntheticConfig


def frozen_teacher(net: nn.Module) -> nn.Module:
    """A frozen copy of ``net`` in eval mode (its BatchNorm statistics as they are now)."""
    teacher = copy.deepcopy(net).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def soft_bce(logits: torch.Tensor, teacher_logits: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample mean BCE against the teacher's probabilities, averaged (weighted by ``weight``).

    logits, teacher_logits: (B, ...) with the same shape; weight: (B,) or None. It is the
    pixel-wise KL divergence plus the teacher's entropy, so its gradient is exactly zero where the
    net answers as the teacher does (a Dice term would keep sharpening the masks).
    """
    t = torch.sigmoid(teacher_logits.detach().float())
    per = F.binary_cross_entropy_with_logits(logits.float(), t, reduction="none").flatten(1).mean(1)
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp_min(1e-6)


def distill_bank(args, shape: tuple[int, int, int], device, gen):
    """The synthetic-only volume bank of the distillation stream (``--bank`` entries; None without ``--distill``)."""
    if args.distill <= 0:
        return None
    if not args.bank:
        raise SystemExit("--distill needs --bank (its volumes are served from a bank of their own)")
    from .bank import VolumeBank

    return VolumeBank(args.bank, shape, device, gen, args.refresh_batch, config=SyntheticConfig(object_texture_p=args.distill_texture))


def distill_record(args, bank) -> dict:
    """What the training record says about the distillation stream ({} without one)."""
    if bank is None:
        return {}
    return {
        "distill": {
            "weight": args.distill,
            "batch": distill_batch(args),
            "texture": args.distill_texture,
            "teacher": "the starting weights of this run, frozen",
            "volumes_generated": dict(bank.generated),
        }
    }


def distill_batch(args) -> int:
    """Volumes (propagation) or slices (interaction) per step of the distillation stream."""
    return args.distill_batch if args.distill_batch > 0 else args.batch
