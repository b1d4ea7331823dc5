"""The three LIM-Net networks (weights only; no run state)."""

from .fusion_net import FusionNet
from .interaction_net import InteractionNet
from .propagation_net import PropagationNet
from .weights import LimNetModels

__all__ = ["FusionNet", "InteractionNet", "PropagationNet", "LimNetModels"]
