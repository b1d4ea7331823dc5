"""Property tests (hypothesis) on LimNetController with real, randomly initialised networks."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_limnet import LimNetController
from napari_limnet.modeling.weights import LimNetModels

MODELS = LimNetModels.random(seed=0)
DTYPES = [np.uint8, np.int16, np.uint16, np.float32, np.float64]


@st.composite
def cases(draw):
    shape = (draw(st.integers(1, 6)), draw(st.integers(4, 40)), draw(st.integers(4, 40)))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    spacing = tuple(draw(st.floats(0.1, 8.0)) for _ in range(3))
    n = draw(st.integers(1, 4))
    rounds = []
    for _ in range(n):
        z = draw(st.integers(-1, shape[0]))
        coord = st.tuples(st.floats(-3, shape[1] + 2), st.floats(-3, shape[2] + 2))
        pos = draw(st.lists(coord, max_size=3))
        neg = draw(st.lists(coord, max_size=2))
        rounds.append((z, pos, neg))
    return shape, dtype, seed, spacing, rounds


def make_volume(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    vol = rng.random(shape) * 200
    vol.flat[0] = 0.0
    vol.flat[-1] = 255.0  # never constant
    return vol.astype(dtype)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_controller_properties(case):
    shape, dtype, seed, spacing, rounds = case
    vol = make_volume(shape, dtype, seed)
    ctrl = LimNetController(vol, spacing=spacing, models=MODELS)
    twin = LimNetController(vol, spacing=spacing, models=MODELS)
    for z, pos, neg in rounds:
        before = ctrl.mask.copy()
        try:
            mask = ctrl.interact(z, pos, neg)
        except ValueError:
            np.testing.assert_array_equal(ctrl.mask, before)  # errors change nothing
            with pytest.raises(ValueError):
                twin.interact(z, pos, neg)
            continue
        assert mask.shape == shape and mask.dtype == bool
        np.testing.assert_array_equal(twin.interact(z, pos, neg), mask)  # same inputs, same mask
        assert ctrl.undo()
        np.testing.assert_array_equal(ctrl.mask, before)  # undo restores the exact previous mask
        ctrl.interact(z, pos, neg)
