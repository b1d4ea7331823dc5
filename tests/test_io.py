"""NIfTI / TIFF reading and writing: geometry round trips, reader/writer contributions, bad files."""

import gzip

import nibabel as nib
import numpy as np
import pytest
import tifffile

from napari_limnet._reader import get_reader, read_layers
from napari_limnet._writer import write_labels
from napari_limnet.io.files import read_volume, write_volume
from napari_limnet.io.geometry import Geometry, decompose_linear


def rotated_affine():
    a = np.eye(4)
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    shear = np.array([[1, 0.1, 0], [0, 1, 0], [0, 0, 1]])
    a[:3, :3] = rot @ shear @ np.diag([0.7, 0.8, 3.5])
    a[:3, 3] = [-90.0, 12.5, 40.25]
    return a


def test_decompose_linear_rebuilds_the_matrix():
    lin = rotated_affine()[:3, :3]
    r, s, sh = decompose_linear(lin)
    m = np.eye(3)
    m[np.triu_indices(3, 1)] = sh
    np.testing.assert_allclose(r @ m @ np.diag(s), lin, atol=1e-12)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_nifti_round_trip_keeps_data_and_affine(tmp_path):
    data_xyz = np.random.default_rng(0).integers(0, 300, size=(12, 10, 6)).astype(np.int16)
    src = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(data_xyz, rotated_affine()), str(src))
    vol = read_volume(src)
    assert vol.data.shape == (6, 10, 12)
    np.testing.assert_array_equal(vol.data, data_xyz.transpose(2, 1, 0))
    out = tmp_path / "labels.nii.gz"
    write_volume(out, (vol.data > 150).astype(np.uint8), vol.geometry)
    back = nib.load(str(out))
    np.testing.assert_allclose(back.affine, rotated_affine(), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(back.dataobj), (data_xyz > 150).astype(np.uint8))


def test_reader_layer_geometry_and_writer_round_trip(tmp_path):
    src = tmp_path / "scan.nii"
    nib.save(nib.Nifti1Image(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6), rotated_affine()), str(src))
    assert get_reader(str(src)) is read_layers and get_reader(str(tmp_path / "x.png")) is None
    data, kwargs, kind = read_layers(str(src))[0]
    assert kind == "image" and data.shape == (6, 5, 4)
    geo = Geometry.from_layer(kwargs["scale"], kwargs["translate"], kwargs.get("rotate"), kwargs.get("shear"))
    np.testing.assert_allclose(geo.nifti_affine(), rotated_affine(), atol=1e-5)
    # writer from layer attributes (without the stored NIfTI affine: rebuilt from scale/rotate/shear)
    attrs = {k: v for k, v in kwargs.items() if k != "metadata"}
    out = write_labels(str(tmp_path / "seg.nii.gz"), (data > 10).astype(np.uint8), attrs)[0]
    np.testing.assert_allclose(nib.load(out).affine, rotated_affine(), atol=1e-5)
    # and with it (exact)
    out2 = write_labels(str(tmp_path / "seg2.nii.gz"), (data > 10).astype(np.uint8), kwargs)[0]
    np.testing.assert_allclose(nib.load(out2).affine, rotated_affine(), atol=1e-9)
    labels, lkw, lkind = read_layers(out2)[0]
    assert lkind == "labels" and labels.shape == data.shape


def test_tiff_imagej_round_trip_keeps_voxel_size(tmp_path):
    vol = np.random.default_rng(0).integers(0, 4000, size=(5, 30, 40)).astype(np.uint16)
    path = tmp_path / "stack.tif"
    write_volume(path, vol, Geometry.from_spacing((2.0, 0.25, 0.3)), labels=False)
    back = read_volume(path)
    np.testing.assert_array_equal(back.data, vol)
    np.testing.assert_allclose(back.geometry.spacing, (2.0, 0.25, 0.3), rtol=1e-5)
    big = np.zeros((3, 8, 8), dtype=np.uint32)
    big[1, 2, 2] = 70000
    write_volume(tmp_path / "big.tif", big, Geometry.from_spacing((1.5, 0.5, 0.5)))
    b = read_volume(tmp_path / "big.tif")
    assert int(b.data.max()) == 70000
    np.testing.assert_allclose(b.geometry.spacing, (1.5, 0.5, 0.5), rtol=1e-5)


