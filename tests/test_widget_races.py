"""Races the GUI allows: each ends in a consistent state, and no traceback reaches the user."""

from __future__ import annotations

import threading

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_limnet import autosave  # noqa: E402
from napari_limnet.data.samples import ct_abdomen  # noqa: E402
from napari_limnet.widget.annotator import LimNetWidget  # noqa: E402
from napari_limnet.widget.layers import POSITIVE  # noqa: E402
from gui_helpers import settle_layers  # noqa: E402

pytestmark = pytest.mark.gui



def setup(make_napari_viewer, name="ct"):
    viewer = make_napari_viewer(show=True)
    s = ct_abdomen()
    viewer.add_image(s.image, name=name, scale=s.spacing)
    widget = settle_layers(LimNetWidget(viewer))
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator")
    widget.auto_check.setChecked(False)
    return viewer, widget, s


def click(viewer, widget, z, y, x, label=POSITIVE):
    prompts = widget.layers.prompts()
    world = widget.layers.image.data_to_world(np.array([z, y, x], dtype=float))
    viewer.dims.set_point(0, world[0])
    prompts.add(prompts.world_to_data(world))


def test_clicks_and_next_object_while_a_round_runs(make_napari_viewer, qtbot, no_tracebacks):
    viewer, widget, s = setup(make_napari_viewer)
    z, y, x = s.click
    click(viewer, widget, z, y, x)
    widget.segment()
    widget.next_object()  # ignored while busy, with a message
    widget.commit()
    click(viewer, widget, z, 40, 120)
    widget.segment()  # queued behind the running round
    qtbot.waitUntil(lambda: not widget.busy and not widget._pending, timeout=90000)
    ctrl = widget.session().controller
    # the second click on the same slice cancelled the running round; one round ran with both clicks
    assert ctrl.n_rounds == 1 and len(ctrl.interactions[z][0]) == 2


@pytest.mark.parametrize("docking", ["add_dock_widget", "plugin menu"])
def test_a_click_while_the_round_draws_its_preview_cancels_that_round(make_napari_viewer, qtbot, no_tracebacks, monkeypatch,
                                                                      docking):
    """The second click lands while the running round's worker is still drawing the 2D preview, before
    the controller's round starts: the round is cancelled all the same, and one round runs with both
    clicks (the controller's own cancel flag is reset when its round starts, so only the round's token
    carries a cancel that early). Also docked from the Plugins menu (a proxy viewer)."""
    if docking == "plugin menu":
        from gui_helpers import plugin_dock

        viewer = make_napari_viewer(show=True)
        s = ct_abdomen()
        viewer.add_image(s.image, name="ct", scale=s.spacing)
        widget = plugin_dock(viewer)
    else:
        viewer, widget, s = setup(make_napari_viewer)
    z, y, x = s.click
    click(viewer, widget, z, y, x)
    sess = widget.session()
    gate, entered = threading.Event(), threading.Event()
    original = sess.preview

    def held_preview(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread() and not entered.is_set():
            entered.set()
            gate.wait(30)  # the round's worker waits here until the second click is in
        return original(*args, **kwargs)

    monkeypatch.setattr(sess, "preview", held_preview)
    widget.segment()
    assert entered.wait(30)
    click(viewer, widget, z, 40, 120)
    widget.segment()  # queued behind the running round, which it cancels
    gate.set()
    qtbot.waitUntil(lambda: not widget.busy and not widget._pending, timeout=90000)
    ctrl = sess.controller
    assert ctrl.n_rounds == 1 and len(ctrl.interactions[z][0]) == 2


def test_deleting_the_image_during_a_commit(make_napari_viewer, qtbot, no_tracebacks):
    viewer, widget, s = setup(make_napari_viewer)
    click(viewer, widget, *s.click)
    widget.segment()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    journal = widget._journal()
    widget.commit()  # its autosave is still being written in the background
    viewer.layers.remove("ct")
    assert journal.flush()
    assert widget.layers is None and "ct committed" in [lay.name for lay in viewer.layers]
    assert viewer.layers["ct committed"].data.any()
    widget.commit()
    widget.undo()  # nothing selected: no error


def test_switching_the_image_during_a_round(make_napari_viewer, qtbot, no_tracebacks):
    viewer, widget, s = setup(make_napari_viewer)
    viewer.add_image(s.image[:, ::-1].copy(), name="flipped", scale=s.spacing)
    widget.image_combo.setCurrentText("ct")
    click(viewer, widget, *s.click)
    widget.segment()
    widget.image_combo.setCurrentText("flipped")  # cancels the running round
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    widget.image_combo.setCurrentText("ct")
    assert widget.session().controller.n_rounds == 0, "the cancelled round left no trace"
    widget.segment()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    assert widget.session().controller.n_rounds == 1


def test_closing_the_viewer_while_a_worker_runs(make_napari_viewer, qtbot, no_tracebacks):
    viewer, widget, s = setup(make_napari_viewer)
    click(viewer, widget, *s.click)
    widget.segment()
    worker = widget._worker
    viewer.close()
    qtbot.waitUntil(lambda: worker is None or not worker.is_running, timeout=60000)
    qtbot.wait(200)  # let any queued signal arrive
    assert not widget._usable(), "late worker signals are ignored once the viewer is gone"


def test_two_viewers_annotating_the_same_file(make_napari_viewer, qtbot, no_tracebacks, tmp_path):
    s = ct_abdomen()
    widgets = []
    for _ in range(2):
        viewer = make_napari_viewer(show=True)
        viewer.add_image(s.image, name="ct", scale=s.spacing, metadata={"source_path": str(tmp_path / "ct.nii.gz")})
        widget = settle_layers(LimNetWidget(viewer))
        widget.auto_check.setChecked(False)
        widgets.append((viewer, widget))
    (v1, w1), (v2, w2) = widgets
    click(v1, w1, *s.click)
    w1.segment()
    click(v2, w2, s.click[0], 100, 113)
    w2.segment()
    qtbot.waitUntil(lambda: not w1.busy and not w2.busy, timeout=90000)
    w1.commit()
    w2.commit()
    assert w1._journal().flush() and w2._journal().flush()
    a, b = v1.layers["ct committed"].data, v2.layers["ct committed"].data
    assert a.any() and b.any() and not np.array_equal(a, b), "each viewer keeps its own labels"
    restored, info = autosave.load(w1._autosave_key())
    assert ((restored > 0) >= (a > 0)).all() or ((restored > 0) >= (b > 0)).all()
    assert info["objects"] >= 1
