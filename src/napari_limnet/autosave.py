"""Crash-safe, incremental autosave of committed labels (Qt-free).

Every change of the committed labels (a commit, an undo, a loaded session) becomes a few small
*patch* files in a journal folder per image (``$LIMNET_CACHE_DIR`` or
``~/.cache/napari-limnet/autosave/<key hash>/``): one per object id the change touched, holding
that object's voxels inside the changed box. Restoring applies the patches in order:

    for each patch (seq, id, box, mask):  labels[box][labels[box] == id] = 0;  labels[box][mask] = id

so the cost of an autosave is the size of what changed, never the size of the volume. Patches
are written by a background thread (:class:`AutosaveJournal`), each through a temporary file and
a rename: a process killed at any moment leaves complete patches only, and the newest complete
state wins. Patches made obsolete by a later one (same id, a box that contains theirs) are
deleted as the journal grows. The single-file autosave of version 0.1 is still read.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from .io.files import atomic_write, cache_root, cleanup_stale_temps

#: Beyond this many patch files, obsolete ones are looked for and deleted.
COMPACT_AFTER = 64


def cache_dir() -> Path:
    """The journals' folder: ``$LIMNET_CACHE_DIR`` itself when set, else the cache root's ``autosave``."""
    return cache_root() if os.environ.get("LIMNET_CACHE_DIR") else cache_root() / "autosave"


def session_key(source: str | None, name: str, shape) -> str:
    """A stable key for an image: its source path if it has one, else name and shape."""
    ident = os.path.abspath(source) if source else f"layer:{name}"
    return f"{ident}|{tuple(int(s) for s in shape)}"


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def journal_dir(key: str) -> Path:
    return cache_dir() / _digest(key)


def autosave_path(key: str) -> Path:
    """The 0.1 single-file autosave (still read by :func:`load`)."""
    return cache_dir() / f"{_digest(key)}.npz"


def _patch_name(seq: int, oid: int) -> str:
    return f"p{seq:018d}_{oid}.npz"


def _parse(name: str) -> tuple[int, int] | None:
    if not (name.startswith("p") and name.endswith(".npz")):
        return None
    try:
        seq, oid = name[1:-4].split("_")
        return int(seq), int(oid)
    except ValueError:
        return None


class AutosaveJournal:
    """Writes patches for one image in a background thread.

    ``patch(region, before, after)``: ``region`` is a tuple of slices into the labels array of
    ``shape``; ``before``/``after`` its content before and after the change (arrays the caller
    will not modify afterwards). Returns at once; :meth:`flush` waits until everything queued is
    on disk.
    """

    def __init__(self, key: str, shape, dtype=np.uint16, background: bool = True):
        self.key, self.shape, self.dtype = key, tuple(int(s) for s in shape), np.dtype(dtype)
        self.folder = journal_dir(key)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if not meta.is_file():
            atomic_write(meta, lambda tmp: tmp.write_text(json.dumps({"key": key, "shape": list(self.shape), "dtype": self.dtype.str})))
        existing = [p for p in (_parse(f.name) for f in self.folder.iterdir()) if p]
        # sequence numbers are microseconds of wall time: patches of two processes on the same
        # image (two viewers) still restore in the order they were made
        self._seq = max([s for s, _ in existing] + [time.time_ns() // 1000])
        self.errors: list[str] = []
        self.last_write_s = 0.0
        self._writes = 0
        self._queue: queue.Queue = queue.Queue()
        self._background = background
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._run, name="limnet-autosave", daemon=True)
            self._thread.start()

    def patch(self, region, before: np.ndarray, after: np.ndarray) -> None:
        region = tuple(region)
        if self._background:
            self._queue.put((region, before, after))
        else:
            self._write(region, before, after)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued patch is written; False on timeout."""
        if not self._background:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._write(*item)
            except Exception as err:  # noqa: BLE001 - an autosave failure must never take the app down
                self.errors.append(f"{type(err).__name__}: {err}")

    def _write(self, region, before: np.ndarray, after: np.ndarray) -> None:
        t0 = time.perf_counter()
        ids = set(np.unique(before).tolist()) | set(np.unique(after).tolist())
        ids.discard(0)
        box = [[sl.start or 0, sl.stop if sl.stop is not None else n] for sl, n in zip(region, self.shape)]
        for oid in sorted(int(i) for i in ids):
            self._seq = max(self._seq + 1, time.time_ns() // 1000)
            mask = np.asarray(after) == oid
            packed = np.packbits(mask.ravel())

            def write(tmp: Path, packed=packed, mask=mask, oid=oid) -> None:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, box=np.asarray(box, dtype=np.int64), shape=np.asarray(mask.shape),
                                        bits=packed, id=np.asarray(oid))

            atomic_write(self.folder / _patch_name(self._seq, oid), write)
        self.last_write_s = time.perf_counter() - t0
        self._writes += 1
        if self._writes % 16 == 0:
            compact(self.folder)


