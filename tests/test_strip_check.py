"""The confidence strip judged by the user's corrections (issue 38: confidence and G on brain MRI)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest

from napari_limnet.inference.mask_store import SliceMask
from napari_limnet.inference.rounds import Interaction, RunState
from napari_limnet.inference.stopping import INTERACTED, SliceEvidence
from napari_limnet.inference.strip_check import StripCheck, changed_share, check_strip

SHAPE = (32, 32)


def square(y0, y1, x0, x1):
    m = np.zeros(SHAPE, bool)
    m[y0:y1, x0:x1] = True
    return SliceMask.from_dense(m)


def state(masks: dict, presence6: float, interacted=(5,)):
    inter = {z: Interaction(z, ((16.0, 16.0),), ()) for z in interacted}
    evidence = {5: INTERACTED, 6: SliceEvidence(presence6, 0.0, masks[6].area if 6 in masks else 0, 0.0)}
    return RunState(MappingProxyType(masks), MappingProxyType({z: 5 for z in masks}), MappingProxyType(inter), len(inter),
                    MappingProxyType(evidence))


@pytest.mark.parametrize("presence, misses, reliable", [(0.95, 1, False), (0.2, 0, True)])
def test_a_large_correction_on_a_sure_slice_is_a_miss_and_on_a_flagged_slice_a_hit(presence, misses, reliable):
    before = state({5: square(8, 24, 8, 24), 6: square(4, 28, 4, 28)}, presence)  # slice 6 leaked: 576 px
    after = state({5: square(8, 24, 8, 24), 6: square(8, 24, 8, 24)}, presence, interacted=(5, 6))  # cut to 256 px
    assert changed_share(before, after, 6, SHAPE) == pytest.approx((576 - 256) / 576)
    check = check_strip([before, after], [6], SHAPE)
    assert check == StripCheck(judged=1, misses=misses)
    assert check.reliable is reliable


def test_small_corrections_and_rounds_on_interacted_slices_are_not_judged():
    before = state({5: square(8, 24, 8, 24), 6: square(8, 24, 8, 24)}, 0.95)
    nudged = state({5: square(8, 24, 8, 24), 6: square(8, 24, 8, 25)}, 0.95, interacted=(5, 6))  # 16 of 272 px
    assert check_strip([before, nudged], [6], SHAPE).reliable is None
    again = state({5: square(0, 32, 0, 32), 6: square(8, 24, 8, 25)}, 0.95, interacted=(5, 6))
    assert check_strip([nudged, again], [5], SHAPE) == StripCheck(0, 0)


def test_most_judged_corrections_decide():
    assert StripCheck(judged=2, misses=1).reliable is True
    assert StripCheck(judged=3, misses=2).reliable is False


def test_controller_strip_check_follows_rounds_and_undo():
    from napari_limnet.controller import LimNetController
    from napari_limnet.data.samples import ct_abdomen
    from napari_limnet.evaluation.robot_user import run_session

    s = ct_abdomen()
    ctrl = LimNetController(s.image, spacing=s.spacing)
    assert ctrl.strip_check() == StripCheck(0, 0)
    checks = []

    def interact(z, pos, neg):
        mask = ctrl.interact(z, pos, neg)
        checks.append(ctrl.strip_check())
        return mask

    run_session(interact, s.truth, 4)
    assert checks[0] == StripCheck(0, 0)  # a first click is not a correction
    assert all(c.judged <= i and c.misses <= c.judged for i, c in enumerate(checks))
    ctrl.undo()
    assert ctrl.strip_check() == checks[-2]
