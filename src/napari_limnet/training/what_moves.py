"""Which parts of a network learn during fine-tuning, and switching to eval mode without losing that.

Independent choices, shared by the training scripts (``--moves``, ``--batchnorm``, ``--optimizer``)
and the adaptation recipes:

- ``moves``: ``"all"`` parameters, only the ``"decoders"`` and heads (:data:`DECODER_PREFIXES`), or
  only the propagation net's ``"presence"`` head (:data:`PRESENCE_PREFIXES`: it decides where a
  propagation stops and cannot change any mask it draws);
- ``batchnorm``: ``"train"`` updates BatchNorm running statistics from every batch, ``"frozen"``
  keeps the starting weights' statistics (the layers stay in eval mode; their affine weights still
  learn when they move). Small CPU batches give noisy statistics, and a net whose statistics drift
  away from the ones its later layers were trained with can collapse;
- ``optimizer``: ``"adamw"`` or momentum ``"sgd"`` (:func:`make_optimizer`).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

#: Parameter-name prefixes that make up the decoders and heads of each net (``moves="decoders"``).
DECODER_PREFIXES = {
    "interaction": ("up3.", "up2.", "up1.", "head."),
    "propagation": ("decoder.", "value_encoder."),
}
#: The "object present" head of the propagation net (``moves="presence"``): a 2-layer MLP on pooled
#: decoder features; the interaction net has none.
PRESENCE_PREFIXES = {"propagation": ("decoder.presence.",)}
MOVES = ("all", "decoders", "presence")
BATCHNORM = ("train", "frozen")
#: ``"sgd"``: momentum SGD, steps in proportion to the gradient; ``"adamw"``: a fresh AdamW, whose
#: first steps are about lr on every weight (docs/research/training/cpu_sweep_2026-11-30/interaction_regime.md).
OPTIMIZERS = ("adamw", "sgd")


def train_mode(net: nn.Module, batchnorm: str = "train") -> nn.Module:
    """``net.train()``, with BatchNorm layers back in eval mode when ``batchnorm == "frozen"``."""
    if batchnorm not in BATCHNORM:
        raise ValueError(f"batchnorm must be one of {BATCHNORM}, not {batchnorm!r}")
    net.train()
    if batchnorm == "frozen":
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    return net


def set_what_moves(net: nn.Module, name: str, moves: str = "all", batchnorm: str = "train") -> list[nn.Parameter]:
    """Put ``net`` (the ``name`` network) in training mode per the two choices; returns the
    parameters that learn (the others get ``requires_grad=False``)."""
    if moves not in MOVES:
        raise ValueError(f"moves must be one of {MOVES}, not {moves!r}")
    if moves == "decoders" and name not in DECODER_PREFIXES:
        raise ValueError(f"the {name} net has no decoder/head split; use moves='all'")
    if moves == "presence" and name not in PRESENCE_PREFIXES:
        raise ValueError(f"the {name} net has no presence head; moves='presence' is for the propagation net")
    train_mode(net, batchnorm)
    prefixes = {"decoders": DECODER_PREFIXES, "presence": PRESENCE_PREFIXES}.get(moves, {}).get(name, ())
    params = []
    for pname, p in net.named_parameters():
        move = moves == "all" or pname.startswith(prefixes)
        p.requires_grad_(move)
        if move:
            params.append(p)
    return params


@contextmanager
def evaluating(net: nn.Module):
    """Eval mode inside the block; every module's own mode (e.g. frozen BatchNorm) restored after."""
    modes = [(m, m.training) for m in net.modules()]
    net.eval()
    try:
        yield net
    finally:
        for m, was in modes:
            m.train(was)


def make_optimizer(params: list, optimizer: str, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    """The optimiser over ``params``: AdamW (weight decay 1e-4) or momentum-0.9 SGD (no weight decay)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-4, fused=fused)
