"""LimNetController: the public contract (docs/design.md, README), errors, undo/reset/cancel, determinism, lazy volumes."""

import numpy as np
import pytest

from napari_limnet import Cancelled, LimNetController
from napari_limnet.controller import LAZY_MASK_VOXELS
from napari_limnet.evaluation.metrics import dice
from napari_limnet.inference.mask_store import LazyMask
from napari_limnet.modeling.weights import LimNetModels


@pytest.fixture
def ctrl(fakes, tube):
    vol, truth = tube
    return LimNetController(vol, spacing=(2.0, 1.0, 1.0), models=fakes(-10.0)), truth


def test_one_round_segments_and_propagates(ctrl):
    c, truth = ctrl
    mask = c.interact(15, positive=[(24, 24)])
    assert mask.shape == truth.shape and mask.dtype == bool
    assert dice(mask, truth) > 0.97
    assert c.nonempty_slices() == list(range(8, 22))
    assert c.n_rounds == 1 and c.interactions == {15: ([(24.0, 24.0)], [])}
    np.testing.assert_array_equal(c.mask, mask)
    np.testing.assert_array_equal(c.slice_mask(10), mask[10])


def test_propagation_stops_at_a_slice_the_user_interacted_with(fakes, tube):
    vol, truth = tube
    c = LimNetController(vol, models=fakes(10.0))  # MRF keeps the old mask when asked
    c.interact(10, [(24, 24)])
    c.interact(18, [(24, 24)])
    assert all(c.state.sources[s] == 10 for s in range(11, 18)), "slices between the rounds kept (MRF: old)"
    assert all(c.state.sources[s] == 18 for s in range(19, 22)), "content beyond the new slice is the new round's"


def test_a_negative_only_round_erases_the_slice_and_cuts_the_leak(ctrl):
    c, truth = ctrl
    c.interact(15, [(24, 24)])
    mask = c.interact(18, negative=[(24, 24)])
    assert not mask[18:].any()
    assert mask[8:18].any(axis=(1, 2)).all()


@pytest.mark.parametrize("spread", [False, True])
def test_a_trim_changes_only_its_slice_unless_trims_spread(fakes, tube, spread):
    from dataclasses import replace

    from napari_limnet.inference.stopping import StoppingConfig

    vol, truth = tube
    yy, xx = np.mgrid[:48, :48]
    blob = (yy - 24) ** 2 + (xx - 38) ** 2 <= 9  # a bright neighbour, apart from the tube in-plane
    leak = np.zeros_like(truth)
    leak[8:22, blob] = True
    vol = vol.copy()
    vol[leak] = 100.0
    c = LimNetController(vol, spacing=(2.0, 1.0, 1.0), models=fakes(-10.0),
                         stopping=replace(StoppingConfig(), propagate_trims=spread))
    c.load_mask(truth | leak)
    before = c.mask.copy()
    mask = c.interact(15, negative=[(24, 38)])
    assert not (mask & ~before).any(), "a trim never adds voxels"
    assert not mask[15][blob].any() and (mask[15] == truth[15]).all()
    others = [s for s in range(8, 22) if s != 15]
    if spread:
        assert all((mask[s] == truth[s]).all() for s in others), "the trim reached every slice of the object"
    else:
        assert all((mask[s] == before[s]).all() for s in others)
    assert c.undo() and (c.mask == before).all()


def test_undo_restores_each_previous_mask_exactly(ctrl):
    c, _ = ctrl
    m1 = c.interact(15, [(24, 24)]).copy()
    c.interact(18, negative=[(24, 24)])
    assert c.undo() is True
    np.testing.assert_array_equal(c.mask, m1)
    assert c.undo() is True and not c.mask.any()
    assert c.undo() is False and c.n_rounds == 0


def test_reset_forgets_everything(ctrl):
    c, _ = ctrl
    c.interact(15, [(24, 24)])
    c.reset()
    assert c.n_rounds == 0 and not c.mask.any() and c.interactions == {}


