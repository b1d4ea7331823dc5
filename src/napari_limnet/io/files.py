"""Reading and writing volumes (NIfTI with nibabel, TIFF with tifffile), with their geometry.

All arrays are (Z, Y, X). Read errors become ``ValueError`` with a message that names the file
and says what is wrong (not a NIfTI, truncated, wrong extension). Writes are atomic: the data
goes to a temporary file in the same folder, which then replaces the target, so a failed save
never leaves a broken file in place of a good one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .geometry import Geometry

NIFTI_SUFFIXES = (".nii", ".nii.gz")
TIFF_SUFFIXES = (".tif", ".tiff")
NUMPY_SUFFIXES = (".npy",)
SUPPORTED_SUFFIXES = NIFTI_SUFFIXES + TIFF_SUFFIXES
#: every volume suffix, the double one first (so 'a.nii.gz' is 'a' + '.nii.gz', not 'a.nii' + '.gz')
_STEM_SUFFIXES = (".nii.gz", ".nii", ".tiff", ".tif", ".npy")


def split_volume_suffix(name: str) -> tuple[str, str]:
    """('labels', '.nii.gz') for 'labels.nii.gz' (the suffix in lower case); (name, '') for others."""
    for ext in _STEM_SUFFIXES:
        if name.lower().endswith(ext):
            return name[: -len(ext)], ext
    return name, ""


@dataclass
class Volume:
    """A volume read from disk: data (Z, Y, X) (or 2D / 4D as stored), geometry, provenance."""

    data: np.ndarray
    geometry: Geometry
    source: str = ""
    kind: str = ""  # 'nifti' | 'tiff' | 'numpy'
    #: "spacing_known": False when the file states no voxel size (the geometry is then 1 x 1 x 1)
    metadata: dict = field(default_factory=dict)


def file_kind(path: str | Path) -> str | None:
    """'nifti', 'tiff', 'numpy' from the extension, or None."""
    name = str(path).lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(TIFF_SUFFIXES):
        return "tiff"
    if name.endswith(NUMPY_SUFFIXES):
        return "numpy"
    return None


def sniff(path: str | Path) -> str:
    """What the file's first bytes say it is: 'tiff', 'gzip', 'nifti', 'numpy', 'empty' or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(352)
    if not head:
        return "empty"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:6] == b"\x93NUMPY":
        return "numpy"
    if len(head) >= 348 and (head[344:348] in (b"n+1\x00", b"ni1\x00") or head[4:8] in (b"n+2\x00",)):
        return "nifti"
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in (348, 540):
        return "nifti"
    return "unknown"


def _bad_file(path, what: str, err: Exception | None = None) -> ValueError:
    detail = f" ({type(err).__name__}: {err})" if err is not None else ""
    return ValueError(f"cannot read {Path(path).name}: {what}{detail}")


