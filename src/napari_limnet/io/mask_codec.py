"""Bool masks as small JSON-friendly dicts: the bounding box and zlib-compressed run lengths.

    {"shape": [Z, Y, X], "offset": [z0, y0, x0], "size": [dz, dy, dx], "runs": "<base64>"}

Runs alternate False, True, False, ... over the C-ordered crop, starting with False (the first
run may be 0). Used for masks that saved sessions must carry: the base mask of an object that
was refined from an earlier one, and painted-slice prompts. Decoding validates everything
(session files are shared, so untrusted) and raises ValueError.
"""

from __future__ import annotations

import base64
import math
import zlib

import numpy as np

#: Largest mask a session may carry (voxels of the whole array).
MAX_VOXELS = 1 << 34


def encode_mask(mask: np.ndarray) -> dict:
    """Encode an n-D bool array (n >= 1)."""
    mask = np.asarray(mask, dtype=bool)
    offset, size = [0] * mask.ndim, [0] * mask.ndim
    if mask.any():
        for ax in range(mask.ndim):
            idx = np.flatnonzero(np.moveaxis(mask, ax, 0).reshape(mask.shape[ax], -1).any(1))
            offset[ax], size[ax] = int(idx[0]), int(idx[-1] - idx[0] + 1)
    crop = mask[tuple(slice(o, o + n) for o, n in zip(offset, size))].ravel()
    change = np.flatnonzero(np.diff(crop.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [crop.size]])
    runs = np.diff(bounds).astype(np.uint32)
    if crop.size and crop[0]:
        runs = np.concatenate([[0], runs]).astype(np.uint32)
    packed = base64.b64encode(zlib.compress(runs.tobytes(), 6)).decode("ascii")
    return {"shape": list(map(int, mask.shape)), "offset": offset, "size": size, "runs": packed}


def decode_mask(data, expected_shape=None) -> np.ndarray:
    """The bool array of :func:`encode_mask`; ValueError for anything malformed."""
    try:
        shape = tuple(int(v) for v in data["shape"])
        offset = tuple(int(v) for v in data["offset"])
        size = tuple(int(v) for v in data["size"])
        raw = base64.b64decode(str(data["runs"]).encode("ascii"), validate=True)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"a stored mask is malformed ({err})") from None
    if expected_shape is not None and shape != tuple(expected_shape):
        raise ValueError(f"a stored mask has shape {shape}, expected {tuple(expected_shape)}")
    if not (len(shape) == len(offset) == len(size)) or any(v < 0 for v in shape + offset + size):
        raise ValueError("a stored mask has an inconsistent box")
    if any(o + n > s for o, n, s in zip(offset, size, shape)) or math.prod(shape) > MAX_VOXELS:
        raise ValueError("a stored mask's box does not fit its shape")
    n = math.prod(size)
    try:
        decomp = zlib.decompressobj()
        body = decomp.decompress(raw, 8 * (n + 2))  # never more than one run per voxel (+ the leading 0)
        if decomp.unconsumed_tail:
            raise ValueError("too many runs")
    except (zlib.error, ValueError) as err:
        raise ValueError(f"a stored mask's runs are corrupt ({err})") from None
    if len(body) % 4:
        raise ValueError("a stored mask's runs are corrupt")
    runs = np.frombuffer(body, dtype=np.uint32).astype(np.int64)
    if int(runs.sum()) != n:
        raise ValueError("a stored mask's runs do not cover its box")
    values = (np.arange(len(runs)) % 2).astype(bool)
    crop = np.repeat(values, runs).reshape(size)
    out = np.zeros(shape, dtype=bool)
    out[tuple(slice(o, o + k) for o, k in zip(offset, size))] = crop
    return out
