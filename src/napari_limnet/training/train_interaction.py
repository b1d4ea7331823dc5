"""Train the interaction net on synthetic slices with iterative click simulation.

    python -m napari_limnet.training.train_interaction --seconds 3600 --seed 0

Each step draws fresh synthetic volumes, takes slices through the target and simulates a
session on each, as the controller runs it:

- *fresh* slices start from one positive click, in either a first-pass crop around the click
  (a fixed size prior) or the standard framing of the object (what re-framing converges to);
- *refine* slices start from a wrong mask (as propagation leaves it) and a corrective click;
- then 0-3 further clicks are taken from the net's own errors (no gradient), re-framing the
  crop each time around the prediction and the clicks, and the last pass is trained.

``--border-cut P`` (training.field_of_view): a share P of the main stream's volumes gets an
image edge through its object, so first-click windows reach past the image (edge-padded, as at
inference) and the net learns to take the whole visible part of a cut object.
"""

from __future__ import annotations

import torch

from ..inference.clicks import click_maps
from ..inference.intensity import apply_window, intensity_window
from .batch_ops import batch_bbox, crop, framing, paste, points_bbox, to_crop_coords, union_bbox
from .click_simulation import ClickSet, error_click, first_click
from .common import (
    autocast, common_parser, corrupt_masks, data_record, dice_score, make_bank, seg_loss, setup, train_loop, validation_volumes,
)
from .field_of_view import add_border_cut_argument, border_cut_share, cut_by_image_edge
from .distillation import distill_bank, distill_batch, distill_record, frozen_teacher, soft_bce
from .what_moves import evaluating
from ..data.synthetic import make_volumes

NAME = "interaction"
FIRST_SIDE = 64.0
#: Slices per generated volume (slices are then sampled from the volumes).
VOLUME_DEPTH = 6
#: Share of samples that start from a wrong previous mask and a corrective click (the rest start
#: from one positive click), and share of slices taken where the target is absent.
REFINE_P = 0.35
EMPTY_P = 0.05


def sample_slices(vols, gen, per_volume: int, min_area: int = 8, empty_p: float = EMPTY_P):
    """Slices through the targets: (image, target, labels), each (B, H, W)."""
    area = vols.target.flatten(2).sum(2)  # (Bv, D)
    has = (area >= min_area).float()
    weights = has + 1e-6
    bv, d = area.shape
    z = torch.multinomial(weights, per_volume, replacement=True, generator=gen)  # (Bv, n)
    empty_ok = (area == 0).float()
    use_empty = (torch.rand(bv, per_volume, generator=gen, device=area.device) < empty_p) & (empty_ok.sum(1, keepdim=True) > 0)
    z_empty = torch.multinomial(empty_ok + 1e-6, per_volume, replacement=True, generator=gen)
    z = torch.where(use_empty, z_empty, z)
    bi = torch.arange(bv, device=area.device).view(bv, 1).expand(bv, per_volume)
    take = lambda t: t[bi, z].flatten(0, 1)  # noqa: E731
    return take(vols.image), take(vols.target), take(vols.labels)


def net_input(img, box, clicks: ClickSet, prev, size):
    """(B, 4, S, S) interaction-net input and the crops' geometry."""
    raw = crop(img.unsqueeze(1), box, size)
    low, high = intensity_window(raw)
    image = apply_window(raw, low, high)
    pts = to_crop_coords(clicks.points, box, size)
    pos = click_maps(pts, clicks.of_kind(True), size)
    neg = click_maps(pts, clicks.of_kind(False), size)
    prev_crop = crop(prev.unsqueeze(1).float(), box, size, padding="zeros")
    return torch.cat([image, pos, neg, prev_crop], 1)


def reframe(mask, clicks: ClickSet, context):
    """Framing of (mask bbox U clicks bbox) per sample."""
    mb, mok = batch_bbox(mask)
    cb, cok = points_bbox(clicks.points, clicks.valid)
    bb, _ = union_bbox(mb, mok, cb, cok)
    return framing(bb, context)


