"""npe2 manifest: valid, shipped with the package, every contribution importable."""

import pytest

npe2 = pytest.importorskip("npe2")


def test_manifest_is_valid_and_complete():
    from npe2 import PluginManifest

    pm = PluginManifest.from_distribution("napari-limnet")
    assert pm.name == "napari-limnet"
    c = pm.contributions
    assert {w.display_name for w in c.widgets} == {"LIM-Net Annotator"}
    assert {s.key for s in c.sample_data} == {"ct_abdomen", "mri_head", "nuclei"}
    assert any("*.nii.gz" in r.filename_patterns for r in c.readers)
    assert any(".nii.gz" in w.filename_extensions for w in c.writers)
    for cmd in c.commands:
        assert callable(_resolve(cmd.python_name)), cmd.id


def _resolve(python_name: str):
    import importlib

    module, attr = python_name.split(":")
    return getattr(importlib.import_module(module), attr)


def test_sample_data_contributions_return_3d_images():
    from napari_limnet import _sample_data

    for fn in (_sample_data.ct_abdomen, _sample_data.mri_head, _sample_data.nuclei):
        (data, kwargs, kind), = fn()
        assert kind == "image" and data.ndim == 3 and len(kwargs["scale"]) == 3


def test_root_manifest_is_the_packaged_one():
    from importlib import resources
    from pathlib import Path

    packaged = (resources.files("napari_limnet") / "napari.yaml").read_text()
    root = Path(__file__).resolve().parents[1] / "napari.yaml"
    assert packaged == root.read_text()
