"""Warm the networks up off the UI thread: import torch, load the shipped weights, run one round,
and import what learning needs.

The first round of a session used to pay for importing torch, loading the weights, building the
inference copies (BatchNorm folded) and the CPU kernels' first-call set-up: 1.5-3.8 s on the UI
thread. :func:`warm_up` does all of it on a tiny volume, so the widget can run it in a thread
worker as soon as it opens.
"""

from __future__ import annotations

import numpy as np


def warm_up(device: str = "cpu") -> list[str]:
    """Load the shipped networks on ``device`` and run two rounds on a small volume.

    Returns the devices this machine can run on (CPU first), found while torch is imported here.
    Torch's native library is mapped first with the GIL released (:mod:`.torch_preload`), so the
    import does not stall the UI thread.
    """
    from .torch_preload import preload_torch_library

    preload_torch_library()
    from .. import adaptation  # noqa: F401 - imported here, not on the UI thread at the first Learn
    from ..controller import LimNetController
    from ..modeling.weights import available_devices

    rng = np.random.default_rng(0)
    vol = rng.normal(100.0, 10.0, size=(6, 48, 48)).astype(np.float32)
    vol[1:5, 14:34, 14:34] += 80.0
    ctrl = LimNetController(vol, device=device)
    ctrl.preview(3, [(24, 24)])
    ctrl.interact(3, [(24, 24)])
    ctrl.interact(1, [(24, 24)], [(40, 40)])  # a second round: fusion runs too
    warm_up_learning()
    return available_devices()


def warm_up_learning() -> None:
    """Import what Learn from my objects imports, and take one optimiser step on a dummy parameter.

    A torch optimiser's first step imports ``torch._dynamo`` (sympy, mpmath: about 800 modules);
    done at Learn, the garbage collections those imports trigger froze the UI for 250 ms.
    """
    import torch

    from ..training import bank, common, train_interaction, train_propagation  # noqa: F401
    from ..training.what_moves import OPTIMIZERS, make_optimizer

    for name in OPTIMIZERS:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = make_optimizer([param], name, lr=1e-3)
        param.grad = torch.zeros(1)
        opt.step()
        opt.zero_grad(set_to_none=True)