def test_ome_tiff_voxel_size(tmp_path):
    path = tmp_path / "ome.ome.tif"
    tifffile.imwrite(str(path), np.zeros((4, 16, 16), np.uint16), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.11, "PhysicalSizeY": 0.12, "PhysicalSizeZ": 0.9})
    np.testing.assert_allclose(read_volume(path).geometry.spacing, (0.9, 0.12, 0.11), rtol=1e-6)


def test_bad_files_get_clear_messages(tmp_path):
    empty = tmp_path / "empty.nii.gz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_volume(empty)
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 20), np.float32), np.eye(4)), str(good))
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        read_volume(truncated)
    tif_named_nii = tmp_path / "image.nii"
    tifffile.imwrite(str(tif_named_nii), np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="TIFF file with a NIfTI extension"):
        read_volume(tif_named_nii)
    nii_named_tif = tmp_path / "image.tif"
    nii_named_tif.write_bytes(gzip.decompress(good.read_bytes()))
    with pytest.raises(ValueError, match="looks like a NIfTI"):
        read_volume(nii_named_tif)
    not_gz = tmp_path / "plain.nii.gz"
    not_gz.write_bytes(gzip.decompress(good.read_bytes()))
    with pytest.raises(ValueError, match="not gzip-compressed"):
        read_volume(not_gz)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00" + b"\xff" * 50)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        read_volume(junk)
    with pytest.raises(ValueError, match="unsupported extension"):
        read_volume(_touch(tmp_path / "a.png"))
    with pytest.raises(ValueError, match="no such file"):
        read_volume(tmp_path / "missing.nii")


def _touch(path):
    path.write_bytes(b"x")
    return path


def test_failed_write_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    target = tmp_path / "labels.nii.gz"
    write_volume(target, np.ones((3, 4, 5), np.uint8), Geometry())
    good = target.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        write_volume(target, np.zeros((3, 4, 5), np.uint8), Geometry())
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name != "limnet_cache"] == ["labels.nii.gz"], "no temporary file left behind"


def test_writer_refuses_unknown_extensions(tmp_path):
    with pytest.raises(ValueError, match="file name"):
        write_volume(tmp_path / "x.png", np.zeros((2, 2, 2), np.uint8), Geometry())


@pytest.mark.parametrize("name", ["labels.nii.gz", "labels.tif"])
def test_exports_get_the_normal_file_mode(tmp_path, name):
    """Issue 19 C: exported files are readable by others (0666 & ~umask), not owner-only."""
    import os

    old = os.umask(0o022)
    os.umask(old)
    geo = Geometry.from_spacing((2.0, 1.0, 1.0))
    out = write_volume(tmp_path / name, np.ones((3, 4, 5), np.uint16), geo)
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~old)


def test_nifti_export_keeps_the_sources_qform_code(tmp_path):
    """Issue 19: a source with qform_code 0 is not exported with qform_code 1."""
    img = nib.Nifti1Image(np.zeros((5, 4, 3), np.int16), np.diag([1.5, 1.5, 2.0, 1.0]))
    img.set_qform(None, code=0)
    img.set_sform(np.diag([1.5, 1.5, 2.0, 1.0]), code=2)
    src = tmp_path / "src.nii.gz"
    nib.save(img, str(src))
    vol = read_volume(src)
    out = write_volume(tmp_path / "out.nii.gz", np.ones(vol.data.shape, np.uint8), vol.geometry, header_like=str(src))
    back = nib.load(str(out))
    assert int(back.header["qform_code"]) == 0 and int(back.header["sform_code"]) == 2
    np.testing.assert_allclose(back.affine, img.affine)