def test_cancel_leaves_the_state_exactly_as_it_was(ctrl):
    c, _ = ctrl
    c.interact(15, [(24, 24)])
    state, before = c.state, c.mask.copy()
    calls = []

    def cancel_after_three():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        c.interact(12, [(24, 24)], should_cancel=cancel_after_three)
    assert c.state is state and c.n_rounds == 1
    np.testing.assert_array_equal(c.mask, before)


def test_cancel_from_another_thread(ctrl):
    c, _ = ctrl
    seen = []

    def progress(done, total, message):
        seen.append((done, total, message))
        if done >= 3:
            c.cancel()  # what the GUI's Cancel button does from the main thread

    with pytest.raises(Cancelled):
        c.interact(15, [(24, 24)], progress=progress)
    assert c.n_rounds == 0 and not c.mask.any()


def test_progress_reports_done_out_of_total(ctrl):
    c, _ = ctrl
    seen = []
    c.interact(15, [(24, 24)], progress=lambda d, t, m: seen.append((d, t, m)))
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and seen[-1][0] == seen[-1][1] and seen[-1][2] == "done"


def test_same_clicks_give_the_same_mask_with_real_networks(tube):
    vol, _ = tube
    models = LimNetModels.random(seed=3)
    masks = []
    for _ in range(2):
        c = LimNetController(vol, models=models)
        c.interact(15, [(24, 24)], [(5, 5)])
        masks.append(c.interact(16, [(20, 20)]).copy())
    np.testing.assert_array_equal(masks[0], masks[1])


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64])
def test_any_real_dtype(fakes, dtype):
    rng = np.random.default_rng(1)
    vol = (rng.random((6, 20, 24)) * 100).astype(dtype)
    c = LimNetController(vol, spacing=(6.5, 0.5, 0.5), models=fakes())
    assert c.interact(3, [(10, 12)]).shape == (6, 20, 24)


BAD_VOLUMES = [
    (np.zeros((20, 20), np.float32), "2D"),
    (np.zeros((16, 16, 3), np.uint8) + np.arange(3, dtype=np.uint8), "RGB"),
    (np.zeros((4, 16, 16, 3), np.uint8), "RGB"),
    (np.zeros((2, 4, 16, 16), np.float32), "4 dimensions"),
    (np.zeros((2, 2, 4, 16, 16), np.float32), "5 dimensions"),
    (np.zeros((0, 16, 16), np.float32), "empty axis"),
    (np.ones((4, 16, 16), bool), "boolean"),
    (np.ones((4, 16, 16), np.complex64), "complex"),
    (np.full((4, 16, 16), 5.0, np.float32), "constant"),
]


