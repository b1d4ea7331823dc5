"""The "LIM-Net Annotator" dock widget: a thin Qt shell over the controller and the session.

Flow: pick an image; click positive (green) / negative (red) points, or paint scribbles, on a
slice; the 2D prompt mask shows at once; the round (propagation + MRF) runs in a thread
worker with a progress bar and Cancel. Commit, undo, reset and next object act on the session.
Layers are only ever written on the main thread (in the workers' callbacks).
"""

from __future__ import annotations


import threading
from pathlib import Path

import numpy as np
from napari.qt.threading import create_worker
from napari.utils import progress as napari_progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import autosave
from ..controller import LimNetController
from ..inference.cancel import Cancelled
from ..modeling.weights import available_devices, check_device
from ..session import AnnotationSession
from ..sessions import session_path_for
from .confidence import ConfidenceStrip
from .layers import NEGATIVE, POSITIVE, PluginLayers, set_prompt_mode
from .state import ImageState, existing_state, forget, state_for
from .tooltips import TOOLTIPS

KEYS = {"segment": "S", "commit": "C", "undo": "U", "reset": "R", "next": "N", "toggle": "T", "goto": "G", "edit": "E"}
RANGE_MODES = ("All slices", "Up to N slices each way", "Between two slices")


class _Relay(QObject):
    """Carries progress from the worker thread to the main thread (queued signal)."""

    progress = Signal(int, int, str)


