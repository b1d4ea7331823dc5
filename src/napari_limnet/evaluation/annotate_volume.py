"""The "annotate a volume" protocol: commit some objects, adapt, then annotate the rest.

For one volume with several labelled objects (in a fixed order):

1. the first ``k`` objects are committed, either with their true masks (a careful annotator who
   finished each object with the brush) or with the robot's round-6 masks made with the shipped
   nets (:data:`COMMIT_MODES`);
2. the networks are adapted on those committed labels (:func:`napari_limnet.adaptation.adapt`);
3. the robot user annotates the *scored* objects, which are never among the committed ones,
   with the shipped and with the adapted networks, 6 rounds each.

Every row of one volume scores the same objects (those after the largest ``k`` of the run), so
rows with different ``k`` compare on equal terms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .metrics import overshoot_slices, undershoot_slices
from .robot_user import run_session

COMMIT_MODES = ("true", "robot")


@dataclass
class VolumeObjects:
    """One volume and its objects: image (Z, Y, X), labels (Z, Y, X) int with ``ids`` in order."""

    name: str
    group: str
    image: np.ndarray
    labels: np.ndarray
    ids: list[int]
    spacing: tuple[float, float, float]


def robot_scores(models, vol: VolumeObjects, ids, rounds: int = 6, keep_last_mask: bool = False) -> dict:
    """Robot sessions on objects ``ids``: {id: {dice, overshoot, undershoot[, mask]}} per round."""
    from ..controller import LimNetController

    out = {}
    for oid in ids:
        truth = vol.labels == oid
        ctrl = LimNetController(vol.image, spacing=vol.spacing, models=models)
        s = run_session(ctrl.interact, truth, rounds, keep_masks=True)
        entry = {"dice": s.dice, "overshoot": [overshoot_slices(m, truth) for m in s.masks],
                 "undershoot": [undershoot_slices(m, truth) for m in s.masks]}
        # rounds the robot skipped (perfect masks) repeat the last mask's extent errors
        for key in ("overshoot", "undershoot"):
            entry[key] += [entry[key][-1]] * (rounds - len(entry[key]))
        if keep_last_mask:
            entry["mask"] = s.masks[-1]
        out[int(oid)] = entry
    return out


def committed_labels(vol: VolumeObjects, ids, mode: str, robot_masks: dict | None = None) -> np.ndarray:
    """The labels a user would have committed for objects ``ids`` (true masks or the robot's)."""
    labels = np.zeros(vol.labels.shape, dtype=np.int32)
    for oid in ids:
        mask = vol.labels == oid if mode == "true" else robot_masks[oid]
        labels[mask & (labels == 0)] = oid
    return labels


def mean_rows(per_object: dict, ids) -> dict:
    """Mean Dice / overshoot / undershoot per round over ``ids``."""
    rows = [per_object[i] for i in ids]
    return {k: np.mean([r[k] for r in rows], axis=0).round(4).tolist() for k in ("dice", "overshoot", "undershoot")}


def write_json(path: str | Path, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1))
