"""Pseudo-objects from the image alone (no clicks), for label-free adaptation on blob-like objects.

:func:`pseudo_objects` is a classical segmentation for nuclei, cells, vesicles and similar blobs:

1. smooth (Gaussian, sigma 1 voxel) and threshold at Otsu's level;
2. split touching blobs: peaks of the distance transform (in physical units), at least
   ``min_distance`` voxels apart, flooded back over the foreground (watershed on the distance);
3. keep pseudo-objects between half the 10th and 1.5x the 90th size percentile of the object
   counts, or between a quarter and 4x ``expected_size`` voxels when it is given. With
   ``size_rule="typical"`` (an option), between a quarter and 4x the size-weighted median
   (:func:`typical_size`), so that noise specks, which are many but small, do not set the range.

Its :class:`PseudoReport` says whether to trust them. Pseudo-objects teach the networks their own
boundaries, so where they do not look like objects adaptation hurts (measured on a held-out brain
T1 with supervoxels: round 1 0.33 -> 0.06). The verdict asks for blobs that the threshold really
separates from their surroundings: enough of them, a clearly two-class histogram, a foreground that
is not most of the volume, and objects whose surface mostly faces background rather than other
pseudo-objects (a tissue mass chopped into pieces by the watershed faces itself). The thresholds of
the verdict were set on synthetic nuclei and the real training volumes (CT/MR organs, brain MRI),
never on the dev set; ``docs/research/label_free.md`` lists what each volume scored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

#: How the kept size range is found without ``expected_size``: "percentiles" (half the 10th to 1.5x
#: the 90th percentile of the object counts; the default) or "typical" (a quarter to 4x
#: :func:`typical_size`). On synthetic nuclei (never dev) "typical" raised the pseudo-objects' mean
#: best Dice with the true nuclei from 0.572 to 0.606 and cut junk pseudo-objects from 15 % to 8 %,
#: and on dev it raised learning without clicks alone, but learning 3 committed objects on top of
#: it fell far below shipped on the synthetic 3D nuclei (docs/research/label_free): an option.
SIZE_RULES = ("percentiles", "typical")

#: The verdict's thresholds (see the module docstring).
MIN_OBJECTS = 5
MIN_SEPARABILITY = 0.5  # Otsu's between-class / total variance of the smoothed image
MAX_FOREGROUND = 0.5  # share of the volume above the threshold
MIN_ISOLATION = 0.5  # median share of a pseudo-object's surface that faces background


@dataclass
class PseudoReport:
    """How far pseudo-objects can be trusted; ``suitable`` and ``reason`` are the verdict."""

    n_objects: int
    n_candidates: int
    threshold: float
    separability: float
    foreground_fraction: float
    isolation: float
    size_voxels: dict = field(default_factory=dict)  # p10, median, p90 of the kept objects
    elongation: float = 0.0  # median ratio of a kept object's longest to shortest physical extent
    settings: dict = field(default_factory=dict)
    suitable: bool = False
    reason: str = ""

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def text(self) -> str:
        """One paragraph for the user."""
        head = (f"{self.n_objects} blob-like objects found (median {self.size_voxels.get('median', 0):.0f} voxels); "
                f"separability {self.separability:.2f}, foreground {100 * self.foreground_fraction:.0f}% of the image, "
                f"{100 * self.isolation:.0f}% of their surface faces background.")
        return head + (" Suitable for learning without clicks." if self.suitable else f" Not suitable: {self.reason}")


def otsu_threshold(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """(threshold, separability): Otsu's level of ``values`` and its between-class / total variance (0..1)."""
    values = values[np.isfinite(values)]
    if values.size == 0 or values.max() <= values.min():
        return float(values.max()) if values.size else 0.0, 0.0
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(float)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2 / w0[-1] ** 2
    k = int(np.argmax(between[:-1]))
    return float(edges[k + 1]), float(between[k] / max(values.var(), 1e-12))


