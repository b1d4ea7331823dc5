"""Learn from my objects: adapt the networks to this image in a background worker, report, toggle.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).

- "Learn this image [no clicks needed]" runs :func:`~napari_limnet.adaptation.learn_label_free`: pseudo-objects
  from a classical segmentation, when the image suits it (blob-like objects: nuclei, cells); else it
  says why not. Learn from my objects then starts from that model.
- "Learn from my objects [L]" (enabled once an object is committed) runs
  :func:`~napari_limnet.adaptation.learn_with_report` on a snapshot of the committed labels in a
  thread worker, with its own progress bar; pressing it again stops learning (nothing changes).
- The report (Dice on held-out committed objects, shipped vs adapted) is shown; "Use the model
  adapted to this image" is ticked only when the report shows a gain. "Back to the shipped
  model" is always there. Each image has its own adapted model (:class:`.state.ImageState`).
- Switching models never waits for a running round: it applies to the next round.
"""

from __future__ import annotations

import threading

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QSpinBox, QVBoxLayout

from ..inference.cancel import Cancelled
from .keys import KEYS
from .tooltips import TOOLTIPS

DEFAULT_LEARN_SECONDS = 120
#: Learning without clicks: its budget (3 minutes on 2 CPU threads) and button text.
LABEL_FREE_SECONDS = 180
LEARN_IMAGE_TEXT = "Learn this image [no clicks needed]"


