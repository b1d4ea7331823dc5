"""Commit / undo / next object semantics (Qt-free) and the crash autosave."""

import numpy as np
import pytest

from napari_limnet import LimNetController, autosave
from napari_limnet.session import AnnotationSession


@pytest.fixture
def session(fakes, tube):
    vol, truth = tube
    committed = np.zeros(vol.shape, dtype=np.uint16)
    return AnnotationSession(LimNetController(vol, models=fakes()), committed), truth


def test_commit_and_undo_are_exact_inverses(session):
    s, truth = session
    s.committed[0, :5, :5] = 7  # another object already there
    before = s.committed.copy()
    s.run_round(15, [(24, 24)], [])
    rec = s.commit()
    assert rec.object_id == 8 and rec.written == int(s.controller.mask.sum())
    assert (s.committed == 8).sum() == rec.written and (s.committed == 7).sum() == 25
    assert s.undo() == "commit"
    np.testing.assert_array_equal(s.committed, before)
    assert s.undo() == "round" and s.controller.n_rounds == 0
    assert s.undo() is None


def test_commit_never_overwrites_other_objects_unless_asked(session):
    s, truth = session
    s.committed[15, 20:28, 20:28] = 3
    s.run_round(15, [(24, 24)], [])
    rec = s.commit()
    assert rec.kept_other == 64 and (s.committed == 3).sum() == 64
    s.undo()
    rec = s.commit(overwrite=True)
    assert rec.kept_other == 0 and (s.committed == 3).sum() == 0


def test_recommitting_the_same_object_replaces_its_voxels(session):
    s, truth = session
    s.run_round(15, [(24, 24)], [])
    s.commit()
    s.run_round(18, [], [(24, 24)])  # erase the top: fewer voxels
    rec = s.commit()
    assert rec.object_id == 1 and (s.committed == 1).sum() == int(s.controller.mask.sum())
    assert not s.committed[18:].any()


def test_next_object_commits_and_starts_a_new_id(session):
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    rec = s.next_object()
    assert rec.object_id == 1 and s.object_id is None and s.controller.n_rounds == 0
    assert s.next_free_id() == 2
    assert s.next_object() is None  # nothing new: nothing committed
    assert s.commit() is None


def test_wrong_shape_committed_layer_is_refused(fakes, tube):
    with pytest.raises(ValueError, match="shape"):
        AnnotationSession(LimNetController(tube[0], models=fakes()), np.zeros((3, 3, 3), np.uint16))
    with pytest.raises(ValueError, match="integers"):
        AnnotationSession(LimNetController(tube[0], models=fakes()), np.zeros(tube[0].shape, np.float32))


def test_autosave_round_trip_and_keys():
    labels = np.zeros((10, 20, 30), dtype=np.uint16)
    labels[3:5, 4:9, 10:12] = 2
    labels[7, 1, 1] = 5
    key = autosave.session_key("/data/scan.nii.gz", "scan", labels.shape)
    autosave.save(key, labels)
    back, info = autosave.load(key)
    np.testing.assert_array_equal(back, labels)
    assert info["objects"] == 2
    assert autosave.load(autosave.session_key("/data/other.nii.gz", "scan", labels.shape)) is None
    autosave.autosave_path(key).write_bytes(b"broken")
    assert autosave.load(key) is None  # a broken autosave is ignored
    autosave.clear(key)
    assert not autosave.autosave_path(key).exists()


def test_edit_object_loads_the_committed_mask_as_round_zero_and_writes_back_under_its_id(fakes, tube):
    from napari_limnet import LimNetController
    from napari_limnet.session import AnnotationSession

    vol, truth = tube
    committed = np.zeros(vol.shape, np.uint16)
    committed[truth] = 3
    committed[0, :2, :2] = 5
    sess = AnnotationSession(LimNetController(vol, models=fakes(-10.0)), committed)
    assert sess.committed_ids() == [3, 5]
    with pytest.raises(ValueError, match="no committed object 9"):
        sess.edit_object(9)
    assert sess.edit_object(3) == int(truth.sum())
    ctrl = sess.controller
    assert ctrl.n_rounds == 0 and np.array_equal(ctrl.mask, truth) and not sess.has_uncommitted_changes
    ctrl_mask_before = ctrl.mask.copy()
    sess.run_round(21, [], [(24, 24)])  # erase the last slice of the object
    assert not ctrl.mask[21].any() and ctrl.mask[8:21].any()
    record = sess.commit()
    assert record.object_id == 3 and not (committed[21] == 3).any() and (committed[8:21] == 3).any()
    assert (committed == 5).sum() == 4, "the other object is untouched"
    assert sess.undo() == "commit" and (committed == 3).sum() == truth.sum()
    assert sess.undo() == "round" and np.array_equal(ctrl.mask, ctrl_mask_before), "undo goes back to round 0"
    with pytest.raises(ValueError, match="shape"):
        ctrl.load_mask(np.zeros((2, 2, 2), bool))
