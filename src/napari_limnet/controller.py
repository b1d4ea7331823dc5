"""LimNetController: the stable, Qt-free public API of napari-limnet.

    ctrl = LimNetController(volume, spacing=(dz, dy, dx))
    mask = ctrl.interact(z, positive=[(y, x), ...], negative=[(y, x), ...])
    ctrl.mask; ctrl.undo(); ctrl.reset()

The controller owns the run (rounds, history, settings): this module holds the rounds, its undo
history is :mod:`.controller_history` and its model switching :mod:`.controller_models`. The
networks live in :mod:`napari_limnet.modeling`, the per-round mechanics in :mod:`napari_limnet.inference`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from .inference.fusion import FusionConfig, keep_old
from .inference.mask_store import LazyMask, SliceMask, dense_slice, dense_volume
from .inference.prompt import ERASE_DEPTH, PromptConfig, PromptResult, predict_prompt_mask
from .inference.correction import new_clicks
from .inference.first_click import first_mask_note
from .inference.cancel import Cancelled
from .inference.propagation import PropagationConfig, propagate
from .inference.rounds import (
    Interaction, RunState, apply_round, extension_guard, grown_from_source, influence_range, plan_base_leak_cut,
    plan_leak_cut, plan_round,
    trim_range, user_limits,
)
from .inference.confidence import confidence_and_stakes
from .inference.strip_check import StripCheck, check_strip
from .inference.stopping import StoppingConfig, ValleyRule
from .inference.runner import NetRunner
from .inference.volume import VolumeSource, check_spacing
from .inference.box_prompt import painted_mask, predict_box_mask
from .inference.validation import check_prompts, check_z
from .controller_history import RoundHistoryMixin
from .controller_models import ModelSwitchingMixin
from .modeling.weights import LimNetModels, resolve_device, shipped_models

#: Non-numpy volumes whose dense mask would exceed this many voxels get a lazy mask.
LAZY_MASK_VOXELS = 1 << 28

ProgressCallback = Callable[[int, int, str], None]


class _Progress:
    """Counts a round's steps (the prompt, one per propagated slice) for a progress callback."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def step(self, message: str, n: int = 1) -> None:
        self.done += n
        self.report(message)

    def report(self, message: str) -> None:
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total, message)

    def finish(self) -> None:
        self.done = self.total
        self.report("done")


