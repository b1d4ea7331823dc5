"""The sustained-drift stop (an option, off by default): a mask that stepped into tissue a little
brighter or darker than the object and stayed there, under the drift tolerance on every slice."""

from dataclasses import asdict, replace

import numpy as np
import pytest

from napari_limnet import LimNetController
from napari_limnet.inference.stopping import DriftPlateauRule, StoppingConfig


def test_a_step_into_a_run_of_high_drift_is_a_plateau_from_its_first_slice():
    rule = DriftPlateauRule(height=0.75, run=3, rise_within=2, rise_from=0.5)
    assert rule.find([0.1, 0.2, 0.8, 1.2, 0.9]) == 2
    assert rule.find([0.1, 0.8, 0.5, 0.3, 0.9, 1.0, 1.1]) == 4, "a dip under the height restarts the run"
    assert rule.find([0.9, 1.0, 1.1]) == 0, "the interacted slice counts as drift 0"


def test_no_plateau_when_the_run_is_short_broken_low_or_a_slow_rise():
    rule = DriftPlateauRule(height=0.75, run=3, rise_within=2, rise_from=0.5)
    assert rule.find([0.2, 0.9, 1.0]) is None, "two slices are not a run of three"
    assert rule.find([0.2, 0.9, 1.0, None, 1.0, 0.9]) is None, "a slice without a mask breaks the run"
    assert rule.find([0.2, 0.5, 0.7, 0.74, 0.7, 0.6]) is None, "under the height"
    assert rule.find([0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) is None, "a slow rise (a composite object) is no step"
    assert rule.find([]) is None
    assert DriftPlateauRule().find([0.2] + [1.0] * 7) is None and DriftPlateauRule().find([0.2] + [1.0] * 8) == 1, "8 slices"


def _column_into_other_tissue(shift: float = -0.08) -> np.ndarray:
    """(26, 64, 64): a disk column of intensity 1.0 on slices 0-10 that goes on as 1.0 + ``shift``."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 32) ** 2 + (xx - 32) ** 2 < 10**2
    vol = np.full((26, 64, 64), 0.1, np.float32)
    for z in range(26):
        vol[z][disk] = 1.0 if z < 11 else 1.0 + shift
    return vol + rng.normal(0, 0.05, vol.shape).astype(np.float32)


def test_propagation_stops_where_the_mask_moved_into_other_tissue():
    """The shipped nets follow the column on into the slightly darker tissue; its drift (about 1.6
    spreads) stays under the tolerance (2) on every slice, so only the plateau rule ends it."""
    vol = _column_into_other_tissue()
    assert StoppingConfig().drift_plateau is None, "off by default"
    ctrl = LimNetController(vol, stopping=replace(StoppingConfig(), drift_plateau=DriftPlateauRule()))
    mask = ctrl.interact(5, [(32, 32)], [])
    assert np.nonzero(mask.any(axis=(1, 2)))[0].tolist() == list(range(11))
    drifts = [ctrl.state.evidence[z].drift for z in range(11, 19)]
    assert all(DriftPlateauRule().height <= d < StoppingConfig().drift_tolerance for d in drifts)
    assert ctrl.last_round_stats["stops"] == {"up": "sustained drift", "down": "range limit"}
    without = LimNetController(vol)
    mask = without.interact(5, [(32, 32)], [])
    assert np.nonzero(mask.any(axis=(1, 2)))[0].tolist() == list(range(26)), "without the rule it runs on"


def test_the_status_line_names_sustained_drift():
    pytest.importorskip("napari")
    from napari_limnet.widget.round_queue import stop_note

    note = stop_note({"up": "sustained drift", "down": "object ended"})
    assert "towards higher slices at sustained intensity drift" in note and "lower" not in note


def test_sessions_record_the_plateau_option_and_older_ones_replay_without_it():
    from napari_limnet.session_files import apply_settings, controller_settings

    on = replace(StoppingConfig(), drift_plateau=DriftPlateauRule())
    ctrl = LimNetController(np.random.default_rng(0).random((4, 16, 16), dtype=np.float32), stopping=on)
    settings = controller_settings(ctrl)
    assert settings["stopping"]["drift_plateau"] == {"height": 0.75, "run": 8, "rise_within": 4, "rise_from": 0.5}
    old = {**settings, "stopping": {k: v for k, v in settings["stopping"].items() if k != "drift_plateau"}}
    apply_settings(ctrl, old)
    assert ctrl.stopping.drift_plateau is None and ctrl.stopping.drift_gap is not None
    apply_settings(ctrl, settings)
    assert asdict(ctrl.stopping) == asdict(on)
    for bad in ([0.75, 8], {"height": "high"}, {"height": 0.75, "shape": 1}, {"run": True}):
        with pytest.raises(ValueError, match="drift_plateau"):
            apply_settings(ctrl, {**settings, "stopping": {**settings["stopping"], "drift_plateau": bad}})


def test_composite_training_objects_are_two_touching_structures():
    """The proxy group the rule was checked on (never dev): each case is the union of two labelled
    structures of one training volume that touch, in a fixed, spread-out order."""
    from scipy import ndimage

    from napari_limnet.data.real_volumes import default_train_dir, load_real_volumes
    from napari_limnet.evaluation.cases import load_composite_train_cases

    if not (default_train_dir() / "train_cases.json").is_file():
        pytest.skip("../shared/data/train is not here")
    cases = load_composite_train_cases(6)
    assert len(cases) == 6 and len({c.name for c in cases}) == 6
    assert [c.name for c in cases] == [c.name for c in load_composite_train_cases(6)]
    volumes = {v.name: v for v in load_real_volumes()}
    for case in cases[:3]:
        assert case.group == "composite"
        name, a, b = case.name.removeprefix("composite_").rsplit("_", 2)
        labels = volumes[name].labels
        part_a, part_b = labels == int(a), labels == int(b)
        np.testing.assert_array_equal(case.truth, part_a | part_b)
        assert (ndimage.binary_dilation(part_a) & part_b).any(), "the two parts touch"
