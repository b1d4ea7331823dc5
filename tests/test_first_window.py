"""The first click's window: a mask on a weak edge looks once through a 2x window, which wins on a clear edge
in the raw or the averaged crop (inference.prompt)."""

import numpy as np
import pytest
from scipy import ndimage

from napari_limnet import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.inference.prompt import TEXTURE_SMOOTH, PromptConfig, boundary_contrast
from napari_limnet.session_files import apply_settings, controller_settings


def textured_disk(seed: int, radius: int, size: int = 192, amplitude: float = 250, grain: float = 2.0):
    """(5, size, size) float32: a bright disk with strong, fine internal texture (chromatin-like) on a dark background.

    amplitude: the texture's standard deviation (the disk's mean is 700, the background 80);
    grain: its correlation length in pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2
    disk = (yy - c) ** 2 + (xx - c) ** 2 < radius**2
    tex = ndimage.gaussian_filter(rng.normal(size=(size, size)), grain)
    tex /= tex.std()
    img = np.where(disk, 700 + amplitude * tex, 80) + rng.normal(0, 20, (size, size))
    return np.repeat(img[None], 5, 0).astype(np.float32), disk, (c, c)


@pytest.mark.parametrize("radius", [26, 32])
def test_a_large_textured_object_is_found_from_one_central_click(radius):
    """52-64 px across, the disk fills the 64-px first window: the shipped net draws a speck around
    the texture there (a weak edge); the 2x window's mask sits on the disk's clear edge and wins."""
    vol, disk, click = textured_disk(1, radius)
    new = LimNetController(vol).preview(2, [click], [])
    old = LimNetController(vol, prompt=PromptConfig(weak_edge_look=False, texture_edge=False)).preview(2, [click], [])
    assert dice(new, disk) > 0.85
    assert dice(old, disk) < 0.4


@pytest.mark.parametrize("radius", [28, 34])
def test_a_strongly_textured_object_is_found_through_the_averaged_edge(radius):
    """Stronger texture: the 2x window's mask is right, but its raw outline contrast stays below the
    bar, so without the texture edge the speck stays; the averaged crop shows the clear edge."""
    vol, disk, click = textured_disk(1, radius, amplitude=350, grain=1.5)
    new = LimNetController(vol).preview(2, [click], [])
    old = LimNetController(vol, prompt=PromptConfig(texture_edge=False)).preview(2, [click], [])
    assert dice(new, disk) > 0.8
    assert dice(old, disk) < 0.3


def test_an_object_smaller_than_the_window_keeps_its_mask():
    vol, disk, click = textured_disk(1, 12)
    new = LimNetController(vol).preview(2, [click], [])
    for config in (PromptConfig(weak_edge_look=False, texture_edge=False), PromptConfig(texture_edge=False)):
        np.testing.assert_array_equal(new, LimNetController(vol, prompt=config).preview(2, [click], []))
    assert dice(new, disk) > 0.85


NO_CLICK_TRUST = {"reframe_guard": False, "local_correction": False, "first_click_check": False}


def test_sessions_record_the_prompt_choice_and_old_sessions_replay_without_it():
    vol, _, _ = textured_disk(0, 10, 64)
    ctrl = LimNetController(vol)
    settings = controller_settings(ctrl)
    assert settings["prompt"] == {"weak_edge_look": True, "texture_edge": True, "small_look": True, "collapse_guard": True,
                                  "border_contrast": True, "mirror_border": False, "reframe_guard": True,
                                  "local_correction": False, "first_click_check": True}
    other = LimNetController(vol, prompt=PromptConfig(weak_edge_look=False, texture_edge=False, small_look=False,
                                                      collapse_guard=False, border_contrast=False, mirror_border=True))
    apply_settings(other, settings)
    assert other.prompt == PromptConfig()
    old = {k: v for k, v in settings.items() if k != "prompt"}  # saved before the weak-edge look existed
    apply_settings(other, old)
    assert other.prompt == PromptConfig(weak_edge_look=False, texture_edge=False, small_look=False, collapse_guard=False,
                                        border_contrast=False, **NO_CLICK_TRUST)
    apply_settings(other, {**settings, "prompt": {"weak_edge_look": True}})  # saved before the texture edge
    assert other.prompt == PromptConfig(weak_edge_look=True, texture_edge=False, small_look=False, collapse_guard=False,
                                        border_contrast=False, **NO_CLICK_TRUST)
    # saved before the small-window look
    apply_settings(other, {**settings, "prompt": {"weak_edge_look": True, "texture_edge": True}})
    assert other.prompt == PromptConfig(small_look=False, collapse_guard=False, border_contrast=False, **NO_CLICK_TRUST)
    # saved before the collapse guard
    apply_settings(other, {**settings, "prompt": {"weak_edge_look": True, "texture_edge": True, "small_look": True}})
    assert other.prompt == PromptConfig(collapse_guard=False, border_contrast=False, **NO_CLICK_TRUST)
    # saved before the border contrast
    before = {"weak_edge_look": True, "texture_edge": True, "small_look": True, "collapse_guard": True}
    apply_settings(other, {**settings, "prompt": before})
    assert other.prompt == PromptConfig(border_contrast=False, **NO_CLICK_TRUST)
    # saved before the click-trust rules (the re-framing guard, the local correction)
    apply_settings(other, {**settings, "prompt": {**before, "border_contrast": True, "mirror_border": False}})
    assert other.prompt == PromptConfig(**NO_CLICK_TRUST)
    for bad in ({"weak_edge_look": "yes"}, {"weak_edge_look": True, "extra": 1}, ["weak_edge_look"],
                {"weak_edge_look": True, "texture_edge": 1}, {"small_look": "no"}, {"collapse_guard": 0},
                {"border_contrast": "on"}, {"mirror_border": None}, {"local_correction": 1}, {"reframe_guard": "off"}):
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


def test_the_averaged_crop_sees_the_outline_of_a_textured_disk_and_not_texture():
    """Raw, the chromatin-like texture spreads the inside's intensities and the disk's clear outline
    scores a weak edge; on the averaged crop it clears the bar. A blob drawn inside the texture
    (no outline to follow) stays low either way."""
    import torch

    from napari_limnet.inference.prompt import EDGE_CONTRAST

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:128, :128]
    disk = (yy - 64) ** 2 + (xx - 64) ** 2 < 40**2
    tex = ndimage.gaussian_filter(rng.normal(size=(128, 128)), 1.0)
    tex /= tex.std()
    img = torch.tensor(np.where(disk, 0.6 + 0.25 * tex, 0.25) + rng.normal(0, 0.03, (128, 128)), dtype=torch.float32)
    outline = torch.tensor(disk, dtype=torch.float32)
    assert boundary_contrast(img, outline) < EDGE_CONTRAST <= boundary_contrast(img, outline, smooth=TEXTURE_SMOOTH)
    speck = torch.tensor((yy - 64) ** 2 + (xx - 60) ** 2 < 8**2, dtype=torch.float32)
    assert boundary_contrast(img, speck, smooth=TEXTURE_SMOOTH) < 0.5
    assert boundary_contrast(img, torch.zeros(128, 128), smooth=TEXTURE_SMOOTH) == 0.0


def test_a_tiny_faint_structure_gets_the_small_window():
    """Structures of a few pixels in real CT/MR slices (training volumes, 31-80 px on the robot's
    first slice): through the 64-px window the net draws a blob of its trained scale, 7-18x the
    object; the 0.5x window's mask sits on the object's outline and wins (PromptConfig.small_look)."""
    from napari_limnet.data.real_volumes import default_train_dir
    from napari_limnet.evaluation.cases import load_train_cases
    from napari_limnet.evaluation.robot_user import first_click

    if not (default_train_dir() / "train_cases.json").is_file():
        pytest.skip("../shared/data/train is not here")
    names = {"train_ts_ct_abdomen_7", "train_ts_mr_abdomen_21", "train_ts_mr_abdomen_25"}
    cases = [c for c in load_train_cases() if c.name in names]
    assert len(cases) == 3
    for case in cases:
        z, yx = first_click(case.truth)
        truth = case.truth[z]
        new = LimNetController(case.image, spacing=case.spacing).preview(z, [yx], [])
        old = LimNetController(case.image, spacing=case.spacing, prompt=PromptConfig(small_look=False)).preview(z, [yx], [])
        assert old.sum() > 5 * truth.sum() and dice(old, truth) < 0.2, case.name
        assert new.sum() < 3.5 * truth.sum() and dice(new, truth) > 0.45, case.name


def test_the_small_window_never_leaves_out_a_positive_click():
    """Two positive clicks farther apart than the 0.5x window: the small look is not taken, so the
    mask can still reach both clicks."""
    from napari_limnet.inference.crops import CropBox
    from napari_limnet.inference.prompt import SMALL_FACTOR, _contains, size_prior_box

    box = size_prior_box(np.array([[100.0, 100.0]]), (1.0, 1.0))
    assert box.height == box.width == 64
    small = box.scaled(SMALL_FACTOR)
    assert small.height == 32 and _contains(small, (100, 100, 100, 100))
    spread = size_prior_box(np.array([[100.0, 100.0], [100.0, 140.0]]), (1.0, 1.0))
    assert not _contains(spread.scaled(SMALL_FACTOR), (100, 100, 100, 140))
    assert _contains(CropBox(0, 10, 0, 10), (0, 9, 0, 9)) and not _contains(CropBox(0, 10, 0, 10), (0, 10, 0, 9))