class LimNetController(RoundHistoryMixin, ModelSwitchingMixin):
    """Interactive 3D segmentation of one object at a time in a (Z, Y, X) volume.

    Parameters
    ----------
    volume : (Z, Y, X) array of any real dtype: numpy, or a lazy array (dask, zarr) read slice
        by slice.
    spacing : (dz, dy, dx) voxel size in any physical unit; default (1, 1, 1).
    device : 'cpu' (default), 'cuda' or 'mps'.
    models : networks to use; default the shipped, trained ones.
    precision : 'fp32' (default), 'bf16' or 'auto'.
    fusion : 'mrf' (default) or 'new' (always take the new round; the no-MRF ablation).
    stop_when_empty : stop propagating where the object ends (default True).
    max_slices : propagate at most this many slices each way from the clicked slice (None = all).
    z_limits : (z_low, z_high) inclusive range propagation may reach (None = whole volume).
    stopping : the stopping rules (:class:`~napari_limnet.inference.stopping.StoppingConfig`).
    prompt : the first-click choices (:class:`~napari_limnet.inference.prompt.PromptConfig`).
    """

    def __init__(
        self,
        volume,
        spacing: Sequence[float] | None = None,
        device=None,
        *,
        models: LimNetModels | None = None,
        precision: str = "fp32",
        fusion: str = "mrf",
        stop_when_empty: bool = True,
        max_slices: int | None = None,
        z_limits: tuple[int, int] | None = None,
        stopping: StoppingConfig | None = None,
        prompt: PromptConfig | None = None,
    ):
        self._source = VolumeSource(volume)
        self.spacing = check_spacing(spacing)
        #: the networks the caller gave (constructor or :meth:`use_models`); None = the shipped ones
        self.models_given = models
        if models is None:
            models = shipped_models(device)
        elif device is not None and resolve_device(device) != models.device:
            raise ValueError(f"models are on {models.device}, but device={device!r} was asked for")
        self.models = models
        self._runner = NetRunner(models, precision)
        self.fusion = FusionConfig(mode=fusion)
        self.stop_when_empty = bool(stop_when_empty)
        self.max_slices = max_slices
        self.z_limits = z_limits
        self.stopping = stopping if stopping is not None else StoppingConfig()
        self.prompt = prompt if prompt is not None else PromptConfig()
        #: fusion_scorer(runner, source, spacing_yx, choices, fusion_config) -> keep-old flags; None =
        #: the MRF net (:func:`~napari_limnet.inference.fusion.keep_old`). A hook for recording choices.
        self.fusion_scorer = None
        self._history: list[RunState] = [RunState()]
        #: every round since the last reset, as a dict (see :meth:`round_records`)
        self._log: list[dict] = []
        self._base_loaded = False
        self._base_state: RunState | None = None  # the loaded mask (round 0), kept as compact slices
        self._base_anchors: tuple[int, ...] = ()  # slices where the loaded object was made (see load_mask)
        self._cancel = threading.Event()
        self._lock = threading.RLock()
        self._dense_cache: tuple[RunState, np.ndarray] | None = None
        self._prompt_cache: tuple[tuple, RunState, PromptResult] | None = None
        #: Timings and counts of the last successful round (seconds): prompt, propagation, fusion.
        self.last_round_stats: dict = {}

    # -- properties ----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return self._source.shape

    @property
    def state(self) -> RunState:
        """The current (immutable) run state."""
        return self._history[-1]

    @property
    def n_rounds(self) -> int:
        return self.state.round

    @property
    def interactions(self) -> dict[int, tuple[list, list]]:
        """Interacted slices -> (positive clicks, negative clicks), as (y, x) lists."""
        return {z: (list(i.positive), list(i.negative)) for z, i in self.state.interactions.items()}

    @property
    def mask(self):
        """The current fused (Z, Y, X) bool mask (read-only); lazy array-like for huge lazy volumes."""
        state = self.state
        if self._lazy_output:
            return LazyMask(state.masks, self.shape)
        if self._dense_cache is None or self._dense_cache[0] is not state:
            dense = dense_volume(state.masks, self.shape)
            dense.setflags(write=False)
            self._dense_cache = (state, dense)
        return self._dense_cache[1]

    @property
    def _lazy_output(self) -> bool:
        return self._source.lazy and math.prod(self.shape) > LAZY_MASK_VOXELS

    def slice_mask(self, z: int) -> np.ndarray:
        """(Y, X) bool mask of slice z (cheap, also for lazy volumes)."""
        z = self._check_z(z)
        return dense_slice(self.state.masks, z, self._source.slice_shape)

    def slice_confidence(self) -> dict[int, float]:
        """Per-slice confidence in [0, 1] of the current mask, for every slice that needs an opinion.

        Propagated slices: the network's P(present) x an intensity-drift penalty x (1 - its
        expected wrong pixels over the mask's area), halved past an area valley (see
        :func:`~napari_limnet.inference.stopping.slice_confidence`). Interacted slices: 1. The
        empty slice just past each end of the object (where propagation stopped): 1 - P(present)
        there, i.e. how sure we are that the object ended there.
        """
        return {z: c for z, (c, _) in self._confidence_and_stakes().items()}

    def least_confident_slice(self) -> int | None:
        """The slice that most needs the user: the most expected wrong pixels (None before a round).

        Expected wrong pixels = area x (BASE_ERROR + 1 - confidence): low confidence raises a
        slice's priority, a large mask raises it too (see ``docs/benchmark`` for the hit rates).
        Interacted slices are never proposed.
        """
        ranked = self.slices_by_need()
        return ranked[0] if ranked else None

    def slices_by_need(self) -> list[int]:
        """Slices with an opinion, most expected wrong pixels first (interacted slices excluded)."""
        stakes = self._confidence_and_stakes()
        todo = [z for z in stakes if z not in self.state.interactions]
        return sorted(todo, key=lambda z: (-stakes[z][1], z))

    def strip_check(self) -> StripCheck:
        """How the per-slice confidence fared on this object's corrections so far.

        A correction that changed a slice the confidence called sure (>= 2/3) by over 30 % of its
        area is a miss (:mod:`~napari_limnet.inference.strip_check`); ``.reliable`` is None before
        any judged correction and False once most were misses (the strip is a weak guide here).
        """
        with self._lock:
            states = list(self._history)
            clicked = [int(e["z"]) for e in self._log[len(self._log) - (len(states) - 1):]] if len(states) > 1 else []
        return check_strip(states, clicked, tuple(self.shape[1:]), self.stopping.valley)

    def _confidence_and_stakes(self) -> dict[int, tuple[float, float]]:
        """z -> (confidence, expected wrong pixels)."""
        return confidence_and_stakes(self.state, self.stopping.valley or ValleyRule())

    def nonempty_slices(self) -> list[int]:
        """Sorted slices where the current mask has foreground."""
        return sorted(self.state.masks)

    #: Rounds kept for undo. Each state shares every slice mask it did not change with the one
    #: before it (the history is stored as differences); beyond this many rounds, or beyond
    #: ``history_bytes`` of distinct slice masks, the oldest rounds go.
    history_limit = 200
    history_bytes = 64 * 2**20

    def _leak_cut(self, state: RunState, z: int) -> list[int]:
        """A negative-only round erased slice z, "the object ended before here": the slices to clear
        with it, where the chain that leaked into z (propagated, or the loaded mask's) likely ended."""
        rule = self.stopping.leak_cut
        if rule is None or not self.stop_when_empty:
            return []
        cut = plan_leak_cut(state, z, rule)
        if not cut and self._base_loaded:
            cut = plan_base_leak_cut(state, z, rule, self._read_slice, self._base_anchors)
        return cut

    def _read_slice(self, z: int) -> np.ndarray:
        """Slice z of the volume, (Y, X), as stored."""
        h, w = self._source.slice_shape
        return self._source.read(z, 0, h, 0, w)

    def _check_z(self, z) -> int:
        return check_z(z, self.shape[0])

    # -- rounds --------------------------------------------------------------------------------
    def _prompt(self, z: int, pos: np.ndarray, neg: np.ndarray, state: RunState, box=None, mask=None) -> PromptResult:
        key = (z, pos.tobytes(), neg.tobytes(), box, None if mask is None else np.packbits(mask).tobytes())
        cached = self._prompt_cache
        if cached is not None and cached[0] == key and cached[1] is state:
            return cached[2]
        if mask is not None:
            result = painted_mask(mask, self.spacing[1:])
        elif box is not None:
            result = predict_box_mask(self._runner, self._source, self.spacing[1:], z, box, pos, neg, state.masks.get(z))
        else:
            result = self._click_prompt(z, pos, neg, state)
        self._prompt_cache = (key, state, result)
        return result

    def _click_prompt(self, z: int, pos: np.ndarray, neg: np.ndarray, state: RunState) -> PromptResult:
        """The prompt mask of a round of clicks on slice z: a correction is taken near its new clicks,
        and a first click's mask is checked (:mod:`~napari_limnet.inference.first_click`)."""
        erase_depth = self.stopping.erase_depth
        if erase_depth is None and grown_from_source(state, z, self.stopping.grown_erase):
            erase_depth = ERASE_DEPTH  # "not this" in the middle of a mask that outgrew its source
        result = predict_prompt_mask(
            self._runner, self._source, self.spacing[1:], z, pos, neg, state.masks.get(z), erase_depth=erase_depth,
            config=self.prompt, new_clicks=new_clicks(state.interactions.get(z), pos, neg))
        if self.prompt.first_click_check and len(pos) and state.masks.get(z) is None:
            result = replace(result, note=first_mask_note(result, self._source.slice_shape, lambda: self._read_slice(z)))
        return result

    def preview(self, z, positive=(), negative=(), *, box=None) -> np.ndarray:
        """The 2D prompt mask (Y, X) bool that a round with these clicks (and box) would put on slice z.

        Changes no state; the following :meth:`interact` with the same prompts reuses it.
        """
        with self._lock:
            z, pos, neg, box, _ = check_prompts(z, positive, negative, box, None, self.shape)
            result = self._prompt(z, pos, neg, self.state, box)
            return result.mask.dense(self._source.slice_shape) if result.mask is not None else np.zeros(
                self._source.slice_shape, dtype=bool
            )

    def cancel(self) -> None:
        """Ask a running :meth:`interact` (in another thread) to stop; its round is discarded."""
        self._cancel.set()

    def interact(
        self,
        z,
        positive=(),
        negative=(),
        *,
        box=None,
        mask=None,
        progress: ProgressCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ):
        """One interaction round on slice z; returns the fused (Z, Y, X) bool mask.

        ``positive`` / ``negative`` are ALL the clicks the user has on slice z so far, as (y, x)
        pixel coordinates. ``box=(ymin, xmin, ymax, xmax)`` (inclusive pixel corners on slice z)
        frames the 2D prompt and bounds its mask; it can come with clicks. ``mask`` is the user's
        own (Y, X) mask of slice z, taken as that slice's result as is (no 2D net; alone, without
        clicks). Box and mask rounds propagate like positive rounds, and later clicks on the
        slice correct them. ``progress(done, total, message)`` is called as slices are
        processed. If ``should_cancel()`` returns True, or :meth:`cancel` is called, the round
        stops, raises :class:`~napari_limnet.inference.propagation.Cancelled` and the state
        stays exactly as it was. Bad input raises ValueError and changes nothing.
        """
        with self._lock:
            z, pos, neg, box, mask = check_prompts(z, positive, negative, box, mask, self.shape)
            grows = len(pos) > 0 or box is not None or mask is not None  # a positive round (else: trim / erase)
            self._cancel.clear()

            def cancelled() -> bool:
                return self._cancel.is_set() or (should_cancel is not None and bool(should_cancel()))

            state = self.state
            limits = user_limits(z, self.shape[0], self.z_limits, self.max_slices)
            low, high = influence_range(state.interactions, z, self.shape[0], limits)
            steps = _Progress(progress, total=(high - low + 1) + 1)
            steps.report("prompt mask")
            t0 = time.perf_counter()
            prompt = self._prompt(z, pos, neg, state, box, mask)
            t_prompt = time.perf_counter()
            if cancelled():
                raise Cancelled()
            steps.step("propagating")
            if grows:
                low, high = extension_guard(z, state, low, high)
            propagated, evidence, stops = self._propagate(z, not grows, prompt, state, low, high, steps, cancelled)
            if not grows and prompt.mask is not None:
                low, high = trim_range(z, propagated)  # a trim: this slice and where it spread
            t_prop = time.perf_counter()
            plan = plan_round(state, z, prompt.mask, propagated, low, high, evidence, prompt.uncertain)
            cut = self._leak_cut(state, z) if not grows and prompt.mask is None else []
            plan.take_new.update({s: None for s in cut})
            if cancelled():
                raise Cancelled()
            steps.report("fusing rounds")
            interaction = Interaction(z, tuple(map(tuple, pos.tolist())), tuple(map(tuple, neg.tolist())))
            new_state = apply_round(state, interaction, plan, self._keep_old)
            if cancelled():
                raise Cancelled()
            t_end = time.perf_counter()
            extra = {k: v for k, v in (("box", None if box is None else list(box)), ("mask", mask)) if v is not None}
            self._commit_state(new_state, interaction, extra)
            self.last_round_stats = {
                "prompt_s": t_prompt - t0, "propagation_s": t_prop - t_prompt, "propagated_slices": len(propagated),
                "fusion_s": t_end - t_prop, "fusion_slices": len(plan.choices), "leak_cut_slices": len(cut),
                "total_s": t_end - t0, "device": str(self.device), "stops": stops, "prompt_note": prompt.note}
            steps.finish()
            return self.mask

    def _propagate(self, z, trim: bool, prompt, state, low, high, steps: "_Progress", cancelled):
        """Propagate a round's prompt mask through its range [low, high].

        Returns ({z: mask}, {z: evidence}, stops): ``stops`` says why each direction ended,
        ``{"up": reason, "down": reason}`` (up = towards higher slice numbers; reasons as in
        ``PropagationResult.stop_reasons``), empty for a round that did not propagate or a trim.

        A round with positive clicks gets a range the extension guard has already limited.
        Negative-only rounds never grow the object: an erase does not propagate, and a trim
        (``StoppingConfig.propagate_trims``) spreads only within the current z-extent and only
        removes pixels (each propagated slice is intersected with the old mask).
        """
        if prompt.mask is None or (trim and not (self.stopping.propagate_trims and state.masks)):
            return {}, {}, {}
        if trim:
            low, high = max(low, min(state.masks)), min(high, max(state.masks))
        stop = self.stopping
        config = PropagationConfig(
            stop_when_empty=self.stop_when_empty, presence_threshold=stop.presence_threshold,
            intensity_tolerance=stop.drift_tolerance, valley=stop.valley, drift_gap=stop.drift_gap,
            drift_plateau=stop.drift_plateau,
        )
        result = propagate(
            self._runner, self._source, self.spacing[1:], z, prompt.mask, (low, high), config,
            on_slice=lambda _z: steps.step("propagating"), should_cancel=cancelled,
        )
        if not trim:
            return result.masks, result.evidence, {"up": result.stop_reasons[1], "down": result.stop_reasons[-1]}
        masks = {s: m.intersect(state.masks.get(s)) for s, m in result.masks.items() if m is not None}
        return masks, {s: result.evidence[s] for s in masks}, {}

    def _keep_old(self, choices):
        """MRF's verdict per slice choice (the fusion scorer; replaceable, e.g. to record choices)."""
        if self.fusion_scorer is not None:
            return self.fusion_scorer(self._runner, self._source, self.spacing[1:], choices, self.fusion)
        return keep_old(self._runner, self._source, self.spacing[1:], choices, self.fusion)

    def __repr__(self) -> str:
        return (
            f"LimNetController(shape={self.shape}, spacing={self.spacing}, device={self.models.device}, "
            f"rounds={self.n_rounds})"
        )


__all__ = ["LimNetController", "Cancelled", "SliceMask"]
