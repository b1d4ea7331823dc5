"""Crop framing, crop <-> slice coordinates, resampling and paste-back."""

import numpy as np
import pytest
import torch

from napari_limnet.inference.crops import CONTEXT, CROP_SIZE, MIN_SIDE_PIXELS, PAD_PIXELS, CropBox, bbox_of, union_bbox
from napari_limnet.inference.mask_store import SliceMask
from napari_limnet.inference.slice_io import mask_to_crop, paste_mask, read_crop
from napari_limnet.inference.volume import VolumeSource
from napari_limnet.training import batch_ops


def test_framing_is_square_in_millimetres():
    box = CropBox.framing((10, 29, 40, 49), spacing_yx=(0.5, 1.0))
    extent_mm = max(20 * 0.5, 10 * 1.0)
    side_mm = extent_mm * CONTEXT + 2 * PAD_PIXELS * 0.5
    assert box.height == pytest.approx(side_mm / 0.5, abs=1)
    assert box.width == pytest.approx(side_mm / 1.0, abs=1)
    assert box.height * 0.5 == pytest.approx(box.width * 1.0, abs=1.0)
    cy, cx = box.center
    assert cy == pytest.approx(19.5, abs=0.6) and cx == pytest.approx(44.5, abs=0.6)


def test_tiny_objects_get_a_minimum_window():
    box = CropBox.framing((5, 5, 5, 5), spacing_yx=(1.0, 1.0))
    assert box.height >= MIN_SIDE_PIXELS and box.width >= MIN_SIDE_PIXELS


def test_crop_slice_coordinates_round_trip():
    box = CropBox(-7, 53, 20, 80)
    pts = np.array([[0.0, 20.0], [10.5, 33.25], [52.0, 79.0]])
    back = box.to_slice(box.to_crop(pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    # the centre of the box maps to the centre of the crop
    np.testing.assert_allclose(box.to_crop(np.array([[22.5 + 0.0, 49.5]]))[0], [(CROP_SIZE - 1) / 2] * 2, atol=1e-9)


def test_read_crop_and_paste_back_reproduce_a_mask():
    vol = np.zeros((3, 100, 90), dtype=np.float32)
    vol[1, 30:60, 20:50] = 1.0
    vol[1] += np.linspace(0, 0.01, 90)
    source = VolumeSource(vol)
    mask = SliceMask.from_dense(vol[1] > 0.5)
    box = CropBox.framing(mask.bbox, (1.0, 1.0))
    crop = read_crop(source, 1, box)
    assert crop.shape == (CROP_SIZE, CROP_SIZE)
    mcrop = mask_to_crop(mask, box)
    logits = (mcrop - 0.5) * 20
    pasted = paste_mask(logits, box, source.slice_shape)
    dense = pasted.dense(source.slice_shape)
    assert (dense == (vol[1] > 0.5)).mean() > 0.998
    assert np.abs(dense.sum() - 900) <= 20


def test_crop_outside_the_slice_is_edge_padded():
    vol = np.arange(2 * 20 * 20, dtype=np.float32).reshape(2, 20, 20)
    source = VolumeSource(vol)
    box = CropBox(-10, 10, -10, 10)
    crop = read_crop(source, 0, box, size=20).numpy()
    assert crop[0, 0] == pytest.approx(vol[0, 0, 0])  # corner replicated
    assert crop[-1, -1] == pytest.approx(vol[0, 9, 9], abs=1e-4)


def test_huge_window_is_antialiased():
    stripes = np.zeros((1, 1024, 1024), dtype=np.float32)
    stripes[0, :, ::2] = 1.0
    stripes = np.concatenate([stripes, stripes + 0.001])
    crop = read_crop(VolumeSource(stripes), 0, CropBox(0, 1024, 0, 1024), size=128).numpy()
    assert crop.std() < 0.05 and crop.mean() == pytest.approx(0.5, abs=0.02)


def test_training_crops_match_inference_crops():
    img = torch.arange(100 * 120, dtype=torch.float32).view(1, 1, 100, 120)
    box = CropBox(20, 60, 35, 75)
    train_box = torch.tensor([[39.5, 54.5, 40.0]])  # (cy, cx, side) in pixel-centre coordinates
    a = batch_ops.crop(img, train_box, 128)[0, 0]
    b = box.resample_to_crop(img[0, 0, 20:60, 35:75], 128)
    assert (a - b)[4:-4, 4:-4].abs().max() < 1e-3
    pts = np.array([[40.0, 55.0], [21.0, 70.0]])
    np.testing.assert_allclose(
        batch_ops.to_crop_coords(torch.tensor(pts[None]), train_box, 128)[0].numpy(), box.to_crop(pts), atol=1e-4
    )


def test_training_paste_inverts_crop():
    m = torch.zeros(2, 100, 120, dtype=torch.bool)
    m[0, 30:50, 40:70] = True
    m[1, 10:20, 10:15] = True
    bb, ok = batch_ops.batch_bbox(m)
    assert ok.all() and bb[0].tolist() == [30, 49, 40, 69]
    boxes = batch_ops.framing(bb)
    c = batch_ops.crop(m[:, None], boxes, 128)
    back = batch_ops.paste(c, boxes, (100, 120))[:, 0] > 0.5
    assert (back == m).all()


def test_bbox_helpers():
    m = np.zeros((10, 10), dtype=bool)
    assert bbox_of(m) is None
    m[2:5, 3:7] = True
    assert bbox_of(m) == (2, 4, 3, 6)
    assert union_bbox(None, (1, 2, 3, 4), (0, 5, 4, 9)) == (0, 5, 3, 9)