def read_volume(path: str | Path) -> Volume:
    """Read a NIfTI, TIFF or .npy volume with its geometry. Raises ValueError with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"cannot read {path}: no such file")
    kind = file_kind(path)
    if kind is None:
        raise ValueError(f"cannot read {path.name}: unsupported extension; use .nii, .nii.gz, .tif, .tiff or .npy")
    magic = sniff(path)
    if magic == "empty":
        raise _bad_file(path, "the file is empty")
    if kind == "nifti":
        if magic == "tiff":
            raise _bad_file(path, "it is a TIFF file with a NIfTI extension; rename it to .tif")
        if path.name.lower().endswith(".gz") and magic != "gzip":
            raise _bad_file(path, "the name ends in .gz but the file is not gzip-compressed; rename it to .nii")
        return _read_nifti(path)
    if kind == "tiff":
        if magic != "tiff":
            hint = "it looks like a NIfTI file; rename it to .nii/.nii.gz" if magic in ("nifti", "gzip") else "it is not a TIFF file"
            raise _bad_file(path, hint)
        return _read_tiff(path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - any numpy failure is a bad file for the user
        raise _bad_file(path, "not a valid .npy array", err) from None
    return Volume(data, Geometry(), str(path), "numpy", {"spacing_known": False})


#: Deflate cannot compress better than about 1032:1; a .gz whose header claims more data than
#: this many times the file's size is lying (or a decompression bomb).
MAX_GZIP_RATIO = 1100


def memory_budget_bytes() -> int:
    """How much one volume may take in memory: 3/4 of the machine's RAM."""
    try:
        return int(0.75 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def check_claimed_size(path: Path, shape, itemsize: int, offset: int = 0, compressed: bool = False,
                       max_ratio: float = MAX_GZIP_RATIO) -> None:
    """Refuse, before allocating anything, a header whose data could not be in the file or in memory."""
    need = int(itemsize)
    for n in shape:
        if int(n) < 0:
            raise _bad_file(path, f"the header gives a negative size {tuple(shape)}")
        need *= int(n)
    have = path.stat().st_size
    if need == 0:
        raise _bad_file(path, f"the header gives an empty image {tuple(int(n) for n in shape)}")
    if not compressed and need + int(offset) > have:
        raise _bad_file(path, f"the header claims {need:,} bytes of image data but the file holds {have:,} bytes "
                              "(truncated, or a corrupt header)")
    if compressed and need > max_ratio * have:
        raise _bad_file(path, f"the header claims {need:,} bytes of image data, impossible in a {have:,}-byte "
                              "compressed file (a corrupt header)")
    if need > memory_budget_bytes():
        raise _bad_file(path, f"the image needs {need / 2**30:.1f} GB, more than this machine can hold; "
                              "crop it, or open it lazily (e.g. as OME-Zarr)")


def _read_nifti(path: Path) -> Volume:
    import nibabel as nib

    try:
        img = nib.load(str(path))
        hdr = img.header
        check_claimed_size(path, img.shape, np.dtype(img.get_data_dtype()).itemsize,
                           offset=int(hdr.get("vox_offset", 0) or 0), compressed=path.name.lower().endswith(".gz"))
        raw = np.asanyarray(img.dataobj)
        affine = img.affine if img.affine is not None else np.eye(4)
    except ValueError as err:
        if str(err).startswith(f"cannot read {path.name}"):
            raise
        raise _bad_file(path, "the NIfTI file is corrupt or truncated", err) from None
    except MemoryError as err:
        raise _bad_file(path, "the image does not fit in memory", err) from None
    except Exception as err:  # noqa: BLE001 - nibabel raises many types for hostile headers
        raise _bad_file(path, "the NIfTI file is corrupt or truncated", err) from None
    if raw.ndim < 2:
        raise _bad_file(path, f"the NIfTI image has {raw.ndim} dimensions")
    # (x, y, z[, t, ...]) -> (..., z, y, x): reverse the spatial axes, keep extra axes in front
    spatial = min(raw.ndim, 3)
    data = np.moveaxis(raw, list(range(spatial)), list(range(raw.ndim - 1, raw.ndim - 1 - spatial, -1)))
    meta = {"nifti_affine": np.asarray(affine, dtype=float).tolist(), "source_path": str(path)}
    try:
        geometry = Geometry.from_nifti_affine(affine)
    except Exception as err:  # noqa: BLE001 - a NaN or singular affine in a hostile header
        raise _bad_file(path, "the NIfTI header's affine is not usable", err) from None
    return Volume(np.ascontiguousarray(data), geometry, str(path), "nifti", meta)


def _tiff_spacing(tif) -> tuple[float, float, float] | None:
    """(dz, dy, dx) from OME, ImageJ or napari-limnet metadata (1.0 on an axis it leaves out); None when the
    file states no voxel size at all."""
    dz = dy = dx = 1.0
    found = False
    try:
        if tif.is_ome and tif.ome_metadata:
            import xml.etree.ElementTree as ET

            root = ET.fromstring(tif.ome_metadata)
            pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
            if pixels is not None:
                sizes = [pixels.get(f"PhysicalSize{a}") for a in "ZYX"]
                if any(v is not None for v in sizes):
                    return tuple(float(v) if v is not None else 1.0 for v in sizes)
        page = tif.pages[0]
        ij = tif.imagej_metadata or {}
        if "spacing" in ij:
            dz, found = float(ij["spacing"]), True
        for tag_name, axis in (("YResolution", "y"), ("XResolution", "x")):
            tag = page.tags.get(tag_name)
            if tag is not None:
                num, den = tag.value
                if num > 0 and (num, den) != (1, 1):
                    found = True
                    if axis == "y":
                        dy = den / num
                    else:
                        dx = den / num
        if not ij and page.description:
            try:
                desc = json.loads(page.description)
                if "spacing" in desc and len(desc["spacing"]) == 3:
                    (dz, dy, dx), found = (float(v) for v in desc["spacing"]), True
            except (ValueError, TypeError):
                pass
    except Exception:  # noqa: BLE001 - metadata is optional; fall back to unit spacing
        pass
    return (dz, dy, dx) if found else None


def _read_tiff(path: Path) -> Volume:
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            series = tif.series[0] if tif.series else None
            if series is None:
                raise _bad_file(path, "the TIFF file is corrupt or truncated (it holds no image)")
            page = series.pages[0] if len(series.pages) else None
            compressed = page is not None and int(getattr(page, "compression", 1)) not in (1,)
            check_claimed_size(path, series.shape, np.dtype(series.dtype).itemsize, compressed=compressed,
                               max_ratio=4 * MAX_GZIP_RATIO)
            data = tif.asarray()
            spacing = _tiff_spacing(tif)
            known = spacing is not None
            spacing = spacing or (1.0, 1.0, 1.0)
    except ValueError as err:
        if str(err).startswith(f"cannot read {path.name}"):
            raise
        raise _bad_file(path, "the TIFF file is corrupt or truncated", err) from None
    except Exception as err:  # noqa: BLE001 - tifffile raises many types for broken files
        raise _bad_file(path, "the TIFF file is corrupt or truncated", err) from None
    if data is None or data.size == 0:
        raise _bad_file(path, "the TIFF file is corrupt or truncated (it holds no image data)")
    return Volume(data, Geometry.from_spacing(spacing), str(path), "tiff",
                  {"source_path": str(path), "spacing_known": known})


def cache_root() -> Path:
    """``$LIMNET_CACHE_DIR``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/napari-limnet``."""
    env = os.environ.get("LIMNET_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "napari-limnet"


def inflight_dir() -> Path:
    """Where atomic writes note their temporary files while they write (see cleanup_stale_temps)."""
    return cache_root() / "inflight"


def atomic_write(path: str | Path, write_fn) -> Path:
    """Call ``write_fn(tmp_path)`` and move the result onto ``path`` only if it succeeded.

    The destination is either the complete old file or the complete new one. While writing, the
    temporary file's name is noted in :func:`inflight_dir`; if the process is killed mid-write,
    the next start removes the orphan (:func:`cleanup_stale_temps`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=str(path.parent))
    os.close(fd)
    note = _note_inflight(Path(tmp))
    try:
        write_fn(Path(tmp))
        os.chmod(tmp, _default_file_mode())  # mkstemp makes 0600; a new file gets 0666 & ~umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if note is not None:
            note.unlink(missing_ok=True)
    return path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process umask, read once at import (reading it means setting it, which is not thread-safe).
_UMASK = _read_umask()


def _default_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 without the process umask's bits."""
    return 0o666 & ~_UMASK


def _note_inflight(tmp: Path) -> Path | None:
    try:
        folder = inflight_dir()
        folder.mkdir(parents=True, exist_ok=True)
        note = folder / f"{os.getpid()}-{tmp.name}.txt"
        note.write_text(str(tmp.resolve()))
        return note
    except OSError:  # the note is a courtesy; the write itself must not fail because of it
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale_temps() -> int:
    """Remove temporary files left by atomic writes of processes that no longer run; returns how many."""
    removed = 0
    folder = inflight_dir()
    if not folder.is_dir():
        return 0
    for note in folder.glob("*.txt"):
        try:
            pid = int(note.name.split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            tmp = Path(note.read_text().strip())
            if tmp.name.startswith(".") and tmp.exists():
                tmp.unlink()
                removed += 1
            note.unlink(missing_ok=True)
        except OSError:
            continue
    return removed


def _label_dtype(data: np.ndarray) -> np.dtype:
    if data.dtype == bool:
        return np.dtype(np.uint8)
    vmax = int(data.max()) if data.size else 0
    vmin = int(data.min()) if data.size else 0
    if vmin < 0:
        return np.dtype(np.int32)
    if vmax < 256:
        return np.dtype(np.uint8)
    if vmax < 65536:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def write_volume(path: str | Path, data, geometry: Geometry, labels: bool = True, header_like: str | None = None) -> Path:
    """Write a (Z, Y, X) array to .nii/.nii.gz (with the geometry's affine) or .tif/.tiff (with spacing).

    ``labels=True`` stores integer labels in the smallest unsigned type that holds them.
    ``header_like``: a NIfTI file whose header (units, qform/sform codes) is reused.
    """
    data = np.asarray(data)
    if labels:
        data = data.astype(_label_dtype(data), copy=False)
    kind = file_kind(path)
    if kind == "nifti":
        import nibabel as nib

        def write(tmp: Path) -> None:
            arr = np.moveaxis(data, list(range(data.ndim - 1, data.ndim - 1 - min(3, data.ndim), -1)), list(range(min(3, data.ndim))))
            header = None
            if header_like is not None:
                try:
                    header = nib.load(header_like).header.copy()
                    header.set_data_dtype(arr.dtype)
                except Exception:  # noqa: BLE001 - the source header is a nicety, not a requirement
                    header = None
            img = nib.Nifti1Image(arr, geometry.nifti_affine(), header=header)
            # the source's codes when it had a header (a qform code 0 stays 0), else scanner (1)
            qcode = int(header["qform_code"]) if header is not None else 1
            scode = int(header["sform_code"]) if header is not None else 1
            img.set_qform(geometry.nifti_affine(), code=qcode)
            img.set_sform(geometry.nifti_affine(), code=scode if (scode or qcode) else 1)
            nib.save(img, str(tmp))

        return atomic_write(path, write)
    if kind == "tiff":
        import tifffile

        dz, dy, dx = geometry.spacing

        def write(tmp: Path) -> None:
            if data.dtype in (np.uint8, np.uint16, np.float32):
                tifffile.imwrite(
                    str(tmp), data, imagej=True, resolution=(1.0 / dx, 1.0 / dy),
                    metadata={"spacing": dz, "unit": "um", "axes": "ZYX"[-data.ndim:]},
                )
            else:
                tifffile.imwrite(
                    str(tmp), data, resolution=(1.0 / dx, 1.0 / dy),
                    description=json.dumps({"spacing": [dz, dy, dx]}), metadata=None,
                )

        return atomic_write(path, write)
    if kind == "numpy":
        return atomic_write(path, lambda tmp: np.save(tmp, data))
    raise ValueError(f"cannot write {Path(path).name}: use a .nii, .nii.gz, .tif, .tiff or .npy file name")
