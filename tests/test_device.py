"""One device per run: the inference path never mixes host tensors with the models' device.

These run on the CPU (CI has no GPU) with :mod:`device_guard`, which fails on the class of bug
that crashed ``device='cuda'`` at the first click (a device logit indexed with a host mask).
``scripts/gpu_check.sh`` runs the same rounds on a real GPU.
"""

import numpy as np
import pytest
import torch

from device_guard import MixedDeviceError, guard_runner
from napari_limnet import LimNetController
from napari_limnet.inference.prompt import boundary_contrast, interaction_input
from napari_limnet.inference.crops import CropBox
from napari_limnet.modeling.weights import LimNetModels, resolve_device


@pytest.fixture(scope="module")
def shipped():
    return LimNetModels.load("cpu")


def _blob_volume(seed=0):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:24, :64, :64]
    blob = ((zz - 12) / 7.0) ** 2 + ((yy - 30) / 12.0) ** 2 + ((xx - 34) / 10.0) ** 2 <= 1
    vol = (blob * 120 + rng.normal(0, 8, blob.shape)).astype(np.int16)
    return vol, blob


def test_full_session_keeps_one_device_per_run(shipped):
    vol, blob = _blob_volume()
    ctrl = LimNetController(vol, spacing=(2.0, 1.0, 1.0), models=shipped)
    with guard_runner(ctrl._runner) as guard:
        ctrl.preview(12, [(30, 34)], [])
        ctrl.interact(12, [(30, 34)], [])
        ctrl.interact(6, [(30, 34)], [])  # a second round: MRF choices between rounds
        ctrl.interact(12, [(30, 34)], [(30, 50)])  # refinement with a negative click
        ctrl.interact(20, [], [(30, 34)])  # negative-only round
    assert guard.checked_ops > 1000, "the guard saw the inference path"
    assert ctrl.mask[12].any()


def test_the_guard_catches_a_device_result_used_with_host_tensors(shipped):
    """The crash of issue 14, reproduced: device logits meet the host crop in boundary_contrast."""
    vol, _ = _blob_volume()
    ctrl = LimNetController(vol, spacing=(2.0, 1.0, 1.0), models=shipped)
    runner = ctrl._runner
    from napari_limnet.inference.volume import VolumeSource

    x = interaction_input(VolumeSource(vol), 12, CropBox(0, 64, 0, 64), np.array([[30.0, 34.0]]), np.zeros((0, 2)), None)
    with guard_runner(runner):
        device_logits = runner.interaction_net(runner.to_device(x))[0, 0]  # no to_host: the old bug
        with pytest.raises(MixedDeviceError, match="mixes device-side"):
            boundary_contrast(x[0, 0], (device_logits > 0).float())
        host_logits = runner.interaction(x)[0, 0]  # through the boundary: fine
        assert boundary_contrast(x[0, 0], (host_logits > 0).float()) >= 0.0


def test_a_round_without_the_host_crossing_fails_under_the_guard(shipped):
    """If the runner handed device tensors to host code (as before the fix), the guard says so."""
    vol, _ = _blob_volume()
    ctrl = LimNetController(vol, spacing=(2.0, 1.0, 1.0), models=shipped)
    runner = ctrl._runner
    with guard_runner(runner):
        runner.to_host = lambda t: t  # the old runner: results stayed on the device
        with pytest.raises(MixedDeviceError):
            ctrl.interact(12, [(30, 34)], [])
    assert ctrl.n_rounds == 0, "the failed round changed nothing"


def test_runner_results_are_float32_on_the_cpu(shipped):
    vol, _ = _blob_volume()
    ctrl = LimNetController(vol, models=shipped)
    runner = ctrl._runner
    out = runner.interaction(torch.zeros(1, 4, 128, 128))
    assert out.device.type == "cpu" and out.dtype == torch.float32 and out.shape == (1, 1, 128, 128)
    feats = runner.encode_image(torch.zeros(1, 1, 128, 128))
    value = runner.encode_value(torch.zeros(1, 1, 128, 128), torch.zeros(1, 1, 128, 128), feats)
    logits, presence = runner.segment(feats, feats.key.flatten(2), value.flatten(2), torch.zeros(1, 1, 128, 128))
    assert logits.device.type == "cpu" and presence.shape == (1,)
    p = runner.fusion(torch.zeros(2, 3, 64, 64), torch.zeros(2, 4))
    assert p.shape == (2,) and float(p.min()) >= 0.0 and float(p.max()) <= 1.0


def test_unavailable_devices_are_refused_with_a_clear_message():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(RuntimeError):
        resolve_device("not-a-device")


def test_a_device_error_mid_round_loses_nothing_and_the_round_can_be_redone(fakes, tube):
    """An out-of-memory in the middle of propagation: state as before; set_device + redo works."""
    vol, truth = tube
    ctrl = LimNetController(vol, models=fakes(-10.0))
    first = ctrl.interact(15, [(24, 24)]).copy()
    calls = {"n": 0}
    segment = ctrl._runner.segment

    def failing_segment(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 MiB")
        return segment(*a, **k)

    ctrl._runner.segment = failing_segment
    with pytest.raises(torch.cuda.OutOfMemoryError):
        ctrl.interact(10, [(24, 24)], [(5, 5)])
    assert ctrl.n_rounds == 1 and np.array_equal(ctrl.mask, first)
    assert ctrl.interactions == {15: ([(24.0, 24.0)], [])}
    ctrl.set_device("cpu")  # a fresh runner (the widget offers this after a device error)
    redone = ctrl.interact(10, [(24, 24)], [(5, 5)])
    assert ctrl.n_rounds == 2 and redone[10].any()
    assert ctrl.undo() and np.array_equal(ctrl.mask, first)


def test_set_device_keeps_rounds_and_refuses_unavailable_devices(fakes, tube):
    vol, _ = tube
    ctrl = LimNetController(vol, models=fakes(-10.0))
    mask = ctrl.interact(15, [(24, 24)]).copy()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            ctrl.set_device("cuda")
    assert ctrl.device.type == "cpu" and ctrl.n_rounds == 1 and np.array_equal(ctrl.mask, mask)
