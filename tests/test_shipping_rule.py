"""Issue 35: the shipping rule over pooled jitter seeds prints SHIP or NOT, and why."""

import numpy as np

from napari_limnet.evaluation.shipping_rule import shipping_rule, verdict_text


def report(change_by_group: dict, seeds=range(1, 9), cases_per_group=None, noise=0.005):
    """Rows of 'limnet' and 'candidate' curves: candidate = limnet + the group's change (+ seeded noise)."""
    rng = np.random.default_rng(0)
    rows = []
    sizes = {"macaque": 16, "mni152": 1, "nuclei3d": 10, "nuclei_confocal": 9, "train": 40, **(cases_per_group or {})}
    for group, change in change_by_group.items():
        for c in range(sizes[group]):
            for s in seeds:
                base = np.linspace(0.4, 0.7, 6)
                cand = np.clip(base + np.asarray(change) + rng.normal(0, noise, 6), 0, 1)
                rows.append({"name": f"{group}_{c}", "group": group, "robot_seed": s,
                             "limnet": {"dice": base.tolist()}, "candidate": {"dice": cand.tolist()}})
    return {"cases": rows}


def test_a_clear_gain_everywhere_ships():
    r = shipping_rule(report({"macaque": 0.04, "mni152": -0.2, "nuclei3d": 0.03, "nuclei_confocal": 0.03, "train": 0.01}))
    assert r["ship"], r["reasons"]
    text = verdict_text(r)
    assert text.startswith("SHIP") and "mni152 (1 cases) (reported, not gating)" in text


def test_too_few_seeds_a_falling_group_or_training_structures_say_not_and_why():
    r = shipping_rule(report({"macaque": 0.04, "nuclei3d": 0.03, "nuclei_confocal": 0.03, "train": 0.01}, seeds=range(1, 5)))
    assert not r["ship"] and any("4 robot jitter seed(s)" in x for x in r["reasons"])
    r = shipping_rule(report({"macaque": 0.08, "nuclei3d": -0.03, "nuclei_confocal": 0.03, "train": 0.01}))
    assert not r["ship"] and any(x.startswith("nuclei3d falls by") for x in r["reasons"])
    r = shipping_rule(report({"macaque": 0.04, "nuclei3d": 0.03, "nuclei_confocal": 0.03, "train": -0.02}))
    assert not r["ship"] and any("training structures fall" in x for x in r["reasons"])
    assert verdict_text(r).startswith("NOT")


def test_a_small_or_uncertain_gain_does_not_ship():
    r = shipping_rule(report({"macaque": 0.01, "nuclei3d": 0.01, "nuclei_confocal": 0.01, "train": 0.0}))
    assert not r["ship"] and any("under 0.02" in x for x in r["reasons"])
    r = shipping_rule(report({"macaque": 0.03, "nuclei3d": 0.03, "nuclei_confocal": 0.03, "train": 0.0}, noise=0.3))
    assert not r["ship"] and any("interval" in x for x in r["reasons"])
