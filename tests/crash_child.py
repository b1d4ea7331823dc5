"""A real annotation session that the crash test kills (python tests/crash_child.py SEED KILL_AT WORKDIR).

It runs rounds, commits, undos and exports on the CT sample with the shipped networks, the
AnnotationSession and the autosave journal exactly as the widget wires them, and prints one line
per event (flushed):

    PENDING <sha>   the committed labels changed (commit/undo returned), autosave queued
    SAVED <sha>     that state's autosave is on disk (journal flushed)
    EXPORT <sha>    an export of that state began

KILL_AT = "<phase>:<n>" makes the process SIGKILL itself the n-th time it reaches a phase:
round (inside a propagation), commit (labels changed, autosave not queued), autosave (half of
a patch file written), export (half of the export file written). "none" = run until killed.
"""

import hashlib
import os
import signal
import sys
from pathlib import Path

import numpy as np

SEED, KILL_AT, WORK = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
os.environ["LIMNET_CACHE_DIR"] = str(WORK / "cache")
phase, _, nth = KILL_AT.partition(":")
counts: dict[str, int] = {}


def checkpoint(name: str) -> None:
    counts[name] = counts.get(name, 0) + 1
    if name == phase and counts[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def say(*words) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def sha(a) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


import torch  # noqa: E402

torch.set_num_threads(1)
from napari_limnet import LimNetController, autosave  # noqa: E402
from napari_limnet.io import files  # noqa: E402
from napari_limnet.io.geometry import Geometry  # noqa: E402
from napari_limnet.data.samples import ct_abdomen  # noqa: E402
from napari_limnet.annotation_session import AnnotationSession  # noqa: E402

# the kill hooks: half of a file written, then (at the chosen moment) the process dies
real_atomic = files.atomic_write
EXPORT = WORK / "export.nii.gz"


def atomic_with_kill(path, write_fn):
    def write(tmp):
        name = "export" if Path(path) == EXPORT else "autosave" if Path(path).name.startswith("p") else None
        if name is not None:
            Path(tmp).write_bytes(b"\x1f\x8b half a file")
            checkpoint(name)
        write_fn(tmp)

    return real_atomic(path, write)


files.atomic_write = atomic_with_kill  # write_volume (exports) looks it up here
autosave.atomic_write = atomic_with_kill  # the journal's patches

s = ct_abdomen()
key = autosave.session_key(None, "ct", s.image.shape)
committed = np.zeros(s.image.shape, np.uint16)
ctrl = LimNetController(s.image, spacing=s.spacing)
sess = AnnotationSession(ctrl, committed)
journal = autosave.AutosaveJournal(key, committed.shape, committed.dtype)


def on_change(region, before, after):
    checkpoint("commit")
    journal.patch(region, before, after)


sess.on_change = on_change
rng = np.random.default_rng(SEED)
truth_points = np.argwhere(s.truth)
say("READY")
for _step in range(10_000):
    action = rng.choice(["round", "round", "commit", "undo", "export"], p=[0.35, 0.2, 0.25, 0.1, 0.1])
    if action == "round":
        z, y, x = truth_points[rng.integers(len(truth_points))] if rng.random() < 0.7 else (
            rng.integers(0, 40), rng.integers(0, 160), rng.integers(0, 160))
        positive = bool(rng.random() < 0.8)
        sess.run_round(int(z), [(int(y), int(x))] if positive else [], [] if positive else [(int(y), int(x))],
                       progress=lambda done, total, msg: checkpoint("round") if msg == "propagating" else None)
        continue
    if action == "commit":
        if rng.random() < 0.5:
            record = sess.next_object()
        else:
            record = sess.commit()
        if record is None:
            continue
    elif action == "undo":
        if sess.undo() != "commit":
            continue
    else:
        if not committed.any():
            continue
        say("EXPORT", sha(committed))
        files.write_volume(EXPORT, committed.astype(np.uint16), Geometry.from_spacing(s.spacing), labels=True)
        continue
    state = sha(committed)
    say("PENDING", state)
    journal.flush()
    say("SAVED", state)
