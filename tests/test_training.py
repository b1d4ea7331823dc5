"""Training building blocks: the synthetic generator, click simulation, corruptions, short runs."""

import json

import numpy as np
import pytest
import torch

from napari_limnet.training.click_simulation import error_click, first_click
from napari_limnet.training.common import TimeBudget, corrupt_masks, dice_score, seg_loss
from napari_limnet.data.synthetic import DTYPE_MODES, SyntheticConfig, make_volumes


def test_generator_is_seeded_and_shaped():
    a = make_volumes(2, (8, 48, 48), torch.Generator().manual_seed(3))
    b = make_volumes(2, (8, 48, 48), torch.Generator().manual_seed(3))
    c = make_volumes(2, (8, 48, 48), torch.Generator().manual_seed(4))
    assert torch.equal(a.image, b.image) and torch.equal(a.target, b.target)
    assert not torch.equal(a.image, c.image)
    assert a.image.shape == (2, 8, 48, 48) and a.target.dtype == torch.bool
    assert a.dtype_mode in DTYPE_MODES and a.z_scale >= 1.0
    assert torch.isfinite(a.image).all()


def test_targets_exist_and_dtype_ranges_hold():
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(12):
        v = make_volumes(2, (6, 64, 64), gen)
        assert (v.target.flatten(1).sum(1) > 0).all(), "every sample has a target"
        seen.add(v.dtype_mode)
        if v.dtype_mode == "mri_uint8":
            assert v.image.min() >= 0 and v.image.max() <= 255 and torch.equal(v.image, v.image.round())
        if v.dtype_mode == "ct_hu":
            assert torch.equal(v.image, v.image.round())
    assert len(seen) >= 3


def test_anisotropic_volumes_have_thick_slices():
    v = make_volumes(1, (8, 32, 32), torch.Generator().manual_seed(1), z_scale=6.0)
    assert v.z_scale == 6.0
    cfg = SyntheticConfig(anisotropic_p=1.0)
    w = make_volumes(1, (8, 32, 32), torch.Generator().manual_seed(1), config=cfg)
    assert w.z_scale >= cfg.z_scale[0]


def test_first_click_is_inside_and_deep():
    t = torch.zeros(2, 40, 40, dtype=torch.bool)
    t[0, 10:30, 5:15] = True
    t[1, 2:6, 30:38] = True
    p = first_click(t, torch.Generator().manual_seed(0), exact_p=1.0).long()
    assert t[0, p[0, 0], p[0, 1]] and t[1, p[1, 0], p[1, 1]]
    assert 13 <= p[0, 0] <= 26 and 8 <= p[0, 1] <= 11


def test_error_click_targets_the_larger_error():
    gt = torch.zeros(2, 30, 30, dtype=torch.bool)
    gt[:, 5:25, 5:25] = True
    pred = gt.clone()
    pred[0, 5:25, 5:15] = False  # big false negative
    pred[1, 0:30, 26:30] = True  # false positive strip
    pts, positive, err = error_click(pred, gt, torch.Generator().manual_seed(0))
    assert err.all()
    assert positive[0] and not positive[1]
    y, x = pts[0].long()
    assert gt[0, y, x] and not pred[0, y, x]


def test_corruptions_keep_shape_and_change_masks():
    gt = torch.zeros(6, 40, 40, dtype=torch.bool)
    gt[:, 10:30, 12:28] = True
    labels = torch.ones(6, 40, 40, dtype=torch.long)
    labels[:, 10:30, 12:28] = 2
    labels[:, 10:30, 28:36] = 3
    out = corrupt_masks(gt, labels, torch.Generator().manual_seed(0), torch.full((6,), 0.8), torch.arange(6))
    assert out.shape == gt.shape and out.dtype == torch.bool
    d = dice_score(out, gt)
    assert (d[:5] < 1).all(), "kinds 0-4 always change the mask"
    assert out[3].sum() > gt[3].sum(), "a leak adds the neighbouring label"


def test_losses_and_schedule():
    logits = torch.full((2, 1, 8, 8), 10.0)
    target = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    assert seg_loss(logits, target) < 0.01
    assert seg_loss(-logits, target) > 1.0
    b = TimeBudget(seconds=100, base_lr=1.0, warmup_s=0)
    assert b.lr() == pytest.approx(1.0, abs=0.01) and not b.done()


def test_a_short_training_run_writes_weights_and_record(tmp_path):
    from napari_limnet.training import train_fusion

    train_fusion.main(["--seconds", "2", "--batch", "8", "--canvas", "48", "--out", str(tmp_path), "--log-every", "1", "--threads", "1"])
    record = json.loads((tmp_path / "fusion.json").read_text())
    run = record["runs"][-1]
    assert run["steps"] >= 1 and run["seed"] == 0 and "train_fusion" in run["command"]
    assert (tmp_path / "fusion.pt").is_file() and not (tmp_path / "fusion.partial.pt").exists()
    train_fusion.main(["--seconds", "1", "--batch", "8", "--canvas", "48", "--out", str(tmp_path), "--resume", "--threads", "1"])
    record = json.loads((tmp_path / "fusion.json").read_text())
    assert len(record["runs"]) == 2 and record["runs"][1]["resumed"]


