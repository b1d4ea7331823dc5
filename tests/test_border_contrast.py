"""An outline's contrast at the image edge (PromptConfig.border_contrast, CropBox.inside_crop)."""

import numpy as np
import torch

from napari_limnet.inference.crops import CropBox
from napari_limnet.inference.prompt import EDGE_CONTRAST, boundary_contrast
from napari_limnet.inference.slice_io import read_crop
from napari_limnet.inference.volume import VolumeSource


def test_inside_crop_marks_the_pixels_that_show_the_slice():
    box = CropBox(-16, 48, -32, 32)  # 64 x 64, past the top and left edges of a 100 x 100 slice
    shown = box.inside_crop((100, 100), 64)
    assert shown.shape == (64, 64) and shown.dtype == torch.bool
    assert not shown[:16].any() and not shown[:, :32].any() and shown[16:, 32:].all()
    assert CropBox(0, 50, 0, 50).inside_crop((100, 100), 128).all()
    assert CropBox(0, 256, 0, 256).inside_crop((64, 64), 128).sum() == 32 * 32
    assert CropBox(0, 50, 0, 50).within_slice((100, 100)) and CropBox(50, 100, 50, 100).within_slice((100, 100))
    assert not box.within_slice((100, 100)) and not CropBox(0, 256, 0, 256).within_slice((64, 64))
    assert not CropBox(60, 101, 0, 41).within_slice((100, 100))


def test_an_object_cut_by_the_image_edge_keeps_its_edge_only_where_the_image_is():
    """A bright disc cut in half by the left edge, seen through a window reaching past that edge:
    edge padding repeats the disc's own border pixels, so the ring outside its outline looks like
    the disc. Measured only where the crop shows the slice, the outline is a clear edge again."""
    yy, xx = np.mgrid[:96, :96]
    rng = np.random.default_rng(0)
    disc = (yy - 48) ** 2 + xx ** 2 <= 20 ** 2
    image = np.where(disc, 200.0, 60.0) + rng.normal(0, 10, (96, 96))
    source = VolumeSource(image[None].astype(np.float32))
    box = CropBox(16, 80, -32, 32)
    crop = read_crop(source, 0, box, 64)
    drawn = torch.zeros(64, 64)
    ys, xs = np.mgrid[16:80, -32:32]
    drawn[torch.from_numpy(((ys - 48) ** 2 + xs ** 2 <= 20 ** 2))] = 1.0  # the whole disc, mirrored part included
    shown = box.inside_crop(source.slice_shape, 64)
    with_padding = boundary_contrast(crop, drawn)
    on_the_slice = boundary_contrast(crop, drawn, inside_slice=shown)
    assert on_the_slice >= EDGE_CONTRAST > with_padding


def test_mirror_padding_reflects_the_slice_across_its_edge():
    image = np.arange(6 * 8, dtype=np.float32).reshape(1, 6, 8)
    source = VolumeSource(image)
    box = CropBox(0, 6, -3, 5)  # 6 x 8, three columns past the left edge
    edge = read_crop(source, 0, box, 8).numpy()
    mirror = read_crop(source, 0, box, 8, padding="symmetric").numpy()
    assert edge.shape == mirror.shape == (8, 8)
    np.testing.assert_allclose(box.pad_to_box(image[0, :, :5], (6, 8), "symmetric")[:, :3], image[0, :, 2::-1])
    np.testing.assert_allclose(box.pad_to_box(image[0, :, :5], (6, 8))[:, :3], np.repeat(image[0, :, :1], 3, axis=1))
    assert not np.allclose(edge, mirror)
