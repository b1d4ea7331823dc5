"""Hostile files: seeded mutations of valid NIfTI (.nii, .nii.gz), TIFF and OME-TIFF files.

Bit flips, truncation, wrong header sizes, absurd dimensions and headers that claim terabytes,
opened through the plugin's reader and the CLI. Allowed outcomes: the file opens (the mutation
was harmless), or a ValueError / exit code 2 whose message names the file, or the reader
declines (None). Never another exception, never more than 5 s, never an allocation beyond what
the file could hold (numpy's traced peak stays under max(64 MB, 8 x the file's decompressed
size)). CI runs 520 cases; ``--runslow`` runs 2000.
"""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile

from napari_limnet._reader import get_reader
from napari_limnet.cli import main as cli_main

TIME_LIMIT_S = 5.0


def seeds(folder: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    vol = rng.integers(0, 400, size=(6, 12, 10)).astype(np.int16)
    out = {}
    nii = folder / "s.nii"
    nib.save(nib.Nifti1Image(vol.transpose(2, 1, 0), np.diag([0.8, 0.9, 3.0, 1.0])), str(nii))
    out["nii"] = nii.read_bytes()
    out["nii.gz"] = gzip.compress(out["nii"])
    tif = folder / "s.tif"
    tifffile.imwrite(str(tif), vol.astype(np.uint16), imagej=True, resolution=(1 / 0.5, 1 / 0.5), metadata={"spacing": 2.0, "axes": "ZYX"})
    out["tif"] = tif.read_bytes()
    ome = folder / "s.ome.tif"
    tifffile.imwrite(str(ome), vol.astype(np.uint16), ome=True, metadata={"axes": "ZYX", "PhysicalSizeZ": 2.0})
    out["ome.tif"] = ome.read_bytes()
    return out


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, str]:
    b = bytearray(data)
    how = rng.choice(["flip", "truncate", "header_size", "dims", "terabytes", "garbage_tail", "zero_run"])
    if kind == "nii.gz" and how in ("header_size", "dims", "terabytes"):
        raw, _ = mutate(gzip.decompress(data), "nii", rng)  # mutate inside, then recompress
        return gzip.compress(raw), f"gz({how})"
    if how == "flip":
        for _ in range(int(rng.integers(1, 16))):
            i = int(rng.integers(0, len(b)))
            b[i] ^= 1 << int(rng.integers(0, 8))
    elif how == "truncate":
        b = b[: int(rng.integers(0, len(b)))]
    elif how == "zero_run":
        i = int(rng.integers(0, len(b)))
        b[i : i + int(rng.integers(1, 64))] = bytes(min(len(b) - i, 64))[: len(b[i : i + 64])]
    elif how == "garbage_tail":
        b += rng.integers(0, 256, size=int(rng.integers(1, 4096)), dtype=np.uint8).tobytes()
    elif kind == "nii":
        if how == "header_size":
            struct.pack_into("<i", b, 0, int(rng.choice([0, 1, 347, 349, 540, -348, 2**31 - 1])))
            struct.pack_into("<f", b, 108, float(rng.choice([0.0, 1e9, -352.0, 352.5])))  # vox_offset
        elif how == "dims":
            struct.pack_into("<8h", b, 40, *[int(v) for v in rng.integers(-5, 32767, size=8)])
        else:  # terabytes: three axes of 32767 int64 voxels
            struct.pack_into("<8h", b, 40, 3, 32767, 32767, 32767, 1, 1, 1, 1)
            struct.pack_into("<h", b, 70, 1024)  # datatype: int64
            struct.pack_into("<h", b, 72, 64)  # bitpix
    else:  # TIFF: corrupt tag values (image width/length, strip offsets) in the first IFD
        for tag in (256, 257, 273, 279):
            key = struct.pack("<H", tag)
            i = bytes(b).find(key, 8)
            if 0 <= i < len(b) - 12:
                if how == "terabytes":
                    struct.pack_into("<HHI", b, i + 2, 4, 1, 0)
                    struct.pack_into("<I", b, i + 8, 2**31 - 1)
                else:
                    struct.pack_into("<I", b, i + 8, int(rng.integers(0, 2**32)))
    return bytes(b), how


def open_once(path: Path, out_dir: Path) -> tuple[str, str, float, int]:
    """(reader outcome, cli outcome, seconds, traced peak bytes) for one file."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        reader = get_reader(str(path))
        if reader is None:
            outcome = "declined"
        else:
            try:
                layers = reader(str(path))
                outcome = "opened" if layers and layers[0][0] is not None else "empty"
            except ValueError as err:
                assert path.name in str(err), f"the message names the file: {err}"
                outcome = "ValueError"
        rc = cli_main(["segment", str(path), "--click", "0,0,0", "--out", str(out_dir / "m.nii.gz")]) if outcome != "opened" else -1
        cli = {0: "ok", 2: "error 2", -1: "skipped"}.get(rc, f"rc {rc}")
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, cli, seconds, peak


def campaign(tmp_path: Path, n: int, capsys=None) -> dict:
    base = seeds(tmp_path)
    kinds = list(base)
    rng = np.random.default_rng(12345)
    counts: dict[str, int] = {}
    worst_s, worst_peak = 0.0, 0
    for i in range(n):
        kind = kinds[i % len(kinds)]
        data, how = mutate(base[kind], kind, rng)
        path = tmp_path / f"case{i}.{kind}"
        path.write_bytes(data)
        decompressed = len(gzip.decompress(data)) if kind == "nii.gz" and _gz_ok(data) else len(data)
        outcome, cli, seconds, peak = open_once(path, tmp_path)
        assert seconds < TIME_LIMIT_S, f"case {i} ({kind}, {how}) took {seconds:.1f} s"
        assert peak < max(64 * 2**20, 8 * decompressed), f"case {i} ({kind}, {how}) allocated {peak / 2**20:.0f} MB"
        assert cli in ("error 2", "skipped", "ok"), f"case {i}: the CLI ended with {cli}"
        counts[outcome] = counts.get(outcome, 0) + 1
        worst_s, worst_peak = max(worst_s, seconds), max(worst_peak, peak)
        path.unlink()
        if capsys is not None:
            capsys.readouterr()
    return {"cases": n, "outcomes": counts, "slowest_s": worst_s, "largest_peak_mb": worst_peak / 2**20}


def _gz_ok(data: bytes) -> bool:
    try:
        gzip.decompress(data)
        return True
    except Exception:  # noqa: BLE001
        return False


def test_520_fuzzed_files_give_only_clear_errors(tmp_path, capsys):
    report = campaign(tmp_path, 520, capsys)
    assert report["outcomes"].get("ValueError", 0) > 100, report
    assert sum(report["outcomes"].values()) == 520


@pytest.mark.slow
def test_2000_fuzzed_files(tmp_path, capsys):
    report = campaign(tmp_path, 2000, capsys)
    print(report)
