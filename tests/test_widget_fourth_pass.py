"""Issue 38 (the napari workflow, fourth pass), driven through the Plugins-menu dock (a proxy viewer)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from gui_helpers import click_and_segment, plugin_dock, wait_idle  # noqa: E402
from napari_limnet.data.samples import ct_abdomen  # noqa: E402

pytestmark = pytest.mark.gui



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



def canvas_point(viewer, widget, z, y, x):
    """The canvas pixel (QPoint) showing voxel (z, y, x) of the widget's image, on slice z."""
    from qtpy.QtCore import QPoint

    world = widget.layers.image.data_to_world(np.array([z, y, x], dtype=float))
    viewer.dims.set_point(0, world[0])
    canvas = viewer.window._qt_viewer.canvas.native
    size = np.array([canvas.height(), canvas.width()], float)
    pix = (np.array(world[-2:]) - np.array(viewer.camera.center[-2:])) * viewer.camera.zoom + size / 2
    return QPoint(int(round(pix[1])), int(round(pix[0])))


def test_a_click_while_the_mouse_moves_raises_nothing(ct, qtbot, no_tracebacks):
    """Bug 3: press, move, release on the canvas (points add mode): one round, no 'generator already executing'."""
    from napari.utils import progress
    from qtpy.QtCore import Qt

    viewer, s = ct
    widget = plugin_dock(viewer, auto=True)
    widget.image_combo.setCurrentText("ct")
    prompts = viewer.layers["ct prompts"]
    viewer.layers.selection.active = prompts
    prompts.mode = "add"
    z, y, x = s.click
    canvas = viewer.window._qt_viewer.canvas.native
    for k in range(3):
        p = canvas_point(viewer, widget, z, y + k, x)
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=p)
        for dx in range(1, 4):
            qtbot.mouseMove(canvas, p + type(p)(dx, 0))
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=p + type(p)(3, 0))
        assert not list(progress._all_instances), "no napari activity-panel progress bar"
    wait_idle(qtbot, widget)
    assert len(prompts.data) == 3
    assert widget.session().n_rounds >= 1 and viewer.layers["ct current object"].data[z].any()


QUIT_WHILE_WARMING = """
import sys, time
import napari
from qtpy.QtWidgets import QApplication
from napari_limnet.data.samples import ct_abdomen
viewer = napari.Viewer(show=True)
viewer.add_image(ct_abdomen().image, name="ct")
widget = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")[1]
app = QApplication.instance()
t = time.time()
while time.time() - t < 0.3:
    app.processEvents()
    time.sleep(0.01)
assert widget.warming, "the warm-up should still be loading the networks"
print("quitting while warming", flush=True)
viewer.close()
"""


def test_quitting_while_the_networks_load_exits_cleanly():
    """Bug 6: quit right after docking (the warm-up still runs): exit code 0, no deleted-object error."""
    import os
    import subprocess

    # the child process uses the display pytest-xvfb set up for this session
    env = {**os.environ, "PYTHONFAULTHANDLER": "0"}
    run = subprocess.run([sys.executable, "-c", QUIT_WHILE_WARMING], capture_output=True, text=True, timeout=300, env=env)
    assert "quitting while warming" in run.stdout, run.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    assert "has been deleted" not in run.stderr and "Error in sys.excepthook" not in run.stderr, run.stderr[-2000:]


