"""Inference optimisations must not change what the networks compute."""

import torch

from napari_limnet.inference.runner import NetRunner
from napari_limnet.modeling.optimize import fold_batch_norms
from napari_limnet.modeling.weights import LimNetModels


def _with_running_stats(models):
    g = torch.Generator().manual_seed(0)
    for net in (models.interaction, models.propagation, models.fusion):
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.data.uniform_(0.5, 1.5, generator=g)
    return models


def test_folding_batchnorm_keeps_outputs():
    models = _with_running_stats(LimNetModels.random(seed=1))
    x = torch.randn(2, 4, 64, 64)
    folded = fold_batch_norms(models.interaction)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in models.interaction.modules()), "original untouched"
    with torch.no_grad():
        torch.testing.assert_close(folded(x), models.interaction(x), atol=1e-4, rtol=1e-4)


def test_runner_options_agree():
    models = _with_running_stats(LimNetModels.random(seed=2))
    img = torch.randn(1, 1, 128, 128)
    outs = []
    for fold, cl in ((False, False), (True, True)):
        r = NetRunner(models, fold_bn=fold, channels_last=cl)
        f = r.encode_image(img)
        v = r.encode_value(img, (img > 0).float(), f)
        outs.append(r.segment(f, f.key.flatten(2), v.flatten(2), (img > 0).float())[0])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-3, rtol=1e-3)


def test_bf16_stays_close_to_fp32():
    models = _with_running_stats(LimNetModels.random(seed=3))
    x = torch.randn(1, 4, 128, 128)
    a = NetRunner(models, "fp32").interaction(x)
    b = NetRunner(models, "bf16").interaction(x)
    assert ((a > 0) == (b > 0)).float().mean() > 0.97
