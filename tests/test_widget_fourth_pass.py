"""Issue 38 (the napari workflow, fourth pass), driven through the Plugins-menu dock (a proxy viewer)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from gui_helpers import click_and_segment, plugin_dock, wait_idle  # noqa: E402
from napari_limnet.data.samples import ct_abdomen  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def ct(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    s = ct_abdomen()
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    return viewer, s


def press(viewer, qtbot, key, modifier=None):
    """A real key press on napari's canvas (napari's own dispatch: active layer first, then the viewer)."""
    from qtpy.QtCore import Qt

    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, getattr(Qt.Key, f"Key_{key}"), modifier or Qt.KeyboardModifier.NoModifier)


def test_undo_after_reset_brings_the_object_back_and_never_uncommits_another(ct, qtbot):
    """Bug 1: commit object 1, click a new object, Reset [R], Undo [U]: the reset is undone, object 1 stays."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click_and_segment(widget, viewer, qtbot, *s.click)
    widget.next_object()
    committed = np.array(viewer.layers["ct committed"].data)
    assert (committed == 1).any()
    z, y, x = s.click
    click_and_segment(widget, viewer, qtbot, z, y + 3, x + 3)
    current = np.array(viewer.layers["ct current object"].data)
    viewer.layers.selection.active = widget.layers.image
    press(viewer, qtbot, "R")
    assert not viewer.layers["ct current object"].data.any()
    assert "reset" in widget.undo_button.text(), widget.undo_button.text()
    press(viewer, qtbot, "U")
    np.testing.assert_array_equal(viewer.layers["ct committed"].data, committed)
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, current)
    assert "round 1" in widget.undo_button.text()


def test_napari_layer_keys_win_on_the_plugin_layers(ct, qtbot):
    """Bug 2: R on '... boxes' picks the rectangle tool, P on '... current object' paints, S on prompts selects."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click_and_segment(widget, viewer, qtbot, *s.click)
    rounds = widget.session().n_rounds
    boxes = viewer.layers["ct boxes"]
    viewer.layers.selection.active = boxes
    press(viewer, qtbot, "R")
    assert str(boxes.mode) == "add_rectangle" and widget.session().n_rounds == rounds
    current = viewer.layers["ct current object"]
    viewer.layers.selection.active = current
    press(viewer, qtbot, "P")
    assert str(current.mode) == "paint" and not widget.busy
    press(viewer, qtbot, "E")
    assert str(current.mode) == "erase"
    prompts = viewer.layers["ct prompts"]
    viewer.layers.selection.active = prompts
    press(viewer, qtbot, "S")
    assert str(prompts.mode) == "select" and not widget.busy
    # the plugin's own keys still act where napari binds nothing: T on prompts, U anywhere
    press(viewer, qtbot, "T")
    assert "negative" in widget.mode_button.text()
    press(viewer, qtbot, "U")
    assert widget.session().n_rounds == rounds - 1
