"""Real labelled volumes in the training mix: ``../shared/data/train`` (never the dev set).

The volumes (CT and MRI abdomen, trunk, aorta, spine, chest; see ``train_cases.json``) hold
many touching structures, which is exactly what the networks must learn to stop at: vertebra
against vertebra, organ against organ. :class:`RealVolumes` turns them into batches shaped like
the synthetic generator's (:class:`~napari_limnet.data.synthetic.SyntheticVolumes`), so the
training loops do not care where a sample came from. Each sample:

1. picks a structure (uniformly over all structures of all volumes with enough voxels);
2. picks a viewing axis (axial, coronal or sagittal), a random in-plane rotation, flips, an
   in-plane pixel size that makes the structure fill 15-75 % of the canvas, a slice step around
   the native one, and a centre whose z lets the structure's end fall inside the clip about half
   of the time;
3. resamples image (trilinear) and labels (nearest) on that grid, with a smooth elastic
   displacement, in one batched ``grid_sample`` per source volume, on the training device;
4. remaps intensities (random gamma, inversion, bias, noise) from the volume's robust range.

The pack (``python -m napari_limnet.data.real_volumes --pack real_train.npz``) stores the
volumes as plain arrays so that training machines need neither nibabel nor the NIfTI files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .synthetic import SyntheticVolumes, class_texture, smooth_noise

#: Structures smaller than this (voxels) are not used as targets (they remain distractors).
MIN_STRUCTURE_VOXELS = 150


def default_train_dir() -> Path:
    """The first folder of ``$LIMNET_TRAIN_DATA``, or ``../shared/data/train`` next to the repository."""
    return train_data_dirs()[0]


def train_data_dirs(source=None) -> list[Path]:
    """The folders of real training volumes, each with a ``train_cases.json``.

    ``source``: a folder, several joined by ``os.pathsep`` (``:`` on Linux), or a list; default
    ``$LIMNET_TRAIN_DATA`` (the same form), else ``../shared/data/train`` next to the repository.
    The brain MRI volumes (``make fetch-brain`` writes them to ``.train_data/brain``) join the mix
    as ``LIMNET_TRAIN_DATA=../shared/data/train:.train_data/brain`` or ``--real A:B``.
    """
    if source is None:
        source = os.environ.get("LIMNET_TRAIN_DATA") or None
    if source is not None:
        parts = list(source) if isinstance(source, (list, tuple)) else str(source).split(os.pathsep)
        folders = [Path(p) for p in parts if str(p)]
        if folders:
            return folders
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / "shared" / "data" / "train"
        if (candidate / "train_cases.json").is_file():
            return [candidate]
    return [Path.cwd().parent / "shared" / "data" / "train"]


@dataclass
class RealVolume:
    """One labelled volume: image (Z, Y, X) float32, labels (Z, Y, X) int16, spacing (dz, dy, dx)."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]


def load_nifti_volumes(folder=None) -> list[RealVolume]:
    """Read every case of each folder's ``train_cases.json`` (needs nibabel), in (Z, Y, X) order.

    ``folder``: see :func:`train_data_dirs` (one folder, several, or the default). Names must be
    unique across the folders (a ValueError says which is not).
    """
    import nibabel as nib

    out, seen = [], set()
    for root in train_data_dirs(folder):
        listing = json.loads((Path(root) / "train_cases.json").read_text())["cases"]
        for entry in listing:
            if entry["name"] in seen:
                raise ValueError(f"training volume {entry['name']!r} appears in two data folders")
            seen.add(entry["name"])
            img = nib.load(str(Path(root) / entry["image"]))
            lab = nib.load(str(Path(root) / entry["labels"]))
            image = np.asarray(img.dataobj, dtype=np.float32).transpose(2, 1, 0)
            labels = np.asarray(lab.dataobj).astype(np.int16).transpose(2, 1, 0)
            spacing = tuple(float(s) for s in img.header.get_zooms()[:3][::-1])
            out.append(RealVolume(entry["name"], np.ascontiguousarray(image), np.ascontiguousarray(labels), spacing))
    return out


def pack(volumes: list[RealVolume], path: str | Path) -> None:
    """Write the volumes to one ``.npz`` (image, labels, spacing per name)."""
    arrays = {}
    for v in volumes:
        arrays[f"{v.name}__image"] = v.image.astype(np.float32)
        arrays[f"{v.name}__labels"] = v.labels.astype(np.int16)
        arrays[f"{v.name}__spacing"] = np.asarray(v.spacing, dtype=np.float64)
    np.savez_compressed(path, **arrays)


