"""Propagation order, stopping, limits and memory, driven by a fake network with known output."""

import numpy as np
import torch

from napari_limnet.inference.mask_store import SliceMask
from napari_limnet.inference.memory import MemoryBank
from napari_limnet.inference.propagation import PropagationConfig, propagate
from napari_limnet.inference.runner import NetRunner
from napari_limnet.inference.volume import VolumeSource


def _run(fakes, tube, limits=(0, 29), **cfg):
    vol, truth = tube
    runner = NetRunner(fakes())
    visited = []
    result = propagate(
        runner, VolumeSource(vol), (1.0, 1.0), 15, SliceMask.from_dense(truth[15]), limits,
        PropagationConfig(**cfg), on_slice=visited.append,
    )
    return result, visited, truth


def test_goes_up_then_down_and_stops_where_the_object_ends(fakes, tube):
    result, visited, truth = _run(fakes, tube)
    assert visited == list(range(16, 23)) + list(range(14, 6, -1))
    present = sorted(z for z, m in result.masks.items() if m is not None)
    assert present == [z for z in range(8, 22) if z != 15]
    assert result.masks[22] is None and result.masks[7] is None
    assert result.stop_reasons == {1: "object ended", -1: "object ended"}
    for z in present:
        got = result.masks[z].dense(truth.shape[1:])
        assert (got == truth[z]).mean() > 0.995


def test_stops_at_the_limits(fakes, tube):
    result, visited, _ = _run(fakes, tube, limits=(12, 18))
    assert visited == [16, 17, 18, 14, 13, 12]
    assert result.stop_reasons == {1: "range limit", -1: "range limit"}


def test_keeps_going_through_empty_slices_when_asked(fakes, tube):
    result, visited, _ = _run(fakes, tube, stop_when_empty=False)
    assert visited == list(range(16, 30)) + list(range(14, -1, -1))
    assert all(result.masks[z] is None for z in range(22, 30))


def test_memory_keeps_the_interacted_slice_and_the_most_recent():
    key = torch.full((1, 4, 2, 2), -1.0)
    bank = MemoryBank(key, torch.zeros(1, 3, 2, 2), n_recent=2)
    for i in range(5):
        bank.add(torch.full((1, 4, 2, 2), float(i)), torch.zeros(1, 3, 2, 2))
    keys, values = bank.read()
    assert len(bank) == 3 and keys.shape == (1, 4, 12) and values.shape == (1, 3, 12)
    assert keys[0, 0, :4].tolist() == [-1.0] * 4  # the anchor is never dropped
    assert sorted(set(keys[0, 0, 4:].tolist())) == [3.0, 4.0]  # only the last two
    assert len(bank.copy()) == 1


def test_stops_when_the_mask_runs_into_tissue_of_another_intensity(fakes):
    # the bright disk continues upwards, but above slice 20 it is much darker (other tissue):
    # the fake net keeps following "bright" pixels, the intensity check stops it.
    vol = np.zeros((30, 48, 48), np.float32)
    yy, xx = np.mgrid[:48, :48]
    disk = (yy - 24) ** 2 + (xx - 24) ** 2 <= 49
    vol[8:21, disk] = 100.0
    vol[21:28, disk] = 60.0
    vol += np.random.default_rng(0).normal(0, 1, vol.shape).astype(np.float32)
    runner = NetRunner(fakes())
    mask0 = SliceMask.from_dense(disk)
    result = propagate(runner, VolumeSource(vol), (1.0, 1.0), 15, mask0, (0, 29), PropagationConfig())
    assert sorted(z for z, m in result.masks.items() if m is not None and z > 15) == list(range(16, 21))
    free = propagate(runner, VolumeSource(vol), (1.0, 1.0), 15, mask0, (0, 29), PropagationConfig(intensity_tolerance=None))
    assert max(z for z, m in free.masks.items() if m is not None) == 27
