"""The state of an interactive run and how one round changes it.

A :class:`RunState` is an immutable snapshot after a round: the fused mask (sparse, per
slice), which interacted slice each slice's content came from, and the clicks per interacted
slice. A round on slice z:

1. The prompt mask on z replaces the slice (the user is always right on the slice they clicked).
2. Its *influence range* runs from z to the nearest other interacted slice on each side
   (exclusive), or to the volume's edge, clipped to the user's propagation range. Interacted
   slices are boundaries: propagation from one round never crosses another round's slice.
3. Inside the range the prompt mask is propagated (up to where the object ends); beyond the
   stop, the round says "empty".
4. Each slice in the range then takes the new result, unless the old one is a legitimate
   competitor, in which case MRF chooses. The old content is a *competitor* when it came
   from z itself (an earlier round on the same slice) or from the interacted slice on the far
   side of the range. Old content that came from a slice *behind* z reached its place
   through z, so the new round overrides it (that is how a negative round cuts off a leak).
5. A round whose prompt mask is empty (only negative clicks) makes z an empty boundary. It
   clears everything that was propagated through z and, when z's content had been propagated
   from another round's slice, it also cuts that chain at the most likely end of the object
   between the two (:func:`plan_leak_cut`, :mod:`.stopping`): "the object ended before here".
   Content that came from elsewhere keeps its masks. A negative-only round that keeps part of
   z's mask is a *trim*: it changes z alone or, with ``StoppingConfig.propagate_trims``, also the
   slices its trimmed mask spread to (:func:`trim_range`; intersected with the old masks).

Each state also keeps the per-slice :class:`~.stopping.SliceEvidence` of the propagation that
produced each slice's content (for leak cuts and per-slice confidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from .fusion import SliceChoice
from .mask_store import SliceMask
from .stopping import INTERACTED, LeakCutRule, SliceEvidence, leak_cut


@dataclass(frozen=True)
class Interaction:
    """All clicks the user has on one slice, as (y, x) pixel coordinates."""

    z: int
    positive: tuple[tuple[float, float], ...]
    negative: tuple[tuple[float, float], ...]


def _frozen(d: dict) -> Mapping:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class RunState:
    """Snapshot of a run after some rounds (round 0 = nothing yet)."""

    masks: Mapping[int, SliceMask] = field(default_factory=lambda: _frozen({}))
    sources: Mapping[int, int] = field(default_factory=lambda: _frozen({}))
    interactions: Mapping[int, Interaction] = field(default_factory=lambda: _frozen({}))
    round: int = 0
    evidence: Mapping[int, SliceEvidence] = field(default_factory=lambda: _frozen({}))


def influence_range(interacted, z: int, n_slices: int, user_limits: tuple[int, int]) -> tuple[int, int]:
    """Inclusive (low, high) slice range a round on z may change."""
    below = [i for i in interacted if i < z]
    above = [i for i in interacted if i > z]
    low = max(below) + 1 if below else 0
    high = min(above) - 1 if above else n_slices - 1
    return max(low, user_limits[0]), min(high, user_limits[1])


def user_limits(z: int, n_slices: int, z_limits: tuple[int, int] | None, max_slices: int | None) -> tuple[int, int]:
    """Inclusive (low, high) range the user allows a round on z: ``z_limits`` and ``max_slices`` each way."""
    low, high = 0, n_slices - 1
    if z_limits is not None:
        zl, zh = (int(v) for v in z_limits)
        if zl > zh:
            zl, zh = zh, zl
        low, high = max(low, zl), min(high, zh)
    if max_slices is not None:
        n = max(0, int(max_slices))
        low, high = max(low, z - n), min(high, z + n)
    return min(low, z), max(high, z)


#: Later rounds propagate at most this fraction of the object's current extent (and at least
#: EXTEND_MIN slices) past it; a click beyond the extent moves the extent there.
EXTEND_FRACTION = 0.5
EXTEND_MIN = 3


def extension_guard(z: int, state: "RunState", low: int, high: int,
                    fraction: float = EXTEND_FRACTION, minimum: int = EXTEND_MIN) -> tuple[int, int]:
    """Limit how far a correction round may grow the object past its current z-extent.

    The propagation network does not always know where an object ends; an early round that
    stopped in the right place must not be undone by a later round that runs on.
    """
    if not state.masks:
        return low, high
    e0, e1 = min(min(state.masks), z), max(max(state.masks), z)
    margin = max(minimum, int(round(fraction * (e1 - e0 + 1))))
    return max(low, e0 - margin), min(high, e1 + margin)


def trim_range(z: int, spread: Mapping[int, "SliceMask | None"]) -> tuple[int, int]:
    """Inclusive range a trim on z changes: z and the unbroken run of slices it spread to.

    ``spread``: slice -> the trimmed mask propagated there (see ``StoppingConfig.propagate_trims``);
    slices it did not reach keep their masks.
    """
    low, high = z, z
    while low - 1 in spread:
        low -= 1
    while high + 1 in spread:
        high += 1
    return low, high


def passes_through(source: int, z: int, s: int) -> bool:
    """True when content propagated from ``source`` reached slice s through slice z."""
    return source < z < s or s < z < source


@dataclass
class RoundPlan:
    """What a round decides before MRF: direct replacements and the slices MRF must judge."""

    take_new: dict[int, SliceMask | None]
    choices: list[SliceChoice]
    evidence: dict[int, SliceEvidence] = field(default_factory=dict)


def plan_round(
    state: RunState,
    z: int,
    prompt: SliceMask | None,
    propagated: Mapping[int, SliceMask | None],
    low: int,
    high: int,
    evidence: Mapping[int, SliceEvidence] | None = None,
    prompt_uncertain: float = 0.0,
) -> RoundPlan:
    """Split the slices of [low, high] into direct takes and MRF choices (see module docstring).

    ``evidence``: the new round's per-slice evidence (from its propagation).
    """
    take_new: dict[int, SliceMask | None] = {z: prompt}
    choices: list[SliceChoice] = []
    for s in range(low, high + 1):
        if s == z:
            continue
        old = state.masks.get(s)
        new = propagated.get(s)
        src = state.sources.get(s)
        if src is not None and passes_through(src, z, s):
            if old is not None or new is not None:
                take_new[s] = new
            continue
        if prompt is None:
            # An empty round clears what its own slice propagated earlier, and has no opinion
            # about content that came from the other rounds' slices (they keep their masks).
            if src == z and old is not None:
                take_new[s] = None
            continue
        if src is None:
            if new is not None:
                take_new[s] = new
            continue
        if old is None and new is None:
            continue
        choices.append(SliceChoice(s, old, new, abs(s - src), abs(s - z)))
    ev = dict(evidence or {})
    ev[z] = SliceEvidence(1.0, 0.0, prompt.area if prompt is not None else 0, prompt_uncertain)
    return RoundPlan(take_new, choices, ev)


def propagated_source(state: RunState, z: int) -> int | None:
    """The other interacted slice that slice z's mask was propagated from, both with masks; else None."""
    src = state.sources.get(z)
    if src is None or src == z or state.masks.get(z) is None or state.masks.get(src) is None:
        return None
    return src