def unpack(path: str | Path) -> list[RealVolume]:
    """Read a pack written by :func:`pack`."""
    with np.load(path) as z:
        names = sorted({k.rsplit("__", 1)[0] for k in z.files})
        return [
            RealVolume(n, z[f"{n}__image"], z[f"{n}__labels"], tuple(float(s) for s in z[f"{n}__spacing"]))
            for n in names
        ]


def load_real_volumes(source: str | Path | None = None) -> list[RealVolume]:
    """From a ``.npz`` pack, or from the NIfTI folder (default ``../shared/data/train``)."""
    if source is not None and str(source).endswith(".npz"):
        return unpack(source)
    return load_nifti_volumes(source)


def label_counts(labels: np.ndarray, slab: int = 8) -> np.ndarray:
    """Voxels per label value (index = label) of a non-negative integer (Z, Y, X) array, counted
    ``slab`` slices at a time (np.bincount alone would copy the whole array to int64)."""
    counts = np.zeros(1, np.int64)
    for z0 in range(0, labels.shape[0], slab):
        c = np.bincount(np.asarray(labels[z0: z0 + slab]).ravel())
        if len(c) > len(counts):
            c[: len(counts)] += counts
            counts = c
        else:
            counts[: len(c)] += c
    return counts


def structure_labels(volume: RealVolume, min_voxels: int = MIN_STRUCTURE_VOXELS) -> list[int]:
    """Label values of ``volume`` with at least ``min_voxels`` voxels, ascending."""
    counts = label_counts(np.asarray(volume.labels))
    return [int(lab) for lab in np.flatnonzero(counts >= min_voxels) if lab > 0]