def _read_patch(path: Path):
    with np.load(path, allow_pickle=False) as z:
        box, shape, bits, oid = z["box"], tuple(z["shape"]), z["bits"], int(z["id"])
    mask = np.unpackbits(bits)[: int(np.prod(shape))].reshape(shape).astype(bool)
    return box, mask, oid


def compact(folder: Path) -> int:
    """Delete patches made obsolete by a later patch of the same id whose box contains theirs."""
    entries = sorted((p, f) for f in folder.glob("p*.npz") if (p := _parse(f.name)))
    if len(entries) <= COMPACT_AFTER:
        return 0
    boxes = {}
    for (_seq, oid), f in entries:
        try:
            with np.load(f, allow_pickle=False) as z:
                boxes[f] = (oid, z["box"].copy())
        except Exception:  # noqa: BLE001 - unreadable: leave it, load() skips it
            continue
    removed = 0
    later: dict[int, list] = {}
    for (_seq, oid), f in reversed(entries):
        if f not in boxes:
            continue
        box = boxes[f][1]
        if any(np.all(b[:, 0] <= box[:, 0]) and np.all(box[:, 1] <= b[:, 1]) for b in later.get(oid, [])):
            f.unlink(missing_ok=True)
            removed += 1
        else:
            later.setdefault(oid, []).append(box)
    return removed


def load(key: str) -> tuple[np.ndarray, dict] | None:
    """(labels, info) autosaved for ``key``, or None. Unreadable patches are skipped, never fatal."""
    cleanup_stale_temps()
    folder = journal_dir(key)
    base = _load_legacy(key)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return base
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            return base
        labels = base[0] if base is not None else np.zeros(meta["shape"], dtype=np.dtype(meta["dtype"]))
    except (OSError, ValueError, KeyError, TypeError):
        return base
    for stale in folder.glob(".*"):  # a patch being written when the process died
        stale.unlink(missing_ok=True)
    entries = sorted((p, f) for f in folder.glob("p*.npz") if (p := _parse(f.name)))
    newest = None
    for _, f in entries:
        try:
            box, mask, pid = _read_patch(f)
        except Exception:  # noqa: BLE001
            continue
        region = tuple(slice(int(a), int(b)) for a, b in box)
        view = labels[region]
        if view.shape != mask.shape:
            continue
        view[view == pid] = 0
        view[mask] = pid
        newest = f
    if newest is None and base is None:
        return None
    ids = np.unique(labels)
    info = {"key": key, "shape": list(labels.shape), "objects": int((ids != 0).sum()),
            "saved": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((newest or meta_path).stat().st_mtime))}
    return labels, info


def _load_legacy(key: str) -> tuple[np.ndarray, dict] | None:
    path = autosave_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            crop = z["crop"]
            info = json.loads(str(z["info"]))
    except Exception:  # noqa: BLE001 - a broken autosave is ignored, never fatal
        return None
    if info.get("key") != key:
        return None
    out = np.zeros(info["shape"], dtype=crop.dtype)
    if crop.size:
        out[tuple(slice(o, o + s) for o, s in zip(info["offset"], crop.shape))] = crop
    return out, info


def save(key: str, labels: np.ndarray) -> Path:
    """Store the whole of ``labels`` for ``key`` at once (a new journal holding one patch per object)."""
    clear(key)
    labels = np.asarray(labels)
    journal = AutosaveJournal(key, labels.shape, labels.dtype, background=False)
    full = tuple(slice(0, n) for n in labels.shape)
    journal.patch(full, np.zeros((1,) * labels.ndim, dtype=labels.dtype), labels)
    return journal.folder


def clear(key: str) -> None:
    autosave_path(key).unlink(missing_ok=True)
    folder = journal_dir(key)
    if folder.is_dir():
        for f in folder.iterdir():
            f.unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass
