"""Per-slice confidence of a run state, and how much is at stake on each slice (pure functions).

See :mod:`.stopping` for the evidence and :func:`~.stopping.slice_confidence`; the controller's
``slice_confidence()``, ``least_confident_slice()`` and ``slices_by_need()`` read this.
"""

from __future__ import annotations

from .rounds import RunState
from .stopping import ValleyRule, expected_wrong_pixels, slice_confidence


def slices_past_valley(state: RunState, rule: ValleyRule) -> set[int]:
    """Slices beyond an area valley on their chain (a leak that the stop rules let through)."""
    out: set[int] = set()
    for src in state.interactions:
        if src not in state.masks:
            continue
        for step in (1, -1):
            chain, s = [], src + step
            while state.sources.get(s) == src and s in state.masks:
                chain.append(s)
                s += step
            areas = [float(state.masks[src].area)] + [float(state.masks[c].area) for c in chain]
            bottom = rule.find(areas)
            if bottom is not None:
                out.update(chain[bottom:])
    return out


def confidence_and_stakes(state: RunState, rule: ValleyRule) -> dict[int, tuple[float, float]]:
    """z -> (confidence in [0, 1], expected wrong pixels) for every slice that needs an opinion.

    Propagated slices: :func:`~.stopping.slice_confidence` (halved past an area valley).
    Interacted slices: (1, 0). The empty slice just past each end of the object: 1 - P(present)
    there, at stake the area the net proposed there.
    """
    out: dict[int, tuple[float, float]] = {}
    valley_after = slices_past_valley(state, rule)
    for z, e in state.evidence.items():
        if z in state.interactions:
            out[z] = (1.0, 0.0)
        elif z in state.masks:
            area = state.masks[z].area
            c = slice_confidence(e, area, z in valley_after)
            out[z] = (c, expected_wrong_pixels(c, area))
        elif (z - 1 in state.masks) != (z + 1 in state.masks):  # just past an end
            c = max(0.0, min(1.0, 1.0 - e.presence))
            out[z] = (c, (1.0 - c) * e.area)
    for z in state.masks:
        if z not in out:
            out[z] = (1.0, 0.0) if z in state.interactions else (0.5, expected_wrong_pixels(0.5, state.masks[z].area))
    return dict(sorted(out.items()))