def initial_state(img, gt, lab, gen, size, refine_p: float = REFINE_P):
    """Clicks, previous mask and crop box for the first pass of each sample."""
    b, h, w = gt.shape
    dev = gt.device
    rnd = lambda *s: torch.rand(*s, generator=gen, device=dev)  # noqa: E731
    empty = ~gt.flatten(1).any(1)
    refine = (rnd(b) < refine_p) | empty
    kind = torch.where(empty, 3, torch.randint(0, 6, (b,), generator=gen, device=dev))
    prev = corrupt_masks(gt, lab, gen, 0.2 + 0.8 * rnd(b), kind) & refine.view(b, 1, 1)
    fc = first_click(gt, gen)
    ec, epos, eerr = error_click(prev, gt, gen)
    clicks = ClickSet(b, dev)
    clicks.add(
        torch.where(refine.view(b, 1), ec, fc),
        torch.where(refine, epos, torch.ones_like(epos)),
        torch.where(refine, eerr, ~empty),
    )
    # crops: first-pass size prior around the click, the converged framing, or too tight
    gb, gok = batch_bbox(gt)
    converged = framing(gb, 1.25 + 0.95 * rnd(b))
    jitter = (rnd(b, 2) - 0.5) * 0.2 * converged[:, 2:3]
    converged = torch.cat([converged[:, :2] + jitter, converged[:, 2:]], 1)
    tight = framing(gb, 0.6 + 0.5 * rnd(b))
    first = torch.cat([clicks.points[:, 0], (FIRST_SIDE * (0.5 + 1.5 * rnd(b))).unsqueeze(1)], 1)
    u = rnd(b)
    box = torch.where((u < 0.35).view(b, 1), first, torch.where((u < 0.45).view(b, 1), tight, converged))
    box = torch.where(refine.view(b, 1), reframe(prev, clicks, 1.3 + 0.6 * rnd(b)), box)
    return clicks, prev, box


def run_episode(net, img, gt, lab, gen, size, n_extra: int, device, refine_p: float = REFINE_P, image_area=None):
    """Simulate clicks without gradient; return the final pass's input, crop target and box.

    ``image_area``: (B, H, W) bool, the pixels that are image (``field_of_view.cut_by_image_edge``);
    every mask is clipped to it, as the controller clips a mask to the volume, so error clicks
    never land past the image edge. None: the whole canvas.
    """
    b, h, w = gt.shape
    clicks, prev, box = initial_state(img, gt, lab, gen, size, refine_p)
    if image_area is not None:
        prev = prev & image_area
    for _ in range(n_extra):
        with torch.no_grad(), autocast(device):
            logits = net(net_input(img, box, clicks, prev, size).contiguous(memory_format=torch.channels_last))
        pred = paste(torch.sigmoid(logits.float()), box, (h, w))[:, 0] > 0.5
        inside = paste(torch.ones_like(logits), box, (h, w))[:, 0] > 0.5
        prev = torch.where(inside, pred, prev)  # outside the crop the old mask stays
        if image_area is not None:
            prev = prev & image_area
        pts, pos, err = error_click(prev, gt, gen)
        clicks.add(pts, pos, err)
        context = 1.4 + 0.4 * torch.rand(b, generator=gen, device=gt.device)
        box = reframe(prev, clicks, context)
    x = net_input(img, box, clicks, prev, size)
    target = crop(gt.unsqueeze(1).float(), box, size, padding="zeros") > 0.5
    return x, target, box


@torch.no_grad()
def validate(net, val, size, device, gen_seed: int = 999):
    """Mean canvas Dice after 1, 3 and 5 simulated clicks on a fixed validation set."""
    with evaluating(net):
        return _validate(net, val, size, device, gen_seed)


@torch.no_grad()
def _validate(net, val, size, device, gen_seed):
    img, gt, lab = val
    b, h, w = gt.shape
    gen = torch.Generator(device=device).manual_seed(gen_seed)
    clicks = ClickSet(b, device)
    clicks.add(first_click(gt, gen, exact_p=1.0), torch.ones(b, dtype=torch.bool, device=device), gt.flatten(1).any(1))
    prev = torch.zeros_like(gt)
    box = torch.cat([clicks.points[:, 0], torch.full((b, 1), FIRST_SIDE, device=device)], 1)
    scores = {}
    for k in range(1, 6):
        for _ in range(2 if k == 1 else 1):  # first click: one re-framing pass, as the controller does
            with autocast(device):
                logits = net(net_input(img, box, clicks, prev, size).contiguous(memory_format=torch.channels_last))
            pred = paste(torch.sigmoid(logits.float()), box, (h, w))[:, 0] > 0.5
            box = reframe(pred, clicks, torch.full((b,), 1.6, device=device))
        prev = pred
        if k in (1, 3, 5):
            scores[f"dice@{k}"] = float(dice_score(pred, gt).mean())
        pts, pos, err = error_click(prev, gt, gen)
        clicks.add(pts, pos, err)
        box = reframe(prev, clicks, torch.full((b,), 1.6, device=device))
    return scores


