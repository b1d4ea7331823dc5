"""Box and painted-slice prompts in the widget.

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).

- Drawing a rectangle on a slice in ``… boxes`` runs a box round (clicks on that slice join in).
  Editing the rectangle reruns it: when the box round of that slice is the latest round, it is
  undone first, so the edit replaces it.
- "Propagate this slice [P]" runs a painted-slice round from exactly what the ``… current
  object`` layer shows on the current slice: the user's brush strokes and erasures, or the 2D
  preview of several clicks (the 2D-first habit: click, look, click, then P).
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_warning

from .keys import KEYS

_ADDED = ("added", "ActionType.ADDED")
_CHANGED = ("changed", "ActionType.CHANGED")


class BoxPaintMixin:
    def _on_boxes_changed(self, event=None) -> None:
        action = str(getattr(event, "action", "added"))
        if action not in _ADDED + _CHANGED or self._layers is None:
            return
        layer = self._layers.boxes()
        indices = [int(i) for i in (getattr(event, "data_indices", None) or (-1,))]
        index = indices[-1] % len(layer.data) if len(layer.data) else -1
        lead = self._lead()
        found = self._layers.box_on_slice(layer, index, lead)
        if found is None:
            show_warning("Draw the rectangle on one slice of the image (in 2D view) to run a box round.")
            return
        sess = self.session()
        if sess is None:
            return
        z, box = found
        if action in _CHANGED and not self.busy:
            last = sess.latest_round()
            if last is not None and last["z"] == z and last.get("box") is not None:
                sess.undo()  # the edit replaces the box round it made
        pos, neg = self._layers.clicks(lead, z)
        self.status.setText(f"Box round on slice {z}: rows {box[0]}-{box[2]}, columns {box[1]}-{box[3]}…")
        self._start_round(z, pos, neg, box=box)

    def propagate_slice(self) -> None:
        """Run a painted-slice round from what the current-object layer shows on this slice."""
        sess = self.session()
        if sess is None:
            return
        z, lead = self._current_z(), self._lead()
        painted = np.asarray(self._layers.current_data[lead + (z,)]) > 0
        if not painted.any():
            msg = (f"Slice {z} of the current object is empty: paint the object with the brush in the "
                   f"'current object' layer (or click for a 2D preview), then press Propagate [{KEYS['propagate']}].")
            show_warning(msg)
            self.status.setText(msg)
            return
        self.status.setText(f"Propagating your mask of slice {z} ({int(painted.sum())} pixels)…")
        self._start_round(z, [], [], mask=painted)
