"""Commit / undo / next object semantics (Qt-free) and the crash autosave."""

import numpy as np
import pytest

from napari_limnet import LimNetController, autosave
from napari_limnet.annotation_session import AnnotationSession


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
    autosave.clear(key)
    assert autosave.load(key) is None and not autosave.journal_dir(key).exists()


def test_the_journal_is_incremental_ordered_and_survives_partial_writes(fakes, tube):
    vol, truth = tube
    key = autosave.session_key(None, "tube", vol.shape)
    committed = np.zeros(vol.shape, np.uint16)
    sess = AnnotationSession(LimNetController(vol, models=fakes(-10.0)), committed)
    journal = autosave.AutosaveJournal(key, committed.shape, committed.dtype)
    sess.on_change = journal.patch
    sess.run_round(15, [(24, 24)], [])
    sess.next_object()
    sess.run_round(15, [(5, 5)], [])
    sess.commit(overwrite=True)
    sess.undo()  # the second commit
    sess.commit()
    assert journal.flush()
    back, info = autosave.load(key)
    np.testing.assert_array_equal(back, committed)
    patches = sorted(autosave.journal_dir(key).glob("p*.npz"))
    assert patches and all(p.stat().st_size < 20_000 for p in patches), "patches hold the change, not the volume"
    # a patch being written when the process died (a temp file) and a garbage patch never stop a restore
    (autosave.journal_dir(key) / f".{patches[-1].name}.abc.npz").write_bytes(b"half a file")
    (autosave.journal_dir(key) / "p000000000000000001_9.npz").write_bytes(b"garbage")
    back2, _ = autosave.load(key)
    np.testing.assert_array_equal(back2, committed)
    journal.close()




@pytest.mark.parametrize("how", ["next", "commit_then_next"])
def test_undo_after_next_object_brings_the_object_back_with_its_rounds(session, how):
    """Issue 19 B: undoing the commit made by Next object (or Commit, then Next) restores the object."""
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.run_round(18, [], [(24, 24)])
    mask_before = np.array(s.controller.mask)
    if how == "next":
        s.next_object()
    else:
        s.commit()
        s.next_object()
    assert s.controller.n_rounds == 0 and (s.committed == 1).any()
    assert s.undo_label() == "the commit of object 1"
    assert s.undo() == "commit"
    assert not s.committed.any()
    assert s.object_id == 1 and s.controller.n_rounds == 2
    np.testing.assert_array_equal(s.controller.mask, mask_before)
    assert s.has_uncommitted_changes
    rec = s.commit()  # commit again, under the same id
    assert rec.object_id == 1 and (s.committed == 1).sum() == int(mask_before.sum())
    s.undo()
    assert s.undo() == "round" and s.controller.n_rounds == 1  # its rounds are undoable again


def test_undo_after_next_then_new_rounds_keeps_the_new_object_separate(session):
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.next_object()
    s.run_round(12, [(24, 24)], [])
    assert s.undo() == "round"  # the new object's round first
    assert s.undo() == "commit" and s.object_id == 1 and s.controller.n_rounds == 1


def test_undo_while_refining_says_so_and_stops_refining(session):
    """Issue 19: while refining object 1 the Undo button named the commit of object 2."""
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.next_object()
    s.run_round(10, [(24, 24)], [])
    s.next_object()
    committed = s.committed.copy()
    s.edit_object(1)
    assert s.undo_label() == "refining object 1"
    s.run_round(12, [], [(24, 24)])
    assert s.undo_label() == "round 1"
    assert s.undo() == "round"
    assert s.undo() == "edit" and s.object_id is None and s.controller.n_rounds == 0
    np.testing.assert_array_equal(s.committed, committed)
    assert s.undo_label() == "the commit of object 2"


def test_reset_is_undoable_and_never_reaches_an_earlier_commit(session):
    """Issue 38.1: Commit object 1, click a new object, Reset, Undo: the reset is undone, object 1 stays."""
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.commit()
    committed = s.committed.copy()
    s.next_object()
    s.run_round(12, [(24, 24)], [])
    mask_before = np.array(s.controller.mask)
    s.reset()
    assert s.controller.n_rounds == 0 and s.undo_label() == "the reset"
    assert s.undo() == "reset"
    np.testing.assert_array_equal(s.committed, committed)
    np.testing.assert_array_equal(s.controller.mask, mask_before)
    assert s.controller.n_rounds == 1 and s.undo_label() == "round 1"
    assert s.undo() == "round"
    assert s.undo_label() == "the commit of object 1"


def test_reset_after_a_commit_starts_a_new_object_that_does_not_replace_it(session):
    """Reset after Commit: the next object gets a new id (object 1 keeps its voxels)."""
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.commit()
    n1 = int((s.committed == 1).sum())
    s.reset()
    assert s.undo_label() == "the reset of object 1"
    s.run_round(12, [(24, 24)], [])  # the fake nets find the same tube: object 1 must keep its voxels
    rec = s.commit()
    assert rec.object_id == 2 and int((s.committed == 1).sum()) == n1
    s.undo()  # the commit of object 2
    s.undo()  # its round
    assert s.undo() == "reset" and s.object_id == 1 and not s.has_uncommitted_changes
    assert s.undo() == "commit" and not (s.committed == 1).any()


def test_reset_with_nothing_to_clear_records_nothing(session):
    s, _ = session
    s.reset()
    assert s.undo_label() is None and s.undo() is None


def test_refining_an_object_tells_the_controller_where_it_was_clicked(session):
    """The leak cut while refining starts from the slices the object was made on (its saved rounds)."""
    s, _ = session
    s.run_round(15, [(24, 24)], [])
    s.run_round(18, [], [(24, 24)])  # negative only: not where the object was made
    s.next_object()
    s.edit_object(1)
    assert s.controller._base_anchors == (15,)
    s.reset()
    assert s.controller._base_anchors == ()
