"""A long session stays healthy: hundreds of rounds, commits, undos and cancels on one volume.

Memory: the undo history is stored as differences -- each round's state shares every slice mask
it did not change with the state before it (immutable per-slice crops), and each commit keeps
only its object's bounding box. The test measures the history's own size per round, the RSS
growth after warm-up, and that every undo is still exact at the end.

CI runs 80 rounds / 16 commits on 256x256x100 with the shipped networks; ``--runslow`` runs the
full 500 rounds / 100 commits on 512x512x300.
"""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, numpy as np, torch
    from napari_limnet.evaluation.memory import peak_rss_mb
    torch.set_num_threads(2)
    from napari_limnet import LimNetController, Cancelled
    from napari_limnet.annotation_session import AnnotationSession
    ROUNDS, COMMITS, Z, Y = (int(v) for v in sys.argv[1:5])
    rng = np.random.default_rng(0)
    vol = rng.normal(40, 12, size=(Z, Y, Y)).astype(np.int16)
    centres = []
    for k in range(12):  # twelve bright ellipsoids to annotate, again and again
        c = (rng.uniform(15, Z - 15), rng.uniform(40, Y - 40), rng.uniform(40, Y - 40))
        r = (rng.uniform(5, 10), rng.uniform(10, 25), rng.uniform(10, 25))
        zz, yy, xx = np.ogrid[int(c[0] - r[0]) : int(c[0] + r[0]) + 1, : Y, : Y]
        blob = ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2 <= 1
        vol[int(c[0] - r[0]) : int(c[0] + r[0]) + 1][blob] += 150
        centres.append(c)
    committed = np.zeros(vol.shape, np.uint16)
    ctrl = LimNetController(vol, spacing=(2.0, 1.0, 1.0))
    sess = AnnotationSession(ctrl, committed)
    def rss_mb():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
    def state_sha():
        return hashlib.sha1(np.packbits(np.asarray(ctrl.mask)).tobytes() + committed.tobytes()).hexdigest()
    trail = []  # (action, sha before the action) for the final undo check
    rounds = commits = cancels = undos = 0
    warm = None
    step = 0
    while rounds < ROUNDS or commits < COMMITS:
        step += 1
        c = centres[rng.integers(len(centres))]
        z = int(np.clip(round(c[0] + rng.uniform(-4, 4)), 0, Z - 1))
        y, x = int(c[1] + rng.uniform(-5, 5)), int(c[2] + rng.uniform(-5, 5))
        u = rng.random()
        if rounds < ROUNDS and (u < 0.75 or commits >= COMMITS):
            before = state_sha()
            if u < 0.05:  # a cancelled round changes nothing
                try:
                    sess.run_round(z, [(y, x)], [], progress=lambda *a: ctrl.cancel())
                except Cancelled:
                    cancels += 1
                assert state_sha() == before
                continue
            pos = [(y, x)] if rng.random() < 0.8 else []
            neg = [] if pos else [(y + 30, x)]
            sess.run_round(z, pos, neg)
            trail.append(before)
            rounds += 1
        else:
            before = state_sha()
            record = sess.next_object() if rng.random() < 0.5 else sess.commit()
            if record is None:
                continue
            commits += 1
            if sess.controller.n_rounds:  # commit (rounds stay): one history entry
                trail.append(before)
            else:  # next object: the commit is undoable, the reset rounds are not
                trail = [t for t in trail[:0]]
            if rng.random() < 0.1:
                assert sess.undo() in ("commit", "round")
                undos += 1
                if trail:
                    trail.pop()
        if warm is None and rounds >= 20:
            warm = rss_mb()
    end_rss = rss_mb()
    # the history's own memory: distinct slice-mask crops referenced by all states, per round
    seen, nbytes = set(), 0
    for st in ctrl._history:
        for m in st.masks.values():
            if id(m) not in seen:
                seen.add(id(m)); nbytes += m.crop.nbytes + 64
    commit_bytes = sum(a.before.nbytes for a in sess._history if hasattr(a, "before"))
    # every undo still exact: walk back through the trail
    exact = True
    while trail:
        expected = trail.pop()
        if sess.undo() is None:
            break
        exact &= state_sha() == expected
    print(json.dumps({"rounds": rounds, "commits": commits, "undos": undos, "cancels": cancels,
                      "rss_growth_mb": end_rss - warm, "history_kb_per_round": nbytes / 1024 / max(1, len(ctrl._history) - 1),
                      "commit_undo_kb": commit_bytes / 1024, "undo_exact": exact,
                      "peak_rss_mb": peak_rss_mb()}))
    """
)


def play(rounds, commits, z, y):
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(rounds), str(commits), str(z), str(y)],
                         capture_output=True, text=True, timeout=3000)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def check(out, rounds, commits):
    assert out["rounds"] == rounds and out["commits"] >= commits
    assert out["undo_exact"], "every undo restores exactly the state before its action"
    assert out["rss_growth_mb"] <= 200, out
    print(out)


def test_a_long_session_stays_healthy():
    check(play(80, 16, 100, 256), 80, 16)


@pytest.mark.slow
def test_500_rounds_and_100_commits_on_512x512x300():
    out = play(500, 100, 300, 512)
    print(out)
    check(out, 500, 100)