def test_the_dock_fits_a_1280x720_screen(ct, qtbot):
    """Bug 5: the dock's minimum height let the window be no shorter than 971 px; it must fit 720."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.height() <= 720, timeout=5000)
    dock = widget.parentWidget()
    while dock is not None and not hasattr(dock, "setFloating"):
        dock = dock.parentWidget()
    assert dock is not None and dock.minimumSizeHint().height() < 500, dock.minimumSizeHint()
    assert window.minimumSizeHint().height() <= 720 and window.height() <= 720
    # what does not fit scrolls: the last control (Load session) is reachable
    area = widget.scroll_area
    qtbot.wait(50)
    area.ensureWidgetVisible(widget.load_session_button)
    qtbot.wait(50)
    top = widget.load_session_button.mapTo(area.viewport(), widget.load_session_button.rect().topLeft()).y()
    assert 0 <= top and top + widget.load_session_button.height() <= area.viewport().height()


def test_voxel_size_fields_for_a_tiff_without_one_reach_layers_rounds_and_replay(make_napari_viewer, qtbot, tmp_path):
    """A TIFF with no voxel size: the fields set it (layers, rounds, session), and the CLI replays the export exactly."""
    import tifffile

    from napari_limnet.cli import main
    from napari_limnet.data.samples import nuclei
    from napari_limnet.io.files import read_volume

    s = nuclei()
    path = tmp_path / "nuclei.tif"
    tifffile.imwrite(path, s.image)
    viewer = make_napari_viewer(show=True)
    viewer.open(str(path), plugin="napari-limnet")
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("nuclei")
    assert "states no voxel size" in widget.info.text()
    assert [b.value() for b in widget.voxel_boxes] == [1.0, 1.0, 1.0]
    for box, v in zip(widget.voxel_boxes, (0.29, 0.26, 0.26)):
        box.setValue(v)
    widget._on_voxel_size_edited()
    np.testing.assert_allclose(viewer.layers["nuclei"].scale, (0.29, 0.26, 0.26))
    np.testing.assert_allclose(viewer.layers["nuclei prompts"].scale, (0.29, 0.26, 0.26))
    assert widget.session().controller.spacing == (0.29, 0.26, 0.26)
    assert "states no voxel size" not in widget.info.text()
    click_and_segment(widget, viewer, qtbot, *s.click)
    widget.commit()
    out = tmp_path / "labels.tif"
    widget.export(str(out))
    session = tmp_path / "labels.limnet.json"
    replayed = tmp_path / "replayed.tif"
    assert main(["replay", str(session), str(path), "--out", str(replayed)]) == 0
    back = read_volume(replayed)
    np.testing.assert_array_equal(back.data, np.asarray(viewer.layers["nuclei committed"].data))
    np.testing.assert_allclose(back.geometry.spacing, (0.29, 0.26, 0.26), rtol=1e-5)


def test_the_current_object_has_its_own_colour(ct, qtbot):
    """The current object was drawn in committed object 1's colour."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    current, committed = viewer.layers["ct current object"], viewer.layers["ct committed"]
    mine = np.asarray(current.colormap.map(np.array([1])))[0]
    others = np.asarray(committed.colormap.map(np.arange(1, 200)))
    assert (np.abs(others[:, :3] - mine[:3]).max(1) > 0.3).all()


def test_the_status_line_after_docking_and_the_samples_suggested_click(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-limnet", "ct_abdomen")
    widget = plugin_dock(viewer)
    text = widget.status.text()
    assert "Pick an image" not in text and "Click on the object in 'ct_abdomen'" in text
    z, y, x = viewer.layers["ct_abdomen"].metadata["sample_click"]
    assert f"try slice {z}, y {y}, x {x}" in text


def test_learn_this_image_without_clicks_on_nuclei_and_why_not_on_ct(make_napari_viewer, qtbot):
    """Issue 37: the label-free button learns on blob-like nuclei and explains why not on a CT abdomen."""
    from napari_limnet.data.samples import nuclei

    viewer = make_napari_viewer(show=True)
    s = nuclei()
    viewer.add_image(s.image, name="nuc", scale=s.spacing)
    c = ct_abdomen()
    viewer.add_image(c.image, name="ct", scale=c.spacing)
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    widget.learn_image()
    qtbot.waitUntil(lambda: not widget.learning, timeout=120000)
    assert "does not suit learning without clicks" in widget.learn_report.text()
    assert widget._state.adapted_current is None
    widget.image_combo.setCurrentText("nuc")
    widget.label_free_seconds = 8
    widget.learn_image()
    assert "Stop learning" in widget.learn_image_button.text()
    qtbot.waitUntil(lambda: not widget.learning, timeout=300000)
    st = widget._state
    assert st.adapted_current is not None and "pseudo_labels" in st.adapted_current.info["adaptation"]
    assert widget.learn_report.text().startswith("Without clicks:") and "Held out object(s)" in widget.learn_report.text()
    assert not st.use_adapted and not widget.use_adapted_check.isChecked(), "pseudo-objects alone never switch models"
    assert widget.use_adapted_check.isEnabled()
    # committed objects then refine the label-free model (Learn from my objects starts from it)
    click_and_segment(widget, viewer, qtbot, *s.click)
    widget.commit()
    widget.learn_seconds.setValue(15)
    widget.learn()
    qtbot.waitUntil(lambda: not widget.learning, timeout=300000)
    assert st.adapted_current.info["adaptation"]["base"] == st.adapted[next(iter(st.adapted))].digest


def test_the_readme_key_table_matches_the_code(make_napari_viewer):
    """The README's key table: every plugin key, what it does, and where napari's own key wins (from napari's keymaps)."""
    import re
    from pathlib import Path

    from napari.layers import Image, Labels, Points, Shapes

    from napari_limnet.widget.keys import KEY_ACTIONS, KEYS, normalise_key

    make_napari_viewer(show=False)  # napari binds its layer keymaps when a viewer exists
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$", readme, flags=re.M)
    table = {key: (does.strip(), wins.strip()) for key, does, wins in rows}
    assert set(table) == set(KEYS.values())
    for name, key in KEYS.items():
        does, wins = table[key]
        assert does == KEY_ACTIONS[name], key
        expected = [cls.__name__ for cls in (Image, Points, Labels, Shapes)
                    if normalise_key(key) in {normalise_key(k) for k in cls.class_keymap}]
        named = re.findall(r"(Image|Points|Labels|Shapes)", wins)
        assert named == expected or (not expected and wins == "nowhere"), (key, wins, expected)
