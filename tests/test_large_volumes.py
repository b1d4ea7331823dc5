"""A lazy 2048 x 2048 x 1000 uint16 volume (8 GB if loaded) is segmented slice by slice with bounded RSS."""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("dask.array")

SCRIPT = textwrap.dedent(
    """
    import json, numpy as np, dask.array as da
    from napari_limnet.evaluation.memory import peak_rss_mb
    from napari_limnet import LimNetController
    from napari_limnet.inference.mask_store import LazyMask

    Z, Y, X = 1000, 2048, 2048
    def block(block_info=None):
        (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        zz, yy, xx = np.ogrid[z0:z1, y0:y1, x0:x1]
        rng = np.random.default_rng(z0 * 7 + y0 * 3 + x0)
        out = rng.integers(100, 140, size=(z1 - z0, y1 - y0, x1 - x0)).astype(np.uint16)
        inside = ((zz - 500) / 20.0) ** 2 + ((yy - 1000) / 60.0) ** 2 + ((xx - 1100) / 50.0) ** 2 < 1
        out[inside] += 600
        return out
    vol = da.map_blocks(block, dtype=np.uint16, chunks=((1,) * Z, (512,) * 4, (512,) * 4))
    ctrl = LimNetController(vol, spacing=(1.0, 0.5, 0.5))
    mask = ctrl.interact(500, [(1000, 1100)])
    out = {
        "lazy": isinstance(mask, LazyMask), "shape": list(mask.shape), "slices": ctrl.nonempty_slices()[:1] + ctrl.nonempty_slices()[-1:],
        "voxels": int(mask.sum()), "centre": bool(mask[500, 1000, 1100]),
        "peak_rss_gb": peak_rss_mb() / 1024,
    }
    print(json.dumps(out))
    """
)


def test_round_on_a_lazy_volume_far_larger_than_its_memory_budget():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["lazy"] and out["shape"] == [1000, 2048, 2048]
    assert out["centre"] and out["voxels"] > 1000
    assert out["peak_rss_gb"] < 2.0, out