@pytest.mark.parametrize("volume, words", BAD_VOLUMES)
def test_bad_volumes_get_a_clear_message(fakes, volume, words):
    with pytest.raises(ValueError, match=words):
        LimNetController(volume, models=fakes())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_volumes_are_refused(fakes, bad):
    vol = np.random.rand(4, 16, 16).astype(np.float32)
    vol[2, 3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        LimNetController(vol, models=fakes())


@pytest.mark.parametrize("spacing", [(1, 1), (0, 1, 1), (1, -2, 1), (1, np.nan, 1), "abc"])
def test_bad_spacing(fakes, tube, spacing):
    with pytest.raises(ValueError, match="spacing"):
        LimNetController(tube[0], spacing=spacing, models=fakes())


BAD_ROUNDS = [
    (dict(z=30, positive=[(5, 5)]), "outside the volume"),
    (dict(z=-1, positive=[(5, 5)]), "outside the volume"),
    (dict(z=2.5, positive=[(5, 5)]), "integer"),
    (dict(z="3", positive=[(5, 5)]), "integer"),
    (dict(z=3, positive=[(48, 5)]), "outside the slice"),
    (dict(z=3, positive=[(5, 5)], negative=[(-3, 5)]), "outside the slice"),
    (dict(z=3, positive=[(np.nan, 5)]), "NaN"),
    (dict(z=3, positive=[(1, 2, 3)]), r"\(y, x\) pairs"),
    (dict(z=3), "no clicks"),
    (dict(z=3, positive=[], negative=[]), "no clicks"),
]


@pytest.mark.parametrize("kwargs, words", BAD_ROUNDS)
def test_bad_rounds_raise_and_change_nothing(ctrl, kwargs, words):
    c, _ = ctrl
    c.interact(15, [(24, 24)])
    state, before = c.state, c.mask.copy()
    with pytest.raises(ValueError, match=words):
        c.interact(**kwargs)
    assert c.state is state
    np.testing.assert_array_equal(c.mask, before)


def test_lazy_dask_volume_is_read_slice_by_slice(fakes, tube, monkeypatch):
    da = pytest.importorskip("dask.array")
    vol, truth = tube
    lazy = da.from_array(vol, chunks=(1, 48, 48))
    c = LimNetController(lazy, models=fakes())
    assert isinstance(c.interact(15, [(24, 24)]), np.ndarray)  # small lazy volume: plain numpy mask
    monkeypatch.setattr("napari_limnet.controller.LAZY_MASK_VOXELS", 10)
    out = c.mask
    assert isinstance(out, LazyMask) and out.shape == truth.shape
    dense = np.asarray(out)
    np.testing.assert_array_equal(out[15], dense[15])
    np.testing.assert_array_equal(out[10, 20:30, 5:40], dense[10, 20:30, 5:40])
    np.testing.assert_array_equal(out[5:12], dense[5:12])
    assert out.sum() == dense.sum() and LAZY_MASK_VOXELS > 10


def test_nan_in_a_lazy_volume_is_reported_when_read(fakes, tube):
    da = pytest.importorskip("dask.array")
    vol = tube[0].copy()
    vol[16, 20, 20] = np.nan
    c = LimNetController(da.from_array(vol, chunks=(1, 48, 48)), models=fakes())
    with pytest.raises(ValueError, match="NaN"):
        c.interact(15, [(24, 24)])
    assert c.n_rounds == 0


def test_preview_changes_nothing_and_matches_the_round(ctrl):
    c, truth = ctrl
    p = c.preview(15, [(24, 24)])
    assert p.shape == truth.shape[1:] and c.n_rounds == 0
    m = c.interact(15, [(24, 24)])
    np.testing.assert_array_equal(m[15], p)


def test_shipped_models_are_the_default(tube):
    c = LimNetController(tube[0])
    assert c.models.trained and str(c.models.device) == "cpu"


def test_unavailable_device_is_a_clear_error(tube):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="no CUDA"):
        LimNetController(tube[0], device="cuda")


def test_memory_mapped_volume_is_read_lazily(fakes, tube, tmp_path):
    vol, truth = tube
    path = tmp_path / "vol.npy"
    np.save(path, vol)
    mm = np.load(path, mmap_mode="r")
    c = LimNetController(mm, models=fakes())
    assert c._source.lazy
    assert dice(c.interact(15, [(24, 24)]), truth) > 0.97


def test_the_undo_history_is_bounded_but_the_round_log_is_complete(fakes, tube):
    vol, _ = tube
    c = LimNetController(vol, models=fakes(-10.0))
    c.history_limit = 3
    for z in (10, 12, 14, 16, 18, 20):
        c.interact(z, [(24, 24)])
    assert [r[0] for r in c.rounds()] == [10, 12, 14, 16, 18, 20], "every round's clicks are still known"
    assert len(c._history) == 4, "only the last 3 rounds stay undoable (each shares unchanged slices)"
    assert c.undo() and c.undo() and c.undo() and not c.undo()
    assert c.n_rounds == 3 and [r[0] for r in c.rounds()] == [10, 12, 14]
    shared = [id(m) for m in c._history[0].masks.values()]
    assert len(set(shared)) == len(shared)


