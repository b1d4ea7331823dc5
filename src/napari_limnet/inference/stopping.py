"""Where does the object end? Per-slice evidence, the area-valley rule, and the leak cut.

A propagated mask rarely leaks across a sharp edge: it slides, slice by slice, into touching
tissue of similar brightness (a neighbouring structure, the nucleus stacked above). Consecutive
slices then overlap well, so local consistency says nothing. Four signals do:

- **presence**: the propagation net's own P(object still present) for the slice;
- **drift**: how far the median intensity inside the mask has moved from the interacted
  slice's, in units of that slice's inter-quartile spread (a leak into other tissue drifts);
- **the area profile along z**: an object that tapers towards its end and then *grows again*
  has run into something else. The narrowest slice of such a valley is the most likely end.
- **an intensity gap**: touching objects of one kind (nuclei stacked in a column, a vertebra and
  the next one across their disc, neighbouring lobules) are parted by a thin boundary of other
  intensity. A mask that slides across it drifts away from the interacted slice's intensity on
  the boundary slice and comes back in the neighbour. The boundary slice is the end.

:class:`SliceEvidence` records the three for every slice a propagation visits (including the one
where it stopped). The same rules serve twice: online, while propagating (stop at a valley, at
low presence, at large drift), and offline, when a negative-only click says "the object has
ended before here" (:func:`leak_cut` picks the most likely end between the nearest slice with
positive evidence and the clicked one, so one click removes a whole leak).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SliceEvidence:
    """What the propagation saw on one slice.

    presence: the net's P(object present), 1.0 on an interacted slice; drift: |median intensity
    inside the mask - the interacted slice's| / its spread (0 on an interacted slice); area:
    pixels of the mask the net proposed (on the slice where propagation stopped, the proposal
    that was rejected; 0 when there was none).
    """

    presence: float
    drift: float
    area: int
    #: Expected wrong pixels from the net's own uncertainty: sum of min(p, 1 - p) over the crop's
    #: pixel probabilities, in slice pixels.
    uncertain: float = 0.0


INTERACTED = SliceEvidence(1.0, 0.0, 0)


def uncertain_pixels(logits, box_pixels: float) -> float:
    """sum(min(p, 1 - p)) of crop logits (S, S), scaled to a window of ``box_pixels`` slice pixels."""
    import torch

    prob = torch.sigmoid(logits.float())
    return float(torch.minimum(prob, 1 - prob).sum()) * box_pixels / logits.numel()


@dataclass(frozen=True)
class ValleyRule:
    """A valley: the area fell to ``depth`` x the largest area before it, then grew ``rise`` x.

    ``floor`` (a fraction of the largest area) damps the ratio on tiny areas, where a pixel or
    two of noise would look like a large relative change.
    """

    depth: float = 0.5
    rise: float = 1.5
    floor: float = 0.05

    def find(self, areas: Sequence[float]) -> int | None:
        """Index of the valley bottom in ``areas`` (walking out from index 0), or None.

        The bottom is the smallest area so far; it is a valley once a later slice has grown
        ``rise`` x above it (after the ``floor``), having first fallen to ``depth`` x the largest
        area before it. The first such bottom walking outwards wins.
        """
        if len(areas) < 3:
            return None
        lowest, low_at = areas[0], 0
        peak_before = running_peak = areas[0]
        for i in range(1, len(areas)):
            a = areas[i]
            if a < lowest:
                lowest, low_at, peak_before = a, i, running_peak
            running_peak = max(running_peak, a)
            if i > low_at > 0 and lowest <= self.depth * peak_before:
                floor = self.floor * peak_before
                if a + floor >= self.rise * (lowest + floor):
                    return low_at
        return None


@dataclass(frozen=True)
class DriftGapRule:
    """An intensity gap: a thin peak of drift. The drift reached ``height`` anchor spreads on one
    slice, having been at most ``fall`` x that peak within ``within`` slices before it (the
    interacted slice counts as drift 0), and fell back to at most ``fall`` x the peak within
    ``within`` slices after it.

    Both sides matter. A mask entering other tissue drifts and stays drifted (the drift tolerance
    and the presence handle that), and a large object made of several tissues (a whole brain)
    drifts slowly up and down over many slices as their proportions change; only a boundary
    between two objects of one kind is a peak that rises and falls within a few slices.
    Chosen on the round-1 walks of the 40 training-volume structures with
    ``docs/research/stopping/drift_gap_walks.py`` (never dev); a slice without a mask counts on neither side.
    """

    height: float = 0.75
    fall: float = 0.67
    within: int = 3

    def find(self, drifts: Sequence[float | None]) -> int | None:
        """Index of the boundary slice in ``drifts`` (walking out from the interacted slice,
        exclusive; None = a slice without a mask), or None when there is no gap yet."""
        seq = [0.0, *drifts]  # the interacted slice: no drift
        for p in range(1, len(seq)):
            peak = seq[p]
            if peak is None or peak < self.height:
                continue
            bar = self.fall * peak
            before, after = seq[max(0, p - self.within): p], seq[p + 1: p + 1 + self.within]
            if any(d is not None and d <= bar for d in before) and any(d is not None and d <= bar for d in after):
                return p - 1
        return None


@dataclass(frozen=True)
class DriftPlateauRule:
    """Sustained drift after a step: the drift rose to at least ``height`` anchor spreads from at
    most ``rise_from`` x ``height`` within ``rise_within`` slices (the interacted slice counts as
    drift 0), and stayed at least ``height`` on ``run`` consecutive slices with a mask. The mask
    has stepped out of the object into other tissue and stays there; the slices from the first of
    the run on are dropped.

    The drift tolerance (2 spreads) stops a mask that jumps far out of the object's intensities on
    one slice; a mask that steps into tissue only a little brighter or darker stays under it. A
    confocal nucleus's mask past the nucleus's end sits at 1.0-1.5 spreads for tens of slices,
    with the net sure the object is there. The step matters: a composite object (a whole brain of
    white and grey matter) also drifts past the height as the proportions of its tissues change,
    but slowly, over tens of slices, and it is still the object.
    The defaults were chosen on the round-1 walks of the 40 training-volume structures, 24
    composite objects of the training volumes, and the generated and synthetic groups, with the
    shipped nets and a candidate (``docs/research/stopping/drift_gap_walks.py``, its plateau grid; never dev); a
    slice without a mask breaks a run. An option, off by default (``StoppingConfig.drift_plateau``).
    """

    height: float = 0.75
    run: int = 8
    rise_within: int = 4
    rise_from: float = 0.5

    def find(self, drifts: Sequence[float | None]) -> int | None:
        """Index of the first slice of the plateau in ``drifts`` (walking out from the interacted
        slice, exclusive; None = a slice without a mask), or None when there is none yet."""
        seq = [0.0, *drifts]  # the interacted slice: no drift
        high = [d is not None and d >= self.height for d in seq]
        for p in range(1, len(seq) - self.run + 1):
            if not high[p] or high[p - 1] or not all(high[p: p + self.run]):
                continue
            before = seq[max(0, p - self.rise_within): p]
            if any(d is not None and d <= self.rise_from * self.height for d in before):
                return p - 1
        return None


def first_drift(evidence: Sequence[SliceEvidence], tolerance: float) -> int | None:
    """Index of the first slice whose drift exceeds ``tolerance``, or None."""
    for i, e in enumerate(evidence):
        if e.drift > tolerance:
            return i
    return None


@dataclass(frozen=True)
class LeakCutRule:
    """How a negative-only click on a leaked slice picks the object's end (see :func:`leak_cut`).

    Each step can be switched off for ablations: ``valley`` (the area-valley rule), then
    ``drift_tolerance`` (None = off), then ``growth`` (None = off: the first slice whose mask has
    grown to this many times the area of the slice the chain came from, which the user confirmed),
    then ``presence_below`` (None = off, the default: a chain whose presence merely dips somewhere
    is no evidence of an end -- on the dev nuclei it cut true slices when the robot trimmed the
    object's last slice).
    """

    valley: ValleyRule | None = ValleyRule()
    drift_tolerance: float | None = 1.0
    growth: float | None = 2.0
    presence_below: float | None = None


def leak_cut(chain: Sequence[SliceEvidence], anchor_area: float, rule: LeakCutRule = LeakCutRule()) -> int:
    """How many slices of ``chain`` to keep when the slice after its last one is erased.

    ``chain`` is the evidence of the propagated slices from the nearest slice with positive
    evidence (exclusive; its mask area is ``anchor_area``) towards the erased slice (exclusive),
    in walking order. Returns k: keep chain[:k], clear chain[k:]. Without any evidence of an
    end, k = len(chain) (only the erased slice and what was propagated through it go).
    """
    n = len(chain)
    if n == 0:
        return 0
    if rule.valley is not None:
        bottom = rule.valley.find([anchor_area] + [e.area for e in chain])
        if bottom is not None:
            return bottom  # profile index b is chain[b - 1]: keep up to and including the bottom
    if rule.drift_tolerance is not None:
        i = first_drift(chain, rule.drift_tolerance)
        if i is not None:
            return i
    if rule.growth is not None and anchor_area > 0:
        i = next((i for i, e in enumerate(chain) if e.area >= rule.growth * anchor_area), None)
        if i is not None:
            return i
    if rule.presence_below is not None:
        lowest = min(range(n), key=lambda i: chain[i].presence)
        if chain[lowest].presence < rule.presence_below:
            return lowest
    return n


def slice_confidence(e: SliceEvidence, area: int, after_valley: bool = False) -> float:
    """Confidence in [0, 1] that a propagated slice's mask (of ``area`` pixels) is right.

    presence x a drift penalty (none within half a spread) x (1 - the net's expected wrong pixels
    over the area), halved past an area valley.
    """
    drift_term = math.exp(-max(0.0, e.drift - 0.5))
    certainty = max(0.0, 1.0 - e.uncertain / max(area, 1))
    return max(0.0, min(1.0, e.presence * drift_term * certainty * (0.5 if after_valley else 1.0)))


#: Expected wrong pixels of a slice = area x (BASE_ERROR + 1 - confidence): every mask has some
#: error in proportion to its size (on the training volumes' robot sessions, the slice with the
#: largest area predicts the worst slice better than confidence alone), and low confidence can
#: at most double a slice's priority.
BASE_ERROR = 1.0


def expected_wrong_pixels(confidence: float, area: float) -> float:
    return area * (BASE_ERROR + 1.0 - confidence)


@dataclass(frozen=True)
class StoppingConfig:
    """Every stopping rule in one place, so a benchmark can switch each one off.

    presence_threshold: stop when the net's P(present) falls below it; drift_tolerance: stop when
    the drift exceeds it (None = off); valley: stop at an area valley (None = off); leak_cut: how
    a negative-only click cuts a leaked chain (None = only the clicked slice and beyond).
    """

    presence_threshold: float = 0.5
    drift_tolerance: float | None = 2.0
    valley: ValleyRule | None = ValleyRule()
    leak_cut: LeakCutRule | None = LeakCutRule()
    #: stop at an intensity gap, dropping the boundary slice and what came after it (None = off)
    drift_gap: DriftGapRule | None = DriftGapRule()
    #: stop at sustained drift after a step, dropping the slices from its first one on (None = off).
    #: Off by default: measured, it lifts the confocal nuclei's round 1 (0.725 -> 0.847) and
    #: composite objects of the training volumes, but on the MNI brain it cut round 1's walk from a
    #: 30-pixel first mask, and the extension guard then held every later round short (r3 0.709 ->
    #: 0.056). See docs/research/stopping/README.md.
    drift_plateau: DriftPlateauRule | None = None
    #: a negative click this deep in a slice's mask erases the slice (see prompt.ERASE_DEPTH). Off by
    #: default: measured, it helped the training volumes' structures (+0.006 Dice at round 6) but
    #: erased true parts of brain structures (macaque r6 0.367 -> 0.323, a falling curve).
    erase_depth: float | None = None
    #: a negative-only click in the core of a *propagated* slice's mask (prompt.ERASE_DEPTH) erases
    #: the slice when that mask has grown to at least this many times the area of the slice it was
    #: propagated from (None = off). The user confirmed the object there; a mask twice as large
    #: that they click "not this" in the middle of has run into something else. A negative click
    #: in a mask no larger than that stays a trim (see erase_depth for why a plain depth rule fails).
    grown_erase: float | None = 2.0
    #: a negative-only click that trims slice z's mask (some of it survives) also trims the
    #: neighbouring slices: the trimmed mask is propagated within the object's current z-extent
    #: and intersected with the old masks, so it can only remove pixels (never start a leak).
    propagate_trims: bool = False


#: The stopping of the previous release (presence, drift at 2 spreads; no valley, no leak cut,
#: a negative-only slice erased only when less than half of its mask survives).
PREVIOUS_STOPPING = StoppingConfig(valley=None, leak_cut=None, erase_depth=None, grown_erase=None, drift_gap=None)
