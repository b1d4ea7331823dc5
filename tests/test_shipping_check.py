"""The rule that decides whether candidate weights replace the shipped ones (benchmark --candidate)."""

import pytest

from napari_limnet.benchmark import shipping_check


def _summary(old: dict, new: dict) -> dict:
    return {g: {"n": 1, "limnet": {"dice": old[g]}, "candidate": {"dice": new[g]}} for g in old}


OLD = {"all_real": [0.4, 0.5, 0.6], "macaque": [0.2, 0.3, 0.35], "synthetic": [0.4, 0.6, 0.64]}


def test_a_better_candidate_ships():
    new = {"all_real": [0.45, 0.55, 0.66], "macaque": [0.195, 0.35, 0.4], "synthetic": [0.4, 0.6, 0.64]}
    check = shipping_check(_summary(OLD, new))
    assert check["ship"] and check["all_real_last_round_gain"] == pytest.approx(0.06)
    assert check["worst_round_change_per_group"]["macaque"] == pytest.approx(-0.005)


@pytest.mark.parametrize("group, curve, failing", [
    ("all_real", [0.45, 0.55, 0.60], "improves_all_real"),           # no gain at the last round
    ("synthetic", [0.4, 0.58, 0.65], "no_group_lower"),              # 0.02 lower at round 2
    ("macaque", [0.3, 0.45, 0.44], "curves_non_decreasing"),         # a round that makes it worse
])
def test_each_rule_can_veto(group, curve, failing):
    new = {"all_real": [0.45, 0.55, 0.66], "macaque": [0.2, 0.35, 0.4], "synthetic": [0.4, 0.6, 0.64]}
    new[group] = curve
    check = shipping_check(_summary(OLD, new))
    assert not check["ship"] and not check[failing]
    assert sum(not check[k] for k in ("improves_all_real", "no_group_lower", "curves_non_decreasing")) == 1


def test_the_check_needs_real_cases():
    with pytest.raises(ValueError, match="all_real"):
        shipping_check({"synthetic": {"n": 1, "limnet": {"dice": [0.5]}, "candidate": {"dice": [0.6]}}})
