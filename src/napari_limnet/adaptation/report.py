"""Learn from the committed objects and say honestly what it bought: Dice on held-out objects.

:func:`learn_with_report` holds out some committed objects (about a third, at least one, when
there are two or more), adapts on the others, then lets the robot user of the benchmark
(``evaluation.robot_user``) annotate each held-out object with the shipped and with the adapted
networks. The report is the mean Dice per round, before and after. With a single committed
object nothing can be held out: the networks are adapted on it and the report says that no
measurement was possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .adapt import adapt
from .user_data import check_labels, object_ids

#: Robot rounds per held-out object in the report (3 keeps the check to seconds per object).
REPORT_ROUNDS = 3
#: Held-out objects checked at most (the most recently committed ones are the most like the next).
MAX_HELD_OUT = 3


@dataclass
class LearnReport:
    """What learning bought: mean Dice per robot round on held-out objects, before and after."""

    trained_on: list[int]
    held_out: list[int]
    shipped: list[float] = field(default_factory=list)
    adapted: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def measured(self) -> bool:
        return bool(self.held_out)

    @property
    def gain(self) -> float | None:
        """Mean over rounds of (adapted - shipped) Dice; None when nothing was held out."""
        if not self.measured:
            return None
        return float(np.mean(self.adapted) - np.mean(self.shipped))

    @property
    def helps(self) -> bool:
        """True when the held-out objects came out better on average and no round got worse by > 0.02."""
        return self.measured and self.gain > 0 and min(a - s for a, s in zip(self.adapted, self.shipped)) > -0.02

    def text(self) -> str:
        """A short, honest summary for the user."""
        learned = f"Learned from object(s) {', '.join(map(str, self.trained_on))} in {self.seconds:.0f} s."
        if not self.measured:
            return (learned + " With one committed object nothing could be held out to check the result, so the "
                    "shipped model stays in use; commit another object and learn again to measure it.")
        rounds = " / ".join(f"{s:.2f} → {a:.2f}" for s, a in zip(self.shipped, self.adapted))
        verdict = "better" if self.helps else "not better"
        return (f"{learned} Held out object(s) {', '.join(map(str, self.held_out))}: Dice after clicks 1-{len(self.shipped)}, "
                f"shipped → adapted: {rounds}. The adapted model is {verdict} here"
                + ("; it is now in use." if self.helps else "; the shipped model stays in use."))

    def to_json(self) -> dict:
        return {"trained_on": self.trained_on, "held_out": self.held_out, "shipped": self.shipped,
                "adapted": self.adapted, "seconds": round(self.seconds, 1), "gain": self.gain, "helps": self.helps}


def split_objects(ids: list[int]) -> tuple[list[int], list[int]]:
    """(train, held out): about a third of the objects (round(n / 3), at least one, at most MAX_HELD_OUT),
    every third from the newest; none when there are fewer than 2."""
    if len(ids) < 2:
        return list(ids), []
    n_held = min(MAX_HELD_OUT, max(1, round(len(ids) / 3)))
    held = sorted(ids[::-1][::3][:n_held])
    return [i for i in ids if i not in held], held


def robot_dice(models, volume, truth: np.ndarray, spacing, rounds: int = REPORT_ROUNDS, should_cancel=None) -> list[float]:
    """Dice per round of the robot user annotating ``truth`` with ``models`` (None = shipped)."""
    from ..controller import LimNetController
    from ..evaluation.robot_user import run_session

    ctrl = LimNetController(volume, spacing=spacing, models=models)
    return run_session(lambda z, p, n: ctrl.interact(z, p, n, should_cancel=should_cancel), truth, rounds).dice


def learn_with_report(volume, labels, spacing=None, seconds: float = 120.0, seed: int = 0, progress=None,
                      should_cancel=None, **adapt_kw):
    """Adapt on the committed objects (less the held-out ones) and check on the held-out ones.

    Returns (models, :class:`LearnReport`). The evaluation's time is not part of ``seconds``.
    """
    import time

    labels = check_labels(np.shape(volume), labels)
    ids = object_ids(labels)
    if not ids:
        raise ValueError("commit at least one object before learning from your objects")
    train, held = split_objects(ids)
    t0 = time.perf_counter()
    train_labels = np.where(np.isin(labels, train), labels, 0) if held else labels
    models = adapt(volume, train_labels, spacing, seconds=seconds, seed=seed, progress=progress,
                   should_cancel=should_cancel, **adapt_kw)
    report = LearnReport(train, held, seconds=time.perf_counter() - t0)
    shipped_runs, adapted_runs = [], []
    for k, oid in enumerate(held):
        if progress is not None:
            progress(k, len(held), f"checking on held-out object {oid}")
        truth = labels == oid
        shipped_runs.append(robot_dice(None, volume, truth, spacing, should_cancel=should_cancel))
        adapted_runs.append(robot_dice(models, volume, truth, spacing, should_cancel=should_cancel))
    if held:
        report.shipped = np.mean(shipped_runs, axis=0).round(4).tolist()
        report.adapted = np.mean(adapted_runs, axis=0).round(4).tolist()
    models.info["adaptation"]["report"] = report.to_json()
    return models, report
