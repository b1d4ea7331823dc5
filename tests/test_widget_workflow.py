"""Regression tests for the napari workflow bugs a new user hit (each failed before its fix)."""

from __future__ import annotations

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_limnet.data.samples import ct_abdomen, nuclei  # noqa: E402
from napari_limnet.widget.annotator import LimNetWidget  # noqa: E402
from napari_limnet.widget.layers import NEGATIVE, NEGATIVE_COLOR, POSITIVE, POSITIVE_COLOR  # noqa: E402

pytestmark = pytest.mark.gui


def dock(viewer, **kw):
    widget = settle_layers(LimNetWidget(viewer))
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator")
    widget.auto_check.setChecked(kw.get("auto", False))
    return widget


from gui_helpers import click, ct_viewer, settle_layers, wait_idle  # noqa: E402,F401 - shared with the plugin-menu tests


@pytest.fixture
def two_images(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    s, n = ct_abdomen(), nuclei()
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    viewer.add_image(n.image, name="nuc", scale=n.spacing)
    return viewer, s, n


def one_round_on_ct(viewer, s, qtbot):
    """Dock the annotator, pick 'ct' and run one round on the sample's click; returns the widget."""
    widget = dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click(widget, viewer, *s.click)
    widget.segment()
    wait_idle(qtbot, widget)
    return widget


def test_switching_images_keeps_each_images_session_layers_and_undo(two_images, qtbot):
    viewer, s, n = two_images
    widget = one_round_on_ct(viewer, s, qtbot)
    shown = viewer.layers["ct current object"].data.copy()
    assert shown.any()
    rounds = widget.session().controller.n_rounds
    widget.image_combo.setCurrentText("nuc")
    assert widget.layers.image.name == "nuc"
    widget.image_combo.setCurrentText("ct")
    sess = widget.session()
    assert sess.controller.n_rounds == rounds, "the uncommitted rounds are still there"
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)
    assert widget.layers.current_data is viewer.layers["ct current object"].data, "the widget writes what is shown"
    record_voxels = int(np.count_nonzero(shown))
    widget.commit()
    committed = viewer.layers["ct committed"].data
    assert int(np.count_nonzero(committed)) == record_voxels, "commit lands in the layer on screen"
    widget.undo()
    assert not committed.any()
    widget.undo()
    assert sess.controller.n_rounds == rounds - 1, "the undo history survived the switch"


def test_closing_the_dock_disconnects_and_reopening_adopts_the_session(two_images, qtbot):
    viewer, s, n = two_images
    widget = one_round_on_ct(viewer, s, qtbot)
    rounds = widget.session().controller.n_rounds
    viewer.window.remove_dock_widget(widget)  # what the dock's x does
    assert widget._closed
    new = dock(viewer)
    new.image_combo.setCurrentText("ct")
    assert new.session().controller.n_rounds == rounds, "the new widget has the session"
    assert not new.restore_button.isVisible(), "no autosave offer for what is already loaded"
    new.commit()
    assert viewer.layers["ct committed"].data.any(), "'Nothing to commit' no longer"
    before = new.session().controller.n_rounds
    click(new, viewer, s.click[0] + 2, s.click[1], s.click[2])  # only the new widget reacts
    new.segment()
    wait_idle(qtbot, new)
    assert new.session().controller.n_rounds == before + 1


def test_a_click_outside_the_image_is_removed_and_does_not_poison_the_slice(make_napari_viewer, qtbot):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer)
    z, y, x = s.click
    prompts = widget.layers.prompts()
    world = widget.layers.image.data_to_world(np.array([z, y, x + 500], dtype=float))
    prompts.add(prompts.world_to_data(world))
    assert len(prompts.data) == 0, "the outside click was removed from the layer"
    click(widget, viewer, z, y, x)
    pos, neg = widget.layers.clicks((), z)
    assert pos == [(y, x)]
    widget.segment()
    wait_idle(qtbot, widget)
    assert widget.session().controller.n_rounds == 1


def test_a_deleted_prompts_layer_comes_back_wired_with_its_points(make_napari_viewer, qtbot):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer)
    z, y, x = s.click
    click(widget, viewer, z, y, x)
    viewer.layers.remove("ct prompts")
    qtbot.waitUntil(lambda: "ct prompts" in [lay.name for lay in viewer.layers], timeout=5000)
    prompts = viewer.layers["ct prompts"]
    assert len(prompts.data) == 1 and prompts.feature_defaults["label"][0] == POSITIVE
    widget.auto_check.setChecked(True)
    click(widget, viewer, z, y - 3, x)  # clicks on the returned layer still run rounds
    wait_idle(qtbot, widget)
    assert widget.session().controller.n_rounds == 1


def test_two_quick_clicks_on_different_slices_both_run(make_napari_viewer, qtbot):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer, auto=True)
    z, y, x = s.click
    click(widget, viewer, z, y, x)
    click(widget, viewer, z - 5, y, x)  # while the first round runs
    wait_idle(qtbot, widget)
    qtbot.waitUntil(lambda: not widget._pending and not widget.busy, timeout=90000)
    assert set(widget.session().controller.interactions) == {z, z - 5}, "no displayed click was ignored"


