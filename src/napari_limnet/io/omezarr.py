"""OME-Zarr (OME-NGFF 0.4/0.5) multiscale images, read lazily with zarr + dask.

Only what the annotator needs: the ``multiscales`` metadata of the group (datasets = pyramid
levels, finest first, each with a ``scale`` and optional ``translation`` coordinate
transformation), read as a list of dask arrays -- nothing is loaded until a window is read.
Needs the optional packages ``zarr`` and ``dask``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Multiscale:
    levels: list  # dask arrays, finest first, all (..., Z, Y, X)
    scale: tuple[float, ...]  # of level 0, per axis
    translate: tuple[float, ...]
    axes: list[str]
    name: str


def _attrs(path: Path) -> dict:
    for meta in (path / ".zattrs", path / "zarr.json"):
        if meta.is_file():
            data = json.loads(meta.read_text())
            return data.get("attributes", data).get("ome", data.get("attributes", data))
    return {}


def is_ome_zarr(path) -> bool:
    p = Path(path)
    try:
        return p.is_dir() and "multiscales" in _attrs(p)
    except (OSError, ValueError):
        return False


def read_ome_zarr(path) -> Multiscale:
    """The multiscale image of an OME-Zarr group. Raises ValueError with the reason if it cannot."""
    p = Path(path)
    try:
        import dask.array as da
        import zarr
    except ImportError as err:
        raise ValueError(f"reading {p.name} needs zarr and dask (pip install zarr dask): {err}") from None
    try:
        ms = _attrs(p)["multiscales"][0]
        axes = [a["name"] if isinstance(a, dict) else str(a) for a in ms.get("axes", [])]
        levels, scale, translate = [], None, None
        for i, ds in enumerate(ms["datasets"]):
            arr = zarr.open_array(str(p / ds["path"]), mode="r")
            levels.append(da.from_zarr(arr))
            if i == 0:
                for t in ds.get("coordinateTransformations", []):
                    if t.get("type") == "scale":
                        scale = tuple(float(v) for v in t["scale"])
                    elif t.get("type") == "translation":
                        translate = tuple(float(v) for v in t["translation"])
    except (KeyError, IndexError, TypeError, ValueError, OSError) as err:
        raise ValueError(f"cannot read {p.name} as OME-Zarr: {type(err).__name__}: {err}") from None
    if not levels:
        raise ValueError(f"cannot read {p.name} as OME-Zarr: no datasets")
    ndim = levels[0].ndim
    scale = scale or (1.0,) * ndim
    translate = translate or (0.0,) * ndim
    return Multiscale(levels, scale, translate, axes or [f"dim_{i}" for i in range(ndim)],
                      p.name.removesuffix(".zarr").removesuffix(".ome"))


def write_ome_zarr(path, levels, scale=(1.0, 1.0, 1.0), chunks=(1, 256, 256)) -> Path:
    """Write a (Z, Y, X) pyramid as OME-Zarr 0.4 (used by tests and examples). ``levels``: arrays, finest first."""
    import zarr

    p = Path(path)
    root = zarr.open_group(str(p), mode="w", zarr_format=2)
    datasets = []
    full = levels[0].shape
    for i, level in enumerate(levels):
        factor = [f / s for f, s in zip(full, level.shape)]
        root.create_array(str(i), data=level, chunks=tuple(min(c, n) for c, n in zip(chunks, level.shape)))
        datasets.append({"path": str(i), "coordinateTransformations": [
            {"type": "scale", "scale": [float(s * f) for s, f in zip(scale, factor)]}]})
    root.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": n, "type": "space"} for n in ("z", "y", "x")],
                                  "datasets": datasets}]
    return p
