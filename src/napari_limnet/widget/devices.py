"""Which device rounds run on: a test pass before a device is offered, a CPU rerun after a device error.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

from napari.utils.notifications import show_warning



class DeviceMixin:
    @property
    def device(self) -> str:
        return self.device_combo.currentText() or "cpu"

    def _on_device_selected(self) -> None:
        """Offer a device only once a tiny forward pass runs on it; keep every round when switching."""
        from ..modeling.weights import check_device

        dev = self.device
        if dev not in self._device_ok:
            problem = check_device(dev)
            if problem is not None:
                show_warning(f"{problem}. Staying on the CPU.")
                self._disable_device(dev)
                dev = "cpu"
            else:
                self._device_ok.add(dev)
        self._switch_to(dev)
        self.status.setText(f"Rounds now run on {dev}.")

    def _switch_to(self, dev: str) -> None:
        """Show ``dev`` in the combo (without re-triggering the selection) and run every session's
        later rounds there (each keeps all its rounds)."""
        self.device_combo.blockSignals(True)
        self.device_combo.setCurrentText(dev)
        self.device_combo.blockSignals(False)
        for sess in self._sessions.values():
            sess.set_device(dev)

    def _disable_device(self, dev: str) -> None:
        i = self.device_combo.findText(dev)
        if i >= 0:
            self.device_combo.model().item(i).setEnabled(False)

    def rerun_on_cpu(self) -> None:
        """After a device error: switch to the CPU (keeping every round) and redo the failed round."""
        failed, self._failed_round = self._failed_round, None
        self.rerun_cpu_button.setVisible(False)
        self._switch_to("cpu")  # a fresh runner on the CPU; every round is kept
        if failed is not None:
            z, pos, neg, prompts = failed
            self._start_round(z, pos, neg, **prompts)