def build_parser():
    parser = common_parser(__doc__, seconds=600, batch=96, lr=2e-3)
    parser.add_argument("--per-volume", type=int, default=4, help="slices taken from each generated volume")
    parser.add_argument("--refine-p", type=float, default=REFINE_P,
                        help="share of samples starting from a wrong previous mask and a corrective click")
    parser.add_argument("--empty-p", type=float, default=EMPTY_P, help="share of slices where the target is absent")
    add_border_cut_argument(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    net, opt, device, gen = setup(args, NAME)
    val_gen = torch.Generator(device=device).manual_seed(10_000 + args.seed)
    vv = make_volumes(validation_volumes(args, 64), (VOLUME_DEPTH, args.canvas, args.canvas), val_gen, device)
    val = sample_slices(vv, val_gen, 4, empty_p=0.0)
    step_fn, bank = make_step(args, net, device, gen)
    val_real = None
    if bank is not None and bank.real is not None:  # a fixed real set: how well the training volumes are fit
        n_val = validation_volumes(args, 64)
        rv = bank.real.sample(n_val, (VOLUME_DEPTH, args.canvas, args.canvas), torch.Generator().manual_seed(30_000 + args.seed))
        val_real = sample_slices(rv, val_gen, 4, empty_p=0.0)

    def validate_all():
        out = validate(net, val, args.size, device)
        if val_real is not None:
            out.update({f"real_{k}": v for k, v in validate(net, val_real, args.size, device).items()})
        return out

    train_loop(args, NAME, net, opt, step_fn, validate_all,
               extra=lambda: {"border_cut": args.border_cut, **data_record(args, bank), **distill_record(args, step_fn.distill_bank)})


def make_step(args, net, device, gen, bank=None):
    """The training step closure (loss, samples) and the volume bank it draws from (or None).

    ``bank``: serve steps from this :class:`~napari_limnet.training.bank.VolumeBank` instead of
    the one ``args`` describes (adaptation passes a bank of the user's own structures).
    """
    shape = (VOLUME_DEPTH, args.canvas, args.canvas)
    bank = bank if bank is not None else make_bank(args, shape, device, gen)
    d_bank = distill_bank(args, shape, device, gen)
    teacher = frozen_teacher(net) if d_bank is not None else None
    n_vol = max(1, args.batch // args.per_volume)
    extra_clicks = torch.Generator().manual_seed(args.seed)

    def episode_input(source, n_volumes: int, step: int):
        """Slices from ``source`` (a bank, or None for fresh volumes) and a simulated session on them."""
        with torch.no_grad(), torch.profiler.record_function("data"):
            if source is None:
                vols = make_volumes(n_volumes, shape, gen, device)
            else:
                if step > 0 and step % args.refresh_every == 0:
                    source.refresh()
                vols = source.draw(n_volumes, reverse_z=False)
            image_area = None
            if source is bank and border_cut_share(args) > 0:
                vols, image_area = cut_by_image_edge(vols, gen, border_cut_share(args))
                image_area = image_area.repeat_interleave(args.per_volume, 0)  # per slice, as sample_slices orders them
            img, gt, lab = sample_slices(vols, gen, args.per_volume, empty_p=args.empty_p)
        n_extra = int(torch.multinomial(torch.tensor([0.35, 0.25, 0.2, 0.2]), 1, generator=extra_clicks).item())
        with torch.profiler.record_function("clicks"):
            x, target, _ = run_episode(net, img, gt, lab, gen, args.size, n_extra, device, args.refine_p, image_area)
        return x.contiguous(memory_format=torch.channels_last), target

    def step_fn(step):
        x, target = episode_input(bank, n_vol, step)
        with torch.profiler.record_function("forward"), autocast(device):
            loss = seg_loss(net(x), target)
        if teacher is None:
            return loss, x.shape[0]
        d_x, _ = episode_input(d_bank, max(1, distill_batch(args) // args.per_volume), step)
        with torch.profiler.record_function("distill"), autocast(device):
            with torch.no_grad():
                t_logits = teacher(d_x)
            d_loss = soft_bce(net(d_x), t_logits)
        return loss + args.distill * d_loss, x.shape[0]

    step_fn.distill_bank = d_bank
    return step_fn, bank

if __name__ == "__main__":
    main()
