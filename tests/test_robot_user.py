"""The robot user's optional click jitter: off by default, seeded, inside the click's region; the
benchmark's pooling over several jitter seeds."""

import json

import numpy as np
import pytest

from napari_limnet.evaluation.robot_user import first_click, jittered, run_session


def _ball(shape=(12, 40, 40), center=(6, 20, 20), radius=8) -> np.ndarray:
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return ((z - center[0]) * 2.0) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2 <= radius**2


def _half_right(truth):
    """A fake interact: the left half of the object, so later rounds click positive on the right."""

    def interact(z, positive, negative):
        pred = truth.copy()
        pred[:, :, 20:] = False
        return pred

    return interact


def test_jittered_stays_in_its_region_and_window():
    region = np.zeros((30, 30), dtype=bool)
    region[5:25, 5:25] = True
    rng = np.random.default_rng(0)
    assert jittered(region, (15, 15), 0, rng) == (15, 15)
    points = {jittered(region, (6, 6), 3, rng) for _ in range(200)}
    assert len(points) > 5
    assert all(region[p] and abs(p[0] - 6) <= 3 and abs(p[1] - 6) <= 3 for p in points)


def test_no_jitter_is_the_exact_protocol_and_a_seed_repeats_its_clicks():
    truth = _ball()
    exact = run_session(_half_right(truth), truth, rounds=3)
    assert exact.clicks == run_session(_half_right(truth), truth, rounds=3, jitter=0, seed=5).clicks
    a = run_session(_half_right(truth), truth, rounds=3, jitter=2, seed=1)
    b = run_session(_half_right(truth), truth, rounds=3, jitter=2, seed=1)
    assert a.clicks == b.clicks and a.dice == pytest.approx(b.dice)
    z, yx = first_click(truth)
    (z1, yx1, positive), *later = a.clicks
    assert z1 == z and positive and truth[z1][yx1] and max(abs(yx1[0] - yx[0]), abs(yx1[1] - yx[1])) <= 2
    for zc, (y, x), pos in later:  # the missed right half: positive clicks on it
        assert pos and truth[zc, y, x] and x >= 20
    seeds = {tuple(run_session(_half_right(truth), truth, rounds=3, jitter=2, seed=s).clicks[0][1]) for s in range(8)}
    assert len(seeds) > 1


def test_the_benchmark_pools_several_jitter_seeds_and_keeps_each_seeds_curve(tmp_path):
    from napari_limnet.benchmark import main

    args = ["--no-dev", "--synthetic", "0", "--packed-nuclei", "1", "--rounds", "2", "--methods", "limnet",
            "--threads", "1", "--out", str(tmp_path), "--robot-jitter", "2"]
    report = main([*args, "--robot-seeds", "1", "2", "--name", "pooled"])
    single = [main([*args, "--robot-seed", str(s), "--name", f"seed{s}"]) for s in (1, 2)]
    entry = report["summary"]["packed_nuclei"]
    assert entry["n"] == 1 and entry["sessions"] == 2
    assert [c["robot_seed"] for c in report["cases"]] == [1, 2] and report["robot_seeds"] == [1, 2]
    assert report["robot_seed"] is None and single[0]["robot_seed"] == 1 and single[0]["robot_seeds"] is None
    by_seed = entry["limnet"]["dice_by_seed"]
    for s, rep in zip(("1", "2"), single):
        assert by_seed[s] == rep["summary"]["packed_nuclei"]["limnet"]["dice"], "a seed's curve is that seed's own run"
    assert entry["limnet"]["dice"] == pytest.approx([(a + b) / 2 for a, b in zip(by_seed["1"], by_seed["2"])], abs=1e-4)
    assert json.loads((tmp_path / "pooled.json").read_text())["summary"] == report["summary"]
    with pytest.raises(SystemExit):
        main(["--no-dev", "--synthetic", "0", "--packed-nuclei", "1", "--robot-seeds", "1", "2", "--out", str(tmp_path)])
