"""The first click's window: a mask on a weak edge looks once through a 2x window (inference.prompt)."""

import numpy as np
import pytest
from scipy import ndimage

from napari_limnet import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.inference.prompt import PromptConfig
from napari_limnet.sessions import apply_settings, controller_settings


def textured_disk(seed: int, radius: int, size: int = 192):
    """(5, size, size) float32: a bright disk with strong, fine internal texture (chromatin-like) on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2
    disk = (yy - c) ** 2 + (xx - c) ** 2 < radius**2
    tex = ndimage.gaussian_filter(rng.normal(size=(size, size)), 2.0)
    tex /= tex.std()
    img = np.where(disk, 700 + 250 * tex, 80) + rng.normal(0, 20, (size, size))
    return np.repeat(img[None], 5, 0).astype(np.float32), disk, (c, c)


@pytest.mark.parametrize("radius", [26, 32])
def test_a_large_textured_object_is_found_from_one_central_click(radius):
    """52-64 px across, the disk fills the 64-px first window: the shipped net draws a speck around
    the texture there (a weak edge); the 2x window's mask sits on the disk's clear edge and wins."""
    vol, disk, click = textured_disk(1, radius)
    new = LimNetController(vol).preview(2, [click], [])
    old = LimNetController(vol, prompt=PromptConfig(weak_edge_look=False)).preview(2, [click], [])
    assert dice(new, disk) > 0.85
    assert dice(old, disk) < 0.4


def test_an_object_smaller_than_the_window_keeps_its_mask():
    vol, disk, click = textured_disk(1, 12)
    new = LimNetController(vol).preview(2, [click], [])
    old = LimNetController(vol, prompt=PromptConfig(weak_edge_look=False)).preview(2, [click], [])
    assert dice(new, disk) > 0.85
    np.testing.assert_array_equal(new, old)


def test_sessions_record_the_prompt_choice_and_old_sessions_replay_without_it():
    vol, _, _ = textured_disk(0, 10, 64)
    ctrl = LimNetController(vol)
    settings = controller_settings(ctrl)
    assert settings["prompt"] == {"weak_edge_look": True}
    other = LimNetController(vol, prompt=PromptConfig(weak_edge_look=False))
    apply_settings(other, settings)
    assert other.prompt.weak_edge_look
    old = {k: v for k, v in settings.items() if k != "prompt"}  # saved before the weak-edge look existed
    apply_settings(other, old)
    assert other.prompt == PromptConfig(weak_edge_look=False)
    for bad in ({"weak_edge_look": "yes"}, {"weak_edge_look": True, "extra": 1}, ["weak_edge_look"]):
        with pytest.raises(ValueError, match="invalid prompt settings"):
            apply_settings(other, {**settings, "prompt": bad})


def test_the_textured_nuclei_group_is_fixed_large_and_textured():
    from napari_limnet.evaluation.textured_nuclei import SHAPE, textured_nuclei_cases

    a, b = textured_nuclei_cases(2), textured_nuclei_cases(2)
    assert [c.name for c in a] == ["textured_nuclei_0", "textured_nuclei_1"] and {c.group for c in a} == {"textured_nuclei"}
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.truth, y.truth)
        assert x.image.shape == SHAPE and x.image.dtype == np.uint16 and x.truth.dtype == bool
        largest = x.truth.sum((1, 2)).max()
        assert 2 * np.sqrt(largest / np.pi) > 48, "larger than the 64-px first window's inner part"
        assert x.truth.any(axis=(1, 2)).sum() >= 8
        inside = x.image[x.truth].astype(float)
        assert inside.std() / inside.mean() > 0.25, "strong internal texture"
