"""The first thing a user sees: the demo's clicks segment the demo sample well."""


from napari_limnet import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.io.files import read_volume
from napari_limnet.data.samples import ct_abdomen


def test_the_demo_clicks_segment_the_kidney():
    s = ct_abdomen()
    clicks = s.demo_clicks()
    assert len(clicks) == 3 and all(s.truth[z, y, x] for z, y, x in clicks)
    ctrl = LimNetController(s.image, spacing=s.spacing)
    for z, y, x in clicks:
        mask = ctrl.interact(z, [(y, x)], [])
    assert dice(mask, s.truth) >= 0.9


def test_the_headless_demo_writes_the_same_mask(tmp_path):
    from napari_limnet.demo import run_headless

    assert run_headless(str(tmp_path), "ct_abdomen") == 0
    mask = read_volume(tmp_path / "ct_abdomen_mask.nii.gz").data.astype(bool)
    assert dice(mask, ct_abdomen().truth) >= 0.9
    assert (tmp_path / "ct_abdomen_overlay.png").stat().st_size > 1000
