"""Commit and autosave latency on big label volumes holding many objects.

    python benchmarks/commit_latency.py [--sizes 300x512x512 1000x1024x1024] [--objects 200]

For each label volume (uint16, Z x Y x X) it commits ``--objects`` objects one after the other
through :class:`AnnotationSession` with the autosave journal wired as the widget wires it, and
measures:

- **UI-thread time per commit**: ``session.commit()`` plus handing the change to the journal
  (what the widget does on the UI thread; the layer refresh only re-slices the slice on screen);
- **autosave time**: how long the background thread takes to put the patches on disk;
- the same for an undo of a commit;
- the peak RSS of the process.

The objects are ellipsoids of 20-40 slices and 40-120 pixels across, spread over the volume; the
controller holds each one as its current mask (round 0 via ``load_mask``), so no network runs
and the numbers are the commit path's own. Before/after in one run: ``--legacy`` also times the
previous commit (full slices copied, whole-volume scans, the whole labels' bounding box
re-compressed into one file at every commit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_limnet.evaluation.memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]


class Blob:
    """A (Z, Y, X) bool 'array' with one ellipsoid, read slice by slice (never materialised)."""

    def __init__(self, shape, center, radii):
        self.shape, self.center, self.radii = tuple(shape), center, radii
        self.yy, self.xx = np.ogrid[: shape[1], : shape[2]]

    def __getitem__(self, z):
        cz, cy, cx = self.center
        rz, ry, rx = self.radii
        t = 1 - ((z - cz) / rz) ** 2
        if t <= 0:
            return np.zeros(self.shape[1:], dtype=bool)
        return ((self.yy - cy) / ry) ** 2 + ((self.xx - cx) / rx) ** 2 <= t


def run(shape, n_objects: int, seed: int = 0, pretouch: bool = False) -> dict:
    import dask.array as da

    from napari_limnet import LimNetController, autosave
    from napari_limnet.modeling.weights import LimNetModels
    from napari_limnet.annotation_session import AnnotationSession

    rng = np.random.default_rng(seed)
    volume = da.zeros(shape, dtype=np.uint16, chunks=(1, shape[1], shape[2]))  # never read by a commit
    committed = np.zeros(shape, dtype=np.uint16)
    if pretouch:  # fault every page in now, so that the timings are the commit path's alone
        committed.fill(0)
    ctrl = LimNetController(volume, models=LimNetModels.random())
    sess = AnnotationSession(ctrl, committed)
    journal = autosave.AutosaveJournal(f"bench:{shape}", shape, committed.dtype)
    sess.on_change = journal.patch
    ui, bg, undo_ui = [], [], []
    for i in range(n_objects):
        center = (rng.uniform(20, shape[0] - 20), rng.uniform(60, shape[1] - 60), rng.uniform(60, shape[2] - 60))
        radii = (rng.uniform(10, 20), rng.uniform(20, 60), rng.uniform(20, 60))
        sess.reset()
        sess.object_id = None
        ctrl.load_mask(Blob(shape, center, radii))
        t0 = time.perf_counter()
        sess.commit()
        ui.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        journal.flush(60)
        bg.append(time.perf_counter() - t1)
        if i % 20 == 19:  # an undo and a redo-by-commit now and then
            t0 = time.perf_counter()
            sess.undo()
            undo_ui.append(time.perf_counter() - t0)
            sess.commit()
            journal.flush(60)
    journal.close()
    return {
        "shape": list(shape), "objects": n_objects, "labels_gb": committed.nbytes / 2**30,
        "commit_ui_ms": {"median": 1000 * statistics.median(ui), "p95": 1000 * float(np.percentile(ui, 95)), "max": 1000 * max(ui)},
        "undo_ui_ms": {"median": 1000 * statistics.median(undo_ui)} if undo_ui else None,
        "autosave_background_ms": {"median": 1000 * statistics.median(bg), "max": 1000 * max(bg)},
        "journal_files": len(list(journal.folder.glob("p*.npz"))),
        "pretouched": pretouch,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_legacy(shape, n_objects: int, seed: int = 0) -> dict:
    """The previous main's commit path: full-slice regions, full scans, one whole-bbox autosave file."""
    from napari_limnet.io.files import atomic_write

    rng = np.random.default_rng(seed)
    committed = np.zeros(shape, dtype=np.uint16)
    ui, save = [], []
    folder = Path(tempfile.mkdtemp())
    for i in range(n_objects):
        center = (rng.uniform(20, shape[0] - 20), rng.uniform(60, shape[1] - 60), rng.uniform(60, shape[2] - 60))
        radii = (rng.uniform(10, 20), rng.uniform(20, 60), rng.uniform(20, 60))
        blob = Blob(shape, center, radii)
        t0 = time.perf_counter()
        oid = int(committed.max()) + 1  # next_free_id scanned the volume
        old = np.flatnonzero((committed == oid).reshape(shape[0], -1).any(1))  # and again for the old voxels
        slices = [z for z in range(shape[0]) if blob[z].any()]
        zs = sorted(set(slices) | set(old.tolist()))
        z0, z1 = zs[0], zs[-1] + 1
        before = np.array(committed[z0:z1])
        new = before.copy()
        new[new == oid] = 0
        for z in slices:
            m = blob[z]
            new[z - z0][m & (new[z - z0] == 0)] = oid
        committed[z0:z1] = new
        ui.append(time.perf_counter() - t0)
        t1 = time.perf_counter()  # the old autosave: the labels' bounding box, compressed, on the UI thread
        nz = [np.flatnonzero(np.moveaxis(committed, ax, 0).reshape(shape[ax], -1).any(1)) for ax in range(3)]
        crop = committed[tuple(slice(int(a[0]), int(a[-1]) + 1) for a in nz)]
        atomic_write(folder / "autosave.npz", lambda tmp, crop=crop: np.savez_compressed(open(tmp, "wb"), crop=crop))
        save.append(time.perf_counter() - t1)
        if i >= 9 and (time.perf_counter() - t0) * n_objects > 600:
            break  # it would take too long: 10+ commits are enough to see the trend
    return {"shape": list(shape), "objects_timed": len(ui),
            "commit_ui_ms": {"median": 1000 * statistics.median(ui)},
            "autosave_ui_ms": {"median": 1000 * statistics.median(save)},
            "commit_plus_autosave_ui_ms": {"median": 1000 * statistics.median([a + b for a, b in zip(ui, save)])}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="*", default=["300x512x512", "1000x1024x1024"])
    p.add_argument("--objects", type=int, default=200)
    p.add_argument("--legacy", action="store_true", help="also time the previous commit path")
    p.add_argument("--pretouch", action="store_true",
                   help="also time the new path with the label memory faulted in beforehand (first-touch page faults "
                        "of freshly allocated labels are expensive on some machines)")
    p.add_argument("--out", default="docs/robustness")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        kind, size = a.worker.split(":")
        shape = tuple(int(v) for v in size.split("x"))
        out = run_legacy(shape, a.objects) if kind == "legacy" else run(shape, a.objects, pretouch=kind == "pretouched")
        print(json.dumps(out))
        return
    import subprocess

    report = {"runs": []}
    for size in a.sizes:
        for kind in ["new"] + (["pretouched"] if a.pretouch else []) + (["legacy"] if a.legacy else []):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, LIMNET_CACHE_DIR=cache, PYTHONPATH=str(ROOT / "src"))
                res = subprocess.run([sys.executable, __file__, "--worker", f"{kind}:{size}", "--objects", str(a.objects)],
                                     capture_output=True, text=True, env=env)
            if res.returncode != 0:
                print(f"{kind} {size}: ERROR {res.stderr[-1500:]}")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            r["kind"] = kind
            report["runs"].append(r)
            print(f"{kind:<7} {size:<16} " + json.dumps({k: v for k, v in r.items() if k not in ("shape", "kind")}), flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "commit_latency.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {out / 'commit_latency.json'}")


if __name__ == "__main__":
    main()
