"""The napari workflow, driven programmatically under Xvfb (pytest-xvfb) with a real viewer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_limnet.data.samples import ct_abdomen  # noqa: E402
from napari_limnet.widget.annotator import LimNetWidget  # noqa: E402
from napari_limnet.widget.layers import NEGATIVE, POSITIVE  # noqa: E402
from gui_helpers import settle_layers  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def annotator(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    s = ct_abdomen()
    image = viewer.add_image(s.image, name="ct", scale=s.spacing)
    widget = settle_layers(LimNetWidget(viewer))
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator")
    widget.auto_check.setChecked(False)
    return viewer, widget, image, s


def add_click(viewer, widget, z, y, x, label=POSITIVE):
    prompts = widget.layers.prompts()
    if prompts.feature_defaults["label"][0] != label:
        widget.toggle_mode()
    world = widget.layers.image.data_to_world(np.array([z, y, x], dtype=float))
    prompts.add(prompts.world_to_data(world))
    viewer.dims.set_point(0, world[0])


def run_round(qtbot, widget):
    widget.segment()
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)


def test_full_annotation_flow(annotator, qtbot, tmp_path):
    viewer, widget, image, s = annotator
    names = [lay.name for lay in viewer.layers]
    for role in ("prompts", "scribbles", "current object", "committed"):
        assert f"ct {role}" in names
        layer = viewer.layers[f"ct {role}"]
        np.testing.assert_allclose(layer.scale, image.scale)
        np.testing.assert_allclose(layer.translate, image.translate)
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)
    current = viewer.layers["ct current object"]
    qtbot.waitUntil(lambda: current.data[z].any(), timeout=20000)  # the 2D preview, computed off the UI thread
    run_round(qtbot, widget)
    mask = current.data.astype(bool)
    assert mask.any() and mask.shape == image.data.shape
    assert (mask.reshape(mask.shape[0], -1).any(1)).sum() > 1, "propagated beyond the clicked slice"
    # first commit
    widget.commit()
    committed = viewer.layers["ct committed"].data
    first_id = int(committed.max())
    assert first_id == 1 and (committed == 1).sum() == mask.sum()
    # second object: the other kidney, with a negative click too
    widget.next_object()
    assert not viewer.layers["ct current object"].data.any()
    z2 = z
    ys, xs = np.nonzero(s.image[z2] > 120)
    right = xs > s.image.shape[2] // 2 + 10
    y2, x2 = int(np.median(ys[right])), int(np.median(xs[right]))
    add_click(viewer, widget, z2, y2, x2)
    add_click(viewer, widget, z2, 5, 5, NEGATIVE)
    run_round(qtbot, widget)
    assert viewer.layers["ct current object"].data.any()
    before = committed.copy()
    widget.commit()
    assert int(committed.max()) == 2
    assert ((before == 1) == (committed == 1)).all(), "committing object 2 never overwrote object 1"
    # undo the commit, exactly
    widget.undo()
    np.testing.assert_array_equal(committed, before)
    # export and re-read with identical geometry
    out = tmp_path / "labels.nii.gz"
    widget.export(str(out))
    from napari_limnet._reader import read_layers

    data, kwargs, kind = read_layers(str(out))[0]
    np.testing.assert_array_equal(data, committed)
    np.testing.assert_allclose(kwargs["scale"], image.scale, atol=1e-5)
    np.testing.assert_allclose(kwargs["translate"], image.translate, atol=1e-5)
    viewer.screenshot(str(tmp_path / "shot.png"), canvas_only=False)


def one_round_done(annotator, qtbot):
    """Click the sample's object, run the round; returns (session, its state, the shown mask)."""
    viewer, widget, image, s = annotator
    add_click(viewer, widget, *s.click)
    run_round(qtbot, widget)
    sess = widget.session()
    return sess, sess.controller.state, viewer.layers["ct current object"].data.copy()


def test_cancel_keeps_state(annotator, qtbot):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    sess, state, shown = one_round_done(annotator, qtbot)
    add_click(viewer, widget, z + 3, y, x)
    viewer.dims.set_point(0, image.data_to_world(np.array([z + 3, y, x]))[0])
    sess.controller.cancel()  # cancel flag is cleared at round start, so cancel from the progress callback
    widget._relay.progress.connect(lambda *a: widget.cancel())
    run_round(qtbot, widget)
    assert sess.controller.state is state, "a cancelled round leaves the state exactly as it was"
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)


