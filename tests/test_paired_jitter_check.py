"""benchmarks/paired_jitter_check.py: candidate-minus-shipped changes paired by jitter seed."""

import pytest


def test_changes_are_paired_per_seed_over_shared_groups(load_script):
    check = load_script("paired_jitter_check")
    seed1 = ({"macaque": [0.2, 0.3], "mni152": [0.7, 0.7]}, {"macaque": [0.25, 0.28], "mni152": [0.6, 0.7]})
    seed2 = ({"macaque": [0.1, 0.2]}, {"macaque": [0.1, 0.3]})
    changes = check.paired_changes([seed1, seed2])
    assert list(changes) == ["macaque"]  # mni152 is missing from seed 2
    assert changes["macaque"] == [pytest.approx([0.05, -0.02]), pytest.approx([0.0, 0.1])]
    with pytest.raises(ValueError, match="no seeds"):
        check.paired_changes([])
