"""Finished objects: commit, undo, reset, next object, refining a committed object.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

from napari.utils.notifications import show_info, show_warning

from typing import TYPE_CHECKING

from .keys import KEYS

if TYPE_CHECKING:
    from ..annotation_session import AnnotationSession


class ObjectsMixin:
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
        self._maybe_learn_after_commit()

    def undo(self) -> None:
        sess = self.session()
        if sess is None or self.busy:
            return
        label = sess.undo_label()
        what = sess.undo()
        lead = self._lead()
        if what == "round":
            self._layers.set_clicks(lead, sess.interactions)
            self._show_current(sess, lead)
            self.status.setText(f"Undid {label}; {sess.n_rounds} round(s) left.")
        elif what == "commit":
            self._committed_changed()
            self._layers.set_clicks(lead, sess.interactions)
            self._show_current(sess, lead)
            msg = f"Undid {label}: the committed layer is as before it."
            if sess.n_rounds or sess.controller.started_from_mask:
                msg += f" Object {sess.object_id} is the current object again ({sess.n_rounds} round(s)): continue or commit it."
            self.status.setText(msg)
        elif what == "reset":
            self._layers.set_clicks(lead, sess.interactions)
            self._show_current(sess, lead)
            self.status.setText(f"Undid {label}: the object is back with its {sess.n_rounds} round(s).")
        elif what == "edit":
            self._layers.set_clicks(lead, {})
            self._show_current(sess, lead)
            self.status.setText(f"Undid {label}: object {label.rsplit(' ', 1)[-1]} stays as committed; no current object.")
        else:
            self.status.setText("Nothing to undo.")
        self._update_undo_label()

    def reset(self) -> None:
        sess = self.session()
        if sess is None:
            return
        self.cancel()
        had = sess.n_rounds or sess.controller.started_from_mask
        sess.reset()
        self._clear_current_object(sess)
        self._update_undo_label()
        if had:
            self.status.setText(f"Reset: the current object was cleared (committed objects are kept). "
                                f"Undo [{KEYS['undo']}] brings it back.")
        else:
            self.status.setText("Reset: nothing to clear; the next click starts a new object.")

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
        if record is not None:
            self._maybe_learn_after_commit()

    def _clear_current_object(self, sess: "AnnotationSession") -> None:
        """Remove the current object's prompts, scribbles and mask from the layers."""
        lead = self._lead()
        self._layers.set_clicks(lead, {})
        self._layers.clear_boxes(lead)
        self._layers.scribble_data[lead] = 0
        self._layers.scribbles().refresh()
        self._show_current(sess, lead)

    def _committed_changed(self) -> None:
        """Show the committed labels' new content (the session's change hook autosaves it)."""
        self._layers.committed().refresh()

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
