"""carry_cut: a trim's cut followed through the neighbouring slices' old masks (only ever removes pixels)."""

import numpy as np

from napari_limnet.inference.carry_cut import carry_cut, outward_steps, split_by_cut
from napari_limnet.inference.mask_store import SliceMask

SHAPE = (40, 60)


def disk(cy, cx, r):
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def bar(y0, y1, x0, x1):
    m = np.zeros(SHAPE, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def stack(n, leak_on=lambda s: True):
    """n slices of an object (disk) with a leak (a bar touching its right side) drifting 1 px per slice."""
    obj = {s: disk(20, 15, 8) for s in range(n)}
    leak = {s: bar(16 + (s % 3), 24 + (s % 3), 22, 50) & ~obj[s] if leak_on(s) else np.zeros(SHAPE, bool) for s in range(n)}
    return obj, leak


def test_split_by_cut_takes_the_leak_and_leaves_the_object():
    obj, leak = stack(2)
    cut = split_by_cut(obj[1] | leak[1], removed=leak[0], kept=obj[0])
    assert cut.any() and not (cut & obj[1]).any()
    assert (cut == leak[1]).mean() > 0.99


def test_split_by_cut_ignores_pieces_that_do_not_continue_the_removed_part():
    obj, leak = stack(2)
    far = bar(0, 4, 52, 60)  # nearer to the removed bar than to the object, but not touching its footprint
    cut = split_by_cut(obj[1] | far, removed=leak[0], kept=obj[0])
    assert not cut.any()


def test_carry_cut_removes_the_leak_on_every_neighbour_and_keeps_the_object():
    obj, leak = stack(7)
    old = {s: SliceMask.from_dense(obj[s] | leak[s]) for s in range(7)}
    out = carry_cut(old, 3, old[3], SliceMask.from_dense(obj[3]), 0, 6, SHAPE)
    assert sorted(out) == [0, 1, 2, 4, 5, 6]
    for s, m in out.items():
        new = m.dense(SHAPE)
        assert not (new & ~old[s].dense(SHAPE)).any(), "only removes pixels"
        assert (new & obj[s]).sum() == obj[s].sum(), "the object stays whole"
        assert (new & leak[s]).sum() <= 0.02 * leak[s].sum()


def test_carry_cut_stops_where_the_leak_ends_and_at_the_range():
    obj, leak = stack(8, leak_on=lambda s: s != 5)  # the leak breaks off on slice 5 (and reappears on 6, 7)
    old = {s: SliceMask.from_dense(obj[s] | leak[s]) for s in range(8)}
    out = carry_cut(old, 3, old[3], SliceMask.from_dense(obj[3]), 1, 7, SHAPE)
    assert sorted(out) == [1, 2, 4], "slice 0 is outside the range; the walk up stops at 5, so 6 and 7 keep theirs"


def test_carry_cut_never_empties_a_slice_and_ignores_an_erase():
    obj, leak = stack(3)
    old = {s: SliceMask.from_dense(obj[s] | leak[s]) for s in (1, 2)}
    old[0] = SliceMask.from_dense(leak[0] & bar(0, 40, 30, 60))
    out = carry_cut(old, 1, old[1], SliceMask.from_dense(obj[1]), 0, 2, SHAPE)
    assert 0 not in out and 2 in out, "slice 0 holds only the far end of the leak: the cut would empty it, so it keeps its mask"
    assert carry_cut(old, 1, old[1], None, 0, 2, SHAPE) == {}


def test_the_cut_walks_away_from_the_slice_the_mask_came_from():
    assert outward_steps(9, 12) == (-1,) and outward_steps(9, 4) == (1,)
    assert outward_steps(9, 9) == (1, -1) and outward_steps(9, None) == (1, -1)
    obj, leak = stack(7)
    old = {s: SliceMask.from_dense(obj[s] | leak[s]) for s in range(7)}
    out = carry_cut(old, 3, old[3], SliceMask.from_dense(obj[3]), 0, 6, SHAPE, steps=outward_steps(3, 6))
    assert sorted(out) == [0, 1, 2], "slices 4-6, between z and the source, keep their masks"
