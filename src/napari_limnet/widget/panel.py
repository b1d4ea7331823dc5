"""The annotator's panel: buttons, settings, key bindings (built once, on the widget).

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .confidence import ConfidenceStrip
from .keys import KEYS, RANGE_MODES, key_hint, keys_for
from .tooltips import TOOLTIPS


class PanelMixin:
    def _button(self, text: str, slot, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(lambda *_: slot())
        b.setToolTip(TOOLTIPS[tip] + key_hint(tip))
        return b

    def _build_ui(self) -> None:
        """The panel, top to bottom: image, actions, status and confidence, settings, files.

        All of it sits in a scroll area, so the dock shrinks to any screen (1280 x 720 included):
        napari cannot make a window shorter than its docks' minimum height.
        """
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer.addWidget(scroll)
        self.scroll_area = scroll
        root = QVBoxLayout(content)
        self._build_actions(root)
        self._build_status(root)
        self._build_learning(root)
        root.addWidget(self._build_settings())
        self._build_files(root)
        root.addStretch(1)
        # the height scrolls; the dock starts as wide as its widest row (plus the scroll bar and room for
        # the longer texts buttons take later, e.g. "Undo the reset of object 12"), narrower scrolls sideways
        slack = scroll.verticalScrollBar().sizeHint().width() + 60
        scroll.setMinimumWidth(content.minimumSizeHint().width() + slack)

    def _build_actions(self, root) -> None:
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
        self.propagate_button = self._button(f"Propagate slice [{KEYS['propagate']}]", self.propagate_slice, "propagate")
        self.cancel_button = self._button("Cancel", self.cancel, "cancel")
        self.cancel_button.setEnabled(False)
        rows = ((self.segment_button, self.propagate_button), (self.commit_button, self.undo_button),
                (self.reset_button, self.next_button), (self.cancel_button,))
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

    def _build_status(self, root) -> None:
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

    def _build_settings(self) -> QGroupBox:
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
        self.trim_check = QCheckBox("Negative clicks trim nearby slices too")
        self.trim_check.setToolTip(TOOLTIPS["trim"])
        form.addRow(self.trim_check)
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
        self.max_slices.setToolTip(TOOLTIPS["max_slices"])
        form.addRow("N slices", self.max_slices)
        self.z_low, self.z_high = QSpinBox(), QSpinBox()
        for s in (self.z_low, self.z_high):
            s.setRange(0, 100000)
            s.setToolTip(TOOLTIPS["z_limits"])
        self.range_combo.currentIndexChanged.connect(lambda *_: self._sync_range_fields())
        self._sync_range_fields()
        h = QHBoxLayout()
        h.addWidget(self.z_low)
        h.addWidget(self.z_high)
        form.addRow("z from / to", h)
        self.level_combo = QComboBox()
        self.level_combo.setToolTip(TOOLTIPS["level"])
        self.level_combo.setEnabled(False)
        self.level_combo.currentIndexChanged.connect(lambda *_: self._on_level_selected())
        form.addRow("Resolution level", self.level_combo)
        self._build_voxel_size(form)
        self.device_combo = QComboBox()
        self.device_combo.addItem("cpu")  # GPUs are added once the background warm-up has looked (torch is imported there)
        self.device_combo.setToolTip(TOOLTIPS["device"])
        self.device_combo.currentIndexChanged.connect(lambda *_: self._on_device_selected())
        form.addRow("Device", self.device_combo)
        return box

    def _sync_range_fields(self) -> None:
        """'N slices' is used only by 'Up to N slices each way', 'z from / to' only by 'Between two slices'."""
        mode = self.range_combo.currentIndex()
        self.max_slices.setEnabled(mode == 1)
        self.z_low.setEnabled(mode == 2)
        self.z_high.setEnabled(mode == 2)

    def _build_files(self, root) -> None:
        self.export_button = self._button("Export committed…", self.export_dialog, "export")
        self.load_session_button = self._button("Load session…", self.load_session_dialog, "load_session")
        h = QHBoxLayout()
        h.addWidget(self.export_button)
        h.addWidget(self.load_session_button)
        root.addLayout(h)
        self.restore_button = self._button("Restore autosaved objects", self.restore_autosave, "restore")
        self.restore_button.setVisible(False)
        root.addWidget(self.restore_button)

    def _unbind_keys(self, target) -> None:
        for key in KEYS.values():
            try:
                target.bind_key(key, None, overwrite=True)
            except (TypeError, ValueError, KeyError):
                pass

    def _bind_keys(self, target) -> None:
        """The plugin's keys on the viewer, or on one of its layers where napari binds nothing (see :mod:`.keys`)."""
        actions = {
            "segment": self.segment,
            "commit": self.commit,
            "undo": self.undo,
            "reset": self.reset,
            "next": self.next_object,
            "toggle": self.toggle_mode,
            "goto": self.go_to_least_confident,
            "edit": lambda: self.edit_object(self.edit_id.value()),
            "learn": self.learn,
            "propagate": self.propagate_slice,
        }
        self._unbind_keys(target)  # a key bound by an older widget that napari now owns on this layer
        for name, key in keys_for(target).items():
            target.bind_key(key, lambda *_a, fn=actions[name]: fn(), overwrite=True)

    def _set_actions_enabled(self, enabled: bool) -> None:
        for b in (self.mode_button, self.segment_button, self.propagate_button, self.commit_button, self.undo_button,
                  self.reset_button, self.next_button, self.export_button, self.goto_button, self.learn_button,
                  self.learn_image_button):
            b.setEnabled(enabled)

    def _update_undo_label(self) -> None:
        """The Undo button says what it will revert (a round, or the commit of which object)."""
        sess = self._sessions.get(self._lead()) if self._layers is not None else None
        label = sess.undo_label() if sess is not None else None
        self.undo_button.setText(f"Undo {label} [{KEYS['undo']}]" if label else f"Undo [{KEYS['undo']}]")
        self._show_learning_state()  # learning is offered once an object is committed
