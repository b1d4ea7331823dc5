"""The 2D prompt mask: all clicks on one slice (+ its current mask) -> a mask on that slice.

Framing. The interaction net sees an object-centred crop. With a current mask on the slice the
crop frames the mask and the clicks. Without one, the first crop around the positive clicks has
a fixed physical size prior (:data:`FIRST_SIDE_PIXELS` at the finer in-plane spacing) and is then
*re-framed on its own result* until the framing is stable: a mask that runs into the crop edge
grows the crop, a small mask shrinks it. This is the multi-scale first crop (docs/design.md,
section 1); it keeps the net at the scale it was trained at (object ~ 1/CONTEXT of the crop side).

Clean-up keeps the result tied to the clicks: components with a positive click (or that were
already mostly in the slice's current mask) stay, components holding only negative clicks go.
A slice with only negative clicks is *erased* (made an empty boundary, docs/design.md section 3)
when less than :data:`ERASE_FRACTION` of its mask survives (or, when ``erase_depth`` is given, a
click lies in the core of its mask); otherwise it is a partial correction (a *trim*) of that slice,
which the controller never lets grow the object: it changes that slice alone or, with
``StoppingConfig.propagate_trims``, only removes pixels on the slices it spreads to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .clicks import click_map
from .correction import correct_slice_mask
from .crops import CROP_SIZE, CropBox, points_bbox, union_bbox
from .intensity import apply_window, intensity_window
from .outline import TEXTURE_SMOOTH, boundary_contrast, outline_contrast  # noqa: F401 - boundary_contrast: public here too
from .mask_store import SliceMask
from .runner import NetRunner
from .slice_io import mask_to_crop, paste_mask, read_crop
from .stopping import uncertain_pixels
from .volume import VolumeSource

FIRST_SIDE_PIXELS = 64
MAX_REFRAMES = 3
#: Multi-scale first crop: window sizes tried (times the size prior) when the first mask follows no edge.
MULTISCALE_FACTORS = (1, 2, 4)
#: A first mask whose outline has less boundary contrast than this (see boundary_contrast) follows
#: no edge at all, and triggers the larger windows; a larger window is taken when its mask's
#: outline reaches EDGE_CONTRAST. (Measured on the dev set, a lower bar for the first mask or a
#: higher one for the larger windows trades small low-contrast structures for large uniform ones.)
NO_EDGE_CONTRAST = 0.1
EDGE_CONTRAST = 1.0
#: A first mask on a weak edge (contrast between the two bars) is often texture inside an object
#: larger than the window: a nucleus at microscope resolution, seen through the 64-pixel window,
#: gives a speck around one chromatin spot. Such a mask gets one look through the window this many
#: times larger, which wins only where its mask sits on a clear edge (EDGE_CONTRAST). Not the 4x
#: window: at that size a weak-edged structure's mask becomes the outline of the organ around it.
WEAK_EDGE_LARGEST_FACTOR = 2
#: Small-window look: when the size prior's first mask stands on a weak edge (below EDGE_CONTRAST)
#: and no larger window won, the window this many times the size prior is looked through too. Seen
#: through the 64-pixel window, a structure of a few pixels with a faint outline gets a blob at the
#: net's trained scale (object ~ 1/CONTEXT of the window), 10-20x the object's area; the smaller
#: window's mask then sits on the object's outline. It wins when its outline has at least
#: SMALL_GAIN x the contrast of the size prior's mask and at least SMALL_FLOOR (both measured as the
#: larger of the raw and the averaged contrast). Chosen on the training volumes' structures
#: (docs/research/prompt/small_window_look.py), never dev.
SMALL_FACTOR = 0.5
SMALL_GAIN = 1.25
SMALL_FLOOR = 0.3
#: Collapse guard: after a larger window won the search on a clear edge, re-framing on its mask can
#: collapse. A textured nucleus framed at the net's trained scale becomes one of its chromatin
#: patches; the next, tighter window gives a smaller patch, and so on. A re-framed pass has
#: *collapsed* when its mask is smaller than the last pass that stood on the edge and its outline
#: lost the edge: contrast under EDGE_CONTRAST and under this fraction of that pass's contrast. The
#: last mask on the edge then stands. (A pass that only wobbles around the bar, or grows, is kept.)
#: Chosen on generated textured/packed nuclei, the synthetic hold-out and the training volumes'
#: structures (never dev).
COLLAPSE_CONTRAST = 0.75
#: Re-framing guard (every first click): re-framing on a small mask shrinks the window, and the
#: net's mask in the tighter window can shrink again, pass after pass, down to a speck of a few
#: pixels inside a structure many times larger (the cascade seen on brain MRI: 89 -> 38 -> 14
#: pixels). A re-framed pass has *shrunk away* when its mask is under SHRINK_COLLAPSE x the
#: previous pass's area and its outline stands on a weaker edge than that pass's (under
#: COLLAPSE_CONTRAST x its contrast and under EDGE_CONTRAST); the previous pass then stands. A small
#: object seen first as a blob shrinks onto its own, clearer outline and is not stopped.
SHRINK_COLLAPSE = 0.5
#: A negative-only round that leaves less than this fraction of the slice's mask empties the slice.
ERASE_FRACTION = 0.5
#: A negative click this deep inside the slice's mask (its distance to the mask's edge over the
#: mask's largest such distance) says the whole mask is wrong: the slice is erased outright. One
#: does not click "not this" in the core of the object one wants; a trim is clicked near the edge.
ERASE_DEPTH = 0.5
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class PromptConfig:
    """Choices of the first-click prompt that a benchmark can switch off.

    weak_edge_look: a first mask on a weak edge gets one look through a 2x window
    (:data:`WEAK_EDGE_LARGEST_FACTOR`); False = the release before it (only a first mask with no
    edge at all looks wider).
    texture_edge: a larger window's mask wins on a clear edge in the raw crop *or* in the crop
    averaged over :data:`TEXTURE_SMOOTH` pixels (an outline around texture); False = raw only.
    small_look: a size-prior mask on a weak edge that no larger window beat gets one look through
    the :data:`SMALL_FACTOR` window, which wins on a clearly better outline (:data:`SMALL_GAIN`,
    :data:`SMALL_FLOOR`); False = the release before it (windows only grow).
    collapse_guard: re-framing a larger window that won on a clear edge stops where a pass
    collapses, and the last mask on the edge stands (:data:`COLLAPSE_CONTRAST`); False = the
    release before it (re-framing always replaces it).
    border_contrast: an outline's contrast is measured only where the crop shows the slice. A
    window past the image edge is edge-padded, so the ring outside an object cut by the edge
    repeats the object's own border pixels and its contrast looked like no edge at all; False =
    the release before it (the padding counted).
    mirror_border: the interaction net sees the slice mirrored across its edges where a window
    reaches past them (an object cut by the edge looks whole), instead of the edge pixels
    repeated. Off by default (see the README's border-cut paragraph).
    """

    weak_edge_look: bool = True
    texture_edge: bool = True
    small_look: bool = True
    collapse_guard: bool = True
    border_contrast: bool = True
    mirror_border: bool = False
    reframe_guard: bool = True
    local_correction: bool = False
    first_click_check: bool = True

    @property
    def padding(self) -> str:
        """How the interaction net's windows are filled past the slice's edges (read_crop's mode)."""
        return "symmetric" if self.mirror_border else "edge"


@dataclass(frozen=True)
class EdgePass:
    """A first-click pass whose mask stands on a clear edge (see :data:`COLLAPSE_CONTRAST`).

    window: its window; logits: the net's (S, S) output there; contrast: its outline's contrast
    (the larger of raw and averaged, as in the search); mask: that output pasted into the slice.
    """

    window: CropBox
    logits: torch.Tensor
    contrast: float
    mask: SliceMask | None

    @property
    def area(self) -> int:
        """The mask's area in slice pixels."""
        return self.mask.area if self.mask is not None else 0

    def collapsed_into(self, contrast: float, area: int, shrink: float = 1.0) -> bool:
        """True when a re-framed pass with this outline contrast and mask area lost the edge (and,
        with ``shrink`` < 1, kept under that fraction of this pass's area)."""
        return (area < shrink * self.area and contrast < EDGE_CONTRAST
                and contrast < COLLAPSE_CONTRAST * self.contrast)


@dataclass(frozen=True)
class PromptResult:
    """The prompt mask of one slice and the crop it was made in (None mask = empty slice)."""

    mask: SliceMask | None
    box: CropBox
    passes: int
    #: expected wrong pixels of the last pass (see stopping.uncertain_pixels); 0 without a pass
    uncertain: float = 0.0
    #: a status-line sentence about the mask ('' = nothing to say; see first_click.first_mask_note)
    note: str = ""


def _stable(a: CropBox, b: CropBox) -> bool:
    """Two framings are close enough that re-running would not change the result much."""
    ratio = (b.height * b.width) / float(a.height * a.width)
    (ay, ax), (by, bx) = a.center, b.center
    shift = max(abs(ay - by) / a.height, abs(ax - bx) / a.width)
    return 0.75 <= ratio <= 1.33 and shift <= 0.12


def _limit_growth(current: CropBox, wanted: CropBox, factor: float = 2.5) -> CropBox:
    """Do not jump more than ``factor`` in side length per re-framing."""
    s = (wanted.height * wanted.width / float(current.height * current.width)) ** 0.5
    if s > factor:
        return wanted.scaled(factor / s)
    if s < 1 / factor:
        return wanted.scaled(1 / (factor * s))
    return wanted


def interaction_input(
    source: VolumeSource,
    z: int,
    box: CropBox,
    positive: np.ndarray,
    negative: np.ndarray,
    previous: SliceMask | None,
    size: int = CROP_SIZE,
    padding: str = "edge",
) -> torch.Tensor:
    """The interaction net's input for one crop: (1, 4, size, size) (padding: see ``read_crop``)."""
    raw = read_crop(source, z, box, size, padding)[None]
    low, high = intensity_window(raw)
    image = apply_window(raw, low, high)[0]
    pos = click_map(box.to_crop(positive, size), size)
    neg = click_map(box.to_crop(negative, size), size)
    prev = mask_to_crop(previous, box, size)
    return torch.stack([image, pos, neg, prev])[None]


def clean_prompt_mask(
    mask: SliceMask | None, positive: np.ndarray, negative: np.ndarray, previous: SliceMask | None
) -> SliceMask | None:
    """Keep components anchored by a positive click or by the previous mask; drop negative-only ones."""
    if mask is None:
        return None
    labels, n = ndimage.label(mask.crop, structure=_EIGHT)
    if n == 0:
        return None

    def component_ids(points: np.ndarray) -> set[int]:
        ids = set()
        for y, x in np.rint(np.asarray(points).reshape(-1, 2)).astype(int):
            yy, xx = y - mask.y0, x - mask.x0
            if 0 <= yy < labels.shape[0] and 0 <= xx < labels.shape[1] and labels[yy, xx]:
                ids.add(int(labels[yy, xx]))
        return ids

    pos_ids, neg_ids = component_ids(positive), component_ids(negative)
    keep = set(pos_ids)
    if previous is not None:
        prev_window = np.zeros(labels.shape, dtype=bool)
        previous.paste_into(prev_window, mask.y0, mask.x0)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        overlap = np.bincount(labels[prev_window].ravel(), minlength=n + 1)
        for i in range(1, n + 1):
            if overlap[i] >= 0.5 * sizes[i] and i not in neg_ids:
                keep.add(i)
    if not keep:
        return None
    return SliceMask.from_region(mask.y0, mask.x0, np.isin(labels, sorted(keep)))


def size_prior_box(positive: np.ndarray, spacing_yx: tuple[float, float]) -> CropBox:
    """The first window around (N, 2) positive clicks (y, x): their framing, at least the size prior.

    The size prior is :data:`FIRST_SIDE_PIXELS` pixels at the finer in-plane spacing, square in
    physical units.
    """
    first_side_mm = FIRST_SIDE_PIXELS * min(spacing_yx)
    box = CropBox.framing(points_bbox(positive), spacing_yx)
    if box.height * spacing_yx[0] < first_side_mm:
        box = CropBox.square_mm(box.center, first_side_mm, spacing_yx)
    return box


def _shown(box: CropBox, shape: tuple[int, int], size: int, config: PromptConfig) -> torch.Tensor | None:
    """The crop pixels an outline's contrast is measured on (None = all; see ``border_contrast``).

    A window inside the slice shows the slice everywhere, so it needs no mask.
    """
    if not config.border_contrast or box.within_slice(shape):
        return None
    return box.inside_crop(shape, size)


def _contains(outer: CropBox, inner: tuple[int, int, int, int]) -> bool:
    """True if the inclusive bbox (ymin, ymax, xmin, xmax) lies inside the window."""
    ymin, ymax, xmin, xmax = inner
    return outer.y0 <= ymin and ymax < outer.y1 and outer.x0 <= xmin and xmax < outer.x1


def _first_scale(runner, source, spacing_yx, z, box, positive, negative, size,
                 config: PromptConfig = PromptConfig()) -> tuple[CropBox, int, EdgePass | None, EdgePass | None]:
    """Pick the first window among 1x, 2x, 4x (and 0.5x) the size prior (multi-scale first crop).

    A click inside a large, uniform object seen through a small window gives a blob whose outline
    follows no image edge. When the first mask's outline has (almost) no contrast, larger windows
    are tried and the smallest one whose mask does sit on an edge wins; re-framing continues from
    there. A first mask on a weak edge (texture inside an object larger than the window) gets one
    look through the 2x window (``config.weak_edge_look``), which wins only on a clear edge (in
    the raw crop or, with ``config.texture_edge``, the averaged one). When the size prior still
    stands on a weak edge, a small structure may be hiding under a blob of the net's trained
    scale: the :data:`SMALL_FACTOR` window wins on a clearly better outline (``config.small_look``).
    Otherwise the size prior stands.

    Returns (the framing of the chosen window's mask, net passes, the larger window's pass when
    one won on a clear edge, else None, the chosen window's pass; both None when its mask is empty).
    """
    shape = source.slice_shape
    passes = 0
    chosen, chosen_factor, won = None, None, None
    first_contrast, first_image = 0.0, None
    largest = MULTISCALE_FACTORS[-1]
    for factor in MULTISCALE_FACTORS:
        if factor > largest:
            break
        cand = box.scaled(factor) if factor != 1 else box
        if factor != 1 and min(cand.height, cand.width) > 1.5 * max(shape):
            break
        x = interaction_input(source, z, cand, positive, negative, None, size, config.padding)
        logits = runner.interaction(x)[0, 0]
        passes += 1
        drawn = (logits > 0).float()
        contrast = outline_contrast(x[0, 0], drawn, averaged=chosen is not None and config.texture_edge,
                                     inside_slice=_shown(cand, shape, size, config))
        if chosen is None:
            chosen, chosen_factor = (cand, logits, x[0, 0]), factor
            first_contrast, first_image = contrast, x[0, 0]
            if contrast >= EDGE_CONTRAST or (contrast >= NO_EDGE_CONTRAST and not config.weak_edge_look):
                break  # the first mask follows an edge: keep the size prior
            if contrast >= NO_EDGE_CONTRAST:
                largest = WEAK_EDGE_LARGEST_FACTOR
        elif contrast >= EDGE_CONTRAST:
            chosen, chosen_factor = (cand, logits, x[0, 0]), factor
            won = EdgePass(cand, logits, contrast, paste_mask(logits, cand, shape))
            break
    # the search's passes count toward predict_prompt_mask's budget, as the larger windows' do
    small = box.scaled(SMALL_FACTOR)
    if (config.small_look and chosen_factor == 1 and first_contrast < EDGE_CONTRAST
            and _contains(small, points_bbox(positive))):
        # the size prior's raw contrast is first_contrast; add its averaged one
        prior_contrast = max(first_contrast, boundary_contrast(first_image, (chosen[1] > 0).float(), smooth=TEXTURE_SMOOTH,
                                                               inside_slice=_shown(chosen[0], shape, size, config)))
        x = interaction_input(source, z, small, positive, negative, None, size, config.padding)
        logits = runner.interaction(x)[0, 0]
        passes += 1
        small_contrast = outline_contrast(x[0, 0], (logits > 0).float(), averaged=True, inside_slice=_shown(small, shape, size, config))
        if small_contrast >= max(SMALL_FLOOR, SMALL_GAIN * prior_contrast):
            chosen = (small, logits, x[0, 0])
    cand, logits, image = chosen
    pasted = won.mask if won is not None else paste_mask(logits, cand, shape)  # a win is the chosen window
    mask = clean_prompt_mask(pasted, positive, negative, None)
    if mask is None:
        return box, passes, None, None
    contrast = won.contrast if won is not None else outline_contrast(
        image, (logits > 0).float(), averaged=config.texture_edge, inside_slice=_shown(cand, shape, size, config))
    framing = CropBox.framing(union_bbox(mask.bbox, points_bbox(positive)), spacing_yx)
    return framing, passes, won, EdgePass(cand, logits, contrast, pasted)


def _collapsed(this: EdgePass, edge: EdgePass | None, last: EdgePass | None) -> EdgePass | None:
    """The pass to go back to when re-framing collapsed into ``this`` (else None): the last pass on a
    clear edge after a larger window won (collapse guard), else the previous pass when ``this``
    shrank away from it (re-framing guard, :data:`SHRINK_COLLAPSE`)."""
    if edge is not None and edge.collapsed_into(this.contrast, this.area):
        return edge
    if last is not None and last.collapsed_into(this.contrast, this.area, SHRINK_COLLAPSE):
        return last
    return None


def _settled(mask: SliceMask | None, positive: np.ndarray, negative: np.ndarray, previous: SliceMask | None,
             new_clicks: np.ndarray | None, shape: tuple[int, int]) -> SliceMask | None:
    """The net's mask, cleaned (:func:`clean_prompt_mask`), taken near ``new_clicks`` when correcting
    (:func:`~.correction.correct_slice_mask`; None = the whole answer), and erased when a
    negative-only round keeps under :data:`ERASE_FRACTION` of the slice's mask."""
    cleaned = clean_prompt_mask(mask, positive, negative, previous)
    if previous is not None and new_clicks is not None and len(new_clicks):
        cleaned = correct_slice_mask(previous, cleaned, new_clicks, positive, negative, shape)
    if len(positive) == 0 and cleaned is not None and previous is not None:
        if cleaned.area < ERASE_FRACTION * previous.area:
            cleaned = None  # the user is erasing the object on this slice: it becomes an empty boundary
    return cleaned


def clicks_in_core(mask: SliceMask | None, points: np.ndarray, depth: float = ERASE_DEPTH) -> bool:
    """True when a click lies in the core of ``mask``: at least ``depth`` x the mask's deepest point."""
    if mask is None or len(points) == 0:
        return False
    padded = np.pad(mask.crop, 1)
    dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    deepest = float(dist.max())
    if deepest <= 0:
        return False
    for y, x in np.rint(np.asarray(points).reshape(-1, 2)).astype(int):
        yy, xx = y - mask.y0, x - mask.x0
        if 0 <= yy < dist.shape[0] and 0 <= xx < dist.shape[1] and dist[yy, xx] >= depth * deepest:
            return True
    return False


def predict_prompt_mask(
    runner: NetRunner,
    source: VolumeSource,
    spacing_yx: tuple[float, float],
    z: int,
    positive: np.ndarray,
    negative: np.ndarray,
    previous: SliceMask | None,
    size: int = CROP_SIZE,
    erase_depth: float | None = None,
    config: PromptConfig = PromptConfig(),
    new_clicks: np.ndarray | None = None,
    start: float | None = None,
) -> PromptResult:
    """Run the interaction net on slice z with all its clicks.

    positive, negative: (N, 2) / (M, 2) slice pixel coordinates (y, x). previous: the slice's
    current mask, or None. erase_depth: see :data:`ERASE_DEPTH` (None = never erase on depth).
    config: :class:`PromptConfig`. new_clicks: (K, 2) this round's clicks among them, for the local
    correction (:func:`_settled`; None = none). start: a first click's window as a factor of the
    size prior, re-framed from there without the multi-scale search (None = the search picks it).
    """
    positive = np.asarray(positive, dtype=np.float64).reshape(-1, 2)
    negative = np.asarray(negative, dtype=np.float64).reshape(-1, 2)
    shape = source.slice_shape
    # Frame on the positive clicks and the current mask; negative clicks far away from the object
    # must not blow the crop up (they act wherever they fall inside it).
    clicks_box = points_bbox(positive if len(positive) else negative)
    prev_box = previous.bbox if previous is not None else None
    if prev_box is None and len(positive) == 0:  # negative clicks on an empty slice: it stays empty (a boundary)
        return PromptResult(None, CropBox.framing(clicks_box, spacing_yx), 0)
    if len(positive) == 0 and erase_depth is not None and clicks_in_core(previous, negative, erase_depth):
        return PromptResult(None, CropBox.framing(union_bbox(prev_box, clicks_box), spacing_yx), 0)

    mask, passes, edge, last = None, 0, None, None
    if prev_box is not None:
        box = CropBox.framing(union_bbox(prev_box, clicks_box), spacing_yx)
    elif start is not None:
        box = size_prior_box(positive, spacing_yx).scaled(start)
    else:
        box, passes, edge, last = _first_scale(runner, source, spacing_yx, z, size_prior_box(positive, spacing_yx),
                                               positive, negative, size, config)
        edge = edge if config.collapse_guard else None
    guard_reframing = prev_box is None and edge is None and config.reframe_guard
    last = last if guard_reframing else None  # the previous pass, for the re-framing guard
    # net passes: the first framing + MAX_REFRAMES re-framings (+1 re-framing a multi-scale search's window)
    budget = MAX_REFRAMES + 1 if passes == 0 else MAX_REFRAMES + 2
    while True:
        passes += 1
        x = interaction_input(source, z, box, positive, negative, previous, size, config.padding)
        logits = runner.interaction(x)[0, 0]
        mask = paste_mask(logits, box, shape)
        if edge is not None or guard_reframing:
            this = EdgePass(box, logits, outline_contrast(x[0, 0], (logits > 0).float(), averaged=config.texture_edge,
                                                          inside_slice=_shown(box, shape, size, config)), mask)
            back = _collapsed(this, edge, last)
            if back is not None:
                box, logits, mask = back.window, back.logits, back.mask
                break
            edge = this if edge is not None and this.contrast >= EDGE_CONTRAST else edge
            last = this if guard_reframing else None
        anchor = union_bbox(mask.bbox if mask is not None else None, clicks_box, prev_box)
        wanted = CropBox.framing(anchor, spacing_yx)
        if mask is None or _stable(box, wanted) or (box.covers_slice(shape) and wanted.covers_slice(shape)):
            break
        if passes >= budget:
            break
        box = _limit_growth(box, wanted)
    settled = _settled(mask, positive, negative, previous, new_clicks if config.local_correction else None, shape)
    return PromptResult(settled, box, passes, uncertain_pixels(logits, box.height * box.width))

