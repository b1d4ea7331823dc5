"""The shipped, trained weights: small enough, recorded, and accurate on fixed cases.

Thresholds sit a little below what `python -m napari_limnet.benchmark` measured for the shipped
weights (see README), so a regression in the networks or in the inference code fails CI.
"""

import json
import math

import numpy as np
import pytest

from napari_limnet import LimNetController
from napari_limnet.evaluation.cases import default_data_dir, load_dev_cases, synthetic_holdout
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import run_session
from napari_limnet.modeling.blocks import count_parameters
from napari_limnet.modeling.weights import MODULE_NAMES, LimNetModels, shipped_weights_dir
from napari_limnet.data.samples import ct_abdomen, nuclei


def test_weights_are_small_and_recorded():
    models = LimNetModels.load()
    total = sum(count_parameters(getattr(models, m)) for m in MODULE_NAMES)
    assert total <= 6_000_000
    folder = shipped_weights_dir()
    assert sum((folder / f"{m}.pt").stat().st_size for m in MODULE_NAMES) <= 25 * 2**20
    for m in MODULE_NAMES:
        record = json.loads((folder / f"{m}.json").read_text())
        assert record["module"] == m and record["runs"]
        for run in record["runs"]:
            assert f"napari_limnet.training.train_{m}" in run["command"]
            assert "seed" in run and "synthetic" in run["data"]


def robot_dice(image, truth, spacing, rounds=6):
    ctrl = LimNetController(image, spacing=spacing)
    return run_session(ctrl.interact, truth, rounds).dice


def test_one_click_on_a_large_uniform_object_is_not_a_blob():
    zz, yy, xx = np.mgrid[:9, :200, :200]
    truth = ((yy - 100) / 70.0) ** 2 + ((xx - 100) / 60.0) ** 2 < 1
    truth = np.broadcast_to(truth, (9, 200, 200)).copy()
    vol = np.random.default_rng(0).normal(40, 10, truth.shape).astype(np.float32) + 120 * truth
    ctrl = LimNetController(vol)
    assert dice(ctrl.preview(4, [(100, 100)]), truth[4]) > 0.9


@pytest.mark.parametrize("sample, r1, r6", [(ct_abdomen, 0.05, 0.85), (nuclei, 0.85, 0.90)])
def test_samples(sample, r1, r6):
    s = sample()
    d = robot_dice(s.image, s.truth, s.spacing)
    assert d[0] >= r1 and d[-1] >= r6, d


def test_synthetic_holdout_cases():
    cases = synthetic_holdout(3)
    d = [robot_dice(c.image, c.truth, c.spacing)[-1] for c in cases]
    assert np.mean(d) >= 0.70, d


@pytest.mark.skipif(not (default_data_dir() / "cases.json").is_file(), reason="../shared/data/dev not present")
@pytest.mark.parametrize("name, r6", [("nuclei3d_9", 0.80), ("nuclei3d_32", 0.78), ("macaque_71", 0.70)])
def test_dev_cases(name, r6):
    case = load_dev_cases(names=[name])[0]
    d = robot_dice(case.image, case.truth, case.spacing)
    assert all(math.isfinite(v) for v in d)
    assert d[-1] >= r6, d
