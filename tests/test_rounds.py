"""Round planning (which slices a round may change) and MRF selection with controlled scores."""

import numpy as np
import pytest

from napari_limnet.inference.fusion import FusionConfig, SliceChoice, keep_old
from napari_limnet.inference.mask_store import SliceMask
from napari_limnet.inference.rounds import (
    Interaction, RunState, apply_round, influence_range, passes_through, plan_round, trim_range,
)
from napari_limnet.inference.runner import NetRunner
from napari_limnet.inference.volume import VolumeSource


def square(y0=10, size=8, shape=(32, 32)):
    m = np.zeros(shape, dtype=bool)
    m[y0 : y0 + size, 10 : 10 + size] = True
    return SliceMask.from_dense(m)


def state_from(src: int, slices, shift=0) -> RunState:
    masks = {s: square(10 + shift) for s in slices}
    return RunState(masks, {s: src for s in slices}, {src: Interaction(src, ((14.0, 14.0),), ())}, 1)


def test_influence_range_is_bounded_by_other_interactions_and_settings():
    assert influence_range([5, 20], 12, 30, (0, 29)) == (6, 19)
    assert influence_range([5, 20], 25, 30, (0, 29)) == (21, 29)
    assert influence_range([], 3, 30, (0, 29)) == (0, 29)
    assert influence_range([5], 12, 30, (10, 14)) == (10, 14)


def test_passes_through():
    assert passes_through(10, 12, 15) and passes_through(20, 12, 4)
    assert not passes_through(10, 12, 11) and not passes_through(12, 12, 15)


def test_content_propagated_through_the_new_slice_is_replaced():
    state = state_from(10, range(5, 26))
    new = {s: square(12) for s in range(13, 18)}
    plan = plan_round(state, 12, square(11), new, 11, 29)
    # beyond z=12 (away from the source at 10) the new round decides directly, empty past its stop
    assert all(plan.take_new[s] is new[s] for s in range(13, 18))
    assert all(plan.take_new[s] is None for s in range(18, 26))
    # slice 11 lies between the two interactions: MRF chooses
    assert [c.z for c in plan.choices] == [11]
    assert plan.choices[0].old_distance == 1 and plan.choices[0].new_distance == 1


def test_an_empty_round_clears_what_passed_through_it_and_keeps_the_rest():
    state = state_from(10, range(5, 26))
    plan = plan_round(state, 18, None, {}, 11, 29)
    assert plan.take_new[18] is None
    assert sorted(s for s in plan.take_new if s != 18) == list(range(19, 26))
    assert plan.choices == []
    after = apply_round(state, Interaction(18, (), ((14.0, 14.0),)), plan, lambda c: [])
    assert sorted(after.masks) == list(range(5, 18))
    assert after.sources[20] == 18 and after.sources[15] == 10 and after.round == 2
    assert set(after.interactions) == {10, 18}


def test_apply_round_follows_the_mrf_decisions():
    state = state_from(10, range(5, 26))
    new = {s: square(12) for s in range(11, 18)}
    plan = plan_round(state, 12, square(12), new, 11, 29)
    kept = apply_round(state, Interaction(12, ((15.0, 15.0),), ()), plan, lambda c: [True] * len(c))
    assert kept.masks[11] is state.masks[11] and kept.sources[11] == 10
    taken = apply_round(state, Interaction(12, ((15.0, 15.0),), ()), plan, lambda c: [False] * len(c))
    assert taken.masks[11] is new[11] and taken.sources[11] == 12


@pytest.mark.parametrize("logit, tau, expect", [(10.0, 0.5, True), (-10.0, 0.5, False), (0.0, 0.4, True), (0.0, 0.6, False)])
def test_mrf_selection_uses_the_score_against_tau(fakes, logit, tau, expect):
    vol = np.random.default_rng(0).normal(size=(4, 32, 32)).astype(np.float32)
    runner = NetRunner(fakes(logit))
    choices = [SliceChoice(1, square(10), square(12), 3, 1), SliceChoice(2, None, square(12), 5, 2)]
    out = keep_old(runner, VolumeSource(vol), (1.0, 1.0), choices, FusionConfig(tau=tau))
    assert out.tolist() == [expect, expect]