class LearningMixin:
    def _build_learning(self, root) -> None:
        box = QGroupBox("Learn from this image")
        lay = QVBoxLayout(box)
        self.learn_button = self._button(f"Learn from my objects [{KEYS['learn']}]", self.learn, "learn")
        self.learn_seconds = QSpinBox()
        self.learn_seconds.setRange(15, 3600)
        self.learn_seconds.setValue(DEFAULT_LEARN_SECONDS)
        self.learn_seconds.setSuffix(" s")
        self.learn_seconds.setToolTip(TOOLTIPS["learn_seconds"])
        h = QHBoxLayout()
        h.addWidget(self.learn_button)
        h.addWidget(self.learn_seconds)
        lay.addLayout(h)
        self.learn_image_button = self._button(LEARN_IMAGE_TEXT, self.learn_image, "learn_image")
        self.label_free_seconds = LABEL_FREE_SECONDS
        lay.addWidget(self.learn_image_button)
        self.learn_progress = QProgressBar()
        self.learn_progress.setRange(0, 1)
        self.learn_progress.setValue(0)
        lay.addWidget(self.learn_progress)
        self.use_adapted_check = QCheckBox("Use the model adapted to this image")
        self.use_adapted_check.setToolTip(TOOLTIPS["use_adapted"])
        self.use_adapted_check.toggled.connect(self._on_use_adapted_toggled)
        lay.addWidget(self.use_adapted_check)
        self.shipped_button = self._button("Back to the shipped model", self.back_to_shipped, "shipped")
        lay.addWidget(self.shipped_button)
        self.learn_after_commit_check = QCheckBox("Learn again after every commit")
        self.learn_after_commit_check.setToolTip(TOOLTIPS["learn_after_commit"])
        lay.addWidget(self.learn_after_commit_check)
        self.learn_report = QLabel("")
        self.learn_report.setWordWrap(True)
        lay.addWidget(self.learn_report)
        root.addWidget(box)
        self._learn_worker = None
        self._learn_token: threading.Event | None = None
        self._relay.learn_progress.connect(self._on_learn_progress)
        self._show_learning_state()

    # -------------------------------------------------------------------------- learning
    @property
    def learning(self) -> bool:
        return self._learn_worker is not None

    def learn(self) -> None:
        """Start learning from the committed objects of this image, or stop the running learning."""
        if self.learning:
            self._learn_token.set()
            self.learn_report.setText("Stopping… the model in use does not change.")
            return
        sess, st = self.session(), self._state
        if sess is None or st is None:
            return
        lead = self._lead()
        committed = self._layers.committed_data[lead] if lead else self._layers.committed_data
        labels = np.array(committed)  # a snapshot: commits made while learning do not change it
        if not labels.any():
            msg = f"Commit at least one object [{KEYS['commit']}] before learning from your objects."
            show_warning(msg)
            self.status.setText(msg)
            return
        base = st.adapted_current if _label_free(st.adapted_current) else None  # refine the label-free model
        self._start_learning(st, _learn_in_worker, (self._volume(), labels, self._spacing()),
                             {"seconds": float(self.learn_seconds.value()), "base": base},
                             f"Learning from the committed objects of '{st.layers.image.name}' "
                             f"(up to {self.learn_seconds.value()} s, then a check on held-out objects)…")

    def learn_image(self) -> None:
        """Learn this image without clicks (its own blob-like pseudo-objects), or stop the running learning."""
        if self.learning:
            self.learn()
            return
        st = self._state
        if st is None or self.session() is None:
            return
        self._start_learning(st, _learn_label_free_in_worker, (self._volume(), self._spacing()),
                             {"seconds": float(self.label_free_seconds)},
                             f"Looking for blob-like objects in '{st.layers.image.name}', then learning from them "
                             f"without clicks (up to {self.label_free_seconds:g} s, then a check on held-out ones)…")

    def _start_learning(self, st, job, args: tuple, kwargs: dict, text: str) -> None:
        """Run ``job(*args, **kwargs, progress=, should_cancel=)`` in a worker; its result is (models, report[, pseudo])."""
        token = threading.Event()
        worker = create_worker(job, *args, **kwargs, progress=self._relay.learn_progress.emit, should_cancel=token.is_set,
                               _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda result, st=st: self._on_learned(st, *result))
        worker.errored.connect(self._on_learn_error)
        worker.finished.connect(self._on_learn_finished)
        self._learn_worker, self._learn_token = worker, token
        self.learn_button.setText(f"Stop learning [{KEYS['learn']}]")
        self.learn_image_button.setText("Stop learning")
        self.learn_report.setText(text)
        worker.start()

    def _on_learn_progress(self, done: int, total: int, message: str) -> None:
        if not self._usable():
            return
        self.learn_progress.setRange(0, max(total, 1))
        self.learn_progress.setValue(done)
        self.learn_progress.setFormat(f"{message} %p%")

    def _on_learned(self, st, models, report, pseudo=None) -> None:
        if not self._usable():
            return
        st.adapted[models.digest] = models
        st.adapted_current = models
        st.learn_report = report.text() if pseudo is None else (
            f"Without clicks: {pseudo.text()} {report.text().split(' The adapted model is')[0]} That check used "
            "pseudo-objects, which favour a model trained on them (on synthetic nuclei it said better while real "
            "nuclei got worse), so the shipped model stays in use: tick 'Use the model adapted to this image' to try "
            "it, or commit objects and Learn from my objects, which checks on real ones.")
        # a check on held-out pseudo-objects is not evidence about real objects (docs/adaptation.md)
        st.use_adapted = report.helps and pseudo is None
        if st is self._state:
            self._show_learning_state()
        self._apply_models(st)
        show_info(st.learn_report)

    def _on_learn_error(self, err) -> None:
        if not self._usable():
            return
        if isinstance(err, Cancelled):
            self.learn_report.setText("Learning stopped; the model in use did not change.")
        elif isinstance(err, ValueError):
            show_warning(str(err))
            self.learn_report.setText(str(err))
        else:
            show_error(f"Learning failed ({type(err).__name__}: {err}); the model in use did not change.")
            self.learn_report.setText(f"Learning failed: {type(err).__name__}: {err}")

    def _on_learn_finished(self) -> None:
        self._learn_worker, self._learn_token = None, None
        if not self._usable():
            return
        self.learn_button.setText(f"Learn from my objects [{KEYS['learn']}]")
        self.learn_image_button.setText(LEARN_IMAGE_TEXT)
        self.learn_progress.setRange(0, 1)
        self.learn_progress.setValue(1)
        self.learn_progress.setFormat("%p%")

    def _cancel_learning(self) -> None:
        if self._learn_token is not None:
            self._learn_token.set()

    # -------------------------------------------------------------------------- which model
    def _on_use_adapted_toggled(self, checked: bool) -> None:
        st = self._state
        if st is None or self._syncing_learning:
            return
        if checked and st.adapted_current is None:
            self._show_learning_state()
            return
        st.use_adapted = bool(checked)
        self._apply_models(st)
        which = "the model adapted to this image" if checked else "the shipped model"
        self.status.setText(f"Rounds now use {which}.")

    def back_to_shipped(self) -> None:
        """Use the shipped networks for the next rounds of this image (the adapted model is kept)."""
        self.use_adapted_check.setChecked(False)
        if self._state is not None:
            self._state.use_adapted = False
            self._apply_models(self._state)
        self.status.setText("Rounds now use the shipped model.")

    def _apply_models(self, st) -> None:
        """Every session of ``st`` runs its next rounds with the chosen model (never waits for a round)."""
        for sess in st.sessions.values():
            if not (self.busy and self._running is not None and self._running[0] is sess):
                self._sync_models(sess, st)

    @staticmethod
    def _sync_models(sess, st) -> None:
        wanted = st.adapted_current if st.use_adapted else None
        if sess.controller.models_given is not wanted:
            sess.use_models(wanted)

    def _show_learning_state(self) -> None:
        """The learning panel for the current image: availability, report, toggle."""
        st = self._state
        self._syncing_learning = True
        try:
            has_model = st is not None and st.adapted_current is not None
            self.use_adapted_check.setEnabled(has_model)
            self.use_adapted_check.setChecked(bool(has_model and st.use_adapted))
            self.learn_report.setText(st.learn_report if st is not None else "")
            sess = self._sessions.get(self._lead()) if st is not None else None
            self.learn_button.setEnabled(self.learning or bool(sess is not None and sess.has_committed))
            self.learn_image_button.setEnabled(self.learning or st is not None)
        finally:
            self._syncing_learning = False

    def _maybe_learn_after_commit(self) -> None:
        if self.learn_after_commit_check.isChecked() and not self.learning:
            self.learn()


def _learn_in_worker(*args, **kwargs):
    """:func:`~napari_limnet.adaptation.learn_with_report`, imported in the worker: the training modules'
    first import took a quarter of a second of the UI thread."""
    from ..adaptation import learn_with_report

    return learn_with_report(*args, **kwargs)


def _learn_label_free_in_worker(*args, **kwargs):
    """:func:`~napari_limnet.adaptation.learn_label_free` (imported in the worker): (models, report, pseudo)."""
    from ..adaptation import learn_label_free

    return learn_label_free(*args, **kwargs)


def _label_free(models) -> bool:
    """True for networks adapted without clicks (on pseudo-objects)."""
    return models is not None and "pseudo_labels" in models.info.get("adaptation", {})
