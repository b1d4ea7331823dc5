"""Box and painted-slice prompts (issue 20): controller contract, validation, undo, replay."""

from __future__ import annotations

import numpy as np
import pytest

from napari_limnet import LimNetController
from napari_limnet.data.samples import ct_abdomen, nuclei
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import true_box
from napari_limnet.annotation_session import AnnotationSession
from napari_limnet.session_files import SessionRecord, replay


@pytest.fixture(scope="module")
def ct():
    s = ct_abdomen()
    z = int(np.argmax(s.truth.sum((1, 2))))
    return s, z


def test_box_round_on_the_ct_sample(ct):
    s, z = ct
    ctrl = LimNetController(s.image, spacing=s.spacing)
    box = true_box(s.truth[z])
    mask = ctrl.interact(z, box=box)
    assert dice(mask, s.truth) >= 0.65
    ymin, xmin, ymax, xmax = box
    outside = mask[z].copy()
    outside[max(0, ymin - 2): ymax + 3, max(0, xmin - 2): xmax + 3] = False
    assert not outside.any(), "the box bounds the mask on its slice"
    assert ctrl.round_records()[-1]["box"] == list(box)


def test_painted_slice_is_taken_as_is_and_propagated(ct):
    s, z = ct
    ctrl = LimNetController(s.image, spacing=s.spacing)
    mask = ctrl.interact(z, mask=s.truth[z])
    np.testing.assert_array_equal(mask[z], s.truth[z])
    assert dice(mask, s.truth) >= 0.9
    # a later click on that slice corrects it as a previous mask
    ys, xs = np.nonzero(s.truth[z])
    ctrl.interact(z, [], [(int(ys[0]), int(xs[0]))])
    assert ctrl.n_rounds == 2 and ctrl.slice_mask(z).sum() <= s.truth[z].sum()


def test_box_with_clicks_and_on_nuclei():
    n = nuclei()
    z, y, x = n.click
    ctrl = LimNetController(n.image, spacing=n.spacing)
    one = dice(LimNetController(n.image, spacing=n.spacing).interact(z, [(y, x)]), n.truth)
    both = dice(ctrl.interact(z, [(y, x)], box=true_box(n.truth[z])), n.truth)
    assert both >= one - 0.02 and both >= 0.7


@pytest.mark.parametrize("kw, message", [
    ({"box": (10, 10, 5, 20)}, "inverted"),
    ({"box": (10, 10, 20, 500)}, "outside the slice"),
    ({"box": (10, 10, 10, 10)}, "empty"),
    ({"box": (1, 2, 3)}, r"\(ymin, xmin, ymax, xmax\)"),
    ({"mask": np.zeros((160, 160), bool)}, "empty"),
    ({"mask": np.ones((10, 10), bool)}, "shape"),
    ({"mask": np.ones((160, 160), bool), "positive": [(5, 5)]}, "alone"),
])
def test_bad_boxes_and_masks_get_clear_errors_and_change_nothing(ct, kw, message):
    s, z = ct
    ctrl = LimNetController(s.image, spacing=s.spacing)
    ctrl.interact(z, box=true_box(s.truth[z]))
    before, n = np.array(ctrl.mask), ctrl.n_rounds
    positive = kw.pop("positive", ())
    with pytest.raises(ValueError, match=message):
        ctrl.interact(z, positive, **kw)
    np.testing.assert_array_equal(ctrl.mask, before)
    assert ctrl.n_rounds == n


def test_undo_of_box_and_mask_rounds_is_exact(ct):
    s, z = ct
    ctrl = LimNetController(s.image, spacing=s.spacing)
    ctrl.interact(s.click[0], [s.click[1:]])
    m1 = np.array(ctrl.mask)
    ctrl.interact(z, box=true_box(s.truth[z]))
    m2 = np.array(ctrl.mask)
    ctrl.interact(z - 3, mask=s.truth[z - 3])
    assert ctrl.undo()
    np.testing.assert_array_equal(ctrl.mask, m2)
    assert ctrl.undo()
    np.testing.assert_array_equal(ctrl.mask, m1)


def test_sessions_with_box_and_mask_rounds_replay_voxel_for_voxel(ct, tmp_path):
    s, z = ct
    committed = np.zeros(s.image.shape, np.uint16)
    sess = AnnotationSession(LimNetController(s.image, spacing=s.spacing), committed)
    sess.run_round(z, [], [], box=true_box(s.truth[z]))
    sess.run_round(z + 4, [], [], mask=s.truth[z + 4])
    sess.run_round(z - 4, [s.click[1:]], [])
    sess.commit()
    path = sess.session_record({"shape": list(s.image.shape), "spacing": list(s.spacing)}).save(tmp_path / "s.limnet.json")
    rec = SessionRecord.load(path)
    assert [sorted(k for k in r if k in ("box", "mask")) for r in rec.objects[0].rounds] == [["box"], ["mask"], []]
    result = replay(rec, s.image)
    np.testing.assert_array_equal(result.labels, committed)
