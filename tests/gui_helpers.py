"""What the GUI tests do as a user does: dock the annotator, click, wait for a round."""

from __future__ import annotations

import numpy as np

from napari_limnet.widget.layers import POSITIVE


def settle_layers(widget, timeout_s: float = 30.0):
    """Let the event loop run until the widget has added its layers (one per turn, as on screen)."""
    import time

    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while getattr(widget, "adding_layers", False):
        assert time.monotonic() < end, "the annotator's layers were not added within the time limit"
        QApplication.processEvents()
        time.sleep(0.005)
    return widget


def plugin_dock(viewer, auto: bool = False):
    """Dock the annotator the way Plugins > LIM-Net Annotator does (a proxy viewer); returns the widget
    once its layers are in the viewer."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")
    widget.auto_check.setChecked(auto)
    return settle_layers(widget)


def click(widget, viewer, z, y, x, label=POSITIVE):
    """Add a prompt point at voxel (z, y, x) of the widget's image, as a click in the viewer does."""
    prompts = widget.layers.prompts()
    if prompts.feature_defaults["label"][0] != label:
        widget.toggle_mode()
    world = widget.layers.image.data_to_world(np.array([z, y, x], dtype=float))
    viewer.dims.set_point(0, world[0])
    prompts.add(prompts.world_to_data(world))


def wait_idle(qtbot, widget, timeout: int = 90000):
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


def click_and_segment(widget, viewer, qtbot, z, y, x):
    """One click at (z, y, x), Segment [S], wait for the round."""
    click(widget, viewer, z, y, x)
    widget.segment()
    wait_idle(qtbot, widget)


def ct_viewer(make_napari_viewer):
    """A shown viewer with the CT sample as image 'ct': (viewer, sample)."""
    from napari_limnet.data.samples import ct_abdomen

    viewer = make_napari_viewer(show=True)
    s = ct_abdomen()
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    return viewer, s