def grown_from_source(state: RunState, z: int, factor: float | None) -> bool:
    """True when slice z's mask was propagated from another interacted slice and has grown to at
    least ``factor`` x the area of that slice's mask (False when ``factor`` is None)."""
    src = propagated_source(state, z) if factor is not None else None
    return src is not None and state.masks[z].area >= factor * state.masks[src].area


def plan_leak_cut(state: RunState, z: int, rule: LeakCutRule = LeakCutRule()) -> list[int]:
    """Slices to clear when a negative-only round erases slice z (besides z and what passed through it).

    If z's content was propagated from another interacted slice ``src``, the chain src -> z is
    cut at the most likely end of the object (:func:`~.stopping.leak_cut`) and the slices from
    there up to z are returned. Otherwise (z was never propagated into, or has no mask) nothing.
    """
    src = propagated_source(state, z)
    if src is None:
        return []
    step = 1 if z > src else -1
    chain = []
    for s in range(src + step, z, step):
        if state.sources.get(s) != src or state.masks.get(s) is None:
            return []  # not one unbroken chain from src: no opinion
        chain.append(s)
    evidence = [state.evidence.get(s, INTERACTED) for s in chain]
    # area from the stored masks (evidence may predate an MRF choice)
    evidence = [SliceEvidence(e.presence, e.drift, state.masks[s].area, e.uncertain) for s, e in zip(chain, evidence)]
    keep = leak_cut(evidence, float(state.masks[src].area), rule)
    return chain[keep:]


