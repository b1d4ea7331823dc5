"""Issue 37: pseudo-objects of blob-like volumes, their verdict, and learning without clicks."""

import numpy as np
import pytest

from napari_limnet.adaptation import learn_label_free, pseudo_objects
from napari_limnet.adaptation.label_free import choose_pseudo_objects
from napari_limnet.data.samples import ct_abdomen, mri_head
from napari_limnet.evaluation.metrics import mean_best_dice
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_volume


def test_textured_nuclei_give_trustworthy_pseudo_objects():
    image, truth = textured_nuclei_volume(0)
    labels, report = pseudo_objects(image, (1.0, 1.0, 1.0))
    assert report.suitable, report.text()
    assert abs(report.n_objects - (len(np.unique(truth)) - 1)) <= 3
    assert mean_best_dice(labels, truth) > 0.5
    assert labels.shape == image.shape and labels.dtype == np.uint16 and labels.max() == report.n_objects


@pytest.mark.parametrize("sample", [ct_abdomen, mri_head])
def test_organs_and_brains_are_not_suitable_and_say_why(sample):
    s = sample()
    _, report = pseudo_objects(s.image, s.spacing)
    assert not report.suitable and report.reason and "Not suitable" in report.text()


def test_bad_volumes_get_clear_errors():
    with pytest.raises(ValueError, match="3D"):
        pseudo_objects(np.zeros((32, 32), np.float32))
    vol = np.zeros((4, 16, 16), np.float32)
    vol[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pseudo_objects(vol)


def test_choosing_pseudo_objects_is_seeded_and_renumbered():
    labels = np.zeros((2, 10, 40), np.int32)
    for i in range(1, 31):
        labels[0, i % 10, i] = i
    a, b = choose_pseudo_objects(labels, 24, seed=3), choose_pseudo_objects(labels, 24, seed=3)
    np.testing.assert_array_equal(a, b)
    assert sorted(np.unique(a[a > 0])) == list(range(1, 25))


def test_learning_without_clicks_refuses_a_ct_and_records_its_pseudo_labels_on_nuclei():
    s = ct_abdomen()
    with pytest.raises(ValueError, match="does not suit learning without clicks"):
        learn_label_free(s.image, s.spacing, seconds=5)
    image, _ = textured_nuclei_volume(1)
    models, report, pseudo = learn_label_free(image[:, :160, :160], (1.0, 1.0, 1.0), seconds=6, seed=0,
                                              steps={"interaction": 2, "propagation": 2})
    record = models.info["adaptation"]["pseudo_labels"]
    assert pseudo.suitable and record["suitable"] and record["used"] >= 3 and record["seed"] == 0
    assert report.held_out and len(report.shipped) == len(report.adapted) == 3


def test_typical_size_is_the_size_weighted_median_and_ignores_specks():
    from napari_limnet.adaptation.pseudo_labels import typical_size

    sizes = np.array([10] * 30 + [1000] * 8)  # 30 specks, 8 nuclei: the count percentiles sit on the specks
    assert np.percentile(sizes, 10) == 10 and np.median(sizes) == 10
    assert typical_size(sizes) == 1000
    assert typical_size(np.array([5, 7, 9])) == 7


def test_typical_size_rule_drops_noise_specks_that_the_percentile_rule_keeps():
    from napari_limnet.adaptation.pseudo_labels import pseudo_objects

    rng = np.random.default_rng(3)
    vol = rng.normal(100.0, 3.0, (24, 96, 96)).astype(np.float32)
    zz, yy, xx = np.mgrid[:24, :96, :96]
    truth = np.zeros(vol.shape, np.int32)
    centres = [(12, 20, 20), (12, 20, 70), (12, 70, 20), (12, 70, 70), (12, 45, 45), (6, 45, 85)]
    for i, (cz, cy, cx) in enumerate(centres, 1):
        truth[((zz - cz) / 5.0) ** 2 + ((yy - cy) / 8.0) ** 2 + ((xx - cx) / 8.0) ** 2 <= 1] = i
    vol[truth > 0] += 80.0
    for _ in range(20):  # bright specks of 3x4x4 voxels: debris, not nuclei
        z, y, x = rng.integers(3, 20), rng.integers(3, 90), rng.integers(3, 90)
        if not truth[z - 3:z + 6, y - 3:y + 7, x - 3:x + 7].any():
            vol[z:z + 3, y:y + 4, x:x + 4] += 150.0
    lab_p, rep_p = pseudo_objects(vol, size_rule="percentiles")
    lab_t, rep_t = pseudo_objects(vol, size_rule="typical")
    assert rep_t.n_objects == len(centres) < rep_p.n_objects
    assert rep_t.settings["size_rule"] == "typical" and rep_t.settings["typical_size"] > 1000
    assert rep_t.suitable == rep_p.suitable  # the verdict judges the segmentation, not the size filter
    with pytest.raises(ValueError, match="size_rule"):
        pseudo_objects(vol, size_rule="biggest")
