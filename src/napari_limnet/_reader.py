"""npe2 reader contribution: NIfTI (.nii, .nii.gz) and TIFF (.tif, .tiff) volumes with geometry,
and OME-Zarr multiscale images (``*.zarr`` folders; read lazily, needs zarr + dask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io.files import SUPPORTED_SUFFIXES, read_volume, split_volume_suffix

_LABEL_HINTS = ("label", "mask", "seg", "annot")


def get_reader(path):
    """Return a reader function for a supported file, else None (napari then tries other plugins)."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if str(path).rstrip("/").lower().endswith(".zarr"):
        from .io.omezarr import is_ome_zarr

        return read_ome_zarr_layers if is_ome_zarr(path) else None
    if not str(path).lower().endswith(SUPPORTED_SUFFIXES):
        return None
    return read_layers


def read_ome_zarr_layers(path):
    """[(levels, kwargs, 'image')]: a lazy multiscale image layer."""
    from .io.omezarr import read_ome_zarr

    if isinstance(path, list):
        path = path[0]
    ms = read_ome_zarr(path)
    kwargs = {"name": ms.name, "multiscale": True, "scale": ms.scale, "translate": ms.translate,
              "metadata": {"source_path": str(path), "axes": ms.axes},
              "contrast_limits": coarse_contrast_limits(ms.levels[-1])}
    return [(ms.levels, kwargs, "image")]


def coarse_contrast_limits(level) -> list[float]:
    """Robust display range (0.5-99.5 percentiles) from the coarsest level, read once.

    napari would otherwise guess the range from the dtype (saturated white for uint16 data in a
    small part of its range). A large coarsest level is sampled: a few slices, strided.
    """
    shape = level.shape
    if int(np.prod(shape)) <= 16_000_000:
        arr = np.asarray(level)
    else:
        zs = np.unique(np.linspace(0, shape[-3] - 1, 5).round().astype(int))
        step = max(1, int(np.sqrt(shape[-2] * shape[-1] / 200_000)))
        lead = (0,) * (len(shape) - 3)
        arr = np.stack([np.asarray(level[lead + (int(z), slice(None, None, step), slice(None, None, step))]) for z in zs])
    sample = arr.ravel()[:: max(1, arr.size // 1_000_000)].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return [0.0, 1.0]
    lo, hi = np.percentile(sample, [0.5, 99.5])
    return [float(lo), float(hi) if hi > lo else float(lo) + 1.0]


def looks_like_labels(name: str, data: np.ndarray) -> bool:
    """Integer data whose file name says label/mask/seg opens as a Labels layer."""
    return data.dtype.kind in "uib" and any(h in name.lower() for h in _LABEL_HINTS)


def read_layers(path):
    """[(data, kwargs, layer_type)] for napari. Raises ValueError with a clear message on bad files."""
    if isinstance(path, list):
        path = path[0]
    vol = read_volume(path)
    name, _ = split_volume_suffix(Path(path).name)
    kwargs = {"name": name, "metadata": dict(vol.metadata)}
    data = vol.data
    if data.ndim >= 3:
        geo = vol.geometry.layer_kwargs()
        extra = data.ndim - 3
        for key in ("scale", "translate"):
            fill = 1.0 if key == "scale" else 0.0
            geo[key] = tuple([fill] * extra) + tuple(geo[key])
        if extra:
            geo.pop("rotate", None)
            geo.pop("shear", None)
        kwargs.update(geo)
    elif data.ndim == 2:
        sp = vol.geometry.spacing
        kwargs.update(scale=(sp[1], sp[2]))
    layer_type = "labels" if looks_like_labels(name, data) else "image"
    if layer_type == "labels" and data.dtype == bool:
        data = data.astype(np.uint8)
    return [(data, kwargs, layer_type)]
