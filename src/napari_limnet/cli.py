"""Headless command line: the main job without a GUI.

    napari-limnet segment IMAGE --click z,y,x[,+|-] ... --out MASK.nii.gz [--overlay slice.png]
    napari-limnet sample NAME --out FILE.nii.gz        # write a bundled sample volume
    napari-limnet replay SESSION.limnet.json IMAGE --out LABELS.nii.gz   # a saved session, exactly
    napari-limnet batch SESSION.limnet.json ... --out-dir DIR [--scheduler ADDR]  # many, on dask

Clicks are voxel indices (z, y, x) in the array order napari shows (for NIfTI: the file's
(k, j, i)). ``+`` (default) marks the object, ``-`` background. Clicks are grouped by slice, and
each slice becomes one interaction round, in the order the slices first appear. The mask is
written with the source geometry (NIfTI affine / TIFF voxel size).
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
import struct
from pathlib import Path

import numpy as np


def parse_click(text: str) -> tuple[int, int, int, bool]:
    """'z,y,x' or 'z,y,x,+' / 'z,y,x,-' -> (z, y, x, positive)."""
    parts = [p.strip() for p in text.split(",")]
    sign = True
    if len(parts) == 4:
        if parts[3] not in ("+", "-", "pos", "neg"):
            raise argparse.ArgumentTypeError(f"click {text!r}: the 4th field must be + or -")
        sign = parts[3] in ("+", "pos")
        parts = parts[:3]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"click {text!r}: expected z,y,x or z,y,x,+/-")
    try:
        z, y, x = (int(round(float(p))) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"click {text!r}: coordinates must be numbers") from None
    return z, y, x, sign


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Minimal PNG writer for an (H, W, 3) uint8 image (no imaging library needed)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path = Path(path)
    path.write_bytes(png)
    return path


def overlay_rgb(image2d: np.ndarray, mask2d: np.ndarray, clicks=(), upscale: int = 0) -> np.ndarray:
    """Grey slice with the mask outline in yellow, a light fill, and clicks (green +, red -)."""
    img = np.asarray(image2d, dtype=np.float32)
    lo, hi = np.percentile(img, [0.5, 99.5])
    grey = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat((grey * 255)[..., None], 3, axis=2)
    mask = np.asarray(mask2d, dtype=bool)
    rgb[mask] = 0.7 * rgb[mask] + 0.3 * np.array([255, 200, 0])
    from scipy import ndimage

    edge = mask & ~ndimage.binary_erosion(mask)
    rgb[edge] = [255, 220, 0]
    for y, x, positive in clicks:
        color = [0, 230, 0] if positive else [255, 40, 40]
        rgb[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2] = color
    out = rgb.astype(np.uint8)
    if upscale == 0:
        upscale = max(1, 512 // max(out.shape[:2]))
    return np.kron(out, np.ones((upscale, upscale, 1), dtype=np.uint8)) if upscale > 1 else out


def montage_slices(mask: np.ndarray, first: int, n: int = 5) -> list[int]:
    """Up to ``n`` slices spread over the mask's z-extent (the first clicked slice among them)."""
    zs = np.flatnonzero(np.asarray(mask).reshape(mask.shape[0], -1).any(1))
    if zs.size == 0:
        return [first]
    picks = set(np.linspace(zs[0], zs[-1], n).round().astype(int).tolist())
    if first not in picks:
        picks.remove(min(picks, key=lambda z: abs(z - first)))
        picks.add(first)
    return sorted(picks)