def surface_isolation(labels: np.ndarray) -> np.ndarray:
    """Per object id (index = id): the share of its 6-neighbour surface contacts that are background."""
    n = int(labels.max())
    to_bg = np.zeros(n + 1)
    to_other = np.zeros(n + 1)
    for axis in range(3):
        for a, b in ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))):
            idx_a = [slice(None)] * 3
            idx_b = [slice(None)] * 3
            idx_a[axis], idx_b[axis] = a, b
            la, lb = labels[tuple(idx_a)], labels[tuple(idx_b)]
            edge = (la > 0) & (la != lb)
            to_bg += np.bincount(la[edge & (lb == 0)], minlength=n + 1)
            to_other += np.bincount(la[edge & (lb > 0)], minlength=n + 1)
    return to_bg / np.maximum(to_bg + to_other, 1)


def _split_blobs(foreground: np.ndarray, spacing, min_distance: int) -> tuple[np.ndarray, float]:
    """Watershed of the foreground on its distance transform; (labels, seed distance used, in voxels).

    Seeds are the distance transform's maxima at least ``max(min_distance, radius)`` in-plane voxels
    apart, where ``radius`` is the median over connected blobs of their largest inscribed radius: a
    seed per blob of the typical size, so large nuclei are not cut into pieces at every bump. Each
    connected blob is split in its own bounding box (padded by a voxel), so memory follows the
    largest blob, not the volume (a whole-volume distance transform needs ~20 bytes a voxel).
    """
    blobs, n = ndimage.label(foreground, output=np.int32)
    boxes = ndimage.find_objects(blobs)
    shape = foreground.shape

    def blob(i: int):
        sl = tuple(slice(max(0, s.start - 1), min(d, s.stop + 1)) for s, d in zip(boxes[i], shape))
        return sl, blobs[sl] == i + 1

    pixel = float(min(spacing[1:]))
    radii = [float(ndimage.distance_transform_edt(blob(i)[1], sampling=spacing).max()) for i in range(n)]
    apart = max(float(min_distance), float(np.median(radii)) / pixel if radii else 0.0)
    size = [max(1, int(round(2 * apart / r)) | 1) for r in np.asarray(spacing, float) / pixel]
    out = np.zeros(shape, np.int32)
    next_id = 1
    for i in range(n):
        sl, inside = blob(i)
        dist = ndimage.distance_transform_edt(inside, sampling=spacing).astype(np.float32)
        dist = ndimage.gaussian_filter(dist, 1.0, output=np.float32) * inside
        peaks = (dist == ndimage.maximum_filter(dist, size=size)) & inside & (dist > 0)
        markers, k = ndimage.label(peaks, output=np.int32)
        if k <= 1:
            out[sl][inside] = next_id
            next_id += 1
            continue
        top = max(float(dist.max()), 1e-6)
        depth = np.full(dist.shape, 65535, dtype=np.uint16)
        depth[inside] = ((top - dist[inside]) / top * 65000).astype(np.uint16)
        markers[~inside] = -1  # the outside floods as its own basin
        split = ndimage.watershed_ift(depth, markers)
        out[sl][inside] = np.where(split[inside] > 0, split[inside] + next_id - 1, next_id)
        next_id += k
    return out, apart


def typical_size(sizes: np.ndarray) -> float:
    """The size of the object a typical foreground voxel belongs to: the size-weighted median.

    Noise specks are many but hold few voxels, so they barely move it, while they drag the plain
    percentiles of object counts down to their own size.
    """
    sizes = np.sort(np.asarray(sizes, dtype=np.float64))
    cumulative = np.cumsum(sizes)
    return float(sizes[int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))])


