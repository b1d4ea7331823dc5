"""Issue 38: Learn holds out about a third, its progress follows time, and CPUs without native bf16 train in fp32."""

import time

import numpy as np
import pytest
import torch

from napari_limnet.adaptation import adapt
from napari_limnet.adaptation.report import split_objects
from napari_limnet.data.samples import nuclei
from napari_limnet.inference.cancel import Cancelled
from napari_limnet.training.common import autocast, cpu_has_native_bf16


@pytest.mark.parametrize("n, held", [(1, 0), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (8, 3), (12, 3)])
def test_about_a_third_is_held_out(n, held):
    train, out = split_objects(list(range(1, n + 1)))
    assert len(out) == held and sorted(train + out) == list(range(1, n + 1))
    if held:
        assert n in out, "the newest object is always checked"


def test_training_autocasts_to_bf16_only_where_the_cpu_computes_it():
    conv = torch.nn.Conv2d(2, 2, 3)
    with autocast(torch.device("cpu")):
        y = conv(torch.randn(1, 2, 8, 8))
    assert (y.dtype == torch.bfloat16) == cpu_has_native_bf16()


def test_learning_progress_follows_the_budget_and_stops_within_seconds():
    s = nuclei()
    labels = np.where(s.truth, 1, 0)
    seen, t0 = [], time.perf_counter()
    budget = 12.0

    def progress(done, total, message):
        seen.append((time.perf_counter() - t0, done, total, message))

    adapt(s.image, labels, s.spacing, seconds=budget, seed=0, progress=progress,
          steps={"interaction": 200, "propagation": 200})  # far more steps than fit: time decides
    assert all(total == 1000 for _, _, total, _ in seen)
    for elapsed, done, _, message in seen[1:]:
        assert done >= min(1000, int(1000 * (elapsed - 0.5) / budget)), (elapsed, done, message)
    assert seen[-1][1] >= 900, "the bar is (nearly) full when the budget is spent"
    # stopping: the run ends within a few seconds of the request, whatever it was doing
    asked = {}

    def stop_after_3s():
        if time.perf_counter() - t1 > 3.0:
            asked.setdefault("t", time.perf_counter())
            return True
        return False

    t1 = time.perf_counter()
    with pytest.raises(Cancelled):
        adapt(s.image, labels, s.spacing, seconds=60, seed=0, should_cancel=stop_after_3s)
    assert time.perf_counter() - asked["t"] < 20.0  # one step or one bank build at most, not the 60 s budget
