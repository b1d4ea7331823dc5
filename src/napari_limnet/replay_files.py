"""Replaying a saved session on an image file, headless: geometry check, replay, labels written.

Used by ``napari-limnet replay`` and by each task of ``napari-limnet batch``. The session's rounds
ran at the voxel size the user saw in napari (``image.spacing``, and ``image.affine`` from sessions
saved since issue 38), which need not be the file's: a TIFF with no voxel size shows as 1 x 1 x 1
until the user sets the layer's scale. So:

- a file that states no voxel size (TIFF without metadata, .npy) is replayed, and its labels are
  written, with the session's geometry;
- a file whose own voxel size agrees with the session's is replayed with it (a NIfTI keeps its header);
- a file whose own voxel size disagrees is refused with an error that names both: masks made at
  one voxel size are not the masks of another, and nothing is replayed silently differently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io.files import read_volume, write_volume
from .io.geometry import Geometry

#: relative difference of voxel sizes still taken as the same (float round trips through layers and JSON)
SPACING_RTOL = 1e-4


@dataclass
class FileReplay:
    """What :func:`replay_to_file` did: the replay result, where the labels went, the geometry used."""

    result: object  # sessions.ReplayResult
    out: Path
    geometry: Geometry
    seconds: float


def session_geometry(record, volume) -> Geometry:
    """The geometry a session's rounds ran with, for this file (see the module docstring).

    ``record``: a :class:`~napari_limnet.session_files.SessionRecord`; ``volume``: the file as read
    (:class:`~napari_limnet.io.files.Volume`). Raises ValueError when the file's own voxel size
    disagrees with the session's.
    """
    image = record.image
    recorded = image.get("spacing")
    if recorded is None:  # a session that recorded no voxel size: the file's is all there is
        return volume.geometry
    recorded = tuple(float(v) for v in recorded)
    if image.get("affine") is not None:
        session = Geometry(np.asarray(image["affine"], dtype=float))
    else:
        session = Geometry.from_spacing(recorded, origin=volume.geometry.affine[:3, 3])
    if not volume.metadata.get("spacing_known", True):
        return session
    problem = spacing_mismatch(recorded, volume.geometry.spacing, Path(volume.source).name)
    if problem:
        raise ValueError(problem + " Replay it on the image the session was made on, or fix the file's voxel size.")
    return volume.geometry


def spacing_mismatch(recorded, own, what: str) -> str | None:
    """A sentence saying that voxel size ``own`` (z, y, x) of ``what`` is not the session's ``recorded``; None if they agree."""
    recorded, own = tuple(float(v) for v in recorded), tuple(float(v) for v in own)
    if np.allclose(own, recorded, rtol=SPACING_RTOL, atol=0):
        return None
    fmt = " x ".join
    return (f"The session was made at voxel size {fmt(f'{v:g}' for v in recorded)} (z, y, x) but {what} has "
            f"{fmt(f'{v:g}' for v in own)}: its masks would differ.")


def replay_to_file(session_path, image_path, out, device=None, out_dir: bool = False) -> FileReplay:
    """Replay the session at ``session_path`` on ``image_path``; write the labels to ``out``.

    ``out_dir``: ``out`` is a folder, and the file name comes from the image's (``<stem>_labels``).
    Raises ValueError (a bad session, a missing weights file, a geometry or shape mismatch)
    before any file is written.
    """
    from .session_files import SessionRecord, replay

    t0 = time.perf_counter()
    record = SessionRecord.load(session_path)
    vol = read_volume(image_path)
    geometry = session_geometry(record, vol)
    result = replay(record, vol.data, spacing=geometry.spacing, device=device)
    if out_dir:
        from .batch import output_name

        out = Path(out) / output_name(Path(image_path))
    header_like = str(image_path) if vol.kind == "nifti" and geometry is vol.geometry else None
    written = write_volume(out, result.labels.astype(np.uint16), geometry, labels=True, header_like=header_like)
    return FileReplay(result, Path(written), geometry, time.perf_counter() - t0)
