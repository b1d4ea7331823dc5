"""Which image the annotator works on: per-image state, levels, voxel coordinates, sessions, plugin layers.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_warning

from typing import TYPE_CHECKING

from .layers import PluginLayers
from .state import existing_state, forget, state_for

if TYPE_CHECKING:
    from ..annotation_session import AnnotationSession

#: The order the plugin's layers are added in (clicks land on the prompts layer, the next round's
#: result needs the current object), and the pause between two (ms) that lets napari paint.
LAYER_TURNS = ("prompts", "current object", "boxes", "committed", "scribbles")
LAYER_TURN_MS = 30


class ImageMixin:
    @property
    def _layers(self) -> PluginLayers | None:
        return self._state.layers if self._state is not None else None

    @property
    def layers(self) -> PluginLayers | None:
        """The plugin's layers of the current image (prompts, scribbles, current object, committed)."""
        return self._layers

    @property
    def _sessions(self) -> "dict[tuple, AnnotationSession]":
        return self._state.sessions if self._state is not None else {}

    @property
    def _shown(self) -> dict[tuple, set[int]]:
        return self._state.shown if self._state is not None else {}

    def _image_layers(self):
        return [
            lay for lay in self.viewer.layers
            if lay.__class__.__name__ == "Image" and not lay.metadata.get("limnet_role")
        ]

    def _refresh_images(self, *_):
        current = self.image_combo.currentText()
        names = [lay.name for lay in self._image_layers()]
        self.image_combo.blockSignals(True)
        self.image_combo.clear()
        self.image_combo.addItems(names)
        if current in names:
            self.image_combo.setCurrentIndex(names.index(current))
        self.image_combo.blockSignals(False)
        if self._layers is None or self._layers.image.name != self.image_combo.currentText():
            self._select_image()

    @property
    def image(self):
        name = self.image_combo.currentText()
        return next((lay for lay in self._image_layers() if lay.name == name), None)

    def _image_problem(self, image) -> str | None:
        """A message for images LIM-Net cannot segment, else None."""
        if image is None:
            return "Open or pick a 3D image."
        if getattr(image, "rgb", False):
            return f"'{image.name}' is an RGB(A) image; LIM-Net segments single-channel volumes. Convert it to grayscale first."
        ndim = image.ndim
        if ndim < 3:
            return f"'{image.name}' is 2D; LIM-Net needs a 3D (Z, Y, X) volume."
        if ndim > 4:
            return f"'{image.name}' has {ndim} dimensions; select a single channel (3D or time-series 4D) first."
        return None

    def _select_image(self) -> None:
        """Show the annotator for the image picked in the combo; each image keeps its own state."""
        self._cancel_worker()
        self._pending.clear()
        image = self.image
        problem = self._image_problem(image)
        if problem:
            self._state = None
            self.info.setText(problem)
            self._set_actions_enabled(False)
            if image is not None and id(image) not in self._warned_images:  # once per image, not at every layer change
                show_warning(problem)
                self._warned_images.add(id(image))
            return
        level = self._sync_levels(image)
        existing = existing_state(self.viewer, image, level)
        try:
            self._state = existing if existing is not None else state_for(self.viewer, image, level)
        except ValueError as err:
            self._state = None
            self.info.setText(str(err))
            self._set_actions_enabled(False)
            show_warning(str(err))
            return
        self._set_actions_enabled(True)
        self._wire_layers()  # the layers already there (the dock was re-opened); the others come in turns
        shape = self._layers.shape
        self.z_high.setValue(shape[-3] - 1)
        self._show_image_info()
        self._show_voxel_size()
        self.status.setText(self._ready_text())
        prompts = self._layers.present().get("prompts")
        if prompts is not None:
            self.viewer.layers.selection.active = prompts
        if existing is None:
            self._offer_autosave()
        else:  # back to an image with a session: show exactly what it has
            self.restore_button.setVisible(False)
            sess = self._sessions.get(self._lead())
            if sess is not None:
                self._show_current(sess, self._lead())
        self._update_undo_label()
        self._add_layers_in_turns(self._layers)

    def _add_layers_in_turns(self, layers) -> None:
        """Create the missing plugin layers of ``layers``, one per event-loop turn.

        napari takes 0.1-0.3 s to add one layer under software rendering (its visuals, overlays and
        a repaint); adding all five at once froze the dock's opening for over a second. The first
        turn waits for the libraries napari imports for them (:mod:`.layer_imports`, in a thread).
        The prompts layer comes first and becomes the active layer. An action that needs a layer
        before its turn creates it on the spot (the accessors do).
        """
        from qtpy.QtCore import QTimer

        from . import layer_imports

        layer_imports.start()

        def next_layer():
            if not self._usable() or self._layers is not layers or layers.image not in self.viewer.layers:
                if self._layer_turns is layers:  # another image's turns may have started: theirs to clear
                    self.adding_layers = False
                return
            if not layer_imports.ready():
                QTimer.singleShot(LAYER_TURN_MS, next_layer)
                return
            missing = [role for role in LAYER_TURNS if role in layers.missing()]
            if missing:
                made = layers.ensure(missing[0])
                self._wire_layers()
                if missing[0] == "prompts" and self._layers is layers:
                    self.viewer.layers.selection.active = made
            self.adding_layers = len(missing) > 1
            if self.adding_layers:
                QTimer.singleShot(LAYER_TURN_MS, next_layer)

        self._layer_turns = layers
        self.adding_layers = True
        QTimer.singleShot(LAYER_TURN_MS, next_layer)

    def _ready_text(self) -> str:
        """The status line once an image is picked (a sample's suggested click, where it has one)."""
        from .keys import KEYS

        image = self._layers.image
        text = (f"Click on the object in '{image.name}' (positive; [{KEYS['toggle']}] switches to negative), "
                "or draw a rectangle in '... boxes'.")
        hint = image.metadata.get("sample_click")
        if hint is not None and len(hint) == 3:
            z, y, x = (int(v) for v in hint)
            text += f" For this sample, try slice {z}, y {y}, x {x} (the slider is at slice {self._current_z()})."
        return text

    def _show_image_info(self) -> None:
        """The info line: name, level, shape, voxel size (and a hint when the file gave none)."""
        image, shape, sp = self._layers.image, self._layers.shape, self._spacing()
        lvl = f" (level {self._layers.level} of {len(image.data)})" if image.multiscale else ""
        text = f"{image.name}{lvl}: {'x'.join(map(str, shape))}, voxel {sp[0]:g} x {sp[1]:g} x {sp[2]:g}"
        if self.voxel_size_unknown():
            text += " (the file states no voxel size: set it under Settings > Voxel size)"
        self.info.setText(text)

    def _wire_layers(self) -> None:
        """Connect this widget to the plugin's layers that are in the viewer (once per layer object)."""
        for role, layer in self._layers.present().items():
            if id(layer) in self._wired:
                continue
            connections = []
            if role == "prompts":
                connections.append((layer.events.data, self._on_points_changed))
            elif role == "scribbles":
                connections.append((layer.events.paint, self._on_paint))
            elif role == "boxes":
                connections.append((layer.events.data, self._on_boxes_changed))
            for signal, slot in connections:
                signal.connect(slot)
            self._bind_keys(layer)
            self._wired[id(layer)] = (layer, connections)

    def _data_point(self) -> np.ndarray:
        """The viewer's current position in voxel coordinates of the annotated level."""
        image = self._layers.image
        return self._layers.world_to_index(np.asarray(self.viewer.dims.point)[-image.ndim :])

    def _geometry(self):
        """The annotated level's geometry (:class:`~napari_limnet.io.geometry.Geometry`): the image layer's
        scale (times the level's factor), translate, rotate, shear and extra affine."""
        from ..io.geometry import Geometry

        image = self._layers.image
        return Geometry.from_layer(self._spacing(), image.translate, image.rotate, image.shear,
                                   image.affine.affine_matrix)

    def _spacing(self) -> tuple[float, float, float]:
        """Voxel size (dz, dy, dx) of the annotated level."""
        return tuple(float(s) * float(f) for s, f in zip(self._layers.image.scale[-3:], self._layers.factor[-3:]))

    def _sync_levels(self, image) -> int:
        """Offer the levels of a multiscale image in the settings; returns the chosen one."""
        self.level_combo.blockSignals(True)
        current = max(0, self.level_combo.currentIndex())
        self.level_combo.clear()
        if image.multiscale:
            for i, d in enumerate(image.data):
                self.level_combo.addItem(f"{i}: {'x'.join(map(str, d.shape))}" + (" (full)" if i == 0 else ""))
            self.level_combo.setCurrentIndex(min(current, len(image.data) - 1))
        self.level_combo.setEnabled(bool(image.multiscale))
        self.level_combo.blockSignals(False)
        return max(0, self.level_combo.currentIndex()) if image.multiscale else 0

    def _on_level_selected(self) -> None:
        """Annotate another resolution level: its own session and label layers (at that level's scale)."""
        self._select_image()

    def _lead(self) -> tuple[int, ...]:
        """Index of the current time point for 4D images, () for 3D."""
        if self._layers is None or len(self._layers.shape) == 3:
            return ()
        t = int(np.clip(round(float(self._data_point()[0])), 0, self._layers.shape[0] - 1))
        return (t,)

    def _current_z(self) -> int:
        return int(np.clip(round(float(self._data_point()[-3])), 0, self._layers.shape[-3] - 1))

    def session(self) -> "AnnotationSession | None":
        if self._layers is None:
            return None
        lead = self._lead()
        if lead not in self._sessions:
            from ..controller import LimNetController
            from ..annotation_session import AnnotationSession

            volume = self._volume()
            try:
                ctrl = LimNetController(volume, spacing=self._spacing(), device=self.device)
            except ValueError as err:
                show_warning(str(err))
                self.status.setText(str(err))
                return None
            committed = self._layers.committed_data[lead] if lead else self._layers.committed_data
            new = AnnotationSession(ctrl, committed)
            new.on_change = self._autosave_hook(lead)
            self._sessions[lead] = new
        sess = self._sessions[lead]
        self._apply_settings(sess)
        return sess

    def _volume(self):
        """The (Z, Y, X) array the current session segments (this time point; full resolution)."""
        image = self._layers.image
        data = image.data[self._layers.level] if image.multiscale else image.data
        lead = self._lead()
        return data[lead] if lead else data

    def _apply_settings(self, sess: "AnnotationSession") -> None:
        """The panel's round settings onto the session."""
        mode = self.range_combo.currentIndex()
        sess.apply_settings(
            stop_when_empty=self.stop_check.isChecked(),
            max_slices=self.max_slices.value() if mode == 1 else None,
            z_limits=(self.z_low.value(), self.z_high.value()) if mode == 2 else None,
            propagate_trims=self.trim_check.isChecked(),
        )

    def _on_layer_removed(self, event) -> None:
        layer = event.value
        if self._layers is not None and layer is self._layers.image:
            if self._worker is not None:
                self.cancel()
                show_warning(f"The image '{layer.name}' was removed while propagating; the round was cancelled. Committed labels are kept.")
            forget(self.viewer, layer)
            self._state = None
        elif self._layers is not None and self._layers.owns(layer) and self._layers.image in self.viewer.layers:
            # one of the plugin's layers was deleted: it comes back, with its content, once the
            # removal has finished (the same layer object, so its points and wiring are intact)
            from qtpy.QtCore import QTimer

            QTimer.singleShot(0, self._restore_plugin_layers)
            return
        self._refresh_images()

    def _restore_plugin_layers(self) -> None:
        if self._closed or self._layers is None or self._layers.image not in self.viewer.layers:
            return
        self._layers.ensure_all()
        self._wire_layers()
