"""Train the memory propagation net on synthetic clips fed its own predictions.

    python -m napari_limnet.training.train_propagation --seconds 3600 --seed 0

A clip is T consecutive slices of a synthetic volume, starting on a slice of the target with
its true mask (sometimes slightly wrong, as a prompt mask is) and running up or down. Each
later slice is segmented in a crop framed on the *previous prediction*, with the previous
prediction as an input and a memory of the first slice plus the last few predicted slices,
exactly as the controller runs it. So the net learns to recover from its own drift.

Learning when to stop (docs/design.md, section 4): half of the clips are placed so that
the object ends inside the clip; the generator puts similar-intensity distractors directly
above and below the primary object, touching it; empty target frames are in the mask loss,
and an explicit "object present" head is trained on every frame.

Objects cut by the field of view (``--border-cut P``, training.field_of_view): a share P of the
main stream's volumes gets an image edge through its object, edge-padded beyond as inference pads
a window there, so the net also learns where a cut object goes on and where it ends.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..inference.intensity import apply_window, intensity_window
from ..inference.memory import MemoryBank
from .batch_ops import batch_bbox, crop, framing, paste
from .common import (
    autocast, common_parser, corrupt_masks, data_record, dice_score, make_bank, seg_loss, setup, train_loop, validation_volumes,
)
from .field_of_view import add_border_cut_argument, border_cut_share, cut_by_image_edge
from .distillation import distill_bank, distill_batch, distill_record, frozen_teacher, soft_bce
from .what_moves import evaluating
from ..data.synthetic import make_volumes

NAME = "propagation"
PRESENT_MIN_PIXELS = 3


def sample_clips(vols, gen, length: int, end_p: float = 0.6):
    """Slice indices (B, T) and validity (B, T) of clips that start on the target."""
    area = vols.target.flatten(2).sum(2)  # (B, D)
    b, d = area.shape
    dev = area.device
    present = area >= 20
    present = torch.where(present.any(1, keepdim=True), present, area == area.amax(1, keepdim=True))
    zs = torch.arange(d, device=dev).view(1, d)
    direction = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1, 1)
    zmax = torch.where(present, zs, -1).amax(1)
    zmin = torch.where(present, zs, d).amin(1)
    end = torch.where(direction > 0, zmax, zmin)
    near_end = present & ((end.view(b, 1) - zs) * direction.view(b, 1) <= length - 2)
    want_end = (torch.rand(b, generator=gen, device=dev) < end_p).view(b, 1)
    weights = torch.where(want_end & near_end.any(1, keepdim=True), near_end, present).float()
    z0 = torch.multinomial(weights + 1e-9, 1, generator=gen).squeeze(1)
    t = torch.arange(length, device=dev).view(1, length)
    z = z0.view(b, 1) + t * direction.view(b, 1)
    valid = (z >= 0) & (z < d)
    return z.clamp(0, d - 1), valid


def frames(volume: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """(B, D, H, W) gathered at (B, T) slice indices -> (B, T, H, W)."""
    b = volume.shape[0]
    return volume[torch.arange(b, device=volume.device).view(b, 1), z]


def _first_mask(tgt0, lab0, gen, rnd, image_area):
    """Frame 0's mask (B, H, W): the true mask, half the time slightly wrong (as a prompt mask can be)."""
    b = tgt0.shape[0]
    mild = corrupt_masks(tgt0, lab0, gen, 0.1 + 0.2 * rnd(b), torch.randint(0, 3, (b,), generator=gen, device=tgt0.device))
    mask0 = torch.where((rnd(b) < 0.5).view(b, 1, 1) & mild.flatten(1).any(1).view(b, 1, 1), mild, tgt0)
    return mask0 & image_area if image_area is not None else mask0


def _frame_loss(logits, presence, target, present_label, weight, teacher_out=None):
    """One frame's loss: mask + presence against the truth, or against a teacher's (logits, presence)."""
    if teacher_out is not None:
        t_logits, t_presence = teacher_out
        b = presence.shape[0]
        return soft_bce(logits, t_logits, weight) + soft_bce(presence.view(b, 1), t_presence.view(b, 1), weight)
    bce = F.binary_cross_entropy_with_logits(presence, present_label, reduction="none")
    return seg_loss(logits, target, weight) + (bce * weight).sum() / weight.sum().clamp_min(1)