def test_trivial_choices_never_reach_the_network(fakes):
    vol = np.random.default_rng(0).normal(size=(4, 32, 32)).astype(np.float32)
    runner = NetRunner(fakes(-10.0))
    same = square(10)
    choices = [SliceChoice(1, same, SliceMask(same.y0, same.x0, same.crop.copy()), 1, 1), SliceChoice(2, None, None, 1, 1)]
    out = keep_old(runner, VolumeSource(vol), (1.0, 1.0), choices)
    assert out.tolist() == [True, True] and runner.fusion_net.seen == 0


def test_no_mrf_mode_always_takes_the_new_round(fakes):
    vol = np.random.default_rng(0).normal(size=(4, 32, 32)).astype(np.float32)
    runner = NetRunner(fakes(10.0))
    choices = [SliceChoice(1, square(10), square(12), 3, 1)]
    out = keep_old(runner, VolumeSource(vol), (1.0, 1.0), choices, FusionConfig(mode="new"))
    assert out.tolist() == [False] and runner.fusion_net.seen == 0
    mrf = NetRunner(fakes(10.0))
    assert keep_old(mrf, VolumeSource(vol), (1.0, 1.0), choices).tolist() == [True] and mrf.fusion_net.seen == 1


def test_user_limits_and_the_extension_guard_are_pure_functions():
    from napari_limnet.inference.rounds import extension_guard, user_limits

    assert user_limits(10, 30, None, None) == (0, 29)
    assert user_limits(10, 30, (20, 5), None) == (5, 20), "z limits in either order"
    assert user_limits(10, 30, None, 3) == (7, 13)
    assert user_limits(25, 30, (0, 12), None) == (0, 25), "the clicked slice is always in range"
    state = state_from(10, range(8, 13))  # an object on slices 8..12 (extent 5)
    assert extension_guard(10, state, 0, 29) == (5, 15), "half the extent (at least 3) past each end"
    assert extension_guard(20, state, 0, 29) == (2, 26), "a click beyond the end moves the end there (extent 13: margin 6)"
    from napari_limnet.inference.rounds import RunState

    assert extension_guard(10, RunState(), 0, 29) == (0, 29)


def test_click_validation_messages():
    from napari_limnet.inference.validation import check_round

    with pytest.raises(ValueError, match="outside the volume"):
        check_round(40, [(1, 1)], [], (30, 20, 20))
    with pytest.raises(ValueError, match="outside the slice"):
        check_round(3, [(25, 1)], [], (30, 20, 20))
    with pytest.raises(ValueError, match="no clicks"):
        check_round(3, [], [], (30, 20, 20))
    z, pos, neg = check_round(3.0, [(1.4, 2.6)], None, (30, 20, 20))
    assert z == 3 and pos.tolist() == [[1.0, 3.0]] and neg.shape == (0, 2)


def test_mask_intersection_keeps_only_shared_pixels():
    a, b = square(10, 8), square(14, 8)  # rows 10-17 and 14-21, columns 10-17
    both = a.intersect(b)
    np.testing.assert_array_equal(both.dense((32, 32)), a.dense((32, 32)) & b.dense((32, 32)))
    assert both.area == 4 * 8 and both.bbox == (14, 17, 10, 17)
    assert a.intersect(square(20, 8)) is None and a.intersect(None) is None


def test_a_trim_changes_the_unbroken_run_of_slices_it_spread_to():
    spread = {s: square() for s in (8, 9, 11, 12, 13, 20)}
    assert trim_range(10, spread) == (8, 13)
    assert trim_range(10, {}) == (10, 10)
    assert trim_range(5, spread) == (5, 5)


def test_grown_from_source_compares_a_propagated_mask_with_the_slice_it_came_from():
    from napari_limnet.inference.rounds import grown_from_source

    state = state_from(10, range(5, 26))  # 8x8 squares everywhere, all propagated from slice 10
    masks = dict(state.masks)
    masks[20] = square(size=12)  # 144 px against 64 at the source: 2.25x
    grown = RunState(masks, dict(state.sources), dict(state.interactions), 1)
    assert grown_from_source(grown, 20, 2.0) and not grown_from_source(grown, 20, 2.5)
    assert not grown_from_source(grown, 19, 2.0), "same area as its source"
    assert not grown_from_source(grown, 10, 2.0), "the interacted slice itself"
    assert not grown_from_source(grown, 27, 2.0), "no mask there"
    assert not grown_from_source(grown, 20, None), "switched off"
