"""docs/research/training/cpu_sweep_2026-12-01/greedy/greedy_soup.py: the proxy objective and the refusal of dev reports."""

import json

import pytest


@pytest.fixture(scope="module")
def greedy_soup(load_script):
    return load_script("greedy_soup")


def test_objective_is_mean_gain_plus_mean_worst_round(greedy_soup):
    shipped = {"train": [0.4, 0.5, 0.6], "synthetic": [0.5, 0.6, 0.7], "only_shipped": [0.1, 0.1, 0.1]}
    candidate = {"train": [0.5, 0.6, 0.7], "synthetic": [0.5, 0.4, 0.7]}
    o = greedy_soup.objective(candidate, shipped)
    # train: +0.1 every round; synthetic: 0, -0.2, 0 -> gain (0.1 + -0.2/3) / 2, mean worst (0.1 - 0.2) / 2
    assert o["gain"] == pytest.approx((0.1 - 0.2 / 3) / 2, abs=1e-4)
    assert o["mean_worst"] == pytest.approx(-0.05, abs=1e-4)
    assert o["J"] == pytest.approx(o["gain"] + o["mean_worst"], abs=2e-4)
    assert o["worst"] == pytest.approx(-0.2, abs=1e-4) and o["worst_group"] == "synthetic"
    assert set(o["r6"]) == {"train", "synthetic"}  # groups in both only


def test_objective_without_shared_groups_is_refused(greedy_soup):
    with pytest.raises(ValueError, match="share no proxy group"):
        greedy_soup.objective({"train": [0.5]}, {"synthetic": [0.5]})


def test_a_report_with_dev_groups_is_refused(greedy_soup, tmp_path):
    report = {"summary": {"macaque": {"limnet": {"dice": [0.3]}}, "train": {"limnet": {"dice": [0.4]}}}}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(report))
    with pytest.raises(SystemExit, match="proxy cases only"):
        greedy_soup.main(["--start", str(tmp_path), "--ingredients", str(tmp_path), "--shipped-report", str(path),
                          "--out", str(tmp_path / "out")])
