"""The voxel size (z, y, x) the annotator works at: shown, and editable, in the panel's settings.

Many microscopy TIFFs state no voxel size; napari then shows them at 1 x 1 x 1 and propagation, the
crop windows and the leak cut would work in the wrong units. Editing the fields sets the image
layer's scale (and the plugin layers'), and every session of the image runs its later rounds at the
new size; each committed object records the size its rounds ran at, so saved sessions replay exactly.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtWidgets import QDoubleSpinBox, QHBoxLayout

from .layers import transform_kwargs
from .tooltips import TOOLTIPS


class VoxelSizeMixin:
    def _build_voxel_size(self, form) -> None:
        """Three fields (z, y, x) in the settings form."""
        self.voxel_boxes = []
        row = QHBoxLayout()
        for axis in "zyx":
            box = QDoubleSpinBox()
            box.setDecimals(4)
            box.setRange(1e-4, 1e5)
            box.setValue(1.0)
            box.setToolTip(TOOLTIPS["voxel_size"] + f" This field: {axis}.")
            box.editingFinished.connect(self._on_voxel_size_edited)
            row.addWidget(box)
            self.voxel_boxes.append(box)
        form.addRow("Voxel size z / y / x", row)

    def _show_voxel_size(self) -> None:
        """Fill the fields from the current image (called when an image is picked)."""
        if self._layers is None:
            return
        for box, value in zip(self.voxel_boxes, self._spacing()):
            box.blockSignals(True)
            box.setValue(float(value))
            box.blockSignals(False)

    def voxel_size_unknown(self) -> bool:
        """True when the image's file stated no voxel size (napari shows it at 1 x 1 x 1)."""
        return self._layers is not None and self._layers.image.metadata.get("spacing_known") is False

    def set_voxel_size(self, spacing) -> bool:
        """Work at voxel size ``spacing`` (dz, dy, dx): the layers' scale and every session's later rounds.

        Refused (False, with a message) while a round runs. Returns True when it changed.
        """
        spacing = tuple(float(v) for v in spacing)
        if self._layers is None or np.allclose(spacing, self._spacing(), rtol=1e-6, atol=0):
            return False
        if self.busy:
            self.status.setText("Wait for the round to finish (or cancel it) before changing the voxel size.")
            self._show_voxel_size()
            return False
        layers = self._layers
        image = layers.image
        scale = np.asarray(image.scale, dtype=float)
        scale[-3:] = np.asarray(spacing) / np.asarray(layers.factor[-3:], dtype=float)
        image.scale = scale
        image.metadata["spacing_known"] = True
        new_scale = transform_kwargs(image, layers.factor)["scale"]
        for layer in layers.present().values():
            layer.scale = new_scale
        for sess in self._sessions.values():
            sess.controller.spacing = spacing
        self._show_voxel_size()
        self._show_image_info()
        msg = (f"Voxel size set to {' x '.join(f'{v:g}' for v in spacing)} (z, y, x): later rounds use it, "
               "and saved sessions record it.")
        self.status.setText(msg)
        show_info(msg)
        return True

    def _on_voxel_size_edited(self) -> None:
        self.set_voxel_size([b.value() for b in self.voxel_boxes])
