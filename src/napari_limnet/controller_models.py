"""Model switching of :class:`~napari_limnet.controller.LimNetController`: device and networks.

A mixin (it relies on the controller's ``models``, ``models_given``, ``_runner``, ``_lock`` and
``_prompt_cache``). Switching keeps every round: the run state lives on the host.
"""

from __future__ import annotations

from .inference.runner import NetRunner
from .modeling.weights import LimNetModels, resolve_device, shipped_models


class ModelSwitchingMixin:
    @property
    def _shipped(self) -> bool:
        return self.models_given is None

    @property
    def device(self):
        """The device the networks run on (torch.device)."""
        return self.models.device

    def set_device(self, device) -> None:
        """Run the following rounds on ``device`` ('cpu', 'cuda', 'mps'), keeping every round so far.

        The run state (masks, clicks, undo history) lives on the host, so nothing is lost; after a
        device error (out of memory, a lost GPU) the caller can switch to 'cpu' and redo the round.
        Raises ValueError when the device is not available, and then changes nothing.
        """
        with self._lock:
            dev = resolve_device(device)
            # always a fresh runner, also on the same device: the old one may have failed mid-round
            if dev == self.models.device:
                models = self.models
            elif self._shipped:
                models = shipped_models(dev)
            else:  # caller-given networks: a copy on the new device
                models = self.models.copy_to(dev)
            self._runner = NetRunner(models, self._runner.precision_requested)
            self.models = models
            self._prompt_cache = None

    def use_models(self, models: LimNetModels | None) -> None:
        """Run the following rounds with ``models`` (None = the shipped ones), keeping every round.

        For networks adapted to this image (:func:`napari_limnet.adaptation.adapt`): switching
        changes no mask; each later round records the digest of the networks that made it.
        """
        with self._lock:
            device = self.models.device
            self.models_given = models
            if models is None:
                models = shipped_models(device)
            elif models.device != device:  # adapted nets live on the CPU; follow the controller's device
                models = models.copy_to(device)
            self._runner = NetRunner(models, self._runner.precision_requested)
            self.models = models
            self._prompt_cache = None