def test_deleted_layers_come_back(annotator, qtbot):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)
    run_round(qtbot, widget)
    widget.commit()
    saved = viewer.layers["ct committed"].data.copy()
    viewer.layers.remove("ct committed")
    viewer.layers.remove("ct prompts")
    widget.commit()  # re-creates the committed layer with its content
    assert "ct committed" in [lay.name for lay in viewer.layers]
    np.testing.assert_array_equal(viewer.layers["ct committed"].data, saved)
    widget.layers.prompts()
    assert "ct prompts" in [lay.name for lay in viewer.layers]


def test_anisotropic_clicks_land_on_the_right_voxel(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    vol = np.zeros((20, 40, 50), dtype=np.float32)
    vol[5:15, 10:30, 12:20] = 100
    vol += np.linspace(0, 1, 50, dtype=np.float32)
    viewer.add_image(vol, name="aniso", scale=(5.0, 0.7, 0.9), translate=(10.0, -3.0, 4.0))
    widget = settle_layers(LimNetWidget(viewer))
    widget.auto_check.setChecked(False)
    add_click(viewer, widget, 9, 21, 15)
    pos, neg = widget.layers.clicks((), 9)
    assert pos == [(21, 15)] and neg == []
    assert widget._current_z() == 9


def test_2d_and_rgb_images_get_a_message(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.random.rand(32, 32).astype(np.float32), name="flat")
    widget = settle_layers(LimNetWidget(viewer))
    assert "2D" in widget.info.text()
    viewer.add_image(np.random.rand(32, 32, 3).astype(np.float32), name="colour", rgb=True)
    widget.image_combo.setCurrentText("colour")
    assert "RGB" in widget.info.text()


def test_4d_image_uses_the_current_time_point(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    s = ct_abdomen()
    vol4 = np.stack([s.image, np.roll(s.image, 3, axis=2)])
    viewer.add_image(vol4, name="ct4d", scale=(1.0,) + s.spacing)
    widget = settle_layers(LimNetWidget(viewer))
    widget.auto_check.setChecked(False)
    viewer.dims.set_point(0, 1.0)
    assert widget._lead() == (1,)
    z, y, x = s.click
    prompts = widget.layers.prompts()
    prompts.add(prompts.world_to_data(widget.layers.image.data_to_world(np.array([1, z, y, x + 3], dtype=float))))
    viewer.dims.set_point(1, widget.layers.image.data_to_world(np.array([1, z, y, x]))[1])
    run_round(qtbot, widget)
    cur = viewer.layers["ct4d current object"].data
    assert cur[1].any() and not cur[0].any()


def test_image_removed_while_propagating(annotator, qtbot):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)
    widget.segment()
    viewer.layers.remove(image)
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    assert widget.layers is None
    assert "ct committed" in [lay.name for lay in viewer.layers], "committed labels stay"


def test_worker_errors_are_notified_and_state_kept(annotator, qtbot, monkeypatch):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    sess, state, shown = one_round_done(annotator, qtbot)
    errors = []
    monkeypatch.setattr("napari_limnet.widget.round_queue.show_error", errors.append)

    def broken(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("napari_limnet.controller.propagate", broken)
    add_click(viewer, widget, z + 2, y, x)
    run_round(qtbot, widget)
    assert errors and "simulated failure" in errors[0]
    assert sess.controller.state is state
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)


def test_outside_click_is_ignored_with_a_message(annotator, qtbot, monkeypatch):
    viewer, widget, image, s = annotator
    warnings = []
    monkeypatch.setattr("napari_limnet.widget.round_queue.show_warning", warnings.append)
    prompts = widget.layers.prompts()
    prompts.add(prompts.world_to_data(image.data_to_world(np.array([5, 500, 500], dtype=float))))
    assert warnings and "outside the image" in warnings[0]
    assert widget.session().controller.n_rounds == 0


def test_same_named_layer_of_another_shape_is_kept_aside(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    old = viewer.add_labels(np.ones((3, 8, 8), np.uint16), name="vol committed", metadata={"limnet_role": "committed"})
    vol = np.random.rand(10, 32, 32).astype(np.float32)
    viewer.add_image(vol, name="vol")
    widget = settle_layers(LimNetWidget(viewer))
    assert widget.layers.committed().data.shape == vol.shape
    assert old in viewer.layers and old.data.sum() == 3 * 64 and old.name.startswith("vol committed (shape")


def test_images_too_large_for_the_label_layers_are_refused(make_napari_viewer, monkeypatch):
    monkeypatch.setattr("napari_limnet.widget.layers.physical_memory_bytes", lambda: 2**20)
    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.random.rand(10, 128, 128).astype(np.float32), name="big")
    widget = settle_layers(LimNetWidget(viewer))
    assert widget.layers is None and "GB" in widget.info.text() and "lazy" in widget.info.text()


def test_autosave_is_offered_and_restored(make_napari_viewer, qtbot):
    s = ct_abdomen()
    viewer = make_napari_viewer(show=True)
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    widget = settle_layers(LimNetWidget(viewer))
    widget.auto_check.setChecked(False)
    add_click(viewer, widget, *s.click)
    run_round(qtbot, widget)
    widget.commit()
    saved = viewer.layers["ct committed"].data.copy()
    # "crash": a new viewer opens the same image
    viewer2 = make_napari_viewer(show=True)
    viewer2.add_image(s.image, name="ct", scale=s.spacing)
    widget2 = settle_layers(LimNetWidget(viewer2))
    assert not widget2.restore_button.isHidden()
    assert widget2.restore_autosave()
    np.testing.assert_array_equal(viewer2.layers["ct committed"].data, saved)


def test_scribbles_become_clicks(annotator, qtbot):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    widget.layers.scribble_data[z, y - 2 : y + 3, x - 12 : x + 12] = 1  # a positive stroke
    widget.layers.scribble_data[z, 5:8, 5:40] = 2  # a negative stroke
    pos, neg = widget.layers.clicks((), z)
    assert 2 <= len(pos) <= 12 and 2 <= len(neg) <= 12
    assert all(abs(py - y) <= 2 and abs(px - x) <= 12 for py, px in pos)
    assert all(5 <= ny < 8 for ny, _ in neg)
    viewer.dims.set_point(0, image.data_to_world(np.array([z, y, x], dtype=float))[0])
    run_round(qtbot, widget)
    assert viewer.layers["ct current object"].data[z].any()
    assert widget.session().controller.interactions[z][1], "negative stroke clicks reached the round"


def test_keys_are_bound_on_viewer_and_plugin_layers_where_napari_binds_nothing(annotator):
    from napari_limnet.widget.keys import KEYS, napari_keys, normalise_key

    viewer, widget, image, s = annotator
    def keys(obj):
        return {normalise_key(k) for k in obj.keymap}

    for key in KEYS.values():
        assert normalise_key(key) in keys(viewer), key
        for role in ("prompts", "current object", "committed", "scribbles", "boxes"):
            layer = viewer.layers[f"ct {role}"]
            napari_owns = normalise_key(key) in napari_keys(layer)
            assert (normalise_key(key) in keys(layer)) != napari_owns, (key, role)
    assert "P" in napari_keys(viewer.layers["ct current object"]) and "R" in napari_keys(viewer.layers["ct boxes"])
    # the viewer's T binding really toggles the prompt mode
    binding = next(fn for k, fn in viewer.keymap.items() if str(k).upper() == "T")
    binding(viewer)
    assert "negative" in widget.mode_button.text()
    for button in (widget.segment_button, widget.commit_button, widget.undo_button, widget.reset_button, widget.next_button):
        assert "[" in button.text() and "]" in button.text()


def test_toggle_switches_new_points_to_negative(annotator):
    viewer, widget, image, s = annotator
    widget.toggle_mode()
    z, y, x = s.click
    prompts = widget.layers.prompts()
    prompts.add(prompts.world_to_data(image.data_to_world(np.array([z, y, x], dtype=float))))
    assert list(prompts.features["label"]) == [NEGATIVE]
    assert np.allclose(prompts.face_color[0][:3], [1.0, 0.15, 0.15], atol=0.02)
    assert "negative" in widget.mode_button.text()


def test_settings_reach_the_controller(annotator):
    viewer, widget, image, s = annotator
    widget.range_combo.setCurrentIndex(1)
    widget.max_slices.setValue(4)
    widget.stop_check.setChecked(False)
    widget.trim_check.setChecked(True)
    ctrl = widget.session().controller
    assert ctrl.max_slices == 4 and ctrl.stop_when_empty is False and ctrl.z_limits is None
    assert ctrl.stopping.propagate_trims is True
    widget.range_combo.setCurrentIndex(2)
    widget.z_low.setValue(3)
    widget.z_high.setValue(9)
    ctrl = widget.session().controller
    assert ctrl.z_limits == (3, 9) and ctrl.max_slices is None


def test_a_click_during_a_round_does_not_block_and_is_redone(annotator, qtbot):
    import time

    viewer, widget, image, s = annotator
    widget.auto_check.setChecked(True)
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)  # starts a round in the worker
    assert widget.busy
    t = time.perf_counter()
    add_click(viewer, widget, z, y + 2, x)  # must return at once, not wait for the round
    assert time.perf_counter() - t < 0.5
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    assert widget.session().controller.interactions[z][0] == [(y, x), (y + 2, x)]


def test_confidence_strip_and_go_to_least_confident(annotator, qtbot):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)
    run_round(qtbot, widget)
    strip = widget.confidence_strip
    assert strip.n_slices == image.data.shape[0]
    assert strip.values and all(0.0 <= v <= 1.0 for v in strip.values.values())
    assert strip.values[z] == 1.0, "the clicked slice is certain"
    values, worst = widget.session().confidence()
    assert worst is not None and worst in values
    viewer.dims.set_point(0, float(image.data_to_world(np.array([0.0, 0, 0]))[0]))
    widget.go_to_least_confident()
    assert widget._current_z() == worst, "G jumps to the slice that most needs a check"
    assert strip.current == worst
    strip.slice_clicked.emit(3)
    assert widget._current_z() == 3


def test_a_device_that_fails_its_test_pass_is_not_used(annotator, monkeypatch):
    viewer, widget, image, s = annotator
    import napari_limnet.modeling.weights as weights_module

    monkeypatch.setattr(weights_module, "check_device", lambda dev: f"{dev}: CUDA driver too old")
    widget.device_combo.addItem("cuda")
    widget.device_combo.setCurrentText("cuda")
    assert widget.device == "cpu", "the failing device was refused"
    assert "switched" not in widget.status.text()


def test_a_device_error_keeps_the_state_and_offers_the_cpu(annotator, qtbot, monkeypatch):
    viewer, widget, image, s = annotator
    z, y, x = s.click
    add_click(viewer, widget, z, y, x)
    run_round(qtbot, widget)
    sess = widget.session()
    before = np.array(viewer.layers["ct current object"].data)
    rounds = sess.controller.n_rounds
    import torch

    real_segment = sess.controller._runner.segment

    def oom(*a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")

    sess.controller._runner.segment = oom
    monkeypatch.setattr(type(sess), "device", property(lambda self: "cuda"))
    add_click(viewer, widget, z + 2, y, x)
    run_round(qtbot, widget)
    assert sess.controller.n_rounds == rounds, "the failed round changed nothing"
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, before)
    assert widget.rerun_cpu_button.isVisible() and "Nothing was lost" in widget.status.text()
    monkeypatch.undo()
    sess.controller._runner.segment = real_segment
    widget.rerun_on_cpu()  # a fresh runner on the CPU, and the round again
    qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
    assert sess.controller.n_rounds == rounds + 1 and not widget.rerun_cpu_button.isVisible()


