"""The live annotation session (Qt-free): rounds and commits on one image, with exact undo.

(Saved session files are :mod:`napari_limnet.session_files`.)

An :class:`AnnotationSession` wraps a :class:`~napari_limnet.LimNetController` (the current
object's rounds) and a *committed* integer label array (all finished objects; typically the
data of a napari Labels layer). It keeps one history of actions, so Undo always reverts the
most recent thing the user did, round or commit, exactly.

Commit rules: the object gets its own id; voxels already owned by *other* objects are kept
unless ``overwrite=True``; committing the same object again after more rounds replaces its
previous voxels (one object, one id).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .annotation_history import CommitRecord, _Edit, _Reset, _Round, _box_of, box_slices, union_box  # noqa: F401
from .controller import LimNetController


class AnnotationSession:
    """State of one annotation session (one 3D volume).

    committed: writable (Z, Y, X) integer array of finished objects (0 = background).
    """

    def __init__(self, controller: LimNetController, committed: np.ndarray):
        if tuple(committed.shape) != tuple(controller.shape):
            raise ValueError(
                f"the committed labels have shape {tuple(committed.shape)} but the image has {tuple(controller.shape)}; "
                "pick a labels layer that matches the image"
            )
        if committed.dtype.kind not in "ui":
            raise ValueError(f"the committed labels must be integers, got {committed.dtype}")
        self.controller = controller
        self.committed = committed
        self._history: list[CommitRecord | _Round | _Reset | _Edit] = []
        self.object_id: int | None = None  # given at the object's first commit (ids stay unique)
        self._committed_round: int | None = None  # controller round at the last commit of this object
        #: per committed object, the rounds that made it (for saved sessions), in commit order
        self.object_records: dict[int, object] = {}
        self._boxes: dict[int, tuple] = {}  # object id -> half-open (z0, z1, y0, y1, x0, x1) holding all its voxels
        self._scanned: set[int] = set()
        self._max_id: int | None = None
        #: called as on_change(region, before, after) after every change of ``committed`` (autosave)
        self.on_change = None

    # -- ids ----------------------------------------------------------------------------------
    def next_free_id(self) -> int:
        if self._max_id is None:  # one scan, the first time only
            self._max_id = int(self.committed.max()) if self.committed.size else 0
        return self._max_id + 1

    @property
    def has_committed(self) -> bool:
        """True when this session committed (or loaded) at least one object that is still there."""
        return bool(self._boxes) or bool(self.object_records)

    @property
    def has_uncommitted_changes(self) -> bool:
        """True when the current object has rounds that were not committed yet."""
        n = self.controller.n_rounds
        return n > 0 and self._committed_round != n

    # -- the controller, as the widget needs it ---------------------------------------------------
    def preview(self, z: int, positive, negative, box=None) -> np.ndarray:
        """The 2D prompt mask (Y, X) that a round with these clicks (and box) would give (changes nothing)."""
        return self.controller.preview(z, positive, negative, box=box)

    def cancel(self) -> None:
        """Ask a running round to stop (it is discarded; nothing changes)."""
        self.controller.cancel()

    @property
    def device(self) -> str:
        return str(self.controller.device)

    def set_device(self, device) -> None:
        """Run later rounds on ``device``; every round and commit so far is kept."""
        self.controller.set_device(device)

    def use_models(self, models) -> None:
        """Run later rounds with ``models`` (networks adapted to this image; None = shipped)."""
        self.controller.use_models(models)

    def apply_settings(self, stop_when_empty: bool, max_slices: int | None, z_limits: tuple[int, int] | None,
                       propagate_trims: bool = False) -> None:
        """The round settings of the widget's panel (see :class:`LimNetController`, :class:`StoppingConfig`)."""
        ctrl = self.controller
        ctrl.stop_when_empty = bool(stop_when_empty)
        if ctrl.stopping.propagate_trims != bool(propagate_trims):
            ctrl.stopping = replace(ctrl.stopping, propagate_trims=bool(propagate_trims))
        ctrl.max_slices = max_slices
        ctrl.z_limits = z_limits

    @property
    def n_rounds(self) -> int:
        return self.controller.n_rounds

    @property
    def interactions(self) -> dict:
        """Interacted slices -> (positive, negative) clicks of the current object."""
        return self.controller.interactions

    @property
    def last_round_stats(self) -> dict:
        return self.controller.last_round_stats

    def nonempty_slices(self) -> list[int]:
        return self.controller.nonempty_slices()

    def slice_mask(self, z: int) -> np.ndarray:
        """(Y, X) bool mask of slice z of the current object."""
        return self.controller.slice_mask(z)

    def confidence(self) -> tuple[dict[int, float], int | None]:
        """(per-slice confidence of the current object, the slice that most needs the user)."""
        return self.controller.slice_confidence(), self.controller.least_confident_slice()

    # -- rounds -------------------------------------------------------------------------------
    def run_round(self, z: int, positive, negative, progress=None, should_cancel=None, **prompts):
        """One controller round (may run in a worker thread); recorded for undo on success.

        ``prompts``: ``box=`` / ``mask=`` for box and painted-slice rounds (see LimNetController.interact).
        """
        mask = self.controller.interact(z, positive, negative, progress=progress, should_cancel=should_cancel, **prompts)
        self._history.append(_Round())
        return mask

    # -- commits ------------------------------------------------------------------------------
    def commit(self, overwrite: bool = False) -> CommitRecord | None:
        """Write the current object into ``committed`` under :attr:`object_id`. None if empty.

        Only the bounding box of the object's new and old voxels is read, copied (for undo) and
        written, so a commit costs the object's size, not the volume's.
        """
        ctrl = self.controller
        slices = ctrl.nonempty_slices()
        if self.object_id is None:
            if not slices:
                return None
            self.object_id = self.next_free_id()
        oid = self.object_id
        box = union_box(self._mask_box(slices), self._object_box(oid))
        if box is None:
            return None
        region = box_slices(box)
        before = np.array(self.committed[region])
        new = before.copy()
        new[new == oid] = 0
        mask = np.zeros(new.shape, dtype=bool)
        masks = ctrl.state.masks
        for z in slices:
            masks[z].paste_into(mask[z - box[0]], box[2], box[4])
        free = (new == 0) | overwrite
        kept_other = int((mask & ~free).sum())
        write = mask & free
        new[write] = oid
        self.committed[region] = new
        from .session_files import object_record

        previous = self.object_records.pop(oid, None)
        obj = object_record(ctrl, oid)
        obj.overwrite = bool(overwrite)
        self.object_records[oid] = obj
        record = CommitRecord(oid, region, before, int(write.sum()), kept_other, previous, self._boxes.get(oid))
        self._set_box(oid, _box_of(write, box))
        self._history.append(record)
        self._bound_history()
        self._committed_round = ctrl.n_rounds
        self._max_id = max(self._max_id or 0, oid)
        self._changed(record, new)
        return record

    #: Most memory the commits' undo data may hold (the undo history's 64 MB of masks and this keep a
    #: long session within ~200 MB); beyond it the oldest commits can no longer be undone.
    UNDO_BYTES = 96 * 2**20

    def _bound_history(self) -> None:
        total = sum(a.before.nbytes for a in self._history if isinstance(a, CommitRecord))
        while total > self.UNDO_BYTES:
            i = next((k for k, a in enumerate(self._history) if isinstance(a, CommitRecord)), None)
            if i is None or i == len(self._history) - 1:
                break
            total -= self._history.pop(i).before.nbytes

    # -- where the objects are (bounding boxes, so nothing scans the whole volume) --------------
    def _mask_box(self, slices) -> tuple | None:
        """Half-open (z0, z1, y0, y1, x0, x1) of the controller's current mask."""
        masks = self.controller.state.masks
        out = None
        for z in slices:
            ymin, ymax, xmin, xmax = masks[z].bbox
            out = union_box(out, (z, z + 1, ymin, ymax + 1, xmin, xmax + 1))
        return out

    def _object_box(self, oid: int) -> tuple | None:
        """A box holding every voxel of committed object ``oid`` (tracked; scanned once if unknown)."""
        if oid in self._boxes:
            return self._boxes[oid]
        if oid in self._scanned or (self._max_id is not None and oid > self._max_id):
            return None  # scanned before, or a brand-new id: no voxels anywhere
        self._scanned.add(oid)
        box = _box_of(self.committed == oid, (0, 0, 0, 0, 0, 0))
        self._boxes[oid] = box
        return box

    def _set_box(self, oid: int, box) -> None:
        if box is None:
            self._boxes.pop(oid, None)
            self._scanned.add(oid)
        else:
            self._boxes[oid] = box

    def _changed(self, record: CommitRecord, after: np.ndarray) -> None:
        """Tell the listener (the autosave) which region changed and its new content."""
        if self.on_change is not None:
            self.on_change(record.region, record.before, after)

    # -- undo / reset / next --------------------------------------------------------------------
    def undo(self) -> str | None:
        """Revert the latest action: 'round', 'commit', 'edit' (start of refining), 'reset' or None."""
        if not self._history:
            return None
        action = self._history.pop()
        if isinstance(action, _Reset):
            self.controller.restore(action.snapshot)
            self.object_id, self._committed_round = action.object_id, action.committed_round
            return "reset"
        if isinstance(action, _Edit):
            self.controller.reset()
            self.object_id = None
            self._committed_round = None
            return "edit"
        if isinstance(action, CommitRecord):
            after = np.array(self.committed[action.region])
            self.committed[action.region] = action.before
            self._changed(CommitRecord(action.object_id, action.region, after, 0, 0), action.before)
            if action.object_id == 0:  # a merge of several objects
                for oid in [int(i) for i in np.unique(after) if i != 0]:
                    if not (action.before == oid).any() and not self._box_reaches_outside(action.region, oid):
                        self.object_records.pop(oid, None)
                        self._set_box(oid, None)
                return "commit"
            self._set_box(action.object_id, action.previous_box)
            self.object_records.pop(action.object_id, None)
            if action.previous_record is not None:
                self.object_records[action.object_id] = action.previous_record
            self._committed_round = None
            if action.resume is not None and self.controller.n_rounds == 0 and not self.controller.started_from_mask:
                # put away by Next object / Reset right after this commit: bring the object back
                snap, history, oid = action.resume
                action.resume = None
                self.controller.restore(snap)
                kept = [a for a in history if isinstance(a, CommitRecord)]
                if len(kept) == len(self._history) and all(a is b for a, b in zip(kept, self._history)):
                    # nothing else changed since: the object's rounds can be undone again too
                    self._history = history
                self.object_id = oid
                return "commit"
            still_there = bool((action.before == action.object_id).any())
            self.object_id = action.object_id if still_there or self.controller.n_rounds else None
            return "commit"
        self.controller.undo()
        return "round"

    def merge_labels(self, labels: np.ndarray, records: list | None = None) -> CommitRecord | None:
        """Add labelled objects (e.g. a replayed session) where nothing is committed yet; undoable.

        Ids that are already in use are moved to free ids. Returns the record (None if empty).
        """
        labels = np.asarray(labels)
        if labels.shape != self.committed.shape:
            raise ValueError(f"the labels have shape {labels.shape} but the image has {self.committed.shape}")
        zs = np.flatnonzero(labels.reshape(labels.shape[0], -1).any(1))
        if zs.size == 0:
            return None
        used = set(self.committed_ids())
        next_id = max(used | {0}) + 1
        remap = {}
        for i in (int(v) for v in np.unique(labels) if v != 0):
            remap[i] = i if i not in used else next_id
            next_id += i in used
        region = (slice(int(zs[0]), int(zs[-1]) + 1), slice(0, labels.shape[1]), slice(0, labels.shape[2]))
        before = np.array(self.committed[region])
        new = before.copy()
        src = labels[region]
        free = new == 0
        for old_id, new_id in remap.items():
            new[(src == old_id) & free] = new_id
        self.committed[region] = new
        for r in records or []:
            if r.id in remap:
                r.id = remap[r.id]
                self.object_records[r.id] = r
        z0 = region[0].start
        for new_id in remap.values():
            b = _box_of(new == new_id, (z0, 0, 0, 0, 0, 0))
            if b is not None:
                self._set_box(new_id, union_box(b, self._boxes.get(new_id)))
        self._max_id = max([self._max_id or 0] + list(remap.values()))
        record = CommitRecord(0, region, before, int((new != before).sum()), int(((src > 0) & ~free).sum()))
        self._history.append(record)
        self._changed(record, new)
        return record

    def session_record(self, image: dict):
        """The committed objects' rounds, settings and weights, as a saveable session record."""
        from .session_files import SessionRecord, controller_settings

        return SessionRecord(image=image, settings=controller_settings(self.controller),
                             objects=list(self.object_records.values()))

    def latest_round(self) -> dict | None:
        """The record of the latest action when it is a round (what Undo would revert), else None."""
        if self._history and isinstance(self._history[-1], _Round) and self.controller.n_rounds:
            return self.controller.round_records()[-1]
        return None

    def undo_label(self) -> str | None:
        """What :meth:`undo` would revert, in words ('round 3', 'the commit of object 2'), or None."""
        if not self._history:
            return None
        action = self._history[-1]
        if isinstance(action, _Edit):
            return f"refining object {action.object_id}"
        if isinstance(action, _Reset):
            return "the reset" if action.object_id is None else f"the reset of object {action.object_id}"
        if isinstance(action, CommitRecord):
            return "the loaded session" if action.object_id == 0 else f"the commit of object {action.object_id}"
        return f"round {self.controller.n_rounds}"

    def reset(self) -> None:
        """Clear the current object (commits stay): the next click starts a new object. Undoable.

        Undo brings the object back exactly as it was (its rounds, its id, whether it was committed).
        Nothing to clear (no rounds, no loaded mask): nothing happens and nothing is recorded.
        """
        ctrl = self.controller
        if not (ctrl.n_rounds or ctrl.started_from_mask):
            self.object_id, self._committed_round = None, None
            return
        self._history.append(_Reset(ctrl.snapshot(), self.object_id, self._committed_round))
        ctrl.reset()
        self.object_id = None
        self._committed_round = None

    def _put_away(self) -> None:
        """Forget the current object's rounds for Next object / refining another object (commits stay).

        When the object was just committed (nothing new since), undoing that commit later brings
        the object back as the current object, with its rounds (see :meth:`undo`).
        """
        last = self._history[-1] if self._history else None
        if (isinstance(last, CommitRecord) and last.object_id == self.object_id and last.object_id
                and not self.has_uncommitted_changes and self.controller.n_rounds + self.controller.started_from_mask):
            last.resume = (self.controller.snapshot(), list(self._history[:-1]), self.object_id)
        self.controller.reset()
        self._history = [a for a in self._history if isinstance(a, CommitRecord)]
        self._committed_round = None

    def committed_ids(self) -> list[int]:
        """Ids of the committed objects, ascending (scans the labels: not for every click)."""
        ids = np.unique(self.committed)
        return [int(i) for i in ids if i != 0]

    def _box_reaches_outside(self, region, oid) -> bool:
        """True when the tracked box of ``oid`` reaches outside ``region`` (it may have voxels there)."""
        box = self._boxes.get(oid)
        if box is None:
            return False
        r = (region[0].start, region[0].stop, region[1].start, region[1].stop, region[2].start, region[2].stop)
        return not all(r[2 * i] <= box[2 * i] and box[2 * i + 1] <= r[2 * i + 1] for i in range(3))

    def edit_object(self, object_id: int) -> int:
        """Make committed object ``object_id`` the current object (its mask as round 0).

        Clicks then refine it and :meth:`commit` writes it back under the same id. Uncommitted
        rounds of the previous current object are dropped (as with Reset). Returns its voxels.
        Raises ValueError when there is no such object.
        """
        object_id = int(object_id)
        box = self._object_box(object_id) if object_id > 0 else None
        mask = np.zeros(self.committed.shape, dtype=bool)
        if box is not None:
            region = box_slices(box)
            mask[region] = self.committed[region] == object_id
        voxels = int(mask.sum())
        if object_id <= 0 or voxels == 0:
            raise ValueError(f"there is no committed object {object_id}; committed ids: {self.committed_ids() or 'none'}")
        self._put_away()
        record = self.object_records.get(object_id)
        made_at = [int(r["z"]) for r in (record.rounds if record is not None else [])
                   if r.get("positive") or r.get("box") is not None or r.get("mask") is not None]
        self.controller.load_mask(mask, anchors=made_at)
        self.object_id = object_id
        self._committed_round = self.controller.n_rounds  # nothing new to commit yet
        self._history.append(_Edit(object_id))
        return voxels

    def next_object(self, overwrite: bool = False) -> CommitRecord | None:
        """Finish the current object (committing it if it has uncommitted rounds) and start a new id."""
        record = self.commit(overwrite) if self.has_uncommitted_changes else None
        self._put_away()
        self.object_id = None
        return record