@pytest.mark.parametrize("growth", [2.0, None])
def test_erasing_a_slice_cuts_a_growing_leak_where_it_outgrew_the_clicked_slice(fakes, growth):
    """A thin tube runs into a widening cone above it (a touching structure of the same brightness):
    propagation from the tube follows it to the end. Erasing a slice near the cone's end says the
    object ended before there; with the growth cut the chain is cut at the first slice whose mask
    is twice the clicked slice's, without it only the erased slice and what lay beyond it go."""
    from dataclasses import replace

    from napari_limnet.inference.stopping import LeakCutRule, StoppingConfig

    shape = (30, 48, 48)
    vol = np.zeros(shape, dtype=np.float32)
    yy, xx = np.mgrid[:48, :48]
    radius = {z: 3 for z in range(6, 16)} | {z: 3 + (z - 15) for z in range(16, 28)}  # 3 px, then widening
    for z, r in radius.items():
        vol[z][(yy - 24) ** 2 + (xx - 24) ** 2 <= r**2] = 100.0
    vol += np.linspace(0, 1, 48, dtype=np.float32)[None, None, :]
    stopping = replace(StoppingConfig(), valley=None, drift_tolerance=None, leak_cut=replace(LeakCutRule(), growth=growth))
    c = LimNetController(vol, models=fakes(-10.0), stopping=stopping)
    first = c.interact(10, [(24, 24)])
    assert first[6:28].any(axis=(1, 2)).all(), "round 1 followed the cone to its end"
    mask = c.interact(26, negative=[(24, 24)])
    areas = first.sum(axis=(1, 2))
    kept = [z for z in range(11, 26) if mask[z].any()]
    if growth is None:
        assert kept == list(range(11, 26)) and not mask[26:].any()
    else:
        end = next(z for z in range(11, 26) if areas[z] >= 2 * areas[10])
        assert kept == list(range(11, end)) and not mask[end:].any()
        assert end <= 17
    assert mask[6:11].any(axis=(1, 2)).all(), "the other side of the clicked slice is untouched"


def test_refining_a_loaded_mask_a_negative_click_cuts_its_leak_too(fakes):
    """Issue 38: while refining (a loaded mask as round 0), erasing a slice near the end of a leak
    cut only that slice; now the loaded object's chain is cut from the slice it was clicked on."""
    from dataclasses import replace

    from napari_limnet.inference.stopping import LeakCutRule, StoppingConfig

    shape = (30, 48, 48)
    vol = np.zeros(shape, dtype=np.float32)
    yy, xx = np.mgrid[:48, :48]
    loaded = np.zeros(shape, dtype=bool)
    for z in range(6, 28):  # a tube (radius 3), then a cone widening into a touching structure
        r = 3 if z < 16 else 3 + (z - 15)
        disk = (yy - 24) ** 2 + (xx - 24) ** 2 <= r**2
        vol[z][disk] = 100.0
        loaded[z] = disk
    stopping = replace(StoppingConfig(), valley=None, drift_tolerance=None, leak_cut=replace(LeakCutRule(), growth=2.0))
    areas = loaded.sum(axis=(1, 2))
    end = next(z for z in range(11, 26) if areas[z] >= 2 * areas[10])
    for anchors, expected in (((10,), list(range(11, end))), ((), list(range(11, 26)))):
        c = LimNetController(vol, models=fakes(-10.0), stopping=stopping)
        c.load_mask(loaded, anchors=anchors)
        mask = c.interact(26, negative=[(24, 24)])
        kept = [z for z in range(11, 27) if mask[z].any()]
        # clicked on slice 10: cut where the cone outgrew it; without anchors the largest slice (27)
        # is the anchor, on the far side of 26: nothing but the erased slice goes
        assert kept == expected and not mask[26].any(), (anchors, kept)
        assert mask[6:11].any(axis=(1, 2)).all()
