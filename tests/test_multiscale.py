"""Multiscale and OME-Zarr images: read lazily, annotated at a chosen level, labels at that level's scale."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("dask.array")

from napari_limnet._reader import get_reader  # noqa: E402
from napari_limnet.io.omezarr import read_ome_zarr, write_ome_zarr  # noqa: E402
from napari_limnet.data.samples import ct_abdomen  # noqa: E402
from gui_helpers import settle_layers  # noqa: E402


def pyramid(image):
    return [image, image[:, ::2, ::2].copy(), image[:, ::4, ::4].copy()]


@pytest.fixture
def ome(tmp_path):
    s = ct_abdomen()
    path = write_ome_zarr(tmp_path / "ct.zarr", pyramid(s.image), scale=s.spacing)
    return path, s


def test_the_reader_opens_an_ome_zarr_pyramid_lazily(ome):
    path, s = ome
    reader = get_reader(str(path))
    assert reader is not None
    (levels, kwargs, kind), = reader(str(path))
    assert kind == "image" and kwargs["multiscale"] and len(levels) == 3
    assert levels[0].shape == s.image.shape and levels[2].shape == (40, 40, 40)
    assert type(levels[0]).__module__.startswith("dask"), "nothing is loaded until read"
    np.testing.assert_allclose(kwargs["scale"], s.spacing)
    np.testing.assert_array_equal(np.asarray(levels[1][3]), s.image[3, ::2, ::2])
    with pytest.raises(ValueError, match="OME-Zarr"):
        (path / "0").rename(path / "gone")
        read_ome_zarr(path)


@pytest.mark.gui
def test_a_multiscale_layer_is_annotated_at_full_resolution_and_at_a_coarser_level(make_napari_viewer, qtbot, ome):
    pytest.importorskip("napari")
    from napari_limnet.widget.annotator import LimNetWidget

    path, s = ome
    viewer = make_napari_viewer(show=True)
    (levels, kwargs, _), = get_reader(str(path))(str(path))
    image = viewer.add_image(levels, **kwargs)
    widget = settle_layers(LimNetWidget(viewer))
    viewer.window.add_dock_widget(widget)
    widget.auto_check.setChecked(False)
    assert widget.level_combo.count() == 3 and widget.level_combo.isEnabled()

    def one_round(level):
        widget.level_combo.setCurrentIndex(level)
        layers = widget.layers
        assert layers.level == level and tuple(layers.shape) == tuple(levels[level].shape)
        z, y, x = s.demo_clicks()[0]
        prompts = layers.prompts()
        world = image.data_to_world(np.array([z, y, x], dtype=float))  # level-0 voxel -> world
        viewer.dims.set_point(0, world[0])
        prompts.add(prompts.world_to_data(world))
        widget.segment()
        qtbot.waitUntil(lambda: not widget.busy, timeout=60000)
        current = layers.current()
        assert current.data.shape == levels[level].shape and current.data.any()
        np.testing.assert_allclose(current.scale, np.asarray(image.scale) * [1, 2**level, 2**level])
        widget.commit()
        return layers.committed()

    full = one_round(0)
    coarse = one_round(1)
    assert full.name == "ct committed" and coarse.name == "ct committed (level 1)"
    assert full.data.shape == (40, 160, 160) and coarse.data.shape == (40, 80, 80)
    # the two levels' labels of the same object overlap where they should
    up = np.repeat(np.repeat(coarse.data > 0, 2, axis=1), 2, axis=2)
    inter = (up & (full.data > 0)).sum()
    assert inter > 0.5 * min(up.sum(), (full.data > 0).sum())


SCRIPT = textwrap.dedent(
    """
    import json, sys, numpy as np, zarr
    from napari_limnet.evaluation.memory import peak_rss_mb
    from napari_limnet._reader import get_reader
    from napari_limnet import LimNetController
    path = sys.argv[1]
    (levels, kwargs, _), = get_reader(path)(path)
    vol = levels[0]
    ctrl = LimNetController(vol, spacing=kwargs["scale"])
    mask = ctrl.interact(512, [(512, 512)])
    print(json.dumps({"shape": list(vol.shape), "gb": vol.nbytes / 2**30, "slices": len(ctrl.nonempty_slices()),
                      "centre": bool(mask[512, 512, 512]),
                      "peak_rss_gb": peak_rss_mb() / 1024}))
    """
)


def test_a_2gb_zarr_opens_and_runs_a_round_under_2gb_rss(tmp_path):
    """1024^3 uint16 (2 GiB logical); only the chunks around the object are written (the rest is fill)."""
    path = tmp_path / "big.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    arr = root.create_array("0", shape=(1024, 1024, 1024), chunks=(16, 256, 256), dtype="uint16", fill_value=100)
    zz, yy, xx = np.ogrid[480:544, 384:640, 384:640]
    rng = np.random.default_rng(0)
    block = rng.integers(90, 130, size=(64, 256, 256)).astype(np.uint16)
    block[((zz - 512) / 12.0) ** 2 + ((yy - 512) / 40.0) ** 2 + ((xx - 512) / 30.0) ** 2 < 1] += 500
    arr[480:544, 384:640, 384:640] = block
    root.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": n, "type": "space"} for n in "zyx"],
                                  "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]}]}]
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["gb"] == 2.0 and out["centre"] and out["slices"] > 3
    assert out["peak_rss_gb"] < 2.0, out


def test_ome_zarr_layer_name_and_contrast_come_from_the_data(tmp_path):
    """Issue 19: 'x.ome.zarr' opens as 'x' with a display range from the data, not the dtype."""
    s = ct_abdomen()
    path = write_ome_zarr(tmp_path / "ct.ome.zarr", pyramid(s.image), scale=s.spacing)
    (levels, kwargs, _), = get_reader(str(path))(str(path))
    assert kwargs["name"] == "ct"
    lo, hi = kwargs["contrast_limits"]
    p_lo, p_hi = np.percentile(s.image[:, ::4, ::4], [0.5, 99.5])
    assert abs(lo - p_lo) < 50 and abs(hi - p_hi) < 50 and hi < np.iinfo(s.image.dtype).max
