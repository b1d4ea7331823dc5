"""Shared fixtures: fake networks with known behaviour, small volumes, temp cache folders, script modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from napari_limnet.modeling.propagation_net import ImageFeatures
from napari_limnet.modeling.weights import LimNetModels


class FakeInteraction(nn.Module):
    """Segments the bright pixels of the crop (normalised image > 0.5), ignoring the clicks."""

    def forward(self, x):
        return torch.where(x[:, :1] > 0.5, 10.0, -10.0)


class FakePropagation(nn.Module):
    """Follows bright pixels; 'object present' while the crop has any bright pixel."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def encode_image(self, image):
        b, _, s, _ = image.shape
        key = nn.functional.avg_pool2d(image, 8).repeat(1, 64, 1, 1)
        return ImageFeatures(s2=image, s4=image, s8=image, key=key)

    def encode_value(self, image, mask, feats):
        return torch.zeros(image.shape[0], 128, image.shape[-2] // 8, image.shape[-1] // 8)

    def segment(self, feats, memory_keys, memory_values, previous_mask):
        self.calls += 1
        bright = feats.s2 > 0.5
        logits = torch.where(bright, 10.0, -10.0)
        presence = torch.where(bright.flatten(1).any(1), 10.0, -10.0)
        return logits, presence


class FakeFusion(nn.Module):
    """Returns a fixed logit for P(old is better)."""

    def __init__(self, logit: float = -10.0):
        super().__init__()
        self.logit = logit
        self.seen = 0

    def forward(self, images, scalars):
        self.seen += images.shape[0]
        return torch.full((images.shape[0],), float(self.logit))


def _load_script(name: str):
    """The module ``<name>.py`` from scripts/, benchmarks/ or a research folder under docs/research/
    (scripts are not a package), imported from its file."""
    root = Path(__file__).resolve().parents[1]
    candidates = [root / "scripts" / f"{name}.py", root / "benchmarks" / f"{name}.py",
                  *sorted((root / "docs" / "research").rglob(f"{name}.py"))]
    path = next(p for p in candidates if p.is_file())
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)`` -> the module ``scripts/<name>.py``."""
    return _load_script


def fake_models(fusion_logit: float = -10.0) -> LimNetModels:
    return LimNetModels(FakeInteraction(), FakePropagation(), FakeFusion(fusion_logit), trained=False)


@pytest.fixture
def fakes():
    return fake_models


def tube_volume(shape=(30, 48, 48), z_range=(8, 22), center=(24, 24), radius=7, dtype=np.float32):
    """Bright disk of ``radius`` at ``center`` on slices z_range[0]..z_range[1]-1; dark elsewhere."""
    vol = np.zeros(shape, dtype=np.float32)
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    disk = (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2
    vol[z_range[0] : z_range[1], disk] = 100.0
    vol += np.linspace(0, 1, shape[2], dtype=np.float32)[None, None, :]  # never constant
    truth = np.zeros(shape, dtype=bool)
    truth[z_range[0] : z_range[1], disk] = True
    return vol.astype(dtype), truth


@pytest.fixture
def tube():
    return tube_volume()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMNET_CACHE_DIR", str(tmp_path / "limnet_cache"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the slow tests (the full crash, long-session and fuzz campaigns): make test-slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ct(make_napari_viewer):
    """A shown viewer with the CT sample as image 'ct': (viewer, sample). (GUI tests; a module may define its own ``ct``)."""
    from gui_helpers import ct_viewer

    return ct_viewer(make_napari_viewer)


@pytest.fixture
def no_tracebacks(monkeypatch):
    """Fail the test if an exception reaches sys.excepthook (what napari shows the user)."""
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc))
    yield seen
    assert not seen, f"a traceback reached the user: {seen[0][1]!r}"