def run_clip(net, vols, z, valid, gen, size: int, device, context_jitter: bool, train: bool, teacher=None, image_area=None):
    """Propagate through clips; returns (loss, per-frame canvas predictions (B, T, H, W), presence probs (B, T), targets).

    ``image_area``: (B, H, W) bool, the pixels that are image (``field_of_view.cut_by_image_edge``);
    the first mask and every predicted mask are clipped to it, as the controller clips a mask to
    the volume. None: the whole canvas.

    ``teacher``: a frozen net (training.distillation); the loss then matches its mask logits and
    presence instead of the ground truth, on the same crops, previous masks and memory frames (its
    own key/value encodings of the learning net's predictions).
    """
    img, tgt, lab = frames(vols.image, z), frames(vols.target, z), frames(vols.labels, z)
    b, t_len, h, w = tgt.shape
    rnd = lambda *s: torch.rand(*s, generator=gen, device=device)  # noqa: E731
    mask0 = _first_mask(tgt[:, 0], lab[:, 0], gen, rnd, image_area)
    ctx = lambda: (1.4 + 0.5 * rnd(b)) if context_jitter else torch.full((b,), 1.6, device=device)  # noqa: E731
    box0 = framing(batch_bbox(mask0)[0], ctx())
    raw0 = crop(img[:, 0:1], box0, size)
    low, high = intensity_window(raw0)
    image0 = apply_window(raw0, low, high).contiguous(memory_format=torch.channels_last)
    mask0_crop = crop(mask0.unsqueeze(1).float(), box0, size, "zeros")
    with autocast(device):
        feats0 = net.encode_image(image0)
        value0 = net.encode_value(image0, mask0_crop, feats0)
    memory = MemoryBank(feats0.key.float(), value0.float())
    if teacher is not None:
        with torch.no_grad(), autocast(device):
            t_feats0 = teacher.encode_image(image0)
            t_value0 = teacher.encode_value(image0, mask0_crop, t_feats0)
        t_memory = MemoryBank(t_feats0.key.float(), t_value0.float())
    prev = mask0
    losses, preds, presences = [], [mask0], [torch.ones(b, device=device)]
    for t in range(1, t_len):
        box = framing(batch_bbox(prev)[0], ctx())
        raw = crop(img[:, t : t + 1], box, size)
        image = apply_window(raw, low, high).contiguous(memory_format=torch.channels_last)
        prev_crop = crop(prev.unsqueeze(1).float(), box, size, "zeros")
        target = crop(tgt[:, t : t + 1].float(), box, size, "zeros") > 0.5
        with autocast(device):
            feats = net.encode_image(image)
            logits, presence = net.segment(feats, *memory.read(), prev_crop)
        logits, presence = logits.float(), presence.float()
        present_label = (target.flatten(1).sum(1) >= PRESENT_MIN_PIXELS).float()
        weight = valid[:, t].float()
        if teacher is not None:
            with torch.no_grad(), autocast(device):
                t_feats = teacher.encode_image(image)
                t_logits, t_presence = teacher.segment(t_feats, *t_memory.read(), prev_crop)
        if train:
            losses.append(_frame_loss(logits, presence, target, present_label, weight,
                                      (t_logits, t_presence) if teacher is not None else None))
        p_present = torch.sigmoid(presence.detach())
        pred_crop = (logits.detach() > 0).float()
        with autocast(device):
            value = net.encode_value(image, pred_crop, feats)
        memory.add(feats.key.float(), value.float())
        if teacher is not None:
            with torch.no_grad(), autocast(device):
                t_value = teacher.encode_value(image, pred_crop, t_feats)
            t_memory.add(t_feats.key.float(), t_value.float())
        pred = paste(pred_crop, box, (h, w))[:, 0] > 0.5
        pred = pred & (p_present > 0.5).view(b, 1, 1)
        if image_area is not None:
            pred = pred & image_area
        preds.append(pred)
        presences.append(p_present)
        prev = torch.where(pred.flatten(1).any(1).view(b, 1, 1), pred, prev)
    loss = torch.stack(losses).mean() if losses else torch.zeros((), device=device)
    return loss, torch.stack(preds, 1), torch.stack(presences, 1), tgt


@torch.no_grad()
def validate(net, val, size, device):
    """Dice over clip frames with stopping applied, mean overshoot and undershoot (slices)."""
    with evaluating(net):
        return _validate(net, val, size, device)


