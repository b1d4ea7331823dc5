"""Distillation toward the starting nets (training.distillation, ``--distill``)."""

import pytest
import torch

from napari_limnet.data.synthetic import make_volumes
from napari_limnet.modeling.weights import build_network, load_checkpoint, shipped_weights_dir
from napari_limnet.training import train_interaction, train_propagation
from napari_limnet.training.distillation import distill_record, frozen_teacher, soft_bce
from napari_limnet.training.what_moves import set_what_moves


def _grad_norm(net) -> float:
    return float(sum(p.grad.abs().sum() for p in net.parameters() if p.grad is not None))


def test_soft_bce_is_stationary_at_the_teacher_and_pulls_back_elsewhere():
    teacher = torch.randn(3, 1, 8, 8) * 3
    at = teacher.clone().requires_grad_(True)
    soft_bce(at, teacher).backward()
    assert at.grad.abs().max() < 1e-7, "no gradient where the net answers as the teacher"
    away = (teacher + torch.randn_like(teacher)).requires_grad_(True)
    loss = soft_bce(away, teacher)
    loss.backward()
    assert loss > soft_bce(teacher, teacher)
    # a gradient step moves the logits toward the teacher's
    assert (away - 0.5 * away.grad * away.numel() - teacher).abs().mean() < (away - teacher).abs().mean()
    weight = torch.tensor([1.0, 0.0, 0.0])
    assert torch.isclose(soft_bce(away, teacher, weight), soft_bce(away[:1], teacher[:1]))


def test_frozen_teacher_is_an_independent_frozen_copy():
    net = build_network("interaction")
    teacher = frozen_teacher(net)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in net.parameters())
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert not torch.equal(next(net.parameters()), next(teacher.parameters()))


def _shipped(name):
    net = build_network(name)
    load_checkpoint(net, shipped_weights_dir() / f"{name}.pt")
    set_what_moves(net, name, "decoders", "frozen")
    return net


def test_propagation_distillation_has_no_gradient_before_the_net_moves():
    """The learning net starts as its teacher: on the teacher's own states the loss is flat, and
    after a change of the decoder it is not (the teacher is followed on the learner's states)."""
    torch.manual_seed(0)
    net = _shipped("propagation")
    teacher = frozen_teacher(net)
    gen = torch.Generator().manual_seed(3)
    vols = make_volumes(2, (12, 96, 96), gen)
    z, valid = train_propagation.sample_clips(vols, gen, 4)
    loss, preds, *_ = train_propagation.run_clip(net, vols, z, valid, gen, 64, torch.device("cpu"), True, True, teacher=teacher)
    loss.backward()
    assert preds.shape == (2, 4, 96, 96) and torch.isfinite(loss)
    assert _grad_norm(net) < 1e-4
    net.zero_grad()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("decoder.") and p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05 * (p.abs().mean() + 1e-3))
    gen = torch.Generator().manual_seed(3)
    vols = make_volumes(2, (12, 96, 96), gen)
    z, valid = train_propagation.sample_clips(vols, gen, 4)
    moved, *_ = train_propagation.run_clip(net, vols, z, valid, gen, 64, torch.device("cpu"), True, True, teacher=teacher)
    moved.backward()
    assert _grad_norm(net) > 1e-3


@pytest.mark.parametrize("module", [train_interaction, train_propagation])
def test_distill_stream_runs_and_is_recorded(module, tmp_path):
    args = module.build_parser().parse_args(
        ["--batch", "4", "--bank", "8", "--refresh-batch", "4", "--refresh-every", "1", "--distill", "2",
         "--distill-batch", "4", "--distill-texture", "0.5", "--canvas", "96", "--size", "64", "--device", "cpu",
         "--out", str(tmp_path)] + (["--depth", "12", "--clip", "4"] if module is train_propagation else [])
    )
    net = _shipped(module.NAME)
    step_fn, bank = module.make_step(args, net, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert bank is not None and step_fn.distill_bank is not None and step_fn.distill_bank is not bank
    for step in range(2):
        loss, n = step_fn(step)
        assert torch.isfinite(loss) and n == 4
        loss.backward()
    record = distill_record(args, step_fn.distill_bank)["distill"]
    assert record["weight"] == 2.0 and record["batch"] == 4 and record["texture"] == 0.5
    assert record["volumes_generated"]["synthetic"] >= 8 and record["volumes_generated"]["real"] == 0
    plain = module.build_parser().parse_args(["--batch", "4", "--bank", "8", "--refresh-batch", "4", "--device", "cpu"])
    step_fn, _ = module.make_step(plain, net, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert step_fn.distill_bank is None and distill_record(plain, None) == {}
    no_bank = module.build_parser().parse_args(["--distill", "1", "--device", "cpu"])
    with pytest.raises(SystemExit, match="--distill needs --bank"):
        module.make_step(no_bank, net, torch.device("cpu"), torch.Generator().manual_seed(0))
    for unused, needs in ((["--distill-texture", "0.5"], "needs --distill > 0"), (["--real-texture", "0.5"], "needs --real-fraction > 0")):
        args = module.build_parser().parse_args(["--bank", "8", "--refresh-batch", "4", "--device", "cpu"] + unused)
        with pytest.raises(SystemExit, match=needs):
            module.make_step(args, net, torch.device("cpu"), torch.Generator().manual_seed(0))
