"""Adapt the networks to the user's own volume: fine-tune on the objects they committed, on the CPU.

    models = adapt(volume, labels, spacing=(dz, dy, dx), seconds=180.0, seed=0)
    ctrl = LimNetController(volume, spacing=(dz, dy, dx), models=models)

The interaction and propagation nets are fine-tuned from the shipped weights (or ``base``) on
canvases resampled from the user's objects (:mod:`.user_data`), mixed with synthetic volumes of
the shipped training distribution (:class:`.recipe.AdaptRecipe`). The fusion net stays as it is.
The shipped networks are never modified: the adapted ones are copies.

Determinism: the number of steps is planned up front from ``seconds`` and a conservative
nominal speed (:data:`NOMINAL_STEP_SECONDS`, 2 CPU threads); the learning-rate schedule follows
the planned steps. The same inputs, seed and planned steps give the same weights. ``seconds``
is also a hard limit: on a slower or busier machine the run stops when it is spent, and the
result records ``time_limited``.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Callable

import torch
from torch import nn

from ..inference.cancel import Cancelled
from ..inference.volume import check_spacing
from ..modeling.weights import LimNetModels, shipped_models
from ..training.what_moves import make_optimizer, set_what_moves
from .recipe import DEFAULT_RECIPE, AdaptRecipe
from .user_data import user_structures
from .weights_file import models_digest

#: Seconds per step on 2 CPU threads (measured, then rounded up): interaction at batch 16,
#: propagation at batch 6. Used only to plan the number of steps from a time budget.
NOMINAL_STEP_SECONDS = {"interaction": 1.6, "propagation": 1.8}
#: Bank sizes on the CPU: (volumes kept, refreshed per refresh, steps between refreshes).
BANKS = {"interaction": (32, 8, 2), "propagation": (24, 6, 2)}
WARMUP_STEPS = 5

ProgressCallback = Callable[[int, int, str], None]


def plan_steps(seconds: float, recipe: AdaptRecipe = DEFAULT_RECIPE) -> dict[str, int]:
    """Steps per net that fit ``seconds`` at the nominal speed, split by ``propagation_share``."""
    scale = {"interaction": recipe.interaction_batch / 16, "propagation": recipe.propagation_batch / 6}
    share = {"interaction": 1 - recipe.propagation_share, "propagation": recipe.propagation_share}
    return {n: int(seconds * share[n] / (NOMINAL_STEP_SECONDS[n] * scale[n])) for n in share}


class _NetTrainer:
    """One network's fine-tuning: its bank of canvases, step function, optimiser and schedule."""

    def __init__(self, name: str, base_net: nn.Module, structures, recipe: AdaptRecipe, planned: int, seed: int):
        from ..training.bank import VolumeBank

        if name == "interaction":
            from ..training import train_interaction as module

            args = module.build_parser().parse_args([])
            args.batch, shape = recipe.interaction_batch, (module.VOLUME_DEPTH, args.canvas, args.canvas)
        else:
            from ..training import train_propagation as module

            args = module.build_parser().parse_args([])
            args.batch, shape = recipe.propagation_batch, (args.depth, args.canvas, args.canvas)
        size, refresh, every = BANKS[name]
        args.seed, args.refresh_every, args.device = seed, every, "cpu"
        self.name, self.planned, self.done, self.samples = name, planned, 0, 0
        self.base_lr = recipe.lr
        self.net = copy.deepcopy(base_net).cpu()
        params = set_what_moves(self.net, name, recipe.moves, recipe.batchnorm)
        self.params = params
        self.opt = make_optimizer(params, recipe.optimizer, recipe.lr)
        gen = torch.Generator().manual_seed(seed)
        bank = VolumeBank(size, shape, "cpu", gen, refresh, structures, recipe.user_fraction)
        self.step_fn, self.bank = module.make_step(args, self.net, torch.device("cpu"), gen, bank=bank)

    def lr(self) -> float:
        warm = min(1.0, (self.done + 1) / WARMUP_STEPS)
        frac = min(1.0, self.done / max(1, self.planned))
        return self.base_lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    def step(self) -> float:
        from ..training.common import train_step

        loss, n = train_step(self.net, self.opt, self.step_fn, self.done, self.lr())
        self.done += 1
        self.samples += n
        return float(loss.detach())

    @property
    def progress(self) -> float:
        return self.done / self.planned if self.planned else 1.0


def _build_trainers(base, structures, recipe, planned: dict, seed: int, cancelled) -> list:
    """One :class:`_NetTrainer` per network (interaction, propagation); stopping is checked before each."""
    trainers = []
    for k, name in enumerate(("interaction", "propagation")):
        if cancelled():  # building a trainer fills its bank: seconds on a laptop
            raise Cancelled()
        trainers.append(_NetTrainer(name, getattr(base, name), structures, recipe, planned.get(name, 0), seed + k))
    return trainers