def test_rollouts_record_real_mrf_choices():
    from napari_limnet.training.fusion_rollouts import record_sessions

    data = record_sessions(seconds=3, seed=9_000_000, shape=(16, 64, 64), rounds=4)
    n = len(data["dice_old"])
    assert data["x"].shape == (n, 3, 64, 64) and data["scalars"].shape == (n, 4) and len(data["dice_new"]) == n
    if n:
        assert np.all((data["dice_old"] >= 0) & (data["dice_old"] <= 1))


def test_rollouts_on_the_real_training_volumes_name_their_structures():
    from napari_limnet.data.real_volumes import default_train_dir
    from napari_limnet.training.fusion_rollouts import record_sessions

    if not (default_train_dir() / "train_cases.json").is_file():
        pytest.skip("../shared/data/train is not here")
    data = record_sessions(seconds=0.5, seed=0, rounds=3, real=(2, 60))  # the first session only
    n = len(data["dice_old"])
    assert len(data["case"]) == n and data["x"].shape[0] == n
    assert len(data["session_cases"]) == 1 and str(data["session_cases"][0]).startswith("train_")
    assert set(data["case"]) <= set(data["session_cases"])


def test_rollout_validation_holds_out_whole_objects(tmp_path):
    from napari_limnet.training.train_fusion import load_rollouts

    rng = np.random.default_rng(0)
    n = 200
    cases = np.array([f"train_obj_{i % 20}" for i in range(n)])
    x = rng.random((n, 3, 8, 8)).astype(np.float16)
    x[:, 0, 0, 0] = np.arange(n) / 1000  # a tag to find each choice again
    np.savez(tmp_path / "r.npz", x=x, scalars=rng.random((n, 4)).astype(np.float32),
             dice_old=rng.random(n).astype(np.float32), dice_new=rng.random(n).astype(np.float32), case=cases)
    train, val = load_rollouts([tmp_path / "r.npz"], "cpu", seed=0, val_fraction=0.1)
    tag = lambda part: set(np.rint(part[0][:, 0, 0, 0].numpy() * 1000).astype(int))  # noqa: E731
    train_objects, val_objects = {cases[i] for i in tag(train)}, {cases[i] for i in tag(val)}
    assert len(val_objects) == 2 and not (train_objects & val_objects)
    assert len(tag(train)) + len(tag(val)) == n


def test_depth_map_and_dilation_match_the_max_pool_reference():
    """The logical-shift erosion/dilation give exactly what iterated 3x3 max-pooling gave."""
    import torch.nn.functional as F

    from napari_limnet.training.batch_ops import depth_map, dilate

    def reference_depth(mask, iterations=24):
        x, depth = mask.float().unsqueeze(1), torch.zeros(mask.shape[0], 1, *mask.shape[1:])
        for _ in range(iterations):
            depth = depth + x
            x = -F.max_pool2d(-F.pad(x, (1, 1, 1, 1), value=0.0), 3, 1, 0)
        return depth[:, 0]

    gen = torch.Generator().manual_seed(0)
    mask = F.max_pool2d((torch.rand(6, 1, 70, 90, generator=gen) > 0.995).float(), 31, 1, 15)[:, 0] > 0
    mask |= torch.rand(6, 70, 90, generator=gen) > 0.9
    mask[0] = True  # touches the border everywhere: depth counts the border as background
    mask[1] = False
    assert torch.equal(depth_map(mask), reference_depth(mask))
    assert depth_map(mask)[0].max() == 24 and depth_map(mask)[1].max() == 0
    radius = torch.tensor([0, 1, 2, 3, 5, 8])
    grown = mask.clone()
    for r in range(1, 9):
        step = F.max_pool2d(grown.float().unsqueeze(1), 3, 1, 1)[:, 0] > 0.5
        grown = torch.where((radius >= r).view(-1, 1, 1), step, grown)
    assert torch.equal(dilate(mask, radius, 8), grown)


def test_episode_mix_options_set_refine_and_empty_shares():
    """--refine-p sets the share of samples that start from a wrong mask, --empty-p the empty slices."""
    from napari_limnet.training.train_interaction import VOLUME_DEPTH, build_parser, initial_state, sample_slices

    args = build_parser().parse_args(["--out", "/tmp/unused", "--refine-p", "0.6", "--empty-p", "0.25"])
    assert (args.refine_p, args.empty_p) == (0.6, 0.25)
    gen = torch.Generator().manual_seed(0)
    vols = make_volumes(16, (VOLUME_DEPTH, 96, 96), gen, "cpu")
    shares = {}
    for empty_p in (0.0, 0.05, 0.5):
        _, gt, _ = sample_slices(vols, torch.Generator().manual_seed(1), 8, empty_p=empty_p)
        shares[empty_p] = float((~gt.flatten(1).any(1)).float().mean())
    # only volumes with an empty slice can give one, so the share is at most empty_p
    assert shares[0.0] == 0.0 and shares[0.05] < shares[0.5] <= 0.5
    img, gt, lab = sample_slices(vols, torch.Generator().manual_seed(1), 8, empty_p=0.0)
    for refine_p, low, high in ((0.0, 0.0, 0.0), (1.0, 0.75, 1.0)):  # some corruptions erase the mask
        _, prev, _ = initial_state(img, gt, lab, torch.Generator().manual_seed(2), 64, refine_p)
        started_wrong = float(prev.flatten(1).any(1).float().mean())
        assert low <= started_wrong <= high, (refine_p, started_wrong)
