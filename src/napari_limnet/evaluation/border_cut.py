"""Objects cut by the field of view: any case, cropped so that an image edge runs through its object.

Microscopy tiles and CT or MR fields of view cut objects at the image border all the time: a
nucleus at the edge of a tile, an organ leaving the scan. The first click's window then reaches
past the image, where the crop is edge-padded (``slice_io.read_crop``), and the object's outline
is the image border on one side. Generated and training cases are picked away from the border, so
no evaluation group had such objects. This makes them from any case without touching dev: the
volume is cropped in Y or X (the side chosen by the case's index) so that the edge passes through
the object at a fixed fraction of its extent on that axis. Group ``<group>_border`` in the
benchmark (``--border-cut``).
"""

from __future__ import annotations

import numpy as np

from .cases import Case

#: Fraction of the object's extent along the cut axis that stays inside the cropped volume.
KEEP = (0.45, 0.6, 0.75)


def border_cut(case: Case, index: int) -> Case | None:
    """``case`` cropped in Y or X so that one image edge cuts its object (None when it cannot be).

    ``index`` picks, in turn, the side (top, right, bottom, left) and the kept fraction of the
    object's extent (``KEEP``). The image and truth keep axis order (Z, Y, X) and the spacing; the
    cut object keeps at least 2 pixels across on every slice it still has.
    """
    side = index % 4
    keep = KEEP[(index // 4) % len(KEEP)]
    axis = 1 + side % 2  # Y for top/bottom, X for right/left
    present = np.flatnonzero(case.truth.any(axis=tuple(a for a in (0, 1, 2) if a != axis)))
    if present.size < 4:
        return None
    lo, hi = int(present[0]), int(present[-1]) + 1
    kept = max(2, int(round(keep * (hi - lo))))
    sl = [slice(None)] * 3
    if side in (0, 3):  # top / left: the edge comes from below the object's start
        sl[axis] = slice(hi - kept, None)
    else:  # bottom / right
        sl[axis] = slice(None, lo + kept)
    sl = tuple(sl)
    truth = case.truth[sl]
    if truth.sum() < 0.25 * case.truth.sum() or min(truth.shape[1:]) < 16:
        return None
    return Case(f"{case.name}_border", f"{case.group}_border", np.ascontiguousarray(case.image[sl]),
                np.ascontiguousarray(truth), case.spacing)


def border_cut_cases(cases: list[Case]) -> list[Case]:
    """A border-cut copy of each case that allows one (see :func:`border_cut`), in order."""
    out = [border_cut(c, i) for i, c in enumerate(cases)]
    return [c for c in out if c is not None]
