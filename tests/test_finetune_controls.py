"""Fine-tuning controls: what moves, frozen BatchNorm statistics, structures held out by object."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from napari_limnet.data.real_volumes import RealVolume, RealVolumes, held_out_structures, structure_labels
from napari_limnet.modeling.weights import build_network, load_checkpoint
from napari_limnet.training.what_moves import DECODER_PREFIXES, evaluating, set_what_moves, train_mode


def _bn_layers(net):
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_frozen_batchnorm_keeps_statistics_through_steps_and_validation():
    net = build_network("interaction")
    params = set_what_moves(net, "interaction", "all", "frozen")
    assert len(params) == len(list(net.parameters()))
    stats = [m.running_mean.clone() for m in _bn_layers(net)]
    opt = torch.optim.SGD(params, lr=0.1)
    x = torch.randn(2, 4, 32, 32) * 3 + 1
    for _ in range(2):
        opt.zero_grad()
        net(x).mean().backward()
        opt.step()
        with evaluating(net):  # what the scripts' validation does
            assert not any(m.training for m in net.modules())
    assert all(torch.equal(a, m.running_mean) for a, m in zip(stats, _bn_layers(net)))
    assert net.training and not any(m.training for m in _bn_layers(net)), "frozen BN stays frozen after validation"
    train_mode(net, "train")
    net(x)
    assert not all(torch.equal(a, m.running_mean) for a, m in zip(stats, _bn_layers(net))), "train mode updates them"


def test_decoders_only_moves_only_decoder_parameters():
    net = build_network("propagation")
    params = set_what_moves(net, "propagation", "decoders", "train")
    moving = {n for n, p in net.named_parameters() if p.requires_grad}
    assert moving and len(params) == len(moving) < len(list(net.parameters()))
    assert all(n.startswith(DECODER_PREFIXES["propagation"]) for n in moving)
    with pytest.raises(ValueError, match="no decoder"):
        set_what_moves(build_network("fusion"), "fusion", "decoders")
    with pytest.raises(ValueError, match="moves must be"):
        set_what_moves(net, "propagation", "heads")


def test_presence_moves_change_where_propagation_stops_never_the_mask():
    """moves='presence': only the propagation net's presence head learns, so a step changes the
    presence logit and leaves the mask logits bit-identical; the interaction net has no such head."""
    torch.manual_seed(0)
    net = build_network("propagation")
    params = set_what_moves(net, "propagation", "presence", "frozen")
    moving = {n for n, p in net.named_parameters() if p.requires_grad}
    assert moving and all(n.startswith("decoder.presence.") for n in moving) and len(params) == len(moving) == 4
    image, mask = torch.rand(2, 1, 64, 64), (torch.rand(2, 1, 64, 64) > 0.5).float()

    def forward():
        feats = net.encode_image(image)
        value = net.encode_value(image, mask, feats)
        return net.segment(feats, feats.key.flatten(2), value.flatten(2), mask)

    with evaluating(net), torch.no_grad():
        logits0, presence0 = forward()
    opt = torch.optim.SGD(params, lr=0.5)
    _, presence = forward()
    torch.nn.functional.binary_cross_entropy_with_logits(presence, torch.tensor([1.0, 0.0])).backward()
    opt.step()
    with evaluating(net), torch.no_grad():
        logits1, presence1 = forward()
    assert torch.equal(logits0, logits1)
    assert not torch.allclose(presence0, presence1)
    with pytest.raises(ValueError, match="no presence head"):
        set_what_moves(build_network("interaction"), "interaction", "presence")


def _volumes():
    lab = np.zeros((12, 30, 30), np.int16)
    for i in range(6):
        lab[2:10, i * 5: i * 5 + 4, 5:25] = i + 1
    img = lab.astype(np.float32) * 10
    return [RealVolume("b", img, lab, (1.0, 1.0, 1.0)), RealVolume("a", img.copy(), lab.copy(), (1.0, 1.0, 1.0))]


def test_held_out_structures_are_fixed_and_never_targets():
    vols = _volumes()
    held = held_out_structures(vols, 3, min_voxels=50)
    assert held == held_out_structures(list(reversed(vols)), 3, min_voxels=50), "independent of the listing order"
    assert held == {("a", 2), ("a", 5), ("b", 2), ("b", 5)}
    assert structure_labels(vols[0], 50) == [1, 2, 3, 4, 5, 6]
    real = RealVolumes(vols, "cpu", min_voxels=50, exclude=held)
    assert len(real) == 8
    trained = {(real.names[s.volume], s.label) for s in real.structures}
    assert not trained & held and len(trained | held) == 12
    sample = real.sample(16, (4, 24, 24), torch.Generator().manual_seed(0))
    for i in range(16):  # held-out labels may appear as neighbours, never as the target
        ids = torch.unique(sample.labels[i][sample.target[i]]).tolist()
        assert not {2, 5} & set(ids)
    with pytest.raises(ValueError, match="k >= 2"):
        held_out_structures(vols, 1)


def test_a_cpu_finetuning_run_with_frozen_statistics_and_held_out_objects(tmp_path):
    from napari_limnet.data.real_volumes import pack
    from napari_limnet.modeling.weights import save_checkpoint
    from napari_limnet.training import train_interaction

    pack(_volumes(), tmp_path / "real.npz")
    start = build_network("interaction")
    save_checkpoint(start, tmp_path / "interaction.pt")
    train_interaction.main(["--resume", "--seconds", "60", "--max-steps", "2", "--canvas", "48", "--size", "32",
                            "--out", str(tmp_path), "--threads", "1", "--log-every", "1000", "--bank", "8",
                            "--refresh-batch", "4", "--refresh-every", "1", "--batch", "4", "--real", str(tmp_path / "real.npz"),
                            "--real-fraction", "0.5", "--batchnorm", "frozen", "--val-volumes", "2", "--hold-out-every", "3"])
    run = json.loads((tmp_path / "interaction.json").read_text())["runs"][-1]
    assert run["steps"] == 2 and run["held_out_every"] == 3 and run["real_structures"] == 8
    assert run["args"]["batchnorm"] == "frozen" and "dice@1" in run["final_validation"]
    after = build_network("interaction")
    load_checkpoint(after, tmp_path / "interaction.pt")
    before, now = start.state_dict(), after.state_dict()
    assert all(torch.equal(before[k], now[k]) for k in before if "running_" in k)
    assert any(not torch.equal(before[k], now[k]) for k in before if k.endswith("weight"))


def test_training_cases_split_into_held_out_and_trained_structures():
    from napari_limnet.data.real_volumes import default_train_dir
    from napari_limnet.evaluation.cases import load_train_cases

    if not (default_train_dir() / "train_cases.json").is_file():
        pytest.skip("../shared/data/train is not here")
    every = {c.name for c in load_train_cases(None)}
    held = {c.name for c in load_train_cases(None, held_out_every=3)}
    rest = {c.name for c in load_train_cases(None, held_out_every=3, held_out="exclude")}
    assert held and rest and not held & rest and held | rest == every
    assert len({n.rsplit("_", 1)[0] for n in held}) >= 5, "held-out structures spread over the volumes"
    with pytest.raises(ValueError, match="held_out"):
        load_train_cases(None, held_out_every=3, held_out="some")


def test_optimizer_and_precision_options(tmp_path):
    """--optimizer sgd gives momentum SGD over the moving parameters; --precision fp32 turns autocast off
    (bf16 autocasts on a CPU only where it computes bf16 natively)."""
    from napari_limnet.training import common
    from napari_limnet.training.train_interaction import build_parser

    try:
        for optimizer, precision, kind, bf16 in (("sgd", "fp32", torch.optim.SGD, False), ("adamw", "bf16", torch.optim.AdamW, True)):
            args = build_parser().parse_args(["--out", str(tmp_path), "--device", "cpu", "--moves", "decoders",
                                              "--optimizer", optimizer, "--precision", precision])
            net, opt, device, _ = common.setup(args, "interaction")
            assert isinstance(opt, kind)
            moving = {id(p) for group in opt.param_groups for p in group["params"]}
            assert moving == {id(p) for p in net.parameters() if p.requires_grad} and len(moving) < len(list(net.parameters()))
            with common.autocast(device):
                y = torch.nn.functional.linear(torch.randn(2, 3), torch.randn(4, 3))
            assert (y.dtype == torch.bfloat16) == (bf16 and common.cpu_has_native_bf16())
    finally:
        common._PRECISION["bf16"] = True