def held_out_structures(volumes: list[RealVolume], every: int, min_voxels: int = MIN_STRUCTURE_VOXELS) -> set[tuple[str, int]]:
    """(volume name, label) of every ``every``-th structure, in (name, label) order starting at
    index ``every // 2``: the structures a training run holds out by object, so that they can
    score it (the volumes themselves are still seen, with these objects as background)."""
    if every < 2:
        raise ValueError(f"hold out every k-th structure needs k >= 2, not {every}")
    ordered = [(v.name, lab) for v in sorted(volumes, key=lambda v: v.name) for lab in structure_labels(v, min_voxels)]
    return set(ordered[every // 2:: every])


@dataclass
class _Structure:
    volume: int
    label: int
    bbox_mm: np.ndarray  # (3, 2) physical min/max per axis (z, y, x)


class RealVolumes:
    """Samples canvases of real structures on ``device`` (see the module docstring)."""

    def __init__(self, volumes: list[RealVolume], device, min_voxels: int = MIN_STRUCTURE_VOXELS,
                 axis_weights: tuple[float, float, float] | None = None, intensity_strength: float = 1.0,
                 exclude: set[tuple[str, int]] | frozenset = frozenset(), object_texture: float = 0.0):
        """``axis_weights``: how often each volume axis (z, y, x) is the canvas' slice axis (None =
        uniform); ``intensity_strength`` scales the intensity remapping (1 = the training default,
        0 = the volume's own contrast, only normalised); ``exclude``: (volume name, label) pairs
        never drawn as targets (they stay in the label maps as neighbours); ``object_texture``: share of
        canvases whose structures each get their own fine internal texture, as the synthetic
        volumes' ``SyntheticConfig.object_texture_p`` (0 = off, the random stream unchanged)."""
        if not volumes:
            raise ValueError("no real training volumes were given")
        self.device = torch.device(device)
        self.names = [v.name for v in volumes]
        self.axis_weights = None if axis_weights is None else torch.tensor(axis_weights, dtype=torch.float64)
        self.intensity_strength = float(intensity_strength)
        self.object_texture = float(object_texture)
        self.images, self.labels, self.spacings, self.structures = [], [], [], []
        for i, v in enumerate(volumes):
            img = np.array(v.image, dtype=np.float32)  # one copy, normalised in place
            sample = img.ravel()[:: max(1, img.size // 4_000_000)]
            lo, hi = np.percentile(sample, [0.5, 99.5])
            img -= lo
            img /= max(hi - lo, 1e-6)
            np.clip(img, -0.2, 1.2, out=img)
            self.images.append(torch.from_numpy(img)[None, None].to(self.device))
            self.labels.append(torch.from_numpy(v.labels.astype(np.float32))[None, None].to(self.device))
            spacing = np.asarray(v.spacing, dtype=np.float64)
            self.spacings.append(spacing)
            lab_arr = np.asarray(v.labels)
            if lab_arr.size and lab_arr.min() < 0:
                raise ValueError(f"{v.name}: labels must not be negative")
            boxes = ndimage.find_objects(lab_arr)  # bounding boxes, one pass
            for lab in structure_labels(v, min_voxels):  # the rule held_out_structures uses too
                if (v.name, lab) in exclude:
                    continue
                box = boxes[lab - 1]
                lo_i = np.array([s.start for s in box], dtype=np.float64)
                hi_i = np.array([s.stop - 1 for s in box], dtype=np.float64)
                self.structures.append(_Structure(i, int(lab), np.stack([lo_i * spacing, (hi_i + 1) * spacing], 1)))
        if not self.structures:
            raise ValueError(f"no structure has >= {min_voxels} voxels")

    def __len__(self) -> int:
        return len(self.structures)

    def sample(self, batch: int, shape: tuple[int, int, int], gen: torch.Generator) -> SyntheticVolumes:
        """``batch`` canvases (B, D, H, W) of random structures, as a SyntheticVolumes batch.

        ``gen`` is a CPU generator: the geometry (a few numbers per sample) is drawn on the host;
        grids, resampling and intensity remapping run on the device with a generator seeded from it.
        """
        d, h, w = shape
        dev = self.device
        dgen = torch.Generator(device=dev).manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        picks = torch.randint(0, len(self.structures), (batch,), generator=gen).tolist()
        params = torch.tensor([self._params(self.structures[p], shape, gen) for p in picks], dtype=torch.float32, device=dev)
        grids = _sampling_grids(params, shape, dgen)  # (B, D, H, W, 3)
        image = torch.empty(batch, d, h, w, device=dev)
        labels = torch.empty(batch, d, h, w, device=dev, dtype=torch.long)
        target = torch.empty(batch, d, h, w, device=dev, dtype=torch.bool)
        by_volume: dict[int, list[int]] = {}
        for b, p in enumerate(picks):
            by_volume.setdefault(self.structures[p].volume, []).append(b)
        for vi, rows in by_volume.items():
            idx = torch.tensor(rows, device=dev)
            # all canvases of one source volume in one call: their grids stacked along the output depth
            grid = grids[idx].reshape(1, len(rows) * d, h, w, 3)
            img = F.grid_sample(self.images[vi], grid, mode="bilinear", padding_mode="border", align_corners=False)
            lab = F.grid_sample(self.labels[vi], grid, mode="nearest", padding_mode="zeros", align_corners=False)
            img = img.view(len(rows), d, h, w)
            lab = lab.view(len(rows), d, h, w).long()
            image[idx] = img
            labels[idx] = lab
            wanted = torch.tensor([self.structures[picks[b]].label for b in rows], device=dev)
            target[idx] = lab == wanted.view(-1, 1, 1, 1)
        if self.object_texture > 0:
            image = class_texture(dgen, image, labels.flatten(1), int(labels.max()) + 1, self.object_texture)
        image = _remap_intensity(image, dgen, self.intensity_strength)
        return SyntheticVolumes(image=image, labels=labels, target=target, z_scale=1.0, dtype_mode="real")

    def _params(self, s: _Structure, shape: tuple[int, int, int], gen: torch.Generator) -> list[float]:
        """Geometry of one canvas: centre, slice normal, in-plane axes u and v (all physical, z/y/x),
        pixel size, slice step, elastic amplitude, then voxel spacing and volume shape (21 numbers)."""
        d, h, w = shape
        rnd = lambda *a: torch.rand(*a, generator=gen)  # noqa: E731
        spacing = self.spacings[s.volume]
        vol_shape = np.asarray(self.images[s.volume].shape[2:], dtype=np.float64)  # (Z, Y, X)
        # viewing axis: the canvas' slice axis is one of the volume's axes; the other two span the plane
        if self.axis_weights is None:
            axis = int(torch.randint(0, 3, (1,), generator=gen))
        else:
            axis = int(torch.multinomial(self.axis_weights, 1, generator=gen))
        in_plane = [a for a in range(3) if a != axis]
        ext = s.bbox_mm[:, 1] - s.bbox_mm[:, 0]
        fill = 0.15 + 0.6 * float(rnd(1))
        pixel = max(float(ext[in_plane].max()) / (fill * min(h, w)), 0.25 * float(spacing[in_plane].min()))
        step = float(spacing[axis]) * (0.8 + 0.8 * float(rnd(1)))
        centre = (s.bbox_mm[:, 0] + s.bbox_mm[:, 1]) / 2 + (rnd(3).numpy() - 0.5) * 0.3 * ext
        # along the slice axis: from a bit before the structure's start to a bit after its end
        lo, hi = s.bbox_mm[axis, 0] - 0.3 * d * step, s.bbox_mm[axis, 1] + 0.3 * d * step
        centre[axis] = lo + float(rnd(1)) * (hi - lo)
        theta = 2 * math.pi * float(rnd(1))
        u, v, n = np.zeros(3), np.zeros(3), np.zeros(3)
        u[in_plane[0]], u[in_plane[1]] = math.cos(theta), math.sin(theta)
        v[in_plane[0]], v[in_plane[1]] = -math.sin(theta), math.cos(theta)
        n[axis] = 1.0 if float(rnd(1)) < 0.5 else -1.0
        if float(rnd(1)) < 0.5:
            v = -v
        amp = 0.04 * float(rnd(1)) * pixel * max(h, w)
        return [*centre, *n, *u, *v, pixel, step, amp, *spacing, *vol_shape]


def _sampling_grids(params: torch.Tensor, shape: tuple[int, int, int], gen: torch.Generator) -> torch.Tensor:
    """(B, 21) geometry (see RealVolumes._params) -> normalised grids (B, D, H, W, 3) in (x, y, z) order."""
    d, h, w = shape
    b = params.shape[0]
    dev = params.device
    centre, n, u, v = params[:, 0:3], params[:, 3:6], params[:, 6:9], params[:, 9:12]
    pixel, step, amp = params[:, 12], params[:, 13], params[:, 14]
    spacing, vol_shape = params[:, 15:18], params[:, 18:21]
    k = (torch.arange(d, device=dev) - (d - 1) / 2).view(1, d, 1, 1, 1) * step.view(b, 1, 1, 1, 1)
    i = (torch.arange(h, device=dev) - (h - 1) / 2).view(1, 1, h, 1, 1) * pixel.view(b, 1, 1, 1, 1)
    j = (torch.arange(w, device=dev) - (w - 1) / 2).view(1, 1, 1, w, 1) * pixel.view(b, 1, 1, 1, 1)
    pts = centre.view(b, 1, 1, 1, 3) + k * n.view(b, 1, 1, 1, 3) + i * u.view(b, 1, 1, 1, 3) + j * v.view(b, 1, 1, 1, 3)
    # smooth elastic displacement, up to ~4 % of the field of view
    disp = smooth_noise(gen, 3 * b, (d, h, w), (2, 4, 4), dev).view(b, 3, d, h, w).permute(0, 2, 3, 4, 1)
    pts = pts + amp.view(b, 1, 1, 1, 1) * disp
    idx = pts / spacing.view(b, 1, 1, 1, 3)  # voxel index (z, y, x), voxel centres at integers
    norm = (idx + 0.5) / vol_shape.view(b, 1, 1, 1, 3) * 2 - 1  # align_corners=False
    return norm.flip(-1)


def _remap_intensity(image: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Random gamma, inversion, bias and noise on [0, 1]-normalised canvases (B, D, H, W).

    ``strength`` scales every random change (1 = the training default; 0 = none).
    """
    b = image.shape[0]
    dev = image.device
    rnd = lambda *s: torch.rand(*s, generator=gen, device=dev)  # noqa: E731
    x = image.clamp(0, 1)
    gamma = torch.exp((rnd(b) - 0.5) * 1.2 * strength).view(b, 1, 1, 1)
    x = x**gamma
    invert = (rnd(b) < 0.2 * strength).view(b, 1, 1, 1)
    x = torch.where(invert, 1 - x, x)
    bias = 1 + 0.3 * strength * (rnd(b, 1, 1, 1) - 0.5) * torch.linspace(-1, 1, image.shape[-1], device=dev).view(1, 1, 1, -1)
    noise = 0.06 * strength * rnd(b).view(b, 1, 1, 1) * torch.randn(image.shape, generator=gen, device=dev)
    return x * bias + noise


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Pack ../shared/data/train into one .npz for training machines")
    p.add_argument("--data", default=None, help="folder with train_cases.json (default ../shared/data/train)")
    p.add_argument("--pack", required=True, help="output .npz")
    args = p.parse_args(argv)
    vols = load_nifti_volumes(args.data)
    pack(vols, args.pack)
    n_struct = len(RealVolumes(vols, "cpu"))
    print(f"packed {len(vols)} volumes ({', '.join(v.name for v in vols)}), {n_struct} structures -> {args.pack}")


if __name__ == "__main__":
    main()