def test_undo_says_what_it_reverts_and_an_empty_export_is_refused(make_napari_viewer, qtbot, tmp_path):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer)
    click(widget, viewer, *s.click)
    widget.segment()
    wait_idle(qtbot, widget)
    assert "round 1" in widget.undo_button.text()
    widget.next_object()
    assert "commit of object 1" in widget.undo_button.text()
    assert "commit of object 1" in widget.status.text()
    widget.undo()
    assert not viewer.layers["ct committed"].data.any()
    with pytest.raises(ValueError, match="empty"):
        widget.export(str(tmp_path / "empty.nii.gz"))
    assert not (tmp_path / "empty.nii.gz").exists()


def test_smaller_things(make_napari_viewer, qtbot, monkeypatch):
    viewer = make_napari_viewer(show=True)
    warnings = []
    monkeypatch.setattr("napari_limnet.widget.images.show_warning", warnings.append)
    viewer.add_image(np.random.rand(32, 32).astype(np.float32), name="flat")
    widget = dock(viewer)
    assert not widget.segment_button.isEnabled() and not widget.commit_button.isEnabled()
    n = len(warnings)
    viewer.add_points(np.zeros((0, 2)), name="other")
    assert len(warnings) == n, "the 2D warning is not repeated whenever a layer is added"
    s = ct_abdomen()
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    widget.image_combo.setCurrentText("ct")
    assert widget.segment_button.isEnabled()
    prompts = widget.layers.prompts()
    assert not hasattr(prompts, "_limnet_wired"), "no private attributes on napari's layers"
    widget.toggle_mode()
    assert np.allclose(prompts._face.current_color, NEGATIVE_COLOR), "the layer controls show red for negative"
    widget.toggle_mode()
    assert np.allclose(prompts._face.current_color, POSITIVE_COLOR)


def test_a_cancelled_round_removes_its_preview(make_napari_viewer, qtbot):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer, auto=True)
    widget._relay.progress.connect(lambda *a: widget.cancel())
    z, y, x = s.click
    click(widget, viewer, z, y, x)
    wait_idle(qtbot, widget)
    assert widget.session().controller.n_rounds == 0
    assert not viewer.layers["ct current object"].data.any(), "the cancelled round's 2D preview is gone"


def test_refine_a_committed_object_and_commit_it_under_its_id(make_napari_viewer, qtbot):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer)
    z, y, x = s.click
    click(widget, viewer, z, y, x)
    widget.segment()
    wait_idle(qtbot, widget)
    widget.next_object()
    committed = viewer.layers["ct committed"].data
    first = committed == 1
    assert first.any()
    # pick it by Ctrl-click on the committed object
    world = widget.layers.image.data_to_world(np.array(np.argwhere(first)[len(np.argwhere(first)) // 2], dtype=float))

    class Event:
        modifiers = ("Control",)
        position = tuple(world)
        type = "mouse_press"

    event = Event()
    press = widget._on_mouse_press(viewer, event)
    next(press)  # press
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(press)  # release
    qtbot.waitUntil(lambda: not widget._edit_click, timeout=2000)
    sess = widget.session()
    assert sess.object_id == 1 and sess.controller.n_rounds == 0
    np.testing.assert_array_equal(viewer.layers["ct current object"].data.astype(bool), first)
    # refine: a negative click on one of its slices, commit back under id 1
    from napari_limnet.data.samples import _deepest

    zz = int(np.flatnonzero(first.any(axis=(1, 2)))[-1])
    yy, xx = _deepest(first[zz])  # in the core of that slice's mask: "not this slice"
    click(widget, viewer, zz, int(yy), int(xx), NEGATIVE)
    widget.segment()
    wait_idle(qtbot, widget)
    widget.commit()
    assert set(np.unique(committed)) <= {0, 1}, "written back under the same id"
    assert (committed == 1).sum() < first.sum()
    assert not widget.edit_object(7), "no such object: a message, nothing changes"


def test_export_writes_a_session_that_load_session_replays(make_napari_viewer, qtbot, tmp_path):
    viewer, s = ct_viewer(make_napari_viewer)
    widget = dock(viewer)
    for z, y, x in s.demo_clicks():
        click(widget, viewer, z, y, x)
        widget.segment()
        wait_idle(qtbot, widget)
    widget.commit()
    saved = viewer.layers["ct committed"].data.copy()
    widget.export(str(tmp_path / "labels.nii.gz"))
    sidecar = tmp_path / "labels.limnet.json"
    assert sidecar.is_file()
    widget.undo()  # the commit
    assert not viewer.layers["ct committed"].data.any()
    widget.load_session(str(sidecar))
    wait_idle(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["ct committed"].data, saved)
    assert "loaded session" in widget.undo_button.text()
    widget.undo()
    assert not viewer.layers["ct committed"].data.any()
