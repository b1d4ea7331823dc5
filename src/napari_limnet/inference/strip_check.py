"""Does the confidence strip tell the truth on this image? Judged from the user's own corrections.

The per-slice confidence (:mod:`.confidence`) follows the truth on objects with clear edges (real
confocal nuclei: rank correlation 0.81 with per-slice Dice) and barely on brain structures, whose
borders are anatomical rather than visible (macaque -0.15, brain MRI training structures +0.06).
No signal available before a correction told the two apart: the clicked slice's outline contrast
did not (``docs/research/goto``). The user's corrections do. A correction that changes a slice
the strip showed as sure (green) by a large share of its area is a miss; a large change on a
slice the strip flagged (yellow or red) is a hit. When most judged corrections are misses, the
strip is a weak guide on this image, and the widget says so.

On the training structures (robot, jitter 2, never dev), sessions whose first judged correction
was a miss had a round-1 strip rank correlation of -0.05; the others +0.25.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .confidence import confidence_and_stakes
from .rounds import RunState
from .stopping import ValleyRule

#: "Sure" (green on the strip, whose colour runs red 0 -> yellow 0.5 -> green 1): confidence at or
#: above this; the benchmark's strip bins (``benchmark.STRIP_BINS``) use the same threshold.
SURE = 2.0 / 3.0
#: A correction changed its slice "by a large share" when the pixels it flipped exceed this
#: fraction of the larger of the mask's areas before and after (0.2-0.5 separated alike).
LARGE_CHANGE = 0.3


@dataclass(frozen=True)
class StripCheck:
    """The strip's record on this object's corrections.

    judged: corrections on a slice the strip had an opinion about that changed it by more than
    :data:`LARGE_CHANGE`; misses: those on a slice shown as sure (green).
    """

    judged: int = 0
    misses: int = 0

    @property
    def reliable(self) -> bool | None:
        """None before any judged correction; False when most judged corrections were misses."""
        if self.judged == 0:
            return None
        return 2 * self.misses <= self.judged


def changed_share(before: RunState, after: RunState, z: int, shape2d: tuple[int, int]) -> float:
    """Pixels of slice z that changed between two states over the larger of the two areas."""
    a, b = before.masks.get(z), after.masks.get(z)
    if a is None and b is None:
        return 0.0
    dense_a = a.dense(shape2d) if a is not None else np.zeros(shape2d, bool)
    dense_b = b.dense(shape2d) if b is not None else np.zeros(shape2d, bool)
    flipped = int(np.count_nonzero(dense_a ^ dense_b))
    return flipped / max(int(dense_a.sum()), int(dense_b.sum()), 1)


def check_strip(states: Sequence[RunState], clicked: Sequence[int], shape2d: tuple[int, int],
                rule: ValleyRule | None = None) -> StripCheck:
    """Judge the strip on consecutive states: ``states[i + 1]`` came from a round on slice ``clicked[i]``.

    states: the undo history, oldest first (len(clicked) + 1 states); shape2d: (Y, X) of a slice.
    Rounds on a slice that was interacted before, or that the strip had no opinion about, are not
    judged (the strip shows them as done, or grey).
    """
    rule = rule or ValleyRule()
    judged = misses = 0
    for before, after, z in zip(states[:-1], states[1:], clicked):
        if z in before.interactions or changed_share(before, after, z, shape2d) <= LARGE_CHANGE:
            continue
        opinion = confidence_and_stakes(before, rule).get(z)  # only for large changes: what the strip showed
        if opinion is None:
            continue
        judged += 1
        misses += int(opinion[0] >= SURE)
    return StripCheck(judged, misses)
