"""The packed-nuclei evaluation group: fixed, crowded, touching, low-contrast, and runnable from the benchmark."""

import json

import numpy as np
from scipy import ndimage

from napari_limnet.evaluation.packed_nuclei import SHAPE, packed_nuclei_cases, packed_nuclei_volume


def test_the_packed_nuclei_group_is_fixed_crowded_and_dim():
    a, b = packed_nuclei_cases(3), packed_nuclei_cases(3)
    assert [c.name for c in a] == ["packed_nuclei_0", "packed_nuclei_1", "packed_nuclei_2"]
    assert {c.group for c in a} == {"packed_nuclei"}
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.truth, y.truth)
        assert x.image.shape == SHAPE and x.image.dtype == np.uint16 and x.truth.dtype == bool
        z = np.nonzero(x.truth.any(axis=(1, 2)))[0]
        assert 3 <= len(z) <= 12 and z.min() > 0 and z.max() < SHAPE[0] - 1, "a few slices thick, ends inside the stack"
        assert len(ndimage.find_objects(ndimage.label(x.truth)[0])) == 1, "one connected nucleus"


def test_packed_nuclei_touch_their_neighbours_and_stand_out_only_faintly():
    image, labels = packed_nuclei_volume(5151)
    assert labels.max() >= 100 and 0.2 < (labels > 0).mean() < 0.6, "crowded"
    # neighbours touch: some voxel of one nucleus has a 6-neighbour of another
    a, b = labels[:, :, :-1], labels[:, :, 1:]
    assert np.any((a > 0) & (b > 0) & (a != b))
    a, b = labels[:-1], labels[1:]
    assert np.any((a > 0) & (b > 0) & (a != b)), "stacked along Z too"
    inside, outside = image[labels > 0].astype(float), image[labels == 0].astype(float)
    cnr = (inside.mean() - outside.mean()) / outside.std()
    assert 0.3 < cnr < 3.0, f"dim outline (contrast-to-noise {cnr:.2f})"


def test_the_benchmark_runs_the_packed_nuclei_group(tmp_path):
    from napari_limnet.benchmark import main

    report = main(["--no-dev", "--synthetic", "0", "--packed-nuclei", "1", "--rounds", "2", "--methods", "limnet",
                   "--threads", "1", "--out", str(tmp_path), "--name", "packed"])
    stored = json.loads((tmp_path / "packed.json").read_text())
    assert [c["name"] for c in stored["cases"]] == ["packed_nuclei_0"]
    dice = stored["summary"]["packed_nuclei"]["limnet"]["dice"]
    assert len(dice) == 2 and all(0.0 <= d <= 1.0 for d in dice)
    assert "all_real" not in report["summary"], "generated nuclei are not real scans"