def plan_base_leak_cut(state: RunState, z: int, rule: LeakCutRule, read_slice, anchors=()) -> list[int]:
    """Refining a loaded mask: slices to clear when a negative-only round erases slice z of it.

    As :func:`plan_leak_cut` does for a propagated chain, for the mask loaded as round 0: the anchor
    is the nearest of ``anchors`` (the slices where the object was made with positive evidence,
    from its saved rounds) still as loaded, else the loaded object's largest slice; the chain is
    the unbroken run of loaded slices from the anchor towards z (exclusive). No network saw those slices, so their evidence is
    presence 1, their area, and the intensity drift from the anchor: |median inside the mask -
    the anchor's| in the anchor's interquartile spreads, from ``read_slice(s) -> (Y, X)`` intensities.
    Returns [] when z is not a loaded slice or the run is broken.
    """
    def loaded(s: int) -> bool:
        return state.sources.get(s) == s and s not in state.interactions and state.masks.get(s) is not None

    if not loaded(z):
        return []
    known = [a for a in anchors if a != z and loaded(a)]
    if known:
        anchor = min(known, key=lambda a: abs(a - z))
    else:
        anchor = max((s for s in state.masks if loaded(s)), key=lambda s: state.masks[s].area)
    if anchor == z:
        return []
    step = 1 if z > anchor else -1
    chain = list(range(anchor + step, z, step))
    if not all(loaded(s) for s in chain):
        return []

    def inside(s: int) -> np.ndarray:
        image = np.asarray(read_slice(s), dtype=np.float64)
        return image[state.masks[s].dense(image.shape)]

    ref = inside(anchor)
    q25, median, q75 = np.percentile(ref, [25, 50, 75]) if ref.size >= 4 else (0.0, 0.0, 0.0)
    spread = max(float(q75 - q25), 1e-6 * max(1.0, abs(float(median))))
    evidence = []
    for s in chain:
        vals = inside(s)
        drift = abs(float(np.median(vals)) - float(median)) / spread if ref.size >= 4 and vals.size >= 4 else 0.0
        evidence.append(SliceEvidence(1.0, drift, state.masks[s].area))
    keep = leak_cut(evidence, float(state.masks[anchor].area), rule)
    return chain[keep:]


def apply_round(
    state: RunState,
    interaction: Interaction,
    plan: RoundPlan,
    keep_old: Callable[[list[SliceChoice]], list[bool]],
) -> RunState:
    """The state after the round: plan's direct takes plus MRF's choices."""
    masks = dict(state.masks)
    sources = dict(state.sources)
    evidence = dict(state.evidence)
    decisions = keep_old(plan.choices) if plan.choices else []
    updates = dict(plan.take_new)
    for choice, keep in zip(plan.choices, decisions):
        if not keep:
            updates[choice.z] = choice.new
    for s, mask in updates.items():
        if mask is None:
            masks.pop(s, None)
        else:
            masks[s] = mask
        sources[s] = interaction.z
        if s in plan.evidence:
            evidence[s] = plan.evidence[s]
        else:
            evidence.pop(s, None)
    # where the new round stopped (an empty slice just past its reach), keep what it saw there
    for s, e in plan.evidence.items():
        if s not in masks and s not in updates:
            evidence[s] = e
    interactions = dict(state.interactions)
    interactions[interaction.z] = interaction
    return RunState(_frozen(masks), _frozen(sources), _frozen(interactions), state.round + 1, _frozen(evidence))
