"""Training volumes cut by the image edge (training.field_of_view, ``--border-cut`` of train_propagation and train_interaction)."""

import json

import pytest
import torch

from napari_limnet.data.synthetic import make_volumes
from napari_limnet.modeling.weights import build_network, load_checkpoint, shipped_weights_dir
from napari_limnet.training import train_propagation
from napari_limnet.training.batch_ops import crop
from napari_limnet.training.field_of_view import KEEP_RANGE, cut_by_image_edge


@pytest.fixture(scope="module")
def volumes():
    return make_volumes(8, (10, 96, 96), torch.Generator().manual_seed(0))


def _inside_box(inside):
    ys, xs = torch.nonzero(inside, as_tuple=True)
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def test_every_cut_volume_has_one_edge_through_its_object_and_is_edge_padded_beyond(volumes):
    cut, inside = cut_by_image_edge(volumes, torch.Generator().manual_seed(1), 1.0)
    assert inside.shape == (8, 96, 96) and inside.dtype == torch.bool
    for t in ("image", "labels", "target"):
        assert getattr(cut, t).shape == getattr(volumes, t).shape
    for i in range(8):
        y0, y1, x0, x1 = _inside_box(inside[i])
        assert inside[i].sum() == (y1 - y0 + 1) * (x1 - x0 + 1), "the image is one rectangle"
        assert sum((y0 > 0, y1 < 95, x0 > 0, x1 < 95)) == 1, "exactly one edge moved"
        whole, kept = volumes.target[i].sum(), cut.target[i].sum()
        assert 0 < kept < whole, "the edge runs through the object"
        assert not cut.target[i][:, ~inside[i]].any() and not cut.labels[i][:, ~inside[i]].any()
        assert torch.equal(cut.image[i][:, y0:y1 + 1, x0:x1 + 1], volumes.image[i][:, y0:y1 + 1, x0:x1 + 1])
        assert torch.equal(cut.target[i][:, inside[i]], volumes.target[i][:, inside[i]])
        # beyond the edge the image repeats its last row / column inside (edge padding)
        if y0 > 0:
            assert torch.equal(cut.image[i][:, :y0], volumes.image[i][:, y0:y0 + 1].expand(-1, y0, -1))
        if y1 < 95:
            assert torch.equal(cut.image[i][:, y1 + 1:], volumes.image[i][:, y1:y1 + 1].expand(-1, 95 - y1, -1))
        if x0 > 0:
            assert torch.equal(cut.image[i][:, :, :x0], volumes.image[i][:, :, x0:x0 + 1].expand(-1, -1, x0))
        if x1 < 95:
            assert torch.equal(cut.image[i][:, :, x1 + 1:], volumes.image[i][:, :, x1:x1 + 1].expand(-1, -1, 95 - x1))


def test_the_kept_share_of_the_object_extent_follows_the_keep_range(volumes):
    cut, inside = cut_by_image_edge(volumes, torch.Generator().manual_seed(5), 1.0, keep_range=(0.5, 0.5))
    for i in range(8):
        rows_lost = not bool(inside[i].any(1).all())  # some rows are outside: the edge runs along X, cutting Y
        other = 1 if rows_lost else 0  # (H, W) projection reduced over the other axis
        before = volumes.target[i].any(0).any(other).sum()
        after = cut.target[i].any(0).any(other).sum()
        assert abs(int(after) - 0.5 * int(before)) <= 1
    assert KEEP_RANGE[0] < KEEP_RANGE[1] <= 1


def test_share_zero_and_empty_targets_leave_volumes_whole(volumes):
    same, inside = cut_by_image_edge(volumes, torch.Generator().manual_seed(1), 0.0)
    assert inside.all() and torch.equal(same.image, volumes.image) and torch.equal(same.target, volumes.target)
    empty = make_volumes(2, (10, 96, 96), torch.Generator().manual_seed(2))
    empty.target[:] = False
    kept, inside = cut_by_image_edge(empty, torch.Generator().manual_seed(1), 1.0)
    assert inside.all() and torch.equal(kept.image, empty.image)
    half, inside = cut_by_image_edge(volumes, torch.Generator().manual_seed(1), 0.5)
    cut = (~inside).flatten(1).any(1)
    assert 0 < int(cut.sum()) < 8
    assert torch.equal(half.image[~cut], volumes.image[~cut])


def test_propagation_clips_never_predict_outside_the_image(volumes):
    torch.manual_seed(0)
    net = build_network("propagation")
    load_checkpoint(net, shipped_weights_dir() / "propagation.pt")
    gen = torch.Generator().manual_seed(3)
    cut, inside = cut_by_image_edge(volumes, gen, 1.0)
    z, valid = train_propagation.sample_clips(cut, gen, 4)
    with torch.no_grad():
        loss, preds, presence, tgt = train_propagation.run_clip(net, cut, z, valid, gen, 64, torch.device("cpu"), True, True,
                                                                image_area=inside)
    assert torch.isfinite(loss) and preds.shape == (8, 4, 96, 96)
    assert not (preds & ~inside.unsqueeze(1)).any()
    assert preds[:, 1:].flatten(1).any(1).any(), "propagation still finds the cut objects"


def test_border_cut_training_run_is_recorded(tmp_path):
    train_propagation.main(["--seconds", "2", "--max-steps", "1", "--batch", "2", "--bank", "4", "--refresh-batch", "2",
                            "--canvas", "96", "--size", "64", "--depth", "12", "--clip", "3", "--device", "cpu",
                            "--threads", "1", "--border-cut", "0.5", "--out", str(tmp_path)])
    run = json.loads((tmp_path / "propagation.json").read_text())["runs"][-1]
    assert run["border_cut"] == 0.5 and run["args"]["border_cut"] == "0.5"
    for bad in ("1.5", "-0.1"):
        with pytest.raises(SystemExit):
            train_propagation.build_parser().parse_args(["--border-cut", bad])


def test_interaction_episodes_on_cut_volumes_keep_masks_and_clicks_inside_the_image(tmp_path):
    from napari_limnet.training import train_interaction

    args = train_interaction.build_parser().parse_args(
        ["--batch", "8", "--per-volume", "4", "--bank", "4", "--refresh-batch", "2", "--canvas", "96", "--size", "64",
         "--device", "cpu", "--border-cut", "1.0", "--out", str(tmp_path)])
    net = build_network("interaction")
    load_checkpoint(net, shipped_weights_dir() / "interaction.pt")
    gen = torch.Generator().manual_seed(4)
    vols = make_volumes(2, (10, 96, 96), gen)
    cut, area = cut_by_image_edge(vols, gen, 1.0)
    img, gt, lab = train_interaction.sample_slices(cut, gen, 4)
    area = area.repeat_interleave(4, 0)
    assert not (gt & ~area).any(), "slices and image areas line up"
    x, target, box = train_interaction.run_episode(net, img, gt, lab, gen, 64, 3, torch.device("cpu"), image_area=area)
    assert x.shape == (8, 4, 64, 64) and target.shape == (8, 1, 64, 64)
    past_edge = crop(area.float().unsqueeze(1), box, 64, "zeros")[:, 0] == 0
    assert past_edge.any(), "some windows reach past the image edge"
    assert x[:, 3][past_edge].max() == 0, "the previous mask stops at the image edge"
    step_fn, _ = train_interaction.make_step(args, net, torch.device("cpu"), torch.Generator().manual_seed(0))
    loss, n = step_fn(0)
    assert torch.isfinite(loss) and n == 8