@torch.no_grad()
def _validate(net, val, size, device):
    vols, z, valid = val
    gen = torch.Generator(device=device).manual_seed(4321)
    _, preds, presence, tgt = run_clip(net, vols, z, valid, gen, size, device, False, train=False)
    present = preds.flatten(2).any(2)
    stopped = torch.cumprod(present.float(), 1) == 0  # after the first empty frame, propagation has stopped
    final = preds & ~stopped.unsqueeze(-1).unsqueeze(-1)
    truth = tgt & valid.unsqueeze(-1).unsqueeze(-1)
    final = final & valid.unsqueeze(-1).unsqueeze(-1)
    dice = dice_score(final[:, 1:].flatten(1), truth[:, 1:].flatten(1)).mean()
    t_has = truth.flatten(2).any(2)
    p_has = final.flatten(2).any(2)
    overshoot = (p_has & ~t_has).sum(1).float().mean()
    undershoot = (~p_has & t_has).sum(1).float().mean()
    return {"clip_dice": float(dice), "overshoot": float(overshoot), "undershoot": float(undershoot)}


def build_parser():
    parser = common_parser(__doc__, seconds=600, batch=24, lr=1e-3)
    parser.add_argument("--clip", type=int, default=8, help="slices per clip")
    parser.add_argument("--depth", type=int, default=24, help="slices per synthetic volume")
    add_border_cut_argument(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    net, opt, device, gen = setup(args, NAME)
    val_gen = torch.Generator(device=device).manual_seed(20_000 + args.seed)
    vv = make_volumes(validation_volumes(args, 48), (args.depth, args.canvas, args.canvas), val_gen, device)
    vz, vvalid = sample_clips(vv, val_gen, args.clip + 4)
    val = (vv, vz, vvalid)

    step_fn, bank = make_step(args, net, device, gen)
    val_real = None
    if bank is not None and bank.real is not None:  # a fixed real set: how well the training volumes are fit
        n_val = validation_volumes(args, 48)
        rv = bank.real.sample(n_val, (args.depth, args.canvas, args.canvas), torch.Generator().manual_seed(40_000 + args.seed))
        rz, rvalid = sample_clips(rv, val_gen, args.clip + 4)
        val_real = (rv, rz, rvalid)

    def validate_all():
        out = validate(net, val, args.size, device)
        if val_real is not None:
            out.update({f"real_{k}": v for k, v in validate(net, val_real, args.size, device).items()})
        return out

    train_loop(args, NAME, net, opt, step_fn, validate_all, unit="clips",
               extra=lambda: {"clip_length": args.clip, "border_cut": args.border_cut, **data_record(args, bank),
                              **distill_record(args, step_fn.distill_bank)})


def make_step(args, net, device, gen, bank=None):
    """The training step closure (loss, clips) and the volume bank it draws from (or None).

    ``bank``: serve steps from this :class:`~napari_limnet.training.bank.VolumeBank` instead of
    the one ``args`` describes (adaptation passes a bank of the user's own structures).
    """
    shape = (args.depth, args.canvas, args.canvas)
    bank = bank if bank is not None else make_bank(args, shape, device, gen)
    d_bank = distill_bank(args, shape, device, gen)
    teacher = frozen_teacher(net) if d_bank is not None else None

    def step_fn(step):
        with torch.no_grad(), torch.profiler.record_function("data"):
            if bank is None:
                vols = make_volumes(args.batch, shape, gen, device)
            else:
                if step > 0 and step % args.refresh_every == 0:
                    bank.refresh()
                vols = bank.draw(args.batch)
            image_area = None
            if border_cut_share(args) > 0:
                vols, image_area = cut_by_image_edge(vols, gen, border_cut_share(args))
            z, valid = sample_clips(vols, gen, args.clip)
        with torch.profiler.record_function("forward"):
            loss, *_ = run_clip(net, vols, z, valid, gen, args.size, device, True, train=True, image_area=image_area)
        if teacher is None:
            return loss, args.batch
        with torch.no_grad(), torch.profiler.record_function("data"):
            if step > 0 and step % args.refresh_every == 0:
                d_bank.refresh()
            d_vols = d_bank.draw(distill_batch(args))
            d_z, d_valid = sample_clips(d_vols, gen, args.clip)
        with torch.profiler.record_function("distill"):
            d_loss, *_ = run_clip(net, d_vols, d_z, d_valid, gen, args.size, device, True, train=True, teacher=teacher)
        return loss + args.distill * d_loss, args.batch

    step_fn.distill_bank = d_bank
    return step_fn, bank

if __name__ == "__main__":
    main()
