"""The undo history of :class:`~napari_limnet.controller.LimNetController`: round states, the round log,
snapshots, undo, a loaded base mask, reset.

A mixin (it relies on the controller's ``_history``, ``_log``, ``_base_loaded``, ``_base_state``,
``_lock``, caches, ``models``, ``history_limit`` and ``history_bytes``). States are immutable and
share unchanged slices, so a snapshot is cheap.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .inference.mask_store import SliceMask, dense_slice
from .inference.rounds import Interaction, RunState


class RoundHistoryMixin:
    def _commit_state(self, new_state: RunState, interaction: Interaction, extra: dict | None = None) -> None:
        self._history.append(new_state)
        entry = {"z": int(interaction.z), "positive": [list(p) for p in interaction.positive],
                 "negative": [list(p) for p in interaction.negative], **(extra or {})}
        if self.models.digest is not None:
            entry["weights"] = self.models.digest
        self._log.append(entry)
        while len(self._history) > 2 and (len(self._history) > self.history_limit + 1 or self._history_bytes() > self.history_bytes):
            del self._history[0]  # the oldest round can no longer be undone; its clicks stay in the log

    def _history_bytes(self) -> int:
        """Bytes of the distinct slice masks the undo history holds (states share unchanged slices)."""
        seen, total = set(), 0
        for st in self._history:
            for m in st.masks.values():
                if id(m) not in seen:
                    seen.add(id(m))
                    total += m.crop.nbytes
        return total

    def snapshot(self) -> tuple:
        """Everything :meth:`restore` needs to bring back the current object's rounds (cheap: states are shared)."""
        with self._lock:
            return (list(self._history), [dict(e) for e in self._log], self._base_loaded, self._base_state,
                    self._base_anchors)

    def restore(self, snap: tuple) -> None:
        """Go back to a :meth:`snapshot` (e.g. undoing a commit after Next object brings its rounds back)."""
        with self._lock:
            history, log, base_loaded, base_state, anchors = snap
            self._base_anchors = anchors
            self._history, self._log = list(history), [dict(e) for e in log]
            self._base_loaded, self._base_state = base_loaded, base_state
            self._prompt_cache = None
            self._dense_cache = None

    def undo(self) -> bool:
        """Go back one round. Returns False when there was nothing to undo."""
        with self._lock:
            if len(self._history) <= 1:
                return False
            self._history.pop()
            self._log.pop()
            return True

    def rounds(self) -> list[tuple[int, list, list]]:
        """The rounds that made the current state, in order: (z, positive, negative) per round.

        Replaying them with :meth:`interact` on the same volume, weights and settings gives the
        same mask (the controller is deterministic). After :meth:`load_mask`, round 0 is the
        loaded mask, which is not a click (see :attr:`started_from_mask`). The log is complete
        even when the oldest rounds have left the undo history (:attr:`history_limit`).
        """
        return [(e["z"], [list(p) for p in e["positive"]], [list(p) for p in e["negative"]]) for e in self._log]

    def round_records(self) -> list[dict]:
        """The rounds that made the current state, complete: one dict per round, in order.

        Keys: ``z``, ``positive``, ``negative`` (as in :meth:`rounds`); ``weights`` (the digest of
        adapted networks, absent for the shipped ones; see :meth:`use_models`); ``box`` and
        ``mask`` for box and painted-slice rounds. Replaying them gives the same mask.
        """
        return [dict(e) for e in self._log]

    def base_slices(self) -> dict[int, np.ndarray] | None:
        """The mask loaded as round 0 (:meth:`load_mask`) as {z: (Y, X) bool}, or None."""
        if self._base_state is None:
            return None
        return {z: dense_slice(self._base_state.masks, z, self._source.slice_shape) for z in self._base_state.masks}

    @property
    def started_from_mask(self) -> bool:
        """True when round 0 is a loaded mask (:meth:`load_mask`) rather than nothing."""
        return self._base_loaded

    def load_mask(self, mask, anchors=()) -> None:
        """Start from an existing (Z, Y, X) bool mask, as round 0 (refine an object made earlier).

        Every slice of the mask counts as settled on its own: later rounds propagate as usual and
        MRF decides, slice by slice, between this mask and the new round's (a round replaces only
        what it was interacted on, or what MRF finds better). ``undo`` goes back to this mask,
        ``reset`` forgets it. ``anchors``: the slices where the object was made with positive clicks,
        a box or a painted slice (from its saved rounds); a negative-only round that erases a loaded
        slice cuts the leak from the nearest of them (:func:`~.inference.rounds.plan_base_leak_cut`).
        Raises ValueError (changing nothing) for a mask of the wrong shape.
        """
        shape = tuple(np.shape(mask))
        if shape != tuple(self.shape):
            raise ValueError(f"the mask has shape {shape} but the volume has {tuple(self.shape)}")
        with self._lock:
            masks, sources = {}, {}
            for z in range(self.shape[0]):
                m = SliceMask.from_dense(np.asarray(mask[z], dtype=bool))
                if m is not None:
                    masks[z], sources[z] = m, z
            self._history = [RunState(MappingProxyType(masks), MappingProxyType(sources))]
            self._log = []
            self._base_loaded = True
            self._base_state = self._history[0]
            self._base_anchors = tuple(int(a) for a in anchors)
            self._prompt_cache = None
            self._dense_cache = None

    def reset(self) -> None:
        """Forget all rounds (start a new object)."""
        with self._lock:
            self._history = [RunState()]
            self._log = []
            self._base_loaded = False
            self._base_state = None
            self._base_anchors = ()
            self._prompt_cache = None
