"""Evaluation cases: the real development volumes in ``shared/data/dev`` and a synthetic hold-out set.

A :class:`Case` holds a (Z, Y, X) image, the true bool mask of one object and the voxel
spacing (dz, dy, dx). NIfTI files are in (x, y, z) voxel order and are transposed.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GROUPS = ("macaque", "mni152", "nuclei3d", "nuclei_confocal", "synthetic")


@dataclass
class Case:
    """One object to segment: image (Z, Y, X), truth (Z, Y, X) bool, spacing (dz, dy, dx)."""

    name: str
    group: str
    image: np.ndarray
    truth: np.ndarray
    spacing: tuple[float, float, float]


def default_data_dir() -> Path:
    """``$LIMNET_DEV_DATA`` or ``../shared/data/dev`` next to the repository."""
    env = os.environ.get("LIMNET_DEV_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data" / "dev"
        if (candidate / "cases.json").is_file():
            return candidate
    return Path.cwd().parent / "shared" / "data" / "dev"


def group_of(name: str) -> str:
    for g in GROUPS:
        if name.startswith(g):
            return g
    return "other"


@functools.lru_cache(maxsize=8)
def _read(path: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    p = Path(path)
    if p.name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        img = nib.load(str(p))
        arr = np.asarray(img.dataobj).transpose(2, 1, 0)
        spacing = tuple(float(s) for s in img.header.get_zooms()[:3][::-1])
    else:
        import tifffile

        arr = tifffile.imread(str(p))
        spacing = (1.0, 1.0, 1.0)
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr, spacing


def load_dev_cases(data_dir: str | Path | None = None, names: list[str] | None = None) -> list[Case]:
    """The objects listed in ``cases.json`` (all, or those in ``names``)."""
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    listing = json.loads((folder / "cases.json").read_text())["cases"]
    out = []
    for entry in listing:
        if names is not None and entry["name"] not in names:
            continue
        image, spacing = _read(str(folder / entry["image"]))
        labels, _ = _read(str(folder / entry["labels"]))
        if "spacing_zyx" in entry:  # TIFFs carry no spacing; the listing gives it
            spacing = tuple(float(s) for s in entry["spacing_zyx"])
        truth = labels == entry["label"]
        out.append(Case(entry["name"], group_of(entry["name"]), image, truth, spacing))
    return out


def synthetic_case(gen_seed: int, shape=(40, 128, 128), name: str = "synthetic", group: str = "synthetic") -> Case | None:
    """One generated volume as a Case with a realistic dtype, or None when its target is too small."""
    import torch

    from ..data.synthetic import make_volumes

    v = make_volumes(1, shape, torch.Generator().manual_seed(gen_seed))
    truth = v.target[0].numpy()
    if truth.sum() < 300 or truth.reshape(shape[0], -1).any(1).sum() < 3:
        return None
    image = v.image[0].numpy()
    dtype = {"mri_uint8": np.uint8, "microscopy_uint16": np.uint16, "ct_hu": np.int16}.get(v.dtype_mode, np.float32)
    if dtype is not np.float32:
        info = np.iinfo(dtype)
        image = np.clip(image, info.min, info.max)
    return Case(name, group, image.astype(dtype), truth, (float(v.z_scale), 1.0, 1.0))


def synthetic_holdout(n: int = 8, seed: int = 777, shape=(40, 128, 128)) -> list[Case]:
    """A fixed synthetic hold-out set (seeds never used in training), with realistic dtypes."""
    cases = []
    attempt = 0
    while len(cases) < n and attempt < 10 * n:
        case = synthetic_case(seed * 1000 + attempt, shape, f"synthetic_{len(cases)}")
        attempt += 1
        if case is not None:
            cases.append(case)
    return cases


def load_train_cases(max_cases: int | None = 40, min_voxels: int = 500, min_slices: int = 5, held_out_every: int = 0,
                     held_out: str = "only") -> list[Case]:
    """Structures of the real *training* volumes (``../shared/data/train``) as cases, group "train".

    For choosing rules and thresholds (stopping, leak cuts) on data the networks may see, never on
    the dev set. Structures with at least ``min_voxels`` voxels over ``min_slices`` slices, in a
    fixed order, every k-th one to keep at most ``max_cases`` spread over all volumes.
    ``held_out_every``: with ``held_out="only"``, only the structures a training run with
    ``--hold-out-every`` of the same value never trained on
    (:func:`~napari_limnet.data.real_volumes.held_out_structures`); with ``"exclude"``, all but those.
    """
    if held_out not in ("only", "exclude"):
        raise ValueError(f"held_out must be 'only' or 'exclude', not {held_out!r}")
    from ..data.real_volumes import held_out_structures, load_real_volumes

    cases = []
    volumes = load_real_volumes()
    keep = held_out_structures(volumes, held_out_every) if held_out_every else None
    for v in volumes:
        image = np.ascontiguousarray(v.image)
        image.setflags(write=False)
        for lab in np.unique(v.labels):
            if lab == 0 or (keep is not None and ((v.name, int(lab)) in keep) != (held_out == "only")):
                continue
            truth = v.labels == lab
            if truth.sum() < min_voxels or truth.any(axis=(1, 2)).sum() < min_slices:
                continue
            cases.append(Case(f"train_{v.name}_{int(lab)}", "train", image, truth, tuple(v.spacing)))
    return _spread(cases, max_cases)


def _spread(cases: list[Case], max_cases: int | None) -> list[Case]:
    """Every k-th case, to keep at most ``max_cases`` spread over the whole (fixed-order) list."""
    if max_cases is None or len(cases) <= max_cases:
        return cases
    step = len(cases) / max_cases
    return [cases[int(i * step)] for i in range(max_cases)]


def load_composite_train_cases(max_cases: int | None = 16, min_voxels: int = 500, min_slices: int = 5) -> list[Case]:
    """Composite objects of the real *training* volumes: the union of two touching structures, group
    "composite".

    A proxy (never dev) for objects made of several tissues, like a whole-brain mask of white and
    grey matter: along the stack the proportions of the two parts change, so the mask's mean
    intensity drifts slowly up and down while it stays on the object. A stopping rule that reads
    such a drift as "the object ended" cuts them. Two structures touch when one, grown by one voxel
    (6-connectivity), overlaps the other. Pairs in a fixed order, every k-th one to keep at most
    ``max_cases`` spread over all volumes; each part needs ``min_voxels`` voxels over ``min_slices``
    slices.
    """
    from scipy import ndimage

    from ..data.real_volumes import load_real_volumes

    cases = []
    for v in load_real_volumes():
        image = np.ascontiguousarray(v.image)
        image.setflags(write=False)
        parts = {}  # label -> its (Z, Y, X) mask, for the structures large enough
        for lab in np.unique(v.labels):
            part = v.labels == lab
            if lab and part.sum() >= min_voxels and part.any(axis=(1, 2)).sum() >= min_slices:
                parts[int(lab)] = part
        labs = list(parts)
        for i, a in enumerate(labs):
            grown = ndimage.binary_dilation(parts[a])
            for b in labs[i + 1:]:
                if (grown & parts[b]).any():
                    cases.append(Case(f"composite_{v.name}_{a}_{b}", "composite", image, parts[a] | parts[b], tuple(v.spacing)))
    return _spread(cases, max_cases)
