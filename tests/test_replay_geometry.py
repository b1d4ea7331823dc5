"""Issue 38 bug 4: replay and batch run at the voxel size the session was made at, or refuse clearly."""

import json

import nibabel as nib
import numpy as np
import pytest
import tifffile

from napari_limnet import LimNetController
from napari_limnet.cli import main
from napari_limnet.data.samples import nuclei
from napari_limnet.io.files import read_volume
from napari_limnet.annotation_session import AnnotationSession

SPACING = (0.29, 0.26, 0.26)  # what the user typed as the layer's scale; the TIFF states nothing


@pytest.fixture(scope="module")
def tiff_session(tmp_path_factory):
    """A box object and a painted object annotated at SPACING on a TIFF with no voxel size."""
    tmp = tmp_path_factory.mktemp("geom")
    s = nuclei()
    image = tmp / "nuclei.tif"
    tifffile.imwrite(image, s.image)  # no ImageJ/OME metadata
    assert read_volume(image).metadata["spacing_known"] is False
    committed = np.zeros(s.image.shape, np.uint16)
    sess = AnnotationSession(LimNetController(s.image, spacing=SPACING), committed)
    z = int(np.argmax(s.truth.sum((1, 2))))
    ys, xs = np.nonzero(s.truth[z])
    sess.run_round(z, [], [], box=(int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())))
    sess.next_object()
    other = np.zeros(s.image.shape[1:], bool)
    other[5:12, 5:12] = True
    sess.run_round(z, [], [], mask=other)
    sess.commit()
    affine = np.diag([*SPACING, 1.0])
    info = {"name": image.name, "path": str(image), "shape": list(s.image.shape), "spacing": list(SPACING),
            "affine": affine.tolist()}
    path = sess.session_record(info).save(tmp / "nuclei.limnet.json")
    return tmp, image, path, committed


def test_replay_of_a_tiff_without_voxel_size_uses_the_sessions(tiff_session, capsys):
    tmp, image, path, committed = tiff_session
    out = tmp / "replayed.nii.gz"
    assert main(["replay", str(path), str(image), "--out", str(out)]) == 0
    img = nib.load(str(out))
    labels = np.asarray(img.dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(labels, committed)  # voxel for voxel, both objects
    np.testing.assert_allclose(img.header.get_zooms()[::-1], SPACING, rtol=1e-5)
    assert "voxel size 0.29 x 0.26 x 0.26" in capsys.readouterr().out


def test_replay_refuses_a_file_whose_own_voxel_size_disagrees(tiff_session, capsys):
    tmp, image, path, _ = tiff_session
    other = tmp / "nuclei_1mm.nii.gz"
    nib.save(nib.Nifti1Image(tifffile.imread(image).transpose(2, 1, 0), np.eye(4)), str(other))
    record = json.loads(path.read_text())
    record["image"]["path"] = str(other)
    moved = tmp / "moved.limnet.json"
    moved.write_text(json.dumps(record))
    out = tmp / "never.nii.gz"
    rc = main(["replay", str(moved), str(other), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and not out.exists()
    assert "0.29 x 0.26 x 0.26" in err and "1 x 1 x 1" in err and "Traceback" not in err


def test_batch_uses_the_sessions_voxel_size_too(tiff_session):
    from napari_limnet.batch import replay_task

    tmp, image, path, committed = tiff_session
    row = replay_task(str(path), str(image), str(tmp / "batch"))
    out = read_volume(row["out"])
    np.testing.assert_array_equal(out.data, committed)
    np.testing.assert_allclose(out.geometry.spacing, SPACING, rtol=1e-5)