class LimNetWidget(QWidget):
    """Dock widget. ``napari_viewer`` is injected by napari."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self._state: ImageState | None = None
        self._worker = None
        self._running: tuple | None = None  # (session, z) of the round in the worker
        self._pending: dict[int, tuple] = {}  # slice -> (positive, negative): rounds waiting, in click order
        self._pbar = None
        self._wired: dict[int, tuple] = {}  # id(layer) -> (layer, [(signal, slot), ...]) this widget connected
        self._closed = False
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._failed_round: tuple | None = None
        self._device_ok = {"cpu"}
        self._build_ui()
        self._edit_click = False
        self._round_token = None
        self._alive = {"ok": True}
        self.destroyed.connect(lambda *_a, alive=self._alive: alive.update(ok=False))
        try:  # the viewer closing: let go before Qt deletes this widget
            self.viewer.window._qt_window.destroyed.connect(lambda *_a, alive=self._alive: alive.update(ok=False))
        except AttributeError:
            pass
        self.viewer.mouse_drag_callbacks.append(self._on_mouse_press)
        self._viewer_connections = [
            (self.viewer.dims.events.current_step, self._on_dims_changed),
            (self.viewer.layers.events.inserted, self._refresh_images),
            (self.viewer.layers.events.removed, self._on_layer_removed),
            (self.viewer.layers.events.moved, self._refresh_images),
        ]
        for signal, slot in self._viewer_connections:
            signal.connect(slot)
        self._bind_keys(self.viewer)
        self._refresh_images()

    # ---------------------------------------------------------------- state shortcuts
    @property
    def _layers(self) -> PluginLayers | None:
        return self._state.layers if self._state is not None else None

    @property
    def layers(self) -> PluginLayers | None:
        """The plugin's layers of the current image (prompts, scribbles, current object, committed)."""
        return self._layers

    @property
    def _sessions(self) -> dict[tuple, AnnotationSession]:
        return self._state.sessions if self._state is not None else {}

    @property
    def _shown(self) -> dict[tuple, set[int]]:
        return self._state.shown if self._state is not None else {}

    # ---------------------------------------------------------------- closing the dock
    def event(self, ev):  # noqa: D401 - Qt API
        """napari's dock close (x) detaches this widget (setParent(None)): then let go of everything."""
        from qtpy.QtCore import QEvent

        if ev.type() == QEvent.Type.ParentChange and self.parent() is None and not self._closed:
            self.teardown()
        return super().event(ev)

    def _usable(self) -> bool:
        """False once the widget is closed or its Qt object is gone (a late worker signal is ignored)."""
        return not self._closed and self._alive["ok"]

    def teardown(self) -> None:
        """Disconnect from the viewer and the layers, unbind the keys; the state stays for a new widget."""
        if self._closed:
            return
        self._closed = True
        self.cancel()
        for signal, slot in self._viewer_connections:
            try:
                signal.disconnect(slot)
            except (TypeError, ValueError, RuntimeError):
                pass
        if self._on_mouse_press in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._on_mouse_press)
        for layer, connections in self._wired.values():
            for signal, slot in connections:
                try:
                    signal.disconnect(slot)
                except (TypeError, ValueError, RuntimeError):
                    pass
            self._unbind_keys(layer)
        self._wired.clear()
        self._unbind_keys(self.viewer)

    # ---------------------------------------------------------------- UI
    def _button(self, text: str, slot, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(lambda *_: slot())
        b.setToolTip(TOOLTIPS[tip])
        return b

    def _build_ui(self) -> None:
        root = QVBoxLayout(self)
        self.image_combo = QComboBox()
        self.image_combo.setToolTip(TOOLTIPS["image"])
        self.image_combo.currentIndexChanged.connect(lambda *_: self._select_image())
        root.addWidget(QLabel("Image"))
        root.addWidget(self.image_combo)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        root.addWidget(self.info)

        self.mode_button = self._button(f"Prompt: positive [{KEYS['toggle']}]", self.toggle_mode, "toggle")
        root.addWidget(self.mode_button)
        self.segment_button = self._button(f"Segment [{KEYS['segment']}]", self.segment, "segment")
        self.commit_button = self._button(f"Commit [{KEYS['commit']}]", self.commit, "commit")
        self.undo_button = self._button(f"Undo [{KEYS['undo']}]", self.undo, "undo")
        self.reset_button = self._button(f"Reset [{KEYS['reset']}]", self.reset, "reset")
        self.next_button = self._button(f"Next object [{KEYS['next']}]", self.next_object, "next")
        self.edit_id = QSpinBox()
        self.edit_id.setRange(1, 65535)
        self.edit_id.setToolTip(TOOLTIPS["edit"])
        self.edit_button = self._button(f"Edit object [{KEYS['edit']}]", lambda: self.edit_object(self.edit_id.value()), "edit")
        self.cancel_button = self._button("Cancel", self.cancel, "cancel")
        self.cancel_button.setEnabled(False)
        rows = ((self.segment_button, self.commit_button), (self.undo_button, self.reset_button), (self.next_button, self.cancel_button))
        for row in rows:
            h = QHBoxLayout()
            for b in row:
                h.addWidget(b)
            root.addLayout(h)
        h = QHBoxLayout()
        h.addWidget(QLabel("Refine committed object"))
        h.addWidget(self.edit_id)
        h.addWidget(self.edit_button)
        root.addLayout(h)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        root.addWidget(self.progress_bar)
        self.status = QLabel("Pick an image, then click on the object.")
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        self.rerun_cpu_button = self._button("Rerun this round on the CPU", self.rerun_on_cpu, "rerun_cpu")
        self.rerun_cpu_button.setVisible(False)
        root.addWidget(self.rerun_cpu_button)
        root.addWidget(QLabel("Confidence per slice"))
        self.confidence_strip = ConfidenceStrip()
        self.confidence_strip.slice_clicked.connect(self.go_to_slice)
        root.addWidget(self.confidence_strip)
        self.goto_button = self._button(f"Go to least confident slice [{KEYS['goto']}]", self.go_to_least_confident, "goto")
        root.addWidget(self.goto_button)

        box = QGroupBox("Settings")
        form = QFormLayout(box)
        self.auto_check = QCheckBox("Propagate after each click")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip(TOOLTIPS["auto"])
        form.addRow(self.auto_check)
        self.stop_check = QCheckBox("Stop where the object ends")
        self.stop_check.setChecked(True)
        self.stop_check.setToolTip(TOOLTIPS["stop"])
        form.addRow(self.stop_check)
        self.overwrite_check = QCheckBox("Overwrite other objects on commit")
        self.overwrite_check.setToolTip(TOOLTIPS["overwrite"])
        form.addRow(self.overwrite_check)
        self.range_combo = QComboBox()
        self.range_combo.addItems(RANGE_MODES)
        self.range_combo.setToolTip(TOOLTIPS["range"])
        form.addRow("Propagation", self.range_combo)
        self.max_slices = QSpinBox()
        self.max_slices.setRange(0, 100000)
        self.max_slices.setValue(20)
        form.addRow("N slices", self.max_slices)
        self.z_low, self.z_high = QSpinBox(), QSpinBox()
        for s in (self.z_low, self.z_high):
            s.setRange(0, 100000)
        h = QHBoxLayout()
        h.addWidget(self.z_low)
        h.addWidget(self.z_high)
        form.addRow("z from / to", h)
        self.level_combo = QComboBox()
        self.level_combo.setToolTip(TOOLTIPS["level"])
        self.level_combo.setEnabled(False)
        self.level_combo.currentIndexChanged.connect(lambda *_: self._on_level_selected())
        form.addRow("Resolution level", self.level_combo)
        self.device_combo = QComboBox()
        self.device_combo.addItems(available_devices())
        self.device_combo.setToolTip(TOOLTIPS["device"])
        self.device_combo.currentIndexChanged.connect(lambda *_: self._on_device_selected())
        form.addRow("Device", self.device_combo)
        root.addWidget(box)

        self.export_button = self._button("Export committed…", self.export_dialog, "export")
        self.load_session_button = self._button("Load session…", self.load_session_dialog, "load_session")
        h = QHBoxLayout()
        h.addWidget(self.export_button)
        h.addWidget(self.load_session_button)
        root.addLayout(h)
        self.restore_button = self._button("Restore autosaved objects", self.restore_autosave, "restore")
        self.restore_button.setVisible(False)
        root.addWidget(self.restore_button)
        root.addStretch(1)

    def _unbind_keys(self, target) -> None:
        for key in KEYS.values():
            try:
                target.bind_key(key, None, overwrite=True)
            except (TypeError, ValueError, KeyError):
                pass

    def _bind_keys(self, target) -> None:
        actions = {
            KEYS["segment"]: self.segment,
            KEYS["commit"]: self.commit,
            KEYS["undo"]: self.undo,
            KEYS["reset"]: self.reset,
            KEYS["next"]: self.next_object,
            KEYS["toggle"]: self.toggle_mode,
            KEYS["goto"]: self.go_to_least_confident,
            KEYS["edit"]: lambda: self.edit_object(self.edit_id.value()),
        }
        for key, fn in actions.items():
            target.bind_key(key, lambda *_a, fn=fn: fn(), overwrite=True)

    # ---------------------------------------------------------------- image selection
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
            warned = getattr(self, "_warned_images", set())
            if image is not None and id(image) not in warned:  # once per image, not at every layer change
                show_warning(problem)
                warned.add(id(image))
                self._warned_images = warned
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
        prompts = self._layers.ensure_all()
        self._wire_layers()
        shape = self._layers.shape
        self.z_high.setValue(shape[-3] - 1)
        sp = self._spacing()
        lvl = f" (level {level} of {len(image.data)})" if image.multiscale else ""
        self.info.setText(f"{image.name}{lvl}: {'x'.join(map(str, shape))}, voxel {sp[0]:g} x {sp[1]:g} x {sp[2]:g}")
        self.viewer.layers.selection.active = prompts
        if existing is None:
            self._offer_autosave()
        else:  # back to an image with a session: show exactly what it has
            self.restore_button.setVisible(False)
            sess = self._sessions.get(self._lead())
            if sess is not None:
                self._show_current(sess, self._lead())
        self._update_undo_label()

    def _set_actions_enabled(self, enabled: bool) -> None:
        for b in (self.mode_button, self.segment_button, self.commit_button, self.undo_button, self.reset_button,
                  self.next_button, self.export_button, self.goto_button):
            b.setEnabled(enabled)

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
            for signal, slot in connections:
                signal.connect(slot)
            self._bind_keys(layer)
            self._wired[id(layer)] = (layer, connections)

    # ---------------------------------------------------------------- sessions
    def _data_point(self) -> np.ndarray:
        """The viewer's current position in voxel coordinates of the annotated level."""
        image = self._layers.image
        return self._layers.world_to_index(np.asarray(self.viewer.dims.point)[-image.ndim :])

    def _spacing(self) -> tuple[float, float, float]:
        """Voxel size (dz, dy, dx) of the annotated level."""
        return tuple(float(s) * float(f) for s, f in zip(self._layers.image.scale[-3:], self._layers.factor[-3:]))

    # ---------------------------------------------------------------- multiscale
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

    def session(self) -> AnnotationSession | None:
        if self._layers is None:
            return None
        lead = self._lead()
        key = lead
        if key not in self._sessions:
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
            self._sessions[key] = new
        sess = self._sessions[key]
        self._apply_settings(sess.controller)
        return sess

    def _volume(self):
        """The (Z, Y, X) array the current session segments (this time point; full resolution)."""
        image = self._layers.image
        data = image.data[self._layers.level] if image.multiscale else image.data
        lead = self._lead()
        return data[lead] if lead else data

    def _apply_settings(self, ctrl: LimNetController) -> None:
        ctrl.stop_when_empty = self.stop_check.isChecked()
        mode = self.range_combo.currentIndex()
        ctrl.max_slices = self.max_slices.value() if mode == 1 else None
        ctrl.z_limits = (self.z_low.value(), self.z_high.value()) if mode == 2 else None

    # ---------------------------------------------------------------- device
    @property
    def device(self) -> str:
        return self.device_combo.currentText() or "cpu"

    def _on_device_selected(self) -> None:
        """Offer a device only once a tiny forward pass runs on it; keep every round when switching."""
        dev = self.device
        if dev not in self._device_ok:
            problem = check_device(dev)
            if problem is not None:
                show_warning(f"{problem}. Staying on the CPU.")
                self.device_combo.blockSignals(True)
                self.device_combo.setCurrentText("cpu")
                self.device_combo.blockSignals(False)
                self._disable_device(dev)
                dev = "cpu"
            else:
                self._device_ok.add(dev)
        for sess in self._sessions.values():
            sess.set_device(dev)
        self.status.setText(f"Rounds now run on {dev}.")

    def _disable_device(self, dev: str) -> None:
        i = self.device_combo.findText(dev)
        if i >= 0:
            self.device_combo.model().item(i).setEnabled(False)

    def rerun_on_cpu(self) -> None:
        """After a device error: switch to the CPU (keeping every round) and redo the failed round."""
        failed, self._failed_round = self._failed_round, None
        self.rerun_cpu_button.setVisible(False)
        self.device_combo.blockSignals(True)
        self.device_combo.setCurrentText("cpu")
        self.device_combo.blockSignals(False)
        for sess in self._sessions.values():
            sess.set_device("cpu")  # a fresh runner on the CPU; every round is kept
        if failed is not None:
            self._start_round(*failed)

    # ---------------------------------------------------------------- refine a committed object
    def _on_mouse_press(self, viewer, event):
        """Ctrl-click on a committed object makes it the current object (to refine it).

        A generator (napari calls it on press, on moves and on release): the point the prompts
        layer adds for this same click is dropped, and only that one.
        """
        if "Control" not in {str(getattr(m, "name", m)) for m in event.modifiers} or self._layers is None:
            return
        layer = self._layers.present().get("committed")
        if layer is None:
            return
        value = layer.get_value(event.position, world=True)
        self._edit_click = True
        if value:
            self.edit_object(int(value))
        else:
            show_info("Ctrl-click on a committed object to refine it.")
        yield
        while event.type == "mouse_move":
            yield
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, self._end_edit_click)  # after the prompts layer's own release handler

    def _end_edit_click(self) -> None:
        self._edit_click = False

    def edit_object(self, object_id: int) -> bool:
        """Load committed object ``object_id`` as the current object: its mask is round 0, clicks
        refine it, Commit [C] writes it back under the same id."""
        sess = self.session()
        if sess is None or self.busy:
            return False
        try:
            voxels = sess.edit_object(object_id)
        except ValueError as err:
            show_warning(str(err))
            return False
        lead = self._lead()
        self._layers.set_clicks(lead, {})
        self._show_current(sess, lead)
        self.edit_id.setValue(int(object_id))
        self._update_undo_label()
        msg = (f"Refining object {object_id} ({voxels} voxels): click to correct it, then Commit "
               f"[{KEYS['commit']}] writes it back as object {object_id}.")
        self.status.setText(msg)
        show_info(msg)
        return True

    # ---------------------------------------------------------------- confidence
    def _update_confidence(self, sess: AnnotationSession | None) -> None:
        if sess is None or self._layers is None:
            self.confidence_strip.set_data(0, {}, None)
            return
        values, worst = sess.confidence()
        self.confidence_strip.set_data(self._layers.shape[-3], values, worst)
        self.confidence_strip.set_current(self._current_z())

    def _on_dims_changed(self, event=None) -> None:
        if self._layers is not None:
            self.confidence_strip.set_current(self._current_z())

    def go_to_slice(self, z: int) -> None:
        """Show slice z of the image (data index) in the viewer."""
        if self._layers is None:
            return
        point = self._data_point()
        point[-3] = int(z)
        world = self._layers.index_to_world(point)
        axis = self.viewer.dims.ndim - 3
        self.viewer.dims.set_point(axis, float(world[-3]))

    def go_to_least_confident(self) -> None:
        """Jump to the slice that most needs a correction (see LimNetController.least_confident_slice)."""
        sess = self.session()
        if sess is None:
            return
        _, worst = sess.confidence()
        if worst is None:
            show_info("No object yet: click on the object first.")
            return
        self.go_to_slice(worst)
        self.status.setText(f"Slice {worst} is the least confident: check it and correct it if needed.")

    # ---------------------------------------------------------------- prompts
    def toggle_mode(self) -> None:
        if self._layers is None:
            return
        prompts = self._layers.prompts()
        current = prompts.feature_defaults["label"][0] if len(prompts.feature_defaults) else POSITIVE
        new = NEGATIVE if current == POSITIVE else POSITIVE
        set_prompt_mode(prompts, new)
        self.mode_button.setText(f"Prompt: {new} [{KEYS['toggle']}]")

    def _on_points_changed(self, event=None) -> None:
        action = getattr(event, "action", "added")
        if str(action) not in ("added", "ActionType.ADDED"):
            return
        prompts = self._layers.prompts() if self._layers else None
        if prompts is None or not len(prompts.data):
            return
        if self._edit_click:  # a Ctrl-click picks an object to refine; it is not a prompt
            self._edit_click = False
            self._drop_last_point(prompts)
            return
        idx = self._layers.to_image_index(prompts, prompts.data[-1:])[0]
        if not self._inside(idx):
            self._drop_last_point(prompts)
            show_warning("That click is outside the image; it was removed. Click inside the image.")
            return
        if not self._layers.image.visible:
            show_warning(f"The image '{self._layers.image.name}' is hidden: the click was used, "
                         "but make it visible to see what you click on.")
        self.on_clicks(int(idx[-3]))

    @staticmethod
    def _drop_last_point(prompts) -> None:
        """Remove the newest point (and its label) without triggering another click."""
        feats = prompts.features.iloc[:-1].reset_index(drop=True) if len(prompts.features) else prompts.features
        defaults = prompts.feature_defaults
        with prompts.events.data.blocker():
            prompts.data = prompts.data[:-1]
            prompts.features = feats
        prompts.feature_defaults = defaults

    def _on_paint(self, event=None) -> None:
        self.on_clicks(self._current_z())

    def _inside(self, idx: np.ndarray) -> bool:
        shape = self._layers.shape
        return all(0 <= int(i) < s for i, s in zip(idx, shape))

    def on_clicks(self, z: int) -> None:
        """Show the 2D prompt mask of slice z now; propagate too if auto-propagation is on."""
        sess = self.session()
        if sess is None:
            return
        pos, neg = self._layers.clicks(self._lead(), z)
        if not pos and not neg:
            return
        if self.busy:
            # A round is running and holds the controller: never wait for it on the UI thread.
            # With auto-propagation the running round is cancelled and redone with all clicks.
            if self.auto_check.isChecked():
                self._start_round(z, pos, neg)
            return
        try:
            preview = sess.preview(z, pos, neg)
        except ValueError as err:
            show_warning(str(err))
            return
        self._show_preview(z, preview)
        if self.auto_check.isChecked():
            self._start_round(z, pos, neg)

    # ---------------------------------------------------------------- rounds
    def segment(self) -> None:
        """Run a round on the current slice with all its clicks."""
        if self.session() is None:
            return
        z = self._current_z()
        pos, neg = self._layers.clicks(self._lead(), z)
        if not pos and not neg:
            show_warning(f"No clicks on slice {z}: add a positive click on the object first.")
            return
        self._start_round(z, pos, neg)

    def _start_round(self, z, pos, neg) -> None:
        """Run a round on slice z now, or queue it behind the running one.

        A new click on the slice whose round is running cancels that round; it is redone with all
        the slice's clicks. A click on another slice waits its turn: rounds run in click order, so
        no click on screen is ever ignored.
        """
        sess = self.session()
        if sess is None:
            return
        if self._worker is not None:
            self._pending.pop(z, None)
            self._pending[z] = (pos, neg)
            if self._running is not None and self._running[0] is sess and self._running[1] == z:
                sess.cancel()
            return
        lead = self._lead()
        self._failed_round = None
        self.rerun_cpu_button.setVisible(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Propagating from slice {z}…")
        self._pbar = napari_progress(total=1, desc="LIM-Net round")
        token = threading.Event()  # this round's own cancel flag: a cancel before it starts is not lost
        self._round_token = token
        worker = create_worker(
            sess.run_round, z, pos, neg, progress=self._relay.progress.emit, should_cancel=token.is_set,
            _start_thread=False, _ignore_errors=True,
        )
        self._running = (sess, z)
        worker.returned.connect(lambda _mask, sess=sess, lead=lead, z=z: self._on_round_done(sess, lead, z))
        worker.errored.connect(lambda err, sess=sess, lead=lead, r=(z, pos, neg): self._on_round_error(err, sess, lead, r))
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if not self._usable():
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        pbar = self._pbar
        if pbar is not None:
            pbar.total = max(total, 1)
            pbar.n = done
            pbar.set_description(f"LIM-Net: {message}")

    def _on_round_done(self, sess, lead, z) -> None:
        if not self._usable():
            return
        self._show_current(sess, lead)
        self._update_undo_label()
        n = len(sess.controller.nonempty_slices())
        cut = sess.controller.last_round_stats.get("leak_cut_slices", 0)
        extra = f" The leak was cut: {cut} more slice(s) cleared." if cut else ""
        self.status.setText(f"Round {sess.controller.n_rounds} (slice {z}, on {sess.device}): object on {n} slices.{extra} "
                            f"Commit [{KEYS['commit']}] when done, or check the least confident slice [{KEYS['goto']}].")

    def _on_round_error(self, err, sess, lead, round_args=None) -> None:
        if not self._usable():
            return
        if isinstance(err, Cancelled):
            if not self._pending:
                show_info("Propagation cancelled; the previous result is kept.")
                self.status.setText("Cancelled; the previous result is kept.")
        elif isinstance(err, ValueError):
            show_warning(str(err))
            self.status.setText(str(err))
        elif sess.device != "cpu":
            # a device error (out of memory, driver, lost GPU): nothing was lost; offer the CPU
            self._failed_round = round_args
            self.rerun_cpu_button.setVisible(round_args is not None)
            msg = (f"The round failed on {sess.device} ({type(err).__name__}: {str(err)[:200]}). Nothing was lost: "
                   "the previous result is kept. Click 'Rerun this round on the CPU' to continue there.")
            show_error(msg)
            self.status.setText(msg)
        else:
            show_error(f"LIM-Net round failed ({type(err).__name__}: {err}); the previous result is kept.")
        if self._layers is not None and self.session() is sess:
            self._show_current(sess, lead)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self._running = None
        if not self._usable():
            return
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        if self._pending and not self._closed:
            z = next(iter(self._pending))
            pos, neg = self._pending.pop(z)
            self._start_round(z, pos, neg)

    def cancel(self) -> None:
        """Cancel a running propagation and the queued ones (the state stays as before the round)."""
        self._pending.clear()
        self._cancel_worker()

    def _cancel_worker(self) -> None:
        if self._worker is not None:
            if self._round_token is not None:
                self._round_token.set()
            for sess in self._sessions.values():
                sess.cancel()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    # ---------------------------------------------------------------- display
    def _show_preview(self, z: int, mask2d: np.ndarray) -> None:
        lead = self._lead()
        data = self._layers.current_data
        data[lead + (z,)] = mask2d.astype(np.uint8)
        self._shown.setdefault(lead, set()).add(z)
        self._layers.current().refresh()

    def _show_current(self, sess: AnnotationSession, lead) -> None:
        data = self._layers.current_data
        target = data[lead] if lead else data
        new = set(sess.controller.nonempty_slices())
        for z in self._shown.get(lead, set()) | new:
            target[z] = sess.controller.slice_mask(z)
        self._shown[lead] = new
        self._layers.current().refresh()
        self._update_confidence(sess)

    # ---------------------------------------------------------------- commit / undo / reset / next
    def commit(self) -> None:
        sess = self.session()
        if sess is None or self.busy:
            if self.busy:
                show_info("Wait for the propagation to finish (or cancel it) before committing.")
            return
        record = sess.commit(overwrite=self.overwrite_check.isChecked())
        if record is None:
            show_info("Nothing to commit: the current object is empty.")
            return
        self._committed_changed()
        self._update_undo_label()
        msg = f"Committed object {record.object_id}: {record.written} voxels."
        if record.kept_other:
            msg += f" {record.kept_other} voxels already belonged to other objects and were kept (tick 'Overwrite' to replace them)."
        show_info(msg)
        self.status.setText(msg)

    def undo(self) -> None:
        sess = self.session()
        if sess is None or self.busy:
            return
        label = sess.undo_label()
        what = sess.undo()
        lead = self._lead()
        if what == "round":
            self._layers.set_clicks(lead, sess.controller.interactions)
            self._show_current(sess, lead)
            self.status.setText(f"Undid {label}; {sess.controller.n_rounds} round(s) left.")
        elif what == "commit":
            self._committed_changed()
            self.status.setText(f"Undid {label}: the committed layer is as before it.")
        else:
            self.status.setText("Nothing to undo.")
        self._update_undo_label()

    def _update_undo_label(self) -> None:
        """The Undo button says what it will revert (a round, or the commit of which object)."""
        sess = self._sessions.get(self._lead()) if self._layers is not None else None
        label = sess.undo_label() if sess is not None else None
        self.undo_button.setText(f"Undo {label} [{KEYS['undo']}]" if label else f"Undo [{KEYS['undo']}]")

    def reset(self) -> None:
        sess = self.session()
        if sess is None:
            return
        self.cancel()
        sess.reset()
        self._clear_current_object(sess)
        self.status.setText("Reset: the current object was cleared (committed objects are kept).")

    def next_object(self) -> None:
        sess = self.session()
        if sess is None or self.busy:
            return
        record = sess.next_object(overwrite=self.overwrite_check.isChecked())  # also resets the rounds
        if record is not None:
            self._committed_changed()
            msg = f"Committed object {record.object_id} ({record.written} voxels)."
            if record.kept_other:
                msg += f" {record.kept_other} voxels already belonged to other objects and were kept."
            show_info(msg)
        self._clear_current_object(sess)
        self._update_undo_label()
        self.status.setText(f"Object {sess.next_free_id()}: click on the next object. "
                            f"Undo [{KEYS['undo']}] would revert {sess.undo_label() or 'nothing'}.")

    def _clear_current_object(self, sess: AnnotationSession) -> None:
        """Remove the current object's prompts, scribbles and mask from the layers."""
        lead = self._lead()
        self._layers.set_clicks(lead, {})
        self._layers.scribble_data[lead] = 0
        self._layers.scribbles().refresh()
        self._show_current(sess, lead)

    def _committed_changed(self) -> None:
        """Show the committed labels' new content (the session's change hook autosaves it)."""
        self._layers.committed().refresh()

    # ---------------------------------------------------------------- export / autosave
    def export(self, path: str) -> list[str]:
        """Write the committed labels (NIfTI keeps the source affine; TIFF keeps the voxel size)."""
        from .._writer import write_labels

        layer = self._layers.committed()
        data, attributes, _ = layer.as_layer_data_tuple()
        if not np.asarray(data).any():
            raise ValueError("the committed layer is empty: commit an object [C] before exporting (nothing was written)")
        out = write_labels(path, data, attributes)
        sidecar = self.save_session(session_path_for(out[0]))
        show_info(f"Saved committed labels to {out[0]}" + (f" and their session to {sidecar.name}" if sidecar else ""))
        return out

    def _image_info(self) -> dict:
        image = self._layers.image
        path = image.metadata.get("source_path") or getattr(image.source, "path", None)
        return {"name": image.name, "path": str(path) if path else None, "shape": list(self._layers.shape[-3:]),
                "spacing": list(self._spacing()), "level": self._layers.level}

    def save_session(self, path) -> "Path | None":
        """Write the committed objects' clicks, settings and weights' hash as a session file."""
        sess = self.session()
        if sess is None or not sess.object_records:
            return None
        return sess.session_record(self._image_info()).save(path)

    def load_session(self, path) -> None:
        """Replay a saved session on this image (in a worker) and add its objects to the committed layer."""
        from ..sessions import SessionRecord, replay

        sess = self.session()
        if sess is None or self.busy:
            return
        try:
            record = SessionRecord.load(path)
        except ValueError as err:
            show_warning(str(err))
            return
        volume = self._volume()
        self.status.setText(f"Replaying {len(record.objects)} object(s) from {Path(path).name}…")
        worker = create_worker(replay, record, volume, self._spacing(),
                               self.device, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda result, sess=sess, record=record: self._on_session_replayed(sess, result, record))
        worker.errored.connect(lambda err: (show_error(f"Loading the session failed: {err}"), self.status.setText(str(err))))
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    def _on_session_replayed(self, sess, result, record) -> None:
        if not self._usable():
            return
        for w in result.warnings:
            show_warning(w)
        merged = sess.merge_labels(result.labels, [o for o in record.objects])
        self._committed_changed()
        self._update_undo_label()
        n = sum(1 for t in result.timings if not t.get("skipped"))
        kept = f" ({merged.kept_other} voxels kept for existing objects)" if merged and merged.kept_other else ""
        msg = f"Loaded {n} object(s) from the session{kept}"
        self.status.setText(msg + f". Undo [{KEYS['undo']}] removes them again.")
        show_info(msg)

    def load_session_dialog(self) -> None:
        if self._layers is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load a napari-limnet session", "", "LIM-Net session (*.limnet.json)")
        if path:
            self.load_session(path)

    def export_dialog(self) -> None:
        if self._layers is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export committed labels", "", "NIfTI (*.nii.gz *.nii);;TIFF (*.tif *.tiff)")
        if path:
            try:
                self.export(path)
            except (ValueError, OSError) as err:
                show_error(f"Export failed: {err}")

    def _autosave_key(self) -> str:
        image = self._layers.image
        source = image.metadata.get("source_path") or getattr(image.source, "path", None)
        return autosave.session_key(source, image.name, self._layers.shape)

    def _journal(self):
        """The current image's autosave journal (patches written in a background thread)."""
        st = self._state
        if st.journal is None:
            data = self._layers.committed_data
            st.journal = autosave.AutosaveJournal(self._autosave_key(), data.shape, data.dtype)
        return st.journal

    def _autosave_hook(self, lead):
        """session.on_change -> a patch in the journal (the region and content copies are small)."""
        journal = self._journal()

        def hook(region, before, after):
            if lead:
                region = tuple(slice(t, t + 1) for t in lead) + tuple(region)
                before, after = before[(None,) * len(lead)], after[(None,) * len(lead)]
            journal.patch(region, before, after)
            if journal.errors:
                show_warning(f"Autosave failed ({journal.errors.pop()}); export your labels to be safe.")

        return hook

    def _offer_autosave(self) -> None:
        found = autosave.load(self._autosave_key())
        has = found is not None and found[0].any()
        self.restore_button.setVisible(bool(has))
        if has:
            self.restore_button.setText(f"Restore {found[1]['objects']} autosaved object(s) from {found[1]['saved']}")
            show_info(f"LIM-Net found {found[1]['objects']} autosaved object(s) for this image: click 'Restore' in the annotator.")

    def restore_autosave(self) -> bool:
        found = autosave.load(self._autosave_key())
        if found is None:
            return False
        labels, _ = found
        if labels.shape != self._layers.committed_data.shape:
            show_warning("The autosave does not match this image's shape; not restored.")
            return False
        self._layers.committed_data[...] = np.maximum(self._layers.committed_data, labels.astype(self._layers.committed_data.dtype))
        self._layers.committed().refresh()
        self.restore_button.setVisible(False)
        show_info("Restored the autosaved committed objects.")
        return True

    # ---------------------------------------------------------------- layer removal
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
