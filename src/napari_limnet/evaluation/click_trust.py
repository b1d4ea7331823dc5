"""Click-by-click trust of a robot session (issue 34): collapsed first clicks and corrections that
made their own slice worse.

A user judges the annotator one click at a time. From a recorded :class:`~.robot_user.Session`
(``keep_masks=True``) and the truth, per session:

- ``collapsed``: the first click's 3D Dice is below :data:`COLLAPSE_DICE`;
- ``first_slice_dice``: the 2D Dice of the first click's slice after round 1;
- per correction round (rounds 2..n that ran): the clicked slice's 2D Dice and wrong pixels
  (FP + FN) before and after, and the round's 3D Dice gain. A round *hurt its slice* when that 2D
  Dice fell by more than :data:`WORSE_BY`. Dice and wrong pixels can disagree: emptying a slice
  whose mask was mostly wrong but touched the object (Dice 0.06 -> 0) removes far more wrong
  pixels than it adds.

:func:`pool_trust` pools sessions (every (case, seed) session counts once).
"""

from __future__ import annotations

import numpy as np

from .metrics import dice

#: A first click whose 3D Dice is below this has collapsed (a speck, or the wrong structure).
COLLAPSE_DICE = 0.1
#: A correction round hurt its own slice when that slice's 2D Dice fell by more than this.
WORSE_BY = 0.02


def session_trust(session, truth: np.ndarray) -> dict:
    """The click-trust record of one robot session (see the module docstring).

    ``session``: a :class:`~.robot_user.Session` recorded with ``keep_masks=True``; ``truth``: the
    (Z, Y, X) bool object. Rounds the robot skipped (a perfect mask) are not correction rounds.
    """
    truth = np.asarray(truth, dtype=bool)
    if not session.masks:
        raise ValueError("session_trust needs a session recorded with keep_masks=True")
    z0 = session.clicks[0][0]
    before, after, gains, wrong_before, wrong_after = [], [], [], [], []
    for r in range(1, len(session.masks)):
        z = session.clicks[r][0]
        before.append(dice(session.masks[r - 1][z], truth[z]))
        after.append(dice(session.masks[r][z], truth[z]))
        wrong_before.append(int((session.masks[r - 1][z] != truth[z]).sum()))
        wrong_after.append(int((session.masks[r][z] != truth[z]).sum()))
        gains.append(session.dice[r] - session.dice[r - 1])
    return {
        "collapsed": bool(session.dice[0] < COLLAPSE_DICE),
        "first_slice_dice": dice(session.masks[0][z0], truth[z0]),
        "slice_before": [round(v, 4) for v in before],
        "slice_after": [round(v, 4) for v in after],
        "slice_wrong_before": wrong_before,
        "slice_wrong_after": wrong_after,
        "gain_3d": [round(v, 4) for v in gains],
    }


def pool_trust(records: list[dict]) -> dict:
    """Pooled click trust of several sessions' :func:`session_trust` records.

    Returns the sessions, the collapsed first clicks (count and share), the mean first-slice 2D
    Dice, the correction rounds, the share of them that hurt their slice (2D Dice down by more than
    :data:`WORSE_BY`) and that helped it (up by more than it), the share that left more wrong
    pixels on it (records made before that count have None), and the mean 3D gain per correction round.
    """
    if not records:
        return {}
    before = np.array([v for r in records for v in r["slice_before"]], dtype=float)
    after = np.array([v for r in records for v in r["slice_after"]], dtype=float)
    gains = [v for r in records for v in r["gain_3d"]]
    n = len(before)
    collapsed = sum(r["collapsed"] for r in records)
    more_wrong = None
    if all("slice_wrong_before" in r for r in records) and n:
        wb = np.array([v for r in records for v in r["slice_wrong_before"]])
        wa = np.array([v for r in records for v in r["slice_wrong_after"]])
        more_wrong = round(float(np.mean(wa > wb)), 4)
    return {
        "sessions": len(records),
        "collapsed_first_clicks": int(collapsed),
        "collapsed_share": round(collapsed / len(records), 4),
        "first_slice_dice": round(float(np.mean([r["first_slice_dice"] for r in records])), 4),
        "correction_rounds": n,
        "slice_worse_share": round(float(np.mean(after < before - WORSE_BY)), 4) if n else None,
        "slice_better_share": round(float(np.mean(after > before + WORSE_BY)), 4) if n else None,
        "slice_more_wrong_share": more_wrong,
        "gain_3d_per_correction": round(float(np.mean(gains)), 4) if gains else None,
    }