def overlay_montage(volume, mask: np.ndarray, zs: list[int], clicks_by_slice: dict) -> np.ndarray:
    """The overlays of slices ``zs`` side by side (white separators), one panel per slice."""
    panels = [overlay_rgb(np.asarray(volume[z]), mask[z], clicks_by_slice.get(z, ()), upscale=1) for z in zs]
    up = max(1, 320 // max(panels[0].shape[:2]))
    panels = [np.kron(p, np.ones((up, up, 1), dtype=np.uint8)) if up > 1 else p for p in panels]
    sep = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = [panels[0]]
    for p in panels[1:]:
        row += [sep, p]
    return np.concatenate(row, axis=1)


def segment_command(args) -> int:
    from .controller import LimNetController
    from .io.files import read_volume, write_volume

    vol = read_volume(args.image)
    ctrl = LimNetController(vol.data, spacing=vol.geometry.spacing, device=args.device)
    rounds: dict[int, tuple[list, list]] = {}
    order: list[int] = []
    for z, y, x, positive in args.click:
        if z not in rounds:
            rounds[z] = ([], [])
            order.append(z)
        (rounds[z][0] if positive else rounds[z][1]).append((y, x))
    t0 = time.perf_counter()
    for z in order:
        pos, neg = rounds[z]
        ctrl.interact(z, pos, neg)
    elapsed = time.perf_counter() - t0
    mask = np.asarray(ctrl.mask)
    header_like = str(args.image) if vol.kind == "nifti" else None
    write_volume(args.out, mask.astype(np.uint8), vol.geometry, labels=True, header_like=header_like)
    print(f"wrote {args.out}: {int(mask.sum())} voxels on {len(ctrl.nonempty_slices())} slices "
          f"({len(order)} round(s), {elapsed:.2f} s)")
    if args.overlay:
        clicks = {z: [(y, x, True) for y, x in p] + [(y, x, False) for y, x in n] for z, (p, n) in rounds.items()}
        zs = montage_slices(mask, order[0])
        write_png(args.overlay, overlay_montage(vol.data, mask, zs, clicks))
        print(f"wrote {args.overlay} (slices z={', '.join(map(str, zs))}, left to right, over the mask's extent)")
    return 0


def sample_command(args) -> int:
    from .io.files import write_volume
    from .io.geometry import Geometry
    from .data.samples import SAMPLES

    s = SAMPLES[args.name]()
    write_volume(args.out, s.image, Geometry.from_spacing(s.spacing), labels=False)
    clicks = " ".join(f"--click {z},{y},{x}" for z, y, x in s.demo_clicks())
    print(f"wrote {args.out} {s.image.shape} {s.image.dtype}, spacing {s.spacing} {s.unit}; "
          f"clicks inside the sample object (one per slice, as the demo uses them): {clicks}")
    return 0


def replay_command(args) -> int:
    from .replay_files import replay_to_file

    done_file = replay_to_file(args.session, args.image, args.out, device=args.device)
    result = done_file.result
    for w in result.warnings:
        print(f"napari-limnet: warning: {w}", file=sys.stderr)
    done = [t for t in result.timings if not t.get("skipped")]
    spacing = " x ".join(f"{v:g}" for v in done_file.geometry.spacing)
    print(f"wrote {done_file.out}: {len(done)} object(s), {sum(t['rounds'] for t in done)} round(s), "
          f"voxel size {spacing}, {done_file.seconds:.2f} s")
    return 0


def batch_command(args) -> int:
    from .batch import run_batch

    results = run_batch(args.sessions, args.out_dir, image_dir=args.image_dir, scheduler=args.scheduler,
                        workers=args.workers, csv_path=args.csv, device=args.device)
    failed = [r for r in results if r.get("error")]
    print(f"batch: {len(results) - len(failed)} of {len(results)} session(s) replayed into {args.out_dir}")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="napari-limnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    seg = sub.add_parser("segment", help="segment one object from clicks and write the mask")
    seg.add_argument("image", help=".nii, .nii.gz, .tif, .tiff or .npy volume")
    seg.add_argument("--click", action="append", type=parse_click, required=True, help="z,y,x[,+|-] (repeatable)")
    seg.add_argument("--out", required=True, help="mask file (.nii.gz, .nii, .tif, .npy)")
    seg.add_argument("--overlay", default=None,
                     help="PNG of 5 slices spread over the mask's extent (the first clicked one among them), with the mask")
    seg.add_argument("--device", default=None, help="cpu (default), cuda or mps")
    smp = sub.add_parser("sample", help="write a bundled sample volume to a file")
    smp.add_argument("name", choices=["ct_abdomen", "mri_head", "nuclei"])
    smp.add_argument("--out", required=True)
    rep = sub.add_parser("replay", help="reproduce the objects of a saved session (*.limnet.json) on its image")
    rep.add_argument("session")
    rep.add_argument("image")
    rep.add_argument("--out", required=True, help="labels file (.nii.gz, .nii, .tif, .npy)")
    rep.add_argument("--device", default=None)
    bat = sub.add_parser("batch", help="replay many saved sessions on a dask.distributed cluster")
    bat.add_argument("sessions", nargs="+", help="session files (*.limnet.json)")
    bat.add_argument("--out-dir", required=True)
    bat.add_argument("--image-dir", default=None, help="where the sessions' images are (by file name)")
    bat.add_argument("--scheduler", default=None, help="address of an existing cluster (default: a LocalCluster)")
    bat.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    bat.add_argument("--csv", default=None, help="per-object timings")
    bat.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    commands = {"segment": segment_command, "sample": sample_command, "replay": replay_command, "batch": batch_command}
    try:
        return commands[args.command](args)
    except ValueError as err:
        print(f"napari-limnet: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
