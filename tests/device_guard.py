"""A CPU-only check that the inference path keeps host and device tensors apart.

CI has no GPU, so a mixed-device bug (a CUDA logit indexed with a CPU mask, say) would never
fail there. :class:`DeviceGuard` makes it fail on the CPU: it marks every tensor that crosses
:meth:`NetRunner.to_device` (and the networks' weights) as *device-side*, propagates the mark
through every torch operation, clears it in :meth:`NetRunner.to_host`, and raises
:class:`MixedDeviceError` on any operation that mixes a device-side tensor with a host tensor
of more than one element. That is stricter than CUDA (which lets a CPU scalar tensor or CPU
indices meet a CUDA tensor), which is the point: one device per run, one crossing each way.
"""

from __future__ import annotations

import contextlib

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_MARK = "_limnet_device_side"


class MixedDeviceError(RuntimeError):
    pass


def _is_device(t: torch.Tensor) -> bool:
    return bool(getattr(t, _MARK, False))


def _mark(t: torch.Tensor, value: bool) -> None:
    try:
        setattr(t, _MARK, value)
    except (AttributeError, RuntimeError):  # some internal tensors refuse attributes
        pass


class DeviceGuard(TorchFunctionMode):
    """Torch function mode that tracks device-side tensors; use with :func:`guard_runner`."""

    def __init__(self):
        super().__init__()
        self.checked_ops = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        dev = [t for t in tensors if _is_device(t)]
        host = [t for t in tensors if not _is_device(t) and t.dim() > 0 and t.numel() > 1]
        if dev and host and func not in _SAFE:
            raise MixedDeviceError(
                f"{getattr(func, '__qualname__', func)} mixes device-side tensors {[tuple(t.shape) for t in dev]} "
                f"with host tensors {[tuple(t.shape) for t in host]}: move one side through NetRunner.to_device/to_host"
            )
        self.checked_ops += 1
        out = func(*args, **kwargs)
        if dev:
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    _mark(t, True)
        return out


#: Functions that only read metadata or copy across, never compute on both sides.
_SAFE = {torch.Tensor.__setattr__, torch.Tensor.__getattribute__}


@contextlib.contextmanager
def guard_runner(runner):
    """Run the inference path with ``runner`` under a :class:`DeviceGuard`.

    Its weights and everything it moves in are marked device-side; what it moves out is host.
    """
    nets = (runner.interaction_net, runner.propagation_net, runner.fusion_net)
    for net in nets:
        for t in list(net.parameters()) + list(net.buffers()):
            _mark(t, True)
    to_device, to_host = runner.to_device, runner.to_host

    def marked_to_device(x):
        out = to_device(x)
        out = out.clone() if out is x else out  # a CPU "move" may return the same tensor
        _mark(out, True)
        return out

    def cleared_to_host(x):
        with torch._C.DisableTorchFunction():
            out = x.detach().float().clone().contiguous()
        _mark(out, False)
        return out

    runner.to_device, runner.to_host = marked_to_device, cleared_to_host
    guard = DeviceGuard()
    try:
        with guard:
            yield guard
    finally:
        runner.to_device, runner.to_host = to_device, to_host
        for net in nets:
            for t in list(net.parameters()) + list(net.buffers()):
                _mark(t, False)
