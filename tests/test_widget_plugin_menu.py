"""The widget as users get it: docked through napari's Plugins menu (a PublicOnlyProxy viewer)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from gui_helpers import click_and_segment, plugin_dock, wait_idle  # noqa: E402

pytestmark = pytest.mark.gui



def test_plugin_menu_hands_a_proxy_and_the_widget_unwraps_it(ct):
    viewer, _ = ct
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no private-attribute warning when docking
        widget = plugin_dock(viewer)
    assert widget.viewer is viewer


@pytest.mark.parametrize("role", ["prompts", "committed"])
def test_deleted_plugin_layer_comes_back_when_docked_from_the_plugin_menu(ct, qtbot, role):
    """Issue 19 A: deleting '... prompts' (or '... committed') from the layer list brings it back."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click_and_segment(widget, viewer, qtbot, *s.click)
    widget.commit()
    name = f"ct {role}"
    before = np.array(viewer.layers[name].data)
    viewer.layers.remove(name)
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=5000)
    np.testing.assert_array_equal(np.asarray(viewer.layers[name].data), before)
    n_rounds = widget.session().n_rounds
    click_and_segment(widget, viewer, qtbot, s.click[0], s.click[1] + 2, s.click[2])  # clicks work again
    assert widget.session().n_rounds == n_rounds + 1


def test_undo_after_next_object_in_the_widget(ct, qtbot):
    """Issue 19 B: Next object, then Undo: the object is the current object again, with its rounds."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click_and_segment(widget, viewer, qtbot, *s.click)
    shown = np.array(viewer.layers["ct current object"].data)
    widget.next_object()
    assert viewer.layers["ct committed"].data.any() and not viewer.layers["ct current object"].data.any()
    assert "commit of object 1" in widget.undo_button.text()
    widget.undo()
    assert not viewer.layers["ct committed"].data.any()
    np.testing.assert_array_equal(viewer.layers["ct current object"].data, shown)
    assert widget.session().n_rounds == 1 and "Object 1 is the current object again" in widget.status.text()
    widget.commit()
    assert int((viewer.layers["ct committed"].data == 1).sum()) == int(shown.astype(bool).sum())


def test_learn_from_my_objects_toggle_and_back_to_shipped(make_napari_viewer, qtbot):
    """Issue 18: commit, learn (background, with a report), the toggle, back to shipped."""
    from napari_limnet.data.samples import nuclei

    viewer = make_napari_viewer(show=True)
    s = nuclei()
    viewer.add_image(s.image, name="nuc", scale=s.spacing)
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("nuc")
    assert not widget.learn_button.isEnabled(), "nothing committed yet"
    click_and_segment(widget, viewer, qtbot, *s.click)
    widget.next_object()
    # a second nucleus: the brightest committed-free blob on another slice
    img = s.image.astype(float)
    free = ~viewer.layers["nuc committed"].data.astype(bool)
    zz, yy, xx = np.unravel_index(int(np.argmax(np.where(free, img, 0))), img.shape)
    click_and_segment(widget, viewer, qtbot, int(zz), int(yy), int(xx))
    widget.next_object()
    assert widget.learn_button.isEnabled()
    widget.learn_seconds.setValue(15)
    widget.learn()
    assert widget.learning and "Stop learning" in widget.learn_button.text()
    qtbot.waitUntil(lambda: not widget.learning, timeout=180000)
    st = widget._state
    assert st.adapted_current is not None and st.adapted_current.digest in st.adapted
    assert "Held out object(s)" in widget.learn_report.text()
    assert widget.use_adapted_check.isEnabled()
    assert widget.use_adapted_check.isChecked() == st.use_adapted
    widget.use_adapted_check.setChecked(True)
    sess = widget.session()
    assert sess.controller.models_given is st.adapted_current
    widget.back_to_shipped()
    assert not widget.use_adapted_check.isChecked() and sess.controller.models_given is None
    widget.use_adapted_check.setChecked(True)
    click_and_segment(widget, viewer, qtbot, *s.click)
    assert sess.controller.round_records()[-1]["weights"] == st.adapted_current.digest


def test_draw_a_rectangle_runs_a_box_round_and_editing_it_reruns(ct, qtbot):
    """Issue 20: a rectangle drawn on a slice in '... boxes' runs a box round; editing it replaces it."""
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.robot_user import true_box

    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    z = int(np.argmax(s.truth.sum((1, 2))))
    ymin, xmin, ymax, xmax = true_box(s.truth[z])
    layer = viewer.layers["ct boxes"]
    def rectangle(y0, x0, y1, x1):
        """Around pixels y0..y1, x0..x1 (pixel i spans i - 0.5 .. i + 0.5 in napari)."""
        y0, x0, y1, x1 = y0 - 0.5, x0 - 0.5, y1 + 0.5, x1 + 0.5
        corners = np.array([[z, y0, x0], [z, y0, x1], [z, y1, x1], [z, y1, x0]], float)
        return np.array([layer.world_to_data(widget.layers.image.data_to_world(c)) for c in corners])

    layer.add_rectangles(rectangle(ymin, xmin, ymax, xmax))
    qtbot.waitUntil(lambda: not widget.busy and widget.session().n_rounds == 1, timeout=90000)
    rec = widget.session().controller.round_records()[-1]
    assert rec["z"] == z and rec["box"] == [ymin, xmin, ymax, xmax]
    assert dice(np.asarray(viewer.layers["ct current object"].data, bool), s.truth) > 0.7
    # edit: a smaller rectangle -> the box round is replaced (still one round)
    layer.data = [rectangle(ymin + 2, xmin + 2, ymax - 2, xmax - 2)]  # napari emits 'changed'
    wait_idle(qtbot, widget)
    assert widget.session().n_rounds == 1
    assert widget.session().controller.round_records()[-1]["box"] == [ymin + 2, xmin + 2, ymax - 2, xmax - 2]
    widget.undo()
    assert widget.session().n_rounds == 0


def test_paint_a_slice_and_press_p(ct, qtbot):
    """Issue 20: paint on '... current object' with the brush, then Propagate this slice [P]."""
    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    z = int(np.argmax(s.truth.sum((1, 2))))
    world = widget.layers.image.data_to_world(np.array([z, 0, 0], float))
    viewer.dims.set_point(0, world[0])
    current = viewer.layers["ct current object"]
    painted = s.truth[z].copy()
    current.data[z] = painted  # what the brush writes into the layer's data
    current.refresh()
    widget.propagate_slice()
    wait_idle(qtbot, widget)
    sess = widget.session()
    assert sess.n_rounds == 1 and sess.controller.round_records()[-1].get("mask") is not None
    np.testing.assert_array_equal(sess.slice_mask(z), painted)
    assert sess.nonempty_slices() != [z], "the painted slice propagated"
    widget.undo()
    assert sess.n_rounds == 0
    # an empty slice: a clear message, no round
    current.data[...] = 0
    widget.propagate_slice()
    assert sess.n_rounds == 0 and "empty" in widget.status.text()


def test_dock_adds_its_layers_in_turns_in_role_order_without_stealing_the_active_layer(ct, qtbot):
    """Issue 38 (dock opening blocks the UI): the layers come one per event-loop turn, stacked
    committed < current object < scribbles < boxes < prompts, prompts active once added; a layer
    the user activated meanwhile stays active while the rest are added."""
    from napari_limnet.widget.layers import ROLE_ORDER

    viewer, _ = ct
    _, widget = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")
    assert widget.adding_layers and "ct committed" not in [lay.name for lay in viewer.layers]
    qtbot.waitUntil(lambda: "ct prompts" in viewer.layers, timeout=20000)
    assert viewer.layers.selection.active is viewer.layers["ct prompts"]
    viewer.layers.selection.active = viewer.layers["ct"]  # the user picks the image while layers still come
    qtbot.waitUntil(lambda: not widget.adding_layers, timeout=20000)
    assert viewer.layers.selection.active is viewer.layers["ct"]
    names = [lay.name for lay in viewer.layers]
    assert names == ["ct"] + [f"ct {role}" for role in ROLE_ORDER]


def test_a_deleted_layer_comes_back_in_its_place_not_on_top(ct, qtbot):
    viewer, _ = ct
    widget = plugin_dock(viewer)
    order = [lay.name for lay in viewer.layers]
    viewer.layers.remove("ct current object")
    qtbot.waitUntil(lambda: "ct current object" in viewer.layers, timeout=5000)
    assert [lay.name for lay in viewer.layers] == order
    assert widget.layers.current() is viewer.layers["ct current object"]


def test_strip_says_it_is_a_weak_guide_after_a_large_correction_on_a_sure_slice(ct, qtbot):
    """Issue 38 (confidence and G on brain MRI): the user's corrections judge the strip; a large
    correction on a slice shown as sure fades the strip and G's status line says so."""
    from gui_helpers import click
    from napari_limnet.widget.confidence import WEAK_LABEL
    from napari_limnet.widget.layers import NEGATIVE

    viewer, s = ct
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("ct")
    click_and_segment(widget, viewer, qtbot, *s.click)
    strip = widget.confidence_strip
    assert strip.reliable is None and "On this object" not in strip.toolTip()
    shown = widget.session().controller.state.masks
    sure = [z for z, c in strip.values.items() if c >= 2 / 3 and z != s.click[0] and z in shown]
    assert sure, "the CT sample's first round leaves slices the strip calls sure"
    z = max(sure, key=lambda k: abs(k - s.click[0]))  # the far end of the object
    mask = np.asarray(viewer.layers["ct current object"].data[z]).astype(bool)
    ys, xs = np.nonzero(mask)
    i = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    click(widget, viewer, z, int(ys[i]), int(xs[i]), label=NEGATIVE)  # "not the object here": the slice is erased
    widget.segment()
    wait_idle(qtbot, widget)
    assert not np.asarray(viewer.layers["ct current object"].data[z]).any()
    assert strip.reliable is False and "1 of the 1 slice(s) you corrected substantially was shown as sure" in strip.toolTip()
    image = strip.grab().toImage()  # the faded colours and the label are painted
    assert image.width() > 0 and WEAK_LABEL.startswith("weak guide")
    widget.go_to_least_confident()
    assert "weak guide on this object" in widget.status.text()


def test_switching_images_while_layers_come_keeps_adding_the_new_images_layers(ct, qtbot):
    """A second image picked before the first image's layers are all added: all of its layers come,
    and the flag that says layers are still coming never drops before they are there (the first
    image's stopped turns no longer clear it; that race spans one event-loop pass, so this test
    rarely sees it on the code before)."""
    viewer, s = ct
    viewer.add_image(s.image.copy(), name="ct2", scale=s.spacing)
    _, widget = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")
    widget.image_combo.setCurrentText("ct")
    qtbot.waitUntil(lambda: "ct prompts" in viewer.layers, timeout=20000)
    widget.image_combo.setCurrentText("ct2")
    roles = ("prompts", "current object", "boxes", "committed", "scribbles")

    def complete():
        names = [lay.name for lay in viewer.layers]
        return all(f"ct2 {role}" in names for role in roles)

    import time

    from qtpy.QtWidgets import QApplication

    end, premature = time.monotonic() + 30, []
    while not complete() and time.monotonic() < end:
        QApplication.processEvents()
        if not widget.adding_layers and not complete():
            premature.append(time.monotonic())
        time.sleep(0.001)
    assert complete() and not premature, "the flag dropped while the second image's layers were still coming"