def test_a_late_preview_never_paints_over_a_round(annotator, qtbot, monkeypatch):
    """A preview worker that returns after a round (here: a failed one) is dropped, not shown."""
    viewer, widget, image, s = annotator
    z, y, x = s.click
    sess, state, shown = one_round_done(annotator, qtbot)
    release, calls = threading.Event(), []
    real_preview = sess.preview

    def slow_first_preview(*a, **k):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # the preview worker of the click: held until the round is over
            assert release.wait(30)
        return real_preview(*a, **k)

    monkeypatch.setattr(sess, "preview", slow_first_preview)
    monkeypatch.setattr("napari_limnet.widget.round_queue.show_error", lambda msg: None)
    monkeypatch.setattr("napari_limnet.controller.propagate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    add_click(viewer, widget, z + 2, y, x)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=20000)
    run_round(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)
    painted, show_preview = [], widget._show_preview
    monkeypatch.setattr(widget, "_show_preview", lambda zz, m: (painted.append(zz), show_preview(zz, m)))
    release.set()
    qtbot.waitUntil(lambda: widget._preview_worker is None, timeout=20000)
    qtbot.wait(50)
    assert painted == [], "the stale preview was dropped"
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)
    # a preview asked for now (nothing after it) is shown
    add_click(viewer, widget, z + 3, y, x)
    qtbot.waitUntil(lambda: painted == [z + 3], timeout=20000)