def pseudo_objects(volume, spacing=None, expected_size: float | None = None, min_distance: int = 4,
                   sigma: float = 1.0, fill_holes: bool = True, size_rule: str = "percentiles") -> tuple[np.ndarray, PseudoReport]:
    """Pseudo-objects of a blob-like volume and how far to trust them.

    volume: (Z, Y, X) array; spacing: (dz, dy, dx) (default 1); expected_size: the expected object
    size in voxels (default: from the objects found); min_distance: voxels between two seeds.
    Returns (labels (Z, Y, X) uint16 (int32 past 65535 objects) with ids 1..n, :class:`PseudoReport`).
    """
    from ..inference.volume import check_spacing

    image = np.asarray(volume, dtype=np.float32)
    if image.ndim != 3 or min(image.shape) < 2:
        raise ValueError(f"pseudo-objects need a 3D (Z, Y, X) volume, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError("the volume holds NaN or infinite values")
    spacing = check_spacing(spacing)
    if size_rule not in SIZE_RULES:
        raise ValueError(f"size_rule must be one of {SIZE_RULES}, not {size_rule!r}")
    settings = {"sigma": sigma, "min_distance": min_distance, "expected_size": expected_size, "fill_holes": fill_holes,
                "size_rule": size_rule}
    smooth = ndimage.gaussian_filter(image, sigma, output=np.float32)
    del image
    level, separability = otsu_threshold(smooth[:: max(1, smooth.shape[0] // 32)].ravel())
    foreground = smooth > level
    del smooth
    if fill_holes:  # texture and dark nucleoli inside a blob must not split it (per slice, then in 3D)
        foreground = np.stack([ndimage.binary_fill_holes(f) for f in foreground])
        foreground = ndimage.binary_opening(foreground, iterations=1)
    fg_fraction = float(foreground.mean())
    split, apart = _split_blobs(foreground, spacing, min_distance)
    settings["seed_distance_voxels"] = round(apart, 2)
    ids, sizes = np.unique(split[split > 0], return_counts=True)
    if not expected_size and size_rule == "typical" and sizes.size:
        expected_size = typical_size(sizes)
        settings["typical_size"] = round(float(expected_size), 1)
    if expected_size:
        lo, hi = 0.25 * expected_size, 4.0 * expected_size
    elif sizes.size:
        lo, hi = 0.5 * np.percentile(sizes, 10), 1.5 * np.percentile(sizes, 90)
    else:
        lo = hi = 0
    keep = ids[(sizes >= lo) & (sizes <= hi)]
    dtype = np.uint16 if keep.size < 2**16 else np.int32
    lut = np.zeros(int(split.max()) + 1, dtype)
    lut[keep] = np.arange(1, keep.size + 1)
    labels = lut[split]
    # the verdict judges the segmentation, not the filter: isolation over every candidate (the
    # size filter must not turn a tissue cut into pieces into "separate objects" by keeping the
    # few large pieces)
    isolation = surface_isolation(split)[ids] if keep.size else np.zeros(0)
    kept_sizes = sizes[np.isin(ids, keep)]
    report = PseudoReport(
        n_objects=int(keep.size), n_candidates=int(ids.size), threshold=float(level), separability=separability,
        foreground_fraction=fg_fraction, isolation=float(np.median(isolation)) if isolation.size else 0.0,
        size_voxels={k: float(np.percentile(kept_sizes, q)) if kept_sizes.size else 0.0
                     for k, q in (("p10", 10), ("median", 50), ("p90", 90))},
        elongation=_median_elongation(labels, keep.size, spacing), settings=settings)
    report.suitable, report.reason = verdict(report)
    return labels, report


def _median_elongation(labels: np.ndarray, n: int, spacing) -> float:
    if n == 0:
        return 0.0
    boxes = ndimage.find_objects(labels)
    ratios = []
    for box in boxes:
        if box is None:
            continue
        ext = np.array([(s.stop - s.start) * d for s, d in zip(box, spacing)])
        ratios.append(ext.max() / max(ext.min(), 1e-6))
    return float(np.median(ratios)) if ratios else 0.0


def verdict(r: PseudoReport) -> tuple[bool, str]:
    """(suitable, why not) from the report's measurements."""
    if r.n_objects < MIN_OBJECTS:
        return False, f"only {r.n_objects} blob-like objects were found (at least {MIN_OBJECTS} are needed)."
    if r.separability < MIN_SEPARABILITY:
        return False, (f"the objects do not stand out from the background (separability {r.separability:.2f}, "
                       f"at least {MIN_SEPARABILITY} needed).")
    if r.foreground_fraction > MAX_FOREGROUND:
        return False, (f"{100 * r.foreground_fraction:.0f}% of the image is foreground: this looks like tissue, "
                       "not separate objects.")
    if r.isolation < MIN_ISOLATION:
        return False, (f"the pieces mostly touch each other ({100 * r.isolation:.0f}% of their surface faces background): "
                       "a tissue cut into pieces, not separate objects.")
    return True, ""
