"""Crash-safe autosave of committed labels (Qt-free).

After every commit or undo the annotator stores the committed labels in a cache folder
(``$LIMNET_CACHE_DIR`` or ``~/.cache/napari-limnet/autosave``), keyed by the source file (or
the layer's name and shape). Only the bounding box of the labelled voxels is stored, atomically
(temporary file, then rename). On reopening the same image the annotator offers to restore it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .io.files import atomic_write


def cache_dir() -> Path:
    env = os.environ.get("LIMNET_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "napari-limnet" / "autosave"


def session_key(source: str | None, name: str, shape) -> str:
    """A stable key for an image: its source path if it has one, else name and shape."""
    ident = os.path.abspath(source) if source else f"layer:{name}"
    return f"{ident}|{tuple(int(s) for s in shape)}"


def autosave_path(key: str) -> Path:
    return cache_dir() / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.npz"


def save(key: str, labels: np.ndarray) -> Path:
    """Store ``labels`` (any shape, integers) for ``key``; only the labelled bounding box is kept."""
    labels = np.asarray(labels)
    nz = [np.flatnonzero(np.moveaxis(labels, ax, 0).reshape(labels.shape[ax], -1).any(1)) for ax in range(labels.ndim)]
    if any(a.size == 0 for a in nz):
        lo, crop = [0] * labels.ndim, np.zeros((0,) * labels.ndim, dtype=labels.dtype)
    else:
        lo = [int(a[0]) for a in nz]
        crop = labels[tuple(slice(int(a[0]), int(a[-1]) + 1) for a in nz)]
    info = {"key": key, "shape": list(labels.shape), "offset": lo, "saved": time.strftime("%Y-%m-%d %H:%M:%S"), "objects": int(len(np.unique(crop)) - (1 if crop.size and (crop == 0).any() else 0))}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, crop=crop, info=np.array(json.dumps(info)))

    return atomic_write(autosave_path(key), write)


def load(key: str) -> tuple[np.ndarray, dict] | None:
    """(labels, info) saved for ``key``, or None (also when the file is unreadable)."""
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


def clear(key: str) -> None:
    autosave_path(key).unlink(missing_ok=True)
