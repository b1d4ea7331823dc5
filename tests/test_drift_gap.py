"""The intensity-gap stop: a mask that crosses a thin boundary into a touching neighbour of the same kind."""

from dataclasses import asdict, replace

import numpy as np
import pytest

from napari_limnet import LimNetController
from napari_limnet.inference.stopping import DriftGapRule, StoppingConfig


def test_a_peak_that_comes_back_is_a_gap_and_its_slice_is_the_boundary():
    rule = DriftGapRule(height=0.75, fall=0.67, within=3)
    assert rule.find([0.1, 0.2, 1.2, 0.3, 0.2]) == 2
    assert rule.find([0.1, 1.0, 0.9, 0.8, 0.6]) == 1, "back to 0.6 <= 0.67 x 1.0 within three slices"


def test_no_gap_without_a_peak_a_return_or_a_mask():
    rule = DriftGapRule(height=0.75, fall=0.67, within=3)
    assert rule.find([0.1, 0.5, 0.7, 0.2]) is None, "below the height"
    assert rule.find([0.2, 0.9, 1.1, 1.3, 1.4]) is None, "drifted into other tissue and stayed: not a gap"
    assert rule.find([0.2, 1.0, 0.7, 0.7, 0.7, 0.1]) is None, "came back too late"
    assert rule.find([0.2, 1.0, None, None]) is None, "a slice without a mask does not come back"
    assert rule.find([]) is None


def _stacked_disks(gap_intensity: float) -> np.ndarray:
    """(21, 64, 64): one disk column, slice 10 a thin boundary of ``gap_intensity`` (the rest 1.0)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 32) ** 2 + (xx - 32) ** 2 < 10**2
    vol = np.full((21, 64, 64), 0.1, np.float32)
    for z in range(21):
        vol[z][disk] = gap_intensity if z == 10 else 1.0
    return vol + rng.normal(0, 0.05, vol.shape).astype(np.float32)


def test_propagation_stops_at_the_boundary_between_stacked_objects():
    """The shipped nets follow the disk column across a faint boundary slice; the drift there
    (about 1.3 spreads) is under the drift tolerance (2), so only the gap rule ends the object."""
    vol = _stacked_disks(0.93)
    with_gap = LimNetController(vol)
    mask = with_gap.interact(5, [(32, 32)], [])
    assert np.nonzero(mask.any(axis=(1, 2)))[0].tolist() == list(range(10))
    assert 0.75 <= with_gap.state.evidence[10].drift < StoppingConfig().drift_tolerance
    assert with_gap.last_round_stats["stops"] == {"up": "intensity gap", "down": "range limit"}
    without = LimNetController(vol, stopping=replace(StoppingConfig(), drift_gap=None))
    mask = without.interact(5, [(32, 32)], [])
    assert np.nonzero(mask.any(axis=(1, 2)))[0].tolist() == list(range(21)), "without the rule it runs on"
    assert without.last_round_stats["stops"] == {"up": "range limit", "down": "range limit"}
    without.interact(12, [], [(32, 32)])  # a negative-only round does not propagate
    assert without.last_round_stats["stops"] == {}


def test_the_status_line_names_a_gap_or_a_valley_and_nothing_else():
    pytest.importorskip("napari")
    from napari_limnet.widget.round_queue import stop_note

    assert stop_note({}) == "" and stop_note({"up": "object ended", "down": "range limit"}) == ""
    note = stop_note({"up": "intensity gap", "down": "object ended"})
    assert "towards higher slices at an intensity gap" in note and "lower" not in note
    note = stop_note({"up": "area valley", "down": "intensity gap"})
    assert note.index("higher slices at an area valley") < note.index("lower slices at an intensity gap")
    assert "untick 'Stop where the object ends'" in note


@pytest.mark.gui
def test_the_widget_says_where_the_round_stopped_at_a_gap(make_napari_viewer, qtbot):
    """Docked from the Plugins menu (a proxy viewer): after a round that ended at the boundary
    slice, the status line says so and how to overrule it."""
    pytest.importorskip("napari")
    from gui_helpers import click_and_segment, plugin_dock

    viewer = make_napari_viewer(show=True)
    viewer.add_image(_stacked_disks(0.93), name="disks")
    widget = plugin_dock(viewer)
    widget.image_combo.setCurrentText("disks")
    click_and_segment(widget, viewer, qtbot, 5, 32, 32)
    assert np.nonzero(np.asarray(viewer.layers["disks current object"].data).any(axis=(1, 2)))[0].tolist() == list(range(10))
    assert "towards higher slices at an intensity gap" in widget.status.text()


def test_sessions_saved_before_the_gap_rule_replay_without_it():
    from napari_limnet.session_files import apply_settings, controller_settings

    ctrl = LimNetController(np.random.default_rng(0).random((4, 16, 16), dtype=np.float32))
    settings = controller_settings(ctrl)
    assert settings["stopping"]["drift_gap"] == {"height": 0.75, "fall": 0.67, "within": 3}
    old = {**settings, "stopping": {k: v for k, v in settings["stopping"].items() if k != "drift_gap"}}
    apply_settings(ctrl, old)
    assert ctrl.stopping.drift_gap is None
    apply_settings(ctrl, settings)
    assert asdict(ctrl.stopping) == asdict(StoppingConfig())
    with pytest.raises(ValueError, match="drift_gap"):
        apply_settings(ctrl, {**settings, "stopping": {**settings["stopping"], "drift_gap": [0.75, 0.67, 3]}})
