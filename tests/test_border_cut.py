"""The border-cut evaluation group (evaluation/border_cut.py): objects cut by the field of view."""

from __future__ import annotations

import numpy as np

from napari_limnet.benchmark import is_real_dev
from napari_limnet.evaluation.border_cut import KEEP, border_cut, border_cut_cases
from napari_limnet.evaluation.cases import Case


def _ball_case() -> Case:
    zz, yy, xx = np.mgrid[:12, :64, :64]
    truth = ((zz - 6) / 4.0) ** 2 + ((yy - 30) / 10.0) ** 2 + ((xx - 34) / 12.0) ** 2 <= 1
    image = np.where(truth, 200.0, 50.0).astype(np.float32) + np.arange(64, dtype=np.float32)[None, None, :]
    return Case("ball", "synthetic", image, truth, (2.0, 1.0, 1.0))


def test_each_side_cuts_the_object_at_the_image_edge_keeping_the_asked_fraction():
    case = _ball_case()
    ys, xs = np.flatnonzero(case.truth.any(axis=(0, 2))), np.flatnonzero(case.truth.any(axis=(0, 1)))
    for index in range(4):
        cut = border_cut(case, index)
        assert cut.name == "ball_border" and cut.group == "synthetic_border" and cut.spacing == case.spacing
        assert cut.image.shape == cut.truth.shape and cut.truth.dtype == bool
        edge = {0: cut.truth[:, 0, :], 1: cut.truth[:, :, -1], 2: cut.truth[:, -1, :], 3: cut.truth[:, :, 0]}[index]
        assert edge.any(), f"side {index}: the object does not reach the cut edge"
        extent = (ys if index % 2 == 0 else xs)
        kept = np.flatnonzero(cut.truth.any(axis=(0, 2) if index % 2 == 0 else (0, 1)))
        assert kept.size == round(KEEP[0] * (extent[-1] - extent[0] + 1))
        # the image is the same crop of the same volume (the X ramp tells columns apart)
        assert cut.image.shape[1] < 64 or cut.image.shape[2] < 64
    assert border_cut(case, 4).truth.sum() > border_cut(case, 0).truth.sum()  # the next kept fraction is larger


def test_cases_that_cannot_be_cut_are_skipped_and_border_groups_are_not_real_dev():
    case = _ball_case()
    tiny = Case("dot", "synthetic", case.image, np.zeros_like(case.truth), case.spacing)
    tiny.truth[6, 30, 30:32] = True
    assert border_cut(tiny, 0) is None
    assert [c.name for c in border_cut_cases([tiny, case])] == ["ball_border"]
    assert not is_real_dev("synthetic_border") and not is_real_dev("train_border") and not is_real_dev("train")
    assert is_real_dev("macaque") and is_real_dev("nuclei3d")
