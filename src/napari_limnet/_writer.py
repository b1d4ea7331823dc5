"""npe2 writer contribution: Labels layers to NIfTI (with the source affine) or TIFF (with voxel size).

Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

from .io.files import write_volume
from .io.geometry import Geometry


def geometry_from_attributes(attributes: dict) -> Geometry:
    """The layer's geometry; the source NIfTI affine in metadata wins (exact round trip)."""
    meta = attributes.get("metadata") or {}
    if "nifti_affine" in meta:
        return Geometry.from_nifti_affine(meta["nifti_affine"])
    return Geometry.from_layer(
        attributes.get("scale", (1, 1, 1)),
        attributes.get("translate", (0, 0, 0)),
        attributes.get("rotate"),
        attributes.get("shear"),
        attributes.get("affine"),
    )


def write_labels(path: str, data, attributes: dict) -> list[str]:
    """Write one Labels layer; returns the written path."""
    meta = attributes.get("metadata") or {}
    source = meta.get("source_path")
    header_like = source if source and str(source).lower().endswith((".nii", ".nii.gz")) else None
    out = write_volume(path, data, geometry_from_attributes(attributes), labels=True, header_like=header_like)
    return [str(out)]
