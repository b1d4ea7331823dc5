"""The "LIM-Net Annotator" dock widget: a thin Qt shell over the session.

Flow: pick an image; click positive (green) / negative (red) points, or paint scribbles, on a
slice; the 2D prompt mask shows at once; the round (propagation + MRF) runs in a thread
worker with a progress bar and Cancel. Commit, undo, reset and next object act on the session.
Layers are only ever written on the main thread (in the workers' callbacks).

The widget is assembled from mixins, one job each:

- :mod:`.panel` -- buttons, settings, key bindings;
- :mod:`.images` -- which image, its per-image state (:mod:`.state`), levels, voxel coordinates;
- :mod:`.round_queue` -- clicks to rounds: preview, queued thread workers, cancel, display;
- :mod:`.objects` -- commit, undo, reset, next object, refining a committed object;
- :mod:`.files` -- export with a session file, loading sessions, the autosave journal;
- :mod:`.devices` -- device choice and the CPU rerun after a device error;
- :mod:`.navigation` -- the confidence strip and going to a slice;
- :mod:`.learning` -- learning from the committed objects (adapted networks per image);
- :mod:`.box_paint` -- box rounds from rectangles, painted-slice rounds [Shift+P];
- :mod:`.voxel_size` -- the voxel size fields (files without one).
"""

from __future__ import annotations

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QWidget

from .devices import DeviceMixin
from .files import FilesMixin
from .images import ImageMixin
from .keys import KEYS, RANGE_MODES  # noqa: F401 - part of this module's public surface
from . import shutdown
from .box_paint import BoxPaintMixin
from .learning import LearningMixin
from .navigation import NavigationMixin
from .objects import ObjectsMixin
from .panel import PanelMixin
from .round_queue import RoundsMixin
from .state import ImageState
from .voxel_size import VoxelSizeMixin


def unwrap(obj):
    """The object behind napari's PublicOnlyProxy wrappers (``obj`` itself when it is not one)."""
    inner = getattr(obj, "__wrapped__", None)
    while inner is not None and inner is not obj:
        obj, inner = inner, getattr(inner, "__wrapped__", None)
    return obj


class _Relay(QObject):
    """Carries progress from the worker thread to the main thread (queued signal)."""

    progress = Signal(int, int, str)
    learn_progress = Signal(int, int, str)
    preview = Signal(object, int, object, int)  # (session, z, (Y, X) mask, display epoch) computed in a worker


class LimNetWidget(PanelMixin, ImageMixin, RoundsMixin, ObjectsMixin, FilesMixin, DeviceMixin, NavigationMixin,
                   LearningMixin, BoxPaintMixin, VoxelSizeMixin, QWidget):
    """Dock widget. ``napari_viewer`` is injected by napari."""

    def __init__(self, napari_viewer):
        super().__init__()
        # Docked from the Plugins menu, napari hands plugins a PublicOnlyProxy of the viewer, and
        # every layer reached through it is a proxy too: the layers this widget made would never be
        # ``is`` the layers napari's events carry (a deleted plugin layer did not come back). The
        # widget works on the viewer itself, so identities hold however it was docked.
        self.viewer = unwrap(napari_viewer)
        self._state: ImageState | None = None
        self._worker = None
        self._running: tuple | None = None  # (session, z) of the round in the worker
        self._pending: dict[int, tuple] = {}  # slice -> (positive, negative): rounds waiting, in click order
        self._clicks_waiting = 0  # clicks whose round starts from the event loop (see _on_points_changed)
        self._wired: dict[int, tuple] = {}  # id(layer) -> (layer, [(signal, slot), ...]) this widget connected
        self._closed = False
        self._alive = {"ok": True}
        self._watched_windows: set[int] = set()
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._relay.preview.connect(self._on_preview_ready)
        self._preview_worker = None
        self._preview_next: tuple | None = None  # the latest preview asked for while one runs
        # Bumped whenever a round starts or a result is shown: a preview asked for before that is stale
        # (it would paint an old click over the round's result, or over the next object) and is dropped.
        self._display_epoch = 0
        self.warming = False
        self.adding_layers = False  # the plugin's layers are still being added, one per turn
        self._layer_turns = None  # the PluginLayers whose layers are being added
        self._failed_round: tuple | None = None
        self._device_ok = {"cpu"}
        self._warned_images: set[int] = set()  # id() of images already told why they cannot be segmented
        self._syncing_learning = False
        self._build_ui()
        self._edit_click = False
        self._round_token = None
        self.destroyed.connect(lambda *_a, alive=self._alive: alive.update(ok=False))
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
        shutdown.register(self)  # quitting waits for this widget's workers (no abort at exit)
        self._refresh_images()
        from qtpy.QtCore import QTimer

        self.warming = True
        # after the dock and its layers are on screen: the import competes for the interpreter
        QTimer.singleShot(100, self._start_warm_up)

    # ---------------------------------------------------------------- closing the dock
    def event(self, ev):  # noqa: D401 - Qt API
        """napari's dock close (x) detaches this widget (setParent(None)): then let go of everything.

        Once docked, the viewer's main window closing marks the widget unusable before Qt deletes
        it (late worker signals are then ignored).
        """
        from qtpy.QtCore import QEvent

        if ev.type() == QEvent.Type.ParentChange:
            if self.parent() is None and not self._closed:
                self.teardown()
            elif self.window() is not self and id(self.window()) not in self._watched_windows:
                self._watched_windows.add(id(self.window()))
                self.window().destroyed.connect(lambda *_a, alive=self._alive: alive.update(ok=False))
        return super().event(ev)

    def _start_warm_up(self) -> None:
        """Import torch, load the networks and run a tiny round in a worker (the UI never waits on it)."""
        if not self._usable():
            return
        if self.adding_layers:  # napari adds layers slower while torch imports beside it: wait
            from qtpy.QtCore import QTimer

            QTimer.singleShot(100, self._start_warm_up)
            return
        from napari.qt.threading import create_worker

        from ..inference.warmup import warm_up

        worker = create_worker(warm_up, "cpu", _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._on_warm)
        worker.finished.connect(lambda: setattr(self, "warming", False))
        self.warming = True
        self._warm_worker = worker
        worker.start()

    def _on_warm(self, devices) -> None:
        """Offer the devices found while warming up (GPUs are tested again when picked)."""
        if not self._usable():
            return
        have = {self.device_combo.itemText(i) for i in range(self.device_combo.count())}
        self.device_combo.blockSignals(True)
        self.device_combo.addItems([d for d in devices if d not in have])
        self.device_combo.blockSignals(False)

    def _usable(self) -> bool:
        """False once the widget is closed or its Qt object is gone (a late worker signal is ignored)."""
        return not self._closed and self._alive["ok"]

    def cancel_all_work(self) -> None:
        """Cancel the running and queued rounds and any learning (the state stays as before them)."""
        self.cancel()
        self._cancel_learning()

    def teardown(self) -> None:
        """Disconnect from the viewer and the layers, unbind the keys; the state stays for a new widget."""
        if self._closed:
            return
        self._closed = True
        self.cancel_all_work()
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
