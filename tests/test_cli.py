"""The headless CLI on a small volume."""

import nibabel as nib
import numpy as np
import pytest

from napari_limnet.cli import main, parse_click
from napari_limnet.io.files import read_volume


def test_parse_click():
    assert parse_click("3,4,5") == (3, 4, 5, True)
    assert parse_click("3, 4, 5,-") == (3, 4, 5, False)
    with pytest.raises(Exception, match="z,y,x"):
        parse_click("1,2")


def test_segment_writes_a_mask_with_the_source_geometry(tmp_path, capsys):
    vol = np.zeros((12, 40, 40), np.int16)
    vol[3:9, 12:28, 10:26] = 400
    vol += np.random.default_rng(0).integers(0, 30, vol.shape).astype(np.int16)
    affine = np.diag([0.8, 0.9, 4.0, 1.0])
    affine[:3, 3] = [10, -20, 5]
    src = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(vol.transpose(2, 1, 0), affine), str(src))
    out, png = tmp_path / "mask.nii.gz", tmp_path / "ov.png"
    rc = main(["segment", str(src), "--click", "6,20,18", "--click", "6,2,2,-", "--out", str(out), "--overlay", str(png)])
    assert rc == 0
    mask = read_volume(out)
    np.testing.assert_allclose(nib.load(str(out)).affine, affine, atol=1e-6)
    assert mask.data.shape == vol.shape and mask.data[6, 20, 18] == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_bad_click_exits_with_a_message(tmp_path, capsys):
    src = tmp_path / "v.npy"
    np.save(src, np.random.rand(5, 16, 16).astype(np.float32))
    rc = main(["segment", str(src), "--click", "9,3,3", "--out", str(tmp_path / "m.npy")])
    assert rc == 2 and "outside the volume" in capsys.readouterr().err
    assert not (tmp_path / "m.npy").exists()


def test_sample_command(tmp_path):
    out = tmp_path / "nuclei.tif"
    assert main(["sample", "nuclei", "--out", str(out)]) == 0
    v = read_volume(out)
    assert v.data.dtype == np.uint16 and v.data.ndim == 3
    np.testing.assert_allclose(v.geometry.spacing, (2.0, 0.5, 0.5), rtol=1e-5)
