"""Click encoding and intensity normalisation."""

import numpy as np
import pytest
import torch

from napari_limnet.inference.clicks import CLICK_RADIUS, click_map, click_maps
from napari_limnet.inference.intensity import CLIP, apply_window, intensity_window


def test_click_becomes_a_disk_at_the_right_place():
    m = click_map(np.array([[10.0, 20.0]]), 64).numpy()
    assert m[10, 20] == 1 and m.dtype == np.float32
    ys, xs = np.nonzero(m)
    assert np.sqrt((ys - 10) ** 2 + (xs - 20) ** 2).max() <= CLICK_RADIUS
    assert m.sum() == pytest.approx(np.pi * CLICK_RADIUS**2, rel=0.25)


def test_several_clicks_and_no_click():
    m = click_map(np.array([[5.0, 5.0], [50.0, 40.0]]), 64).numpy()
    assert m[5, 5] == 1 and m[50, 40] == 1 and m[30, 30] == 0
    assert click_map(np.zeros((0, 2)), 32).sum() == 0


def test_padding_clicks_are_ignored():
    pts = torch.tensor([[[3.0, 3.0], [20.0, 20.0]]])
    valid = torch.tensor([[True, False]])
    m = click_maps(pts, valid, 32)
    assert m[0, 0, 3, 3] == 1 and m[0, 0, 20, 20] == 0


def test_click_outside_the_crop_leaves_no_mark():
    assert click_map(np.array([[-50.0, 500.0]]), 32).sum() == 0


@pytest.mark.parametrize("dtype, lo, hi", [(np.uint8, 0, 255), (np.int16, -1024, 3000), (np.uint16, 100, 60000), (np.float32, -3.5, 7.0)])
def test_window_maps_any_dtype_to_unit_range(dtype, lo, hi):
    rng = np.random.default_rng(0)
    crop = torch.from_numpy(rng.uniform(lo, hi, size=(1, 64, 64)).astype(dtype).astype(np.float32))
    low, high = intensity_window(crop)
    x = apply_window(crop, low, high)
    assert x.dtype == torch.float32
    assert float(x.min()) >= CLIP[0] and float(x.max()) <= CLIP[1]
    assert float(torch.quantile(x.flatten(), 0.5)) == pytest.approx(0.5, abs=0.05)


def test_constant_crop_does_not_divide_by_zero():
    crop = torch.full((2, 16, 16), 7.0)
    low, high = intensity_window(crop)
    x = apply_window(crop, low, high)
    assert torch.isfinite(x).all() and (x == 0).all()
