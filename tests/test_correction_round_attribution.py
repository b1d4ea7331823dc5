"""correction_round_attribution.py (docs/research/training/cpu_sweep_2026-12-01): slice kinds of a round's change
and their exact Dice effects."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def attribution(load_script):
    return load_script("correction_round_attribution")


def _volume(slices: dict[int, tuple[slice, slice]], shape=(6, 10, 10)) -> np.ndarray:
    v = np.zeros(shape, dtype=bool)
    for z, (ys, xs) in slices.items():
        v[z, ys, xs] = True
    return v


def test_slices_split_into_added_removed_and_changed(attribution):
    sq, small = (slice(2, 8), slice(2, 8)), (slice(3, 6), slice(3, 6))
    before = _volume({0: sq, 1: sq, 2: sq})
    after = _volume({1: sq, 2: small, 3: sq})  # 0 removed, 1 same, 2 changed, 3 added
    assert attribution.slice_kinds(before, after) == {"added": [3], "removed": [0], "changed": [2]}


def test_each_kind_effect_is_the_dice_change_of_taking_only_its_slices(attribution):
    sq = (slice(2, 8), slice(2, 8))
    truth = _volume({1: sq, 2: sq})
    before = _volume({0: sq, 1: sq})  # one true slice, one leak slice: Dice 0.5
    after = _volume({1: sq, 2: sq})  # the leak removed, the missing slice added: Dice 1
    effects = attribution.kind_effects(before, after, truth)
    assert effects["removed"] == pytest.approx(2 / 3 - 0.5)  # only the leak gone: 2*36 / (36 + 72)
    assert effects["added"] == pytest.approx(0.8 - 0.5)  # only the missing slice added: 2*72 / (108 + 72)
    assert effects["changed"] == pytest.approx(0.0)
