"""Checked, read-only access to a (Z, Y, X) volume, one window of one slice at a time.

Works for numpy arrays and for lazy array-likes (dask, zarr, memory maps): only the pixels a
crop needs are read, so a volume larger than RAM is never loaded whole.
"""

from __future__ import annotations

import math

import numpy as np

#: In-memory volumes up to this many voxels are checked for NaN / constant values up front.
FULL_CHECK_MAX_VOXELS = 1_500_000_000


def _describe(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def check_volume_array(volume) -> tuple[tuple[int, int, int], np.dtype]:
    """Validate shape and dtype of a would-be (Z, Y, X) volume; return (shape, dtype).

    Raises ValueError, with what to do, for 2D, RGB(A), 4D+, zero-size, bool, complex and
    non-numeric input.
    """
    shape = getattr(volume, "shape", None)
    dtype = getattr(volume, "dtype", None)
    if shape is None or dtype is None:
        raise ValueError(
            f"expected a 3D array (Z, Y, X) such as a numpy, dask or zarr array, got {type(volume).__name__}"
        )
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    if len(shape) == 4 and shape[-1] in (3, 4):
        raise ValueError(
            f"the image has shape {_describe(shape)}, which looks like an RGB(A) volume. "
            "LIM-Net segments single-channel volumes: convert it to grayscale or pick one channel first."
        )
    if len(shape) == 3 and shape[-1] in (3, 4) and shape[0] > 8 and shape[1] > 8:
        raise ValueError(
            f"the image has shape {_describe(shape)}, which looks like a 2D RGB(A) image, not a (Z, Y, X) "
            "volume. LIM-Net segments 3D volumes; open a 3D stack or convert the image to grayscale."
        )
    if len(shape) == 2:
        raise ValueError(
            f"the image is 2D ({_describe(shape)}); LIM-Net needs a 3D (Z, Y, X) volume. "
            "For a single slice, add an axis: volume = image[None]."
        )
    if len(shape) != 3:
        raise ValueError(
            f"expected a 3D (Z, Y, X) volume, got {len(shape)} dimensions ({_describe(shape)}). "
            "For a time series or multichannel data, select one time point / channel first."
        )
    if min(shape) == 0:
        raise ValueError(f"the volume has an empty axis (shape {_describe(shape)}); there is nothing to segment.")
    if dtype.kind == "b":
        raise ValueError("the volume is boolean, i.e. a mask, not an image; open the intensity image instead.")
    if dtype.kind == "c":
        raise ValueError("the volume is complex-valued; pass its magnitude (np.abs(volume)) instead.")
    if dtype.kind not in "uif":
        raise ValueError(f"the volume's dtype {dtype} is not a real number type (integer or float).")
    return shape, dtype  # type: ignore[return-value]


def check_spacing(spacing) -> tuple[float, float, float]:
    """(dz, dy, dx) as positive finite floats; None means (1, 1, 1)."""
    if spacing is None:
        return (1.0, 1.0, 1.0)
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"spacing must be three numbers (dz, dy, dx), got {spacing!r}") from None
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must be three positive finite numbers (dz, dy, dx), got {spacing!r}")
    return values  # type: ignore[return-value]


class VolumeSource:
    """Read-only windows of a validated (Z, Y, X) volume.

    ``lazy`` is True for anything that is not an in-memory numpy array (dask, zarr, memory maps):
    such volumes are read one window at a time and checked for NaN only where they are read.
    """

    def __init__(self, volume):
        self.shape, self.dtype = check_volume_array(volume)
        # memory maps are read like lazy arrays: window by window, never scanned whole
        self.lazy = not isinstance(volume, np.ndarray) or isinstance(volume, np.memmap)
        self._volume = volume
        if not self.lazy:
            self._check_in_memory(volume)

    @staticmethod
    def _check_in_memory(volume: np.ndarray) -> None:
        if volume.size > FULL_CHECK_MAX_VOXELS:
            return
        lo = hi = None
        for chunk in np.array_split(volume.reshape(volume.shape[0], -1), max(1, volume.shape[0] // 16)):
            if chunk.size == 0:
                continue
            if volume.dtype.kind == "f" and not np.isfinite(chunk).all():
                raise ValueError(
                    "the volume contains NaN or infinite values; replace them first, "
                    "e.g. volume = np.nan_to_num(volume, nan=0.0, posinf=0.0, neginf=0.0)."
                )
            cmin, cmax = chunk.min(), chunk.max()
            lo = cmin if lo is None else min(lo, cmin)
            hi = cmax if hi is None else max(hi, cmax)
        if lo == hi:
            raise ValueError(f"the volume is constant (every voxel is {lo}); there is nothing to segment.")

    @property
    def slice_shape(self) -> tuple[int, int]:
        return self.shape[1], self.shape[2]

    #: on_read(z, ya, yb, xa, xb) is called before every window read (benchmarks count reads with it)
    on_read = None

    def read(self, z: int, ya: int, yb: int, xa: int, xb: int) -> np.ndarray:
        """Pixels [ya:yb, xa:xb] of slice z as float32 (clipped indices must be valid and non-empty)."""
        if self.on_read is not None:
            self.on_read(z, ya, yb, xa, xb)
        region = np.asarray(self._volume[z, ya:yb, xa:xb], dtype=np.float32)
        if self.lazy and not np.isfinite(region).all():
            raise ValueError(
                f"slice {z} of the volume contains NaN or infinite values; replace them "
                "(e.g. with np.nan_to_num) before segmenting."
            )
        return region
