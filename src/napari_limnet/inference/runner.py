"""Runs the networks for inference: device placement, no-grad, memory layout, precision.

Everything that touches a network at run time goes through :class:`NetRunner`, so the
optimisations (inference mode, channels_last, bf16 autocast where the CPU supports it) live in
one place and the stateful code never sees them.

**One device per run.** The runner is the only boundary between the host (numpy, CPU tensors
made from the volume) and the models' device (CPU, CUDA or MPS):

- every input enters through :meth:`NetRunner.to_device`;
- every result that host code reads (logits, presence, MRF scores) leaves through
  :meth:`NetRunner.to_host`, as float32 on the CPU;
- device-resident intermediates (:class:`ImageFeatures`, memory values) are opaque to host code
  and only ever passed back into the runner.

``tests/test_device.py`` checks this on the CPU with a guard that treats these two methods as
the device crossing and fails on any tensor operation that mixes the two sides.
"""

from __future__ import annotations

import contextlib

import torch

from ..modeling.optimize import fold_batch_norms
from ..modeling.propagation_net import ImageFeatures
from ..modeling.weights import LimNetModels


def _inference_nets(models: LimNetModels, fold_bn: bool, channels_last: bool):
    """Inference copies of the three nets, built once per models object and option set."""
    cache = models.inference_copies
    key = (fold_bn, channels_last)
    if key not in cache:
        nets = []
        for net in (models.interaction, models.propagation, models.fusion):
            net = fold_batch_norms(net) if fold_bn else net
            if channels_last:
                net = net.to(memory_format=torch.channels_last)
            nets.append(net.eval())
        cache[key] = tuple(nets)
    return cache[key]


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 dot products (AVX512-BF16 / AMX), where autocast pays."""
    cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else ""
    if "AMX" in cap:
        return True
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


class NetRunner:
    """Inference wrapper around :class:`LimNetModels`.

    precision: 'fp32', 'bf16' or 'auto' (bf16 on CUDA and on CPUs with native bf16, else fp32).
    fold_bn: run copies of the nets with BatchNorm folded into the convolutions.
    channels_last: NHWC memory layout (faster convolutions on CPU and CUDA).
    All outputs are float32 on the models' device. The training weights are never modified.
    """

    def __init__(self, models: LimNetModels, precision: str = "fp32", fold_bn: bool = True, channels_last: bool = True):
        if precision not in ("fp32", "bf16", "auto"):
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto', got {precision!r}")
        self.models = models
        self.device = models.device
        self.precision_requested = precision
        if precision == "auto":
            precision = "bf16" if (self.device.type == "cuda" or cpu_supports_bf16()) else "fp32"
        self.precision = precision
        self.channels_last = channels_last and self.device.type in ("cpu", "cuda")
        self.interaction_net, self.propagation_net, self.fusion_net = _inference_nets(models, fold_bn, self.channels_last)

    def _autocast(self):
        if self.precision == "bf16" and self.device.type in ("cpu", "cuda"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Host tensor -> float32 on the models' device (channels_last for 4D inputs)."""
        x = x.to(self.device, dtype=torch.float32)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def to_host(self, x: torch.Tensor) -> torch.Tensor:
        """Device result -> contiguous float32 CPU tensor (the only way results leave the runner)."""
        return x.detach().float().cpu().contiguous()

    @torch.inference_mode()
    def interaction(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) host tensor -> logits (B, 1, S, S), float32 on the CPU."""
        with self._autocast():
            return self.to_host(self.interaction_net(self.to_device(x)))

    @torch.inference_mode()
    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """(B, 1, S, S) normalised host crops -> ImageFeatures (device-resident, opaque to host code)."""
        with self._autocast():
            return self.propagation_net.encode_image(self.to_device(image))

    @torch.inference_mode()
    def encode_value(self, image: torch.Tensor, mask: torch.Tensor, feats: ImageFeatures) -> torch.Tensor:
        """image, mask (B, 1, S, S) host tensors -> value (B, Cv, S/8, S/8) float32 on the device."""
        with self._autocast():
            return self.propagation_net.encode_value(self.to_device(image), self.to_device(mask), feats).float()

    @torch.inference_mode()
    def segment(
        self, feats: ImageFeatures, memory_keys: torch.Tensor, memory_values: torch.Tensor, previous: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory read + decode -> (logits (B, 1, S, S), presence logit (B,)), float32 on the CPU.

        ``feats`` and the memory (keys, values) are device tensors made by this runner;
        ``previous`` is a host tensor (B, 1, S, S).
        """
        with self._autocast():
            logits, presence = self.propagation_net.segment(feats, memory_keys, memory_values, self.to_device(previous))
        return self.to_host(logits), self.to_host(presence)

    @torch.inference_mode()
    def fusion(self, images: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S), (B, 4) host tensors -> P(old mask is better) (B,) float32 on the CPU."""
        with self._autocast():
            return self.to_host(torch.sigmoid(self.fusion_net(self.to_device(images), self.to_device(scalars)).float()))
