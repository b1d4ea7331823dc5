"""Per-slice confidence in the strip, and going to a slice (G: the one that most needs the user).

A mixin of :class:`~napari_limnet.widget.annotator.LimNetWidget` (it relies on the widget's attributes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari.utils.notifications import show_info

if TYPE_CHECKING:
    from ..annotation_session import AnnotationSession


def strip_note(check) -> str:
    """One sentence on the strip's record (empty before it has one)."""
    if check.reliable is None:
        return ""
    return (f"{check.misses} of the {check.judged} slice(s) you corrected substantially "
            f"{'was' if check.misses == 1 else 'were'} shown as sure")


class NavigationMixin:
    def _update_confidence(self, sess: "AnnotationSession | None") -> None:
        if sess is None or self._layers is None:
            self.confidence_strip.set_data(0, {}, None)
            return
        values, worst = sess.confidence()
        check = sess.controller.strip_check()
        self.confidence_strip.set_data(self._layers.shape[-3], values, worst, check.reliable, strip_note(check))
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
        text = f"Slice {worst} is the least confident: check it and correct it if needed."
        check = sess.controller.strip_check()
        if check.reliable is False:
            text += (f" The confidence has been a weak guide on this object ({strip_note(check)}): take G's slice as "
                     "a suggestion (it favours large masks) and also check the slices near the object's ends.")
        self.status.setText(text)