def _train(trainers: list, t0: float, limit: float, cancelled, progress) -> tuple[bool, dict]:
    """Interleave the trainers' steps until each has done its planned steps or ``limit`` seconds passed.

    Returns (whether time ran out, the losses per network). Raises Cancelled when ``cancelled()``.
    """
    time_limited, losses = False, {t.name: [] for t in trainers}
    total = sum(t.planned for t in trainers)
    while True:
        todo = [t for t in trainers if t.done < t.planned]
        if not todo:
            break
        if cancelled():
            raise Cancelled()
        if time.perf_counter() - t0 >= limit:
            time_limited = True
            break
        trainer = min(todo, key=lambda t: t.progress)  # interleaved, ties: interaction first
        losses[trainer.name].append(trainer.step())
        if progress is not None:  # per mille of the budget: time or steps, whichever is further
            elapsed = time.perf_counter() - t0
            frac = max(sum(t.done for t in trainers) / max(total, 1), elapsed / limit)
            progress(min(1000, int(1000 * frac)), 1000, f"learning, {elapsed:.0f} of {limit:.0f} s")
    if cancelled():
        raise Cancelled()
    return time_limited, losses


def _training_record(trainers: list, losses: dict) -> dict:
    """Steps, samples and first/last losses of each network's fine-tuning, for the models' info."""
    return {"steps": {t.name: t.done for t in trainers}, "samples": {t.name: t.samples for t in trainers},
            "loss_first_last": {n: ([round(v[0], 4), round(sum(v[-5:]) / len(v[-5:]), 4)] if v else [])
                                for n, v in losses.items()}}


def adapt(
    volume,
    labels,
    spacing=None,
    seconds: float = 180.0,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    *,
    base: LimNetModels | None = None,
    recipe: AdaptRecipe | None = None,
    threads: int | None = None,
    steps: dict[str, int] | None = None,
    time_limit: float | None = None,
) -> LimNetModels:
    """Fine-tune the networks on the user's committed objects; returns new :class:`LimNetModels`.

    volume: (Z, Y, X) array (numpy, or lazy: only the region around the objects is read).
    labels: (Z, Y, X) int array of committed objects, 0 = not annotated. Every voxel outside an
        object counts as background *for that object*, so partial annotation is fine.
    spacing: (dz, dy, dx); seconds: the time budget (also a hard limit); seed: all randomness.
    progress(done, 1000, message): per mille of the budget (elapsed time or planned steps, whichever is
    further), after each step; should_cancel() -> True stops the run and raises
    :class:`~napari_limnet.inference.cancel.Cancelled` (nothing is returned, ``base`` untouched).
    base: the networks to start from (default: the shipped ones); recipe: see :class:`AdaptRecipe`;
    threads: CPU threads to use (default: torch's current setting, restored afterwards);
    steps: {'interaction': n, 'propagation': m} instead of planning them from ``seconds``.
    time_limit: the hard limit in seconds (default ``seconds``; benchmarks on a shared machine
    give more, so that the planned steps, not the machine's load, decide the result).

    The result's ``info`` holds its ``digest`` and an ``adaptation`` record (objects, recipe,
    seed, steps, samples, seconds, whether time ran out).
    """
    recipe = recipe if recipe is not None else DEFAULT_RECIPE
    spacing = check_spacing(spacing)
    if not (isinstance(seconds, (int, float)) and seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"seconds must be a positive number, not {seconds!r}")
    base = base if base is not None else shipped_models("cpu")
    planned = dict(steps) if steps is not None else plan_steps(seconds, recipe)
    limit = float(time_limit) if time_limit is not None else float(seconds)
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    cancelled = should_cancel or (lambda: False)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            user = user_structures(volume, labels, spacing, native_axis=recipe.native_axis,
                                   intensity_strength=recipe.intensity_strength)
            if progress is not None:
                progress(0, 1000, "preparing")
            trainers = _build_trainers(base, user.structures, recipe, planned, seed, cancelled)
            time_limited, losses = _train(trainers, t0, limit, cancelled, progress)
    finally:
        torch.set_num_threads(old_threads)
    nets = {t.name: t.net.eval() for t in trainers}
    for net in nets.values():
        for p in net.parameters():
            p.requires_grad_(True)
    models = LimNetModels(nets["interaction"], nets["propagation"], copy.deepcopy(base.fusion).cpu(),
                          device=torch.device("cpu"), trained=True)
    models.info["adaptation"] = {
        "objects": user.ids, "crops": user.crops, "spacing": list(spacing), "seed": int(seed),
        "seconds_budget": float(seconds), "seconds": round(time.perf_counter() - t0, 1), "time_limited": time_limited,
        "recipe": recipe.to_json(), "planned_steps": planned, "threads": int(threads or old_threads),
        "base": base.digest or "shipped", **_training_record(trainers, losses)}
    models.info["digest"] = models_digest(models)
    return models
