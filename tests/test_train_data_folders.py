"""Issue 35: the training pipeline reads several data folders (an option, or LIMNET_TRAIN_DATA)."""

import json
import os

import nibabel as nib
import numpy as np
import pytest

from napari_limnet.data.real_volumes import load_real_volumes, train_data_dirs


def folder(tmp_path, name, cases):
    d = tmp_path / name
    d.mkdir()
    listing = []
    for case in cases:
        img = np.random.default_rng(0).normal(size=(12, 10, 8)).astype(np.float32)
        lab = np.zeros((12, 10, 8), np.int16)
        lab[3:7, 3:7, 2:5] = 1
        nib.save(nib.Nifti1Image(img, np.diag([1.0, 1.0, 2.0, 1.0])), str(d / f"{case}_image.nii.gz"))
        nib.save(nib.Nifti1Image(lab, np.diag([1.0, 1.0, 2.0, 1.0])), str(d / f"{case}_labels.nii.gz"))
        listing.append({"name": case, "image": f"{case}_image.nii.gz", "labels": f"{case}_labels.nii.gz"})
    (d / "train_cases.json").write_text(json.dumps({"cases": listing}))
    return d


def test_several_folders_by_option_and_by_environment(tmp_path, monkeypatch):
    a, b = folder(tmp_path, "train", ["ct_a", "mr_b"]), folder(tmp_path, "brain", ["brain_c"])
    joined = f"{a}{os.pathsep}{b}"
    assert train_data_dirs(joined) == [a, b]
    vols = load_real_volumes(joined)
    assert [v.name for v in vols] == ["ct_a", "mr_b", "brain_c"]
    assert vols[0].image.shape == (8, 10, 12) and vols[0].spacing == (2.0, 1.0, 1.0)
    monkeypatch.setenv("LIMNET_TRAIN_DATA", joined)
    assert [v.name for v in load_real_volumes()] == ["ct_a", "mr_b", "brain_c"]
    monkeypatch.setenv("LIMNET_TRAIN_DATA", f"{a}{os.pathsep}{a}")
    with pytest.raises(ValueError, match="two data folders"):
        load_real_volumes()
