"""Clicks to rounds: the 2D preview, rounds in thread workers queued per slice, cancel, display.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning

from typing import TYPE_CHECKING

from ..inference.cancel import Cancelled
from .keys import KEYS
from .layers import NEGATIVE, POSITIVE, set_prompt_mode

if TYPE_CHECKING:
    from ..annotation_session import AnnotationSession


#: Why a propagation stopped, for the status line; only the rules a user may want to overrule.
_STOP_WORDS = {"intensity gap": "an intensity gap (the boundary to a touching neighbour)",
               "area valley": "an area valley (the object tapered, then grew into something else)",
               "sustained drift": "sustained intensity drift (the mask had moved into other tissue)"}


def stop_note(stops: dict) -> str:
    """A status-line sentence naming the directions that stopped at a gap, a valley or sustained drift ('' if none).

    ``stops``: the round's ``{"up": reason, "down": reason}`` (``last_round_stats["stops"]``).
    """
    parts = [f"towards {'higher' if d == 'up' else 'lower'} slices at {_STOP_WORDS[r]}" for d, r in sorted(stops.items(), reverse=True)
             if r in _STOP_WORDS]
    if not parts:
        return ""
    return f" It stopped {' and '.join(parts)}; untick 'Stop where the object ends' if the object goes on."


class RoundsMixin:
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
            msg = "That click is outside the image; it was removed. Click inside the image."
            show_warning(msg)
            self.status.setText(msg)
            return
        if not self._layers.image.visible:
            show_warning(f"The image '{self._layers.image.name}' is hidden: the click was used, "
                         "but make it visible to see what you click on.")
        # Not inside napari's mouse handler (a generator that napari resumes on every mouse move):
        # the round starts from the event loop, once the press has been handled.
        from qtpy.QtCore import QTimer

        self._clicks_waiting += 1
        QTimer.singleShot(0, lambda z=int(idx[-3]): self._on_click_deferred(z))

    def _on_click_deferred(self, z: int) -> None:
        self._clicks_waiting -= 1
        if self._usable():
            self.on_clicks(z)

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
        # Nothing runs on the UI thread: with auto-propagation the round's worker computes the 2D
        # prompt first and shows it as the preview; otherwise a preview worker does (the latest
        # clicks win). A running round on this slice is cancelled and redone with all clicks.
        if self.auto_check.isChecked():
            self._start_round(z, pos, neg)
        else:
            self._start_preview(sess, z, pos, neg, self._display_epoch)

    def _start_preview(self, sess, z, pos, neg, epoch: int) -> None:
        """Compute the 2D prompt mask of slice z in a worker and show it (never on the UI thread).

        ``epoch``: the display epoch the preview was asked for under; it is shown only if no round
        started and no result was shown since.
        """
        if self._preview_worker is not None:
            self._preview_next = (sess, z, pos, neg, epoch)
            return

        def job():
            return sess, z, sess.preview(z, pos, neg), epoch

        worker = create_worker(job, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda result: self._on_preview_ready(*result))
        worker.errored.connect(lambda err: show_warning(str(err)) if isinstance(err, ValueError) and self._usable() else None)
        worker.finished.connect(self._on_preview_finished)
        self._preview_worker = worker
        worker.start()

    def _on_preview_finished(self) -> None:
        self._preview_worker = None
        if self._preview_next is not None and self._usable():
            nxt, self._preview_next = self._preview_next, None
            self._start_preview(*nxt)

    def _on_preview_ready(self, sess, z: int, mask2d, epoch: int) -> None:
        """Show a preview computed in a worker, if it still belongs to what is on screen."""
        if not self._usable() or self._layers is None or self._sessions.get(self._lead()) is not sess:
            return
        if epoch != self._display_epoch:
            return  # a round started or a result was shown after it was asked for
        self._show_preview(z, mask2d)

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

    def _start_round(self, z, pos, neg, **prompts) -> None:
        """Run a round on slice z now, or queue it behind the running one.

        A new click on the slice whose round is running cancels that round; it is redone with all
        the slice's clicks. A click on another slice waits its turn: rounds run in click order, so
        no click on screen is ever ignored. ``prompts``: ``box=`` or ``mask=`` of a box or
        painted-slice round (see :meth:`LimNetController.interact`).
        """
        sess = self.session()
        if sess is None:
            return
        if self._worker is not None:
            self._pending.pop(z, None)
            self._pending[z] = (pos, neg, prompts)
            if self._running is not None and self._running[0] is sess and self._running[1] == z:
                self._cancel_worker([sess])
            return
        lead = self._lead()
        self._sync_models(sess, self._state)  # the model chosen for this image (never while a round runs)
        self._failed_round = None
        self.rerun_cpu_button.setVisible(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Propagating from slice {z}…")
        self._progress_shown_at = time.monotonic()  # the first repaint comes after PROGRESS_INTERVAL_S
        token = threading.Event()  # this round's own cancel flag: a cancel before it starts is not lost
        self._round_token = token
        relay = self._relay
        self._display_epoch += 1  # previews asked for before this round are stale
        epoch = self._display_epoch

        def job():
            if "mask" not in prompts:  # the 2D prompt first, shown at once; the round reuses it
                relay.preview.emit(sess, z, sess.preview(z, pos, neg, **prompts), epoch)
            return sess.run_round(z, pos, neg, progress=relay.progress.emit, should_cancel=token.is_set, **prompts)

        worker = create_worker(job, _start_thread=False, _ignore_errors=True)
        self._running = (sess, z)
        worker.returned.connect(lambda _mask, sess=sess, lead=lead, z=z: self._on_round_done(sess, lead, z))
        worker.errored.connect(lambda err, sess=sess, lead=lead, r=(z, pos, neg, prompts): self._on_round_error(err, sess, lead, r))
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    #: Seconds between two repaints of the progress bar, and before the first one. Under software
    #: rendering any repaint in the window re-composes the whole window, GL canvas included: napari's
    #: activity-panel progress bar cost more CPU than the round (issue 38). So progress is this dock's
    #: own bar, shown only once a round has run a second, then repainted once a second
    #: (benchmarks/progress_cost.py measures it).
    PROGRESS_INTERVAL_S = 1.0

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if not self._usable():
            return
        now = time.monotonic()
        if now - getattr(self, "_progress_shown_at", 0.0) < self.PROGRESS_INTERVAL_S:
            return
        self._progress_shown_at = now
        bar = self.progress_bar
        if bar.maximum() != max(total, 1):
            bar.setRange(0, max(total, 1))
        text = f"{message} %p%" if message else "%p%"
        if bar.format() != text:
            bar.setFormat(text)
        bar.setValue(done)

    def _on_round_done(self, sess, lead, z) -> None:
        if not self._usable():
            return
        self._show_current(sess, lead)
        self._update_undo_label()
        n = len(sess.nonempty_slices())
        cut = sess.last_round_stats.get("leak_cut_slices", 0)
        extra = f" The leak was cut: {cut} more slice(s) cleared." if cut else ""
        extra += stop_note(sess.last_round_stats.get("stops", {}))
        note = sess.last_round_stats.get("prompt_note", "")
        extra += f" {note}" if note else ""
        self.status.setText(f"Round {sess.n_rounds} (slice {z}, on {sess.device}): object on {n} slices.{extra} "
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
        self.progress_bar.setFormat("%p%")
        if self._pending and not self._closed:
            z = next(iter(self._pending))
            pos, neg, prompts = self._pending.pop(z)
            self._start_round(z, pos, neg, **prompts)

    def cancel(self) -> None:
        """Cancel a running propagation and the queued ones (the state stays as before the round)."""
        self._pending.clear()
        self._cancel_worker()

    def _cancel_worker(self, sessions=None) -> None:
        """Cancel the running round: its own token (the controller's flag is cleared when interact
        starts, so a cancel while the worker still draws the preview would be lost without it) and
        the controllers of ``sessions`` (default: all)."""
        if self._worker is not None:
            if self._round_token is not None:
                self._round_token.set()
            for sess in self._sessions.values() if sessions is None else sessions:
                sess.cancel()

    @property
    def busy(self) -> bool:
        """A round runs, or a click waits for the event loop to start its round."""
        return self._worker is not None or self._clicks_waiting > 0

    def _show_preview(self, z: int, mask2d: np.ndarray) -> None:
        lead = self._lead()
        data = self._layers.current_data
        data[lead + (z,)] = mask2d.astype(np.uint8)
        self._shown.setdefault(lead, set()).add(z)
        self._layers.current().refresh()

    def _show_current(self, sess: "AnnotationSession", lead) -> None:
        self._display_epoch += 1  # a preview still in flight belongs to what was on screen before
        data = self._layers.current_data
        target = data[lead] if lead else data
        new = set(sess.nonempty_slices())
        for z in self._shown.get(lead, set()) | new:
            target[z] = sess.slice_mask(z)
        self._shown[lead] = new
        self._layers.current().refresh()
        self._update_confidence(sess)
