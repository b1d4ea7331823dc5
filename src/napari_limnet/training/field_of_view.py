"""Training volumes whose object is cut by the image edge, as fields of view cut them.

A nucleus at the edge of a microscopy tile, an organ leaving a CT scan: the object ends at the
image border, and every crop window that reaches past it is edge-padded at inference
(``slice_io.read_crop``), so the border pixels repeat outward. Generated and bank volumes never
look like that (their objects sit inside the canvas), and every fine-tuned candidate so far lost
such objects (``evaluation/border_cut.py``, the benchmark's ``--border-cut`` proxy).

:func:`cut_by_image_edge` makes a share of a batch look cut: per chosen volume, a Y or X line
through its object (a random fraction of the object's extent kept) becomes the image edge.
Beyond it the image repeats the last row or column inside, exactly as edge padding fills a
window there; the target is empty and the label map is 0 (nothing to click on, nothing to
leak into). The returned image area marks the pixels that remain image, so training can clip its predicted
masks to it as the controller clips a mask to the volume.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from ..data.synthetic import SyntheticVolumes

#: Range of the fraction of the object's extent (on the cut axis) that stays inside the image.
KEEP_RANGE = (0.35, 0.85)


def add_border_cut_argument(parser: argparse.ArgumentParser) -> None:
    """``--border-cut P``: the share of main-stream volumes :func:`cut_by_image_edge` cuts (0-1)."""
    parser.add_argument("--border-cut", type=_share, default=0.0,
                        help="share of main-stream volumes whose object an image edge cuts (training.field_of_view)")


def border_cut_share(args) -> float:
    """``args.border_cut``, or 0 for a namespace without it (adaptation builds its own)."""
    return float(getattr(args, "border_cut", 0.0))


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, not {text}")
    return value


def cut_by_image_edge(vols: SyntheticVolumes, gen: torch.Generator, p: float,
                      keep_range: tuple[float, float] = KEEP_RANGE) -> tuple[SyntheticVolumes, torch.Tensor]:
    """Cut the object of each volume by an image edge with probability ``p``.

    vols: a batch with image, labels, target of shape (B, D, H, W); ``gen`` is a generator on
    their device. Returns the batch (new tensors, shapes unchanged) and the image area (B, H, W) bool:
    True where a pixel is still image (all True for volumes left whole). A chosen volume gets one
    edge, on a random side (top, bottom, left, right), through its target at a uniform fraction of
    ``keep_range`` of the target's extent on that axis (at least 2 pixels kept). Volumes with an
    empty target are left whole.
    """
    b, _, h, w = vols.target.shape
    dev = vols.target.device
    rnd = lambda: torch.rand(b, generator=gen, device=dev)  # noqa: E731
    chosen, side, keep = rnd() < p, (rnd() * 4).long().clamp_max(3), keep_range[0] + rnd() * (keep_range[1] - keep_range[0])
    along_y = side < 2  # sides 0/1: top/bottom edge (cut in Y); 2/3: left/right edge (cut in X)
    present_y = vols.target.any(1).any(2)  # (B, H)
    chosen = chosen & present_y.any(1)
    (lo_y, hi_y), (lo_x, hi_x) = _extent(present_y), _extent(vols.target.any(1).any(1))
    lo, hi = torch.where(along_y, lo_y, lo_x), torch.where(along_y, hi_y, hi_x)  # the object's [lo, hi) on the cut axis
    kept = (keep * (hi - lo)).round().long().clamp_min(2)
    # the image spans [start, stop) on the cut axis; an edge after the object's start, or before its end
    low_edge = side % 2 == 0
    length = torch.where(along_y, h, w)
    start = torch.where(chosen & low_edge, (hi - kept).clamp_min(0), 0)
    stop = torch.where(chosen & ~low_edge, (lo + kept).clamp_max(length), length)
    rows = _span_index(h, start, stop, chosen & along_y)  # (B, H)
    cols = _span_index(w, start, stop, chosen & ~along_y)  # (B, W)
    inside = (rows.eq(torch.arange(h, device=dev)).view(b, h, 1) & cols.eq(torch.arange(w, device=dev)).view(b, 1, w))
    bi = torch.arange(b, device=dev).view(b, 1, 1, 1)
    di = torch.arange(vols.target.shape[1], device=dev).view(1, -1, 1, 1)
    gather = lambda t: t[bi, di, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]  # noqa: E731
    keep_px = inside.unsqueeze(1)
    out = replace(
        vols,
        image=gather(vols.image).contiguous(),
        labels=torch.where(keep_px, vols.labels, 0).contiguous(),
        target=(vols.target & keep_px).contiguous(),
    )
    return out, inside


def _extent(present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, n) bool -> the first and one past the last True index, (B,) each (meaningless where none)."""
    n = present.shape[1]
    idx = torch.arange(n, device=present.device).view(1, n)
    return torch.where(present, idx, n).amin(1), torch.where(present, idx, -1).amax(1) + 1


def _span_index(n: int, start: torch.Tensor, stop: torch.Tensor, applies: torch.Tensor) -> torch.Tensor:
    """(B, n) source index per pixel: itself inside [start, stop), the nearest end outside (edge padding)."""
    idx = torch.arange(n, device=start.device).view(1, n)
    clamped = torch.minimum(torch.maximum(idx, start.view(-1, 1)), stop.view(-1, 1) - 1)
    return torch.where(applies.view(-1, 1), clamped, idx)
