"""The training data pipeline: real volumes from ../shared/data/train and the device-resident bank."""

import numpy as np
import pytest
import torch

from napari_limnet.training.bank import VolumeBank
from napari_limnet.data.real_volumes import RealVolume, RealVolumes, default_train_dir, load_real_volumes, pack, unpack


def _toy_volumes():
    """Two labelled blocks touching along z (a structure stacked on another), anisotropic spacing."""
    img = np.zeros((20, 40, 40), np.float32)
    lab = np.zeros((20, 40, 40), np.int16)
    lab[4:10, 10:30, 10:30] = 1
    lab[10:16, 10:30, 10:30] = 2
    img[lab == 1] = 100
    img[lab == 2] = 110
    img += np.random.default_rng(0).normal(0, 5, img.shape).astype(np.float32)
    return [RealVolume("toy", img, lab, (3.0, 1.0, 1.0))]


def test_pack_round_trip(tmp_path):
    vols = _toy_volumes()
    pack(vols, tmp_path / "p.npz")
    back = unpack(tmp_path / "p.npz")
    assert [v.name for v in back] == ["toy"] and back[0].spacing == (3.0, 1.0, 1.0)
    np.testing.assert_array_equal(back[0].labels, vols[0].labels)
    np.testing.assert_allclose(back[0].image, vols[0].image)


def test_real_samples_are_shaped_seeded_and_hold_their_structure():
    real = RealVolumes(_toy_volumes(), "cpu", min_voxels=100)
    assert len(real) == 2
    a = real.sample(6, (8, 32, 32), torch.Generator().manual_seed(1))
    b = real.sample(6, (8, 32, 32), torch.Generator().manual_seed(1))
    assert a.image.shape == (6, 8, 32, 32) and a.target.dtype == torch.bool and a.labels.dtype == torch.long
    assert torch.equal(a.image, b.image) and torch.equal(a.target, b.target)
    assert torch.isfinite(a.image).all()
    assert (a.target.flatten(1).sum(1) > 0).float().mean() >= 0.5, "most canvases show their structure"
    # the target is exactly one label of the sampled label map
    for i in range(6):
        ids = torch.unique(a.labels[i][a.target[i]])
        assert len(ids) <= 1


def test_the_shipped_training_volumes_load():
    folder = default_train_dir()
    if not (folder / "train_cases.json").is_file():
        pytest.skip("../shared/data/train is not here")
    vols = load_real_volumes(folder)
    assert len(vols) >= 7 and all(v.image.ndim == 3 and v.image.shape == v.labels.shape for v in vols)
    real = RealVolumes(vols, "cpu")
    assert len(real) > 50
    s = real.sample(2, (6, 48, 48), torch.Generator().manual_seed(0))
    assert s.image.shape == (2, 6, 48, 48)


def test_bank_draws_refreshes_and_mixes_real_volumes():
    gen = torch.Generator().manual_seed(0)
    real = RealVolumes(_toy_volumes(), "cpu", min_voxels=100)
    bank = VolumeBank(8, (6, 32, 32), "cpu", gen, refresh_batch=4, real=real, real_fraction=0.5)
    assert bank.generated["synthetic"] + bank.generated["real"] == 8
    before = bank.image.clone()
    for _ in range(6):
        bank.refresh()
    assert not torch.equal(before, bank.image), "refresh replaces entries"
    assert bank.generated["real"] > 0 and bank.generated["synthetic"] > 0
    v = bank.draw(5)
    assert v.image.shape == (5, 6, 32, 32) and v.labels.dtype == torch.long and v.target.dtype == torch.bool
    assert torch.isfinite(v.image).all()
    with pytest.raises(ValueError, match="needs real volumes"):
        VolumeBank(8, (6, 32, 32), "cpu", gen, refresh_batch=4, real_fraction=0.5)


def test_fast_pipeline_trains_both_nets_a_few_steps(tmp_path):
    from napari_limnet.training import train_interaction, train_propagation

    common = ["--seconds", "60", "--max-steps", "2", "--canvas", "48", "--size", "32", "--out", str(tmp_path),
              "--threads", "1", "--log-every", "1000", "--bank", "8", "--refresh-batch", "4", "--refresh-every", "1"]
    train_interaction.main(common + ["--batch", "4"])
    train_propagation.main(common + ["--batch", "2", "--clip", "3", "--depth", "8"])
    import json

    rec = json.loads((tmp_path / "propagation.json").read_text())["runs"][-1]
    assert rec["steps"] == 2 and rec["clips"] == 4 and "bank" in rec["data"]
    assert rec["bank_volumes_generated"]["synthetic"] >= 8


def test_object_texture_changes_only_intensities_and_is_off_by_default():
    from napari_limnet.data.synthetic import SyntheticConfig, make_volumes

    def gen():
        return torch.Generator().manual_seed(5)

    plain = make_volumes(6, (6, 96, 96), gen())
    assert torch.equal(plain.image, make_volumes(6, (6, 96, 96), gen(), config=SyntheticConfig(object_texture_p=0.0)).image)
    textured = make_volumes(6, (6, 96, 96), gen(), config=SyntheticConfig(object_texture_p=1.0))
    assert torch.equal(plain.labels, textured.labels) and torch.equal(plain.target, textured.target)
    assert torch.isfinite(textured.image).all()

    def grain(v):
        """Mean |pixel - its 3x3 neighbourhood mean| inside the targets, relative to their mean intensity."""
        img = v.image.float()
        img = (img - img.flatten(1).amin(1).view(-1, 1, 1, 1)) / (img.flatten(1).amax(1) - img.flatten(1).amin(1)).view(-1, 1, 1, 1)
        local = torch.nn.functional.avg_pool2d(img.flatten(0, 1)[:, None], 3, 1, 1)[:, 0].view_as(img)
        inside = v.target
        return float(((img - local).abs()[inside]).mean() / img[inside].mean().abs().clamp_min(1e-6))

    assert grain(textured) > 1.3 * grain(plain), "classes carry a fine internal texture"


def test_real_canvases_take_the_same_texture_on_their_structures():
    vols = _toy_volumes()

    def sample(**kw):
        return RealVolumes(vols, "cpu", min_voxels=100, **kw).sample(4, (6, 32, 32), torch.Generator().manual_seed(3))

    plain, off, textured = sample(), sample(object_texture=0.0), sample(object_texture=1.0)
    assert torch.equal(plain.image, off.image), "off by default: the random stream is unchanged"
    assert torch.equal(plain.target, textured.target) and torch.equal(plain.labels, textured.labels)
    assert torch.isfinite(textured.image).all() and not torch.equal(plain.image, textured.image)


def test_object_texture_is_recorded_and_needs_the_bank(tmp_path):
    import json

    from napari_limnet.training import train_interaction

    common = ["--seconds", "60", "--max-steps", "1", "--canvas", "48", "--size", "32", "--out", str(tmp_path),
              "--threads", "1", "--log-every", "1000", "--batch", "4", "--object-texture", "0.5"]
    with pytest.raises(SystemExit, match="need --bank"):
        train_interaction.main(common)
    train_interaction.main(common + ["--bank", "8", "--refresh-batch", "4", "--refresh-every", "1"])
    rec = json.loads((tmp_path / "interaction.json").read_text())["runs"][-1]
    assert rec["object_texture"] == 0.5 and rec["args"]["object_texture"] == "0.5" and rec["real_texture"] == 0.0
