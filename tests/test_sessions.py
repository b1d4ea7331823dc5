"""Saved sessions: recorded from real commits, replayed exactly, headless and in batch on dask."""

import csv
import json

import numpy as np
import pytest

from napari_limnet import LimNetController
from napari_limnet.cli import main
from napari_limnet.io.files import read_volume
from napari_limnet.data.samples import ct_abdomen
from napari_limnet.annotation_session import AnnotationSession
from napari_limnet.session_files import SessionRecord, replay, session_path_for


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two objects annotated with real rounds (demo clicks; a second object with a negative click)."""
    tmp = tmp_path_factory.mktemp("sess")
    s = ct_abdomen()
    image = tmp / "ct.nii.gz"
    assert main(["sample", "ct_abdomen", "--out", str(image)]) == 0
    vol = read_volume(image)
    ctrl = LimNetController(vol.data, spacing=vol.geometry.spacing)
    committed = np.zeros(vol.data.shape, np.uint16)
    sess = AnnotationSession(ctrl, committed)
    for z, y, x in s.demo_clicks():
        sess.run_round(z, [(y, x)], [])
    sess.next_object()
    sess.run_round(17, [(100, 113)], [])
    sess.run_round(17, [(100, 113)], [(5, 5)])
    sess.commit()
    info = {"name": "ct.nii.gz", "path": str(image), "shape": list(vol.data.shape), "spacing": list(vol.geometry.spacing)}
    path = sess.session_record(info).save(tmp / "ct.limnet.json")
    return tmp, image, path, committed


def test_the_session_file_records_every_round(recorded):
    tmp, image, path, committed = recorded
    data = json.loads(path.read_text())
    assert data["format"] == "napari-limnet-session" and data["version"] == 2
    assert [o["id"] for o in data["objects"]] == [1, 2]
    assert [len(o["rounds"]) for o in data["objects"]] == [3, 2]
    assert data["objects"][1]["rounds"][1] == {"z": 17, "positive": [[100, 113]], "negative": [[5, 5]]}
    assert set(data["weights"]) == {"interaction", "propagation", "fusion"}
    assert session_path_for("a/labels.nii.gz").name == "labels.limnet.json"


def test_replay_reproduces_the_committed_labels_exactly(recorded, tmp_path):
    tmp, image, path, committed = recorded
    out = tmp_path / "replayed.nii.gz"
    assert main(["replay", str(path), str(image), "--out", str(out)]) == 0
    np.testing.assert_array_equal(read_volume(out).data, committed)


def test_bad_session_files_get_clear_errors(tmp_path, recorded):
    bad = tmp_path / "x.limnet.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read session"):
        SessionRecord.load(bad)
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a napari-limnet session"):
        SessionRecord.load(bad)
    record = SessionRecord.load(recorded[2])
    with pytest.raises(ValueError, match="shape"):
        replay(record, np.zeros((3, 4, 5), np.float32))


def test_batch_on_a_local_dask_cluster_of_two_workers(recorded, tmp_path, capsys):
    pytest.importorskip("distributed")
    tmp, image, path, committed = recorded
    second = tmp_path / "ct_copy.nii.gz"
    second.write_bytes(image.read_bytes())
    record = json.loads(path.read_text())
    record["image"]["path"] = str(second)
    other = tmp_path / "copy.limnet.json"
    other.write_text(json.dumps(record))
    out_dir, table = tmp_path / "out", tmp_path / "timings.csv"
    rc = main(["batch", str(path), str(other), "--out-dir", str(out_dir), "--workers", "2", "--csv", str(table)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "2 worker(s)" in printed and "[2/2]" in printed
    for name in ("ct_labels.nii.gz", "ct_copy_labels.nii.gz"):
        np.testing.assert_array_equal(read_volume(out_dir / name).data, committed)
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 4 and {r["object_id"] for r in rows} == {"1", "2"}
    assert all(float(r["seconds"]) > 0 for r in rows)


def test_sessions_saved_before_the_growth_rules_replay_without_them():
    """Stopping settings without "grown_erase" (and a leak cut without "growth") come from an
    earlier release: they replay with both off, so old sessions reproduce their masks."""
    from dataclasses import asdict

    from napari_limnet import LimNetController
    from napari_limnet.inference.stopping import StoppingConfig
    from napari_limnet.session_files import apply_settings, controller_settings

    ctrl = LimNetController(np.random.default_rng(0).random((4, 16, 16), dtype=np.float32))
    settings = controller_settings(ctrl)
    assert settings["stopping"]["grown_erase"] == 2.0 and settings["stopping"]["leak_cut"]["growth"] == 2.0
    old = {**settings, "stopping": {k: v for k, v in settings["stopping"].items() if k != "grown_erase"}}
    old["stopping"]["leak_cut"] = {k: v for k, v in old["stopping"]["leak_cut"].items() if k != "growth"}
    apply_settings(ctrl, old)
    assert ctrl.stopping.grown_erase is None and ctrl.stopping.leak_cut.growth is None
    apply_settings(ctrl, settings)
    assert asdict(ctrl.stopping) == asdict(StoppingConfig())


@pytest.mark.parametrize("path, bad", [
    (("valley",), {"depth": 0.5, "slope": 1}),
    (("valley",), [0.5, 1.5]),
    (("leak_cut",), {"growth": "2x"}),
    (("leak_cut", "valley"), {"floor": None}),
    ((), {"presence_threshold": True}),
    ((), {"propagate_trims": 1}),
    ((), {"stop_somewhere": 3}),
])
def test_malformed_stopping_settings_are_clear_errors_that_name_the_setting(path, bad):
    """Session files are untrusted: every stopping rule in them is checked field by field, so a
    malformed one is a ValueError naming it, never a bare TypeError or a silently wrong rule."""
    from napari_limnet.session_files import apply_settings, controller_settings

    ctrl = LimNetController(np.random.default_rng(0).random((4, 16, 16), dtype=np.float32))
    settings = controller_settings(ctrl)
    stopping = json.loads(json.dumps(settings["stopping"]))
    if path:
        target = stopping
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad
    else:
        stopping.update(bad)
    before = ctrl.stopping
    with pytest.raises(ValueError, match=f"invalid {path[-1] if path else 'stopping'} setting"):
        apply_settings(ctrl, {**settings, "stopping": stopping})
    assert ctrl.stopping == before
