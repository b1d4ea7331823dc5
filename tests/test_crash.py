"""Crash at any moment, lose nothing committed: a real session killed with SIGKILL, then restarted.

Each kill point starts ``crash_child.py`` (rounds, commits, undos, exports with the shipped nets,
the AnnotationSession and the autosave journal as the widget wires them) and kills it: at a
chosen phase (inside a propagation, between a commit and its autosave, half-way through an
autosave patch, half-way through an export) or at a random moment. Then, as a user restarting:

- the autosave restores exactly the last state whose autosave had finished (or a later one whose
  autosave also made it): every object committed before the kill is there, voxel for voxel;
- the export file, if any, is a complete file holding one of the exported states;
- no temporary file is left once the next start has cleaned up, and a half-written patch never
  stops the restore.

CI runs a seeded subset; ``make test-slow`` (``--runslow``) runs all 52 kill points.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

CHILD = Path(__file__).with_name("crash_child.py")
PHASES = [f"{p}:{n}" for p in ("round", "commit", "autosave", "export") for n in (1, 2, 4)]
RANDOM = [("none", seed) for seed in range(40)]
ALL = [(k, 100 + i) for i, k in enumerate(PHASES)] + RANDOM
QUICK = [("round:2", 101), ("commit:2", 102), ("autosave:2", 103), ("export:1", 104), ("none", 7), ("none", 23)]


def run_and_kill(kill_at: str, seed: int, work: Path) -> list[str]:
    env = dict(os.environ, LIMNET_CACHE_DIR=str(work / "cache"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(CHILD), str(seed), kill_at, str(work)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    if kill_at == "none":  # a random moment after start-up
        rng = np.random.default_rng(seed)
        first = proc.stdout.readline()
        assert first.strip() == "READY", proc.stderr.read()[-2000:]
        time.sleep(float(rng.uniform(0.2, 6.0)))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        lines = [first.strip()] + out.splitlines()
    else:
        out, err = proc.communicate(timeout=300)
        lines = out.splitlines()
        assert proc.returncode == -signal.SIGKILL, f"the child should have died at {kill_at}: {err[-2000:]}"
    return lines


def restart_and_check(lines: list[str], work: Path) -> dict:
    """What a user's next start finds; returns counts for the report."""
    os.environ["LIMNET_CACHE_DIR"] = str(work / "cache")
    from napari_limnet import autosave
    from napari_limnet.io.files import cleanup_stale_temps, read_volume
    from napari_limnet.data.samples import ct_abdomen

    cleanup_stale_temps()  # what the widget and the CLI do when they start
    key = autosave.session_key(None, "ct", ct_abdomen().image.shape)
    found = autosave.load(key)  # a half-written patch must not stop this
    saved = [ln.split()[1] for ln in lines if ln.startswith("SAVED")]
    pending = [ln.split()[1] for ln in lines if ln.startswith("PENDING")]
    restored_sha = hashlib.sha1(np.ascontiguousarray(found[0]).tobytes()).hexdigest() if found else None
    if saved:
        # the last state whose autosave finished, or a later one whose autosave also made it
        later = pending[pending.index(saved[-1]):] if saved[-1] in pending else [saved[-1]]
        assert restored_sha in later, f"restored {restored_sha}, expected one of {later}"
    voxels = int((found[0] > 0).sum()) if found else 0
    exports = [ln.split()[1] for ln in lines if ln.startswith("EXPORT")]
    export = work / "export.nii.gz"
    if export.exists():
        data = read_volume(export).data  # complete and readable
        assert hashlib.sha1(np.ascontiguousarray(data.astype(np.uint16)).tobytes()).hexdigest() in exports
    leftovers = [p.name for p in work.rglob(".*") if p.is_file()]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return {"saved_states": len(saved), "restored_voxels": voxels, "exports": len(exports)}


def campaign(points, tmp_path) -> list[dict]:
    report = []
    for i, (kill_at, seed) in enumerate(points):
        work = tmp_path / f"k{i}"
        work.mkdir()
        lines = run_and_kill(kill_at, seed, work)
        report.append({"kill_at": kill_at, "seed": seed, **restart_and_check(lines, work)})
    return report


def test_crashes_at_the_worst_moments_lose_nothing(tmp_path):
    report = campaign(QUICK, tmp_path)
    assert len(report) == len(QUICK)
    assert sum(r["saved_states"] for r in report) > 0, "the kills happened after some commits"


@pytest.mark.slow
def test_52_kill_points_lose_no_voxel(tmp_path):
    report = campaign(ALL, tmp_path)
    assert len(report) >= 50
    print(f"\n{len(report)} kill points, {sum(r['saved_states'] for r in report)} saved states checked, 0 voxels lost")
