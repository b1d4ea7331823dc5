"""Train the MRF slice selector on simulated multi-round slice pairs.

    python -m napari_limnet.training.train_fusion --seconds 1200 --seed 0

Each sample is one slice of a synthetic volume with two candidate masks, as two rounds leave
them: the previous round's mask, propagated ``d_old`` slices from its interaction, and the new
round's, ``d_new`` slices from its own. Propagated masks degrade with distance, so each
candidate is the true mask corrupted with a severity that grows with its distance (dilation,
erosion, shift, a leak into the neighbouring structure, a missing part, an early stop; past the
object's end, a leak on an empty slice). The label is which candidate has the higher Dice;
each sample is weighted by how much the choice matters (the Dice difference).

With ``--rollouts`` it trains instead on choices recorded from real robot-user sessions of the
shipped interaction and propagation nets on synthetic volumes (see ``fusion_rollouts``), the
multi-round sequences LIM-Net's MRF is meant to learn from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..inference.fusion import FUSION_CROP
from ..inference.intensity import apply_window, intensity_window
from ..modeling.fusion_net import distance_features
from .batch_ops import batch_bbox, crop, framing, union_bbox
from .common import autocast, common_parser, corrupt_masks, dice_score, setup, train_loop
from .what_moves import evaluating
from ..data.synthetic import make_volumes
from .train_interaction import sample_slices

NAME = "fusion"


def make_pairs(vols, gen, per_volume: int, device):
    """Inputs (B, 3, S, S), scalars (B, 4), label (B,) = old better, weight (B,) and both Dice."""
    img, gt, lab = sample_slices(vols, gen, per_volume, empty_p=0.2)
    b = gt.shape[0]
    rnd = lambda *s: torch.rand(*s, generator=gen, device=device)  # noqa: E731
    d_old = torch.randint(0, 31, (b,), generator=gen, device=device)
    d_new = torch.randint(0, 31, (b,), generator=gen, device=device)

    def candidate(dist):
        sev = (dist.float() / 25 * (0.3 + 1.2 * rnd(b))).clamp(0.02, 1.0)
        m = corrupt_masks(gt, lab, gen, sev)
        exact = rnd(b) < (0.5 - dist.float() / 40).clamp_min(0.0)
        return torch.where(exact.view(b, 1, 1), gt, m)

    old, new = candidate(d_old), candidate(d_new)
    ob, ook = batch_bbox(old)
    nb, nok = batch_bbox(new)
    bb, ok = union_bbox(ob, ook, nb, nok)
    box = framing(bb, 1.6)
    raw = crop(img.unsqueeze(1), box, FUSION_CROP)
    low, high = intensity_window(raw)
    image = apply_window(raw, low, high)
    oc = crop(old.unsqueeze(1).float(), box, FUSION_CROP, "zeros")
    nc = crop(new.unsqueeze(1).float(), box, FUSION_CROP, "zeros")
    x = torch.cat([image, oc, nc], 1)
    scalars = distance_features(d_old, d_new, oc, nc)
    dice_old, dice_new = dice_score(old, gt), dice_score(new, gt)
    label = (dice_old > dice_new).float()
    weight = ((dice_old - dice_new).abs() * 5).clamp(0, 1) * ok.float()
    return x, scalars, label, weight, dice_old, dice_new


@torch.no_grad()
def validate(net, val):
    x, s, label, weight, d_old, d_new = val
    with evaluating(net), autocast(x.device):
        p_old = torch.sigmoid(net(x.contiguous(memory_format=torch.channels_last), s).float())
    chosen = torch.where(p_old > 0.5, d_old, d_new)
    counted = weight > 0
    return {
        "accuracy": float(((p_old > 0.5).float() == label)[counted].float().mean()),
        "dice_chosen": float(chosen.mean()),
        "dice_always_new": float(d_new.mean()),
        "dice_oracle": float(torch.maximum(d_old, d_new).mean()),
    }


def choice_loss(net, x, scalars, label, weight, device) -> torch.Tensor:
    """BCE of P(old is better) against the label, weighted by how much each choice matters."""
    with autocast(device):
        logit = net(x.contiguous(memory_format=torch.channels_last), scalars).float()
    loss = F.binary_cross_entropy_with_logits(logit, label, reduction="none") * weight
    return loss.sum() / weight.sum().clamp_min(1)


def load_rollouts(paths, device, seed: int, val_fraction: float = 0.1):
    """Pairs recorded by ``fusion_rollouts``: (train, val) tuples like :func:`make_pairs` returns.

    With case names in every file, ``val_fraction`` of the objects (all their choices) are held out.
    """
    import numpy as np

    parts = [np.load(p) for p in paths]
    x = torch.from_numpy(np.concatenate([p["x"] for p in parts]).astype(np.float32))
    s = torch.from_numpy(np.concatenate([p["scalars"] for p in parts]).astype(np.float32))
    d_old = torch.from_numpy(np.concatenate([p["dice_old"] for p in parts]))
    d_new = torch.from_numpy(np.concatenate([p["dice_new"] for p in parts]))
    label = (d_old > d_new).float()
    weight = ((d_old - d_new).abs() * 5).clamp(0, 1)
    pick = lambda idx: tuple(t[idx].to(device) for t in (x, s, label, weight, d_old, d_new))  # noqa: E731
    gen = torch.Generator().manual_seed(seed)
    if all("case" in p for p in parts):
        # hold out whole objects: choices of one object are alike, so a random split would flatter
        cases = np.concatenate([p["case"] for p in parts]).astype(object)
        anonymous = cases == "synthetic"  # recordings before volumes were named by seed: one group each
        cases[anonymous] = [f"choice_{i}" for i in np.flatnonzero(anonymous)]
        cases = cases.astype(str)
        names = np.unique(cases)
        held = names[torch.randperm(len(names), generator=gen)[: max(1, int(val_fraction * len(names)))].numpy()]
        is_val = torch.from_numpy(np.isin(cases, held))
        return pick(torch.nonzero(~is_val)[:, 0]), pick(torch.nonzero(is_val)[:, 0])
    order = torch.randperm(len(x), generator=gen)
    n_val = max(1, int(val_fraction * len(x)))
    return pick(order[n_val:]), pick(order[:n_val])


def main(argv=None):
    parser = common_parser(__doc__, seconds=300, batch=128, lr=1e-3)
    parser.add_argument("--per-volume", type=int, default=4)
    parser.add_argument("--rollouts", nargs="*", default=None,
                        help="npz files from fusion_rollouts: train on recorded multi-round choices of the real nets")
    args = parser.parse_args(argv)
    net, opt, device, gen = setup(args, NAME)
    extra = {}
    if args.rollouts:
        train, val = load_rollouts(args.rollouts, device, args.seed)
        extra = {"rollout_files": [str(p) for p in args.rollouts], "rollout_pairs": int(len(train[0]) + len(val[0]))}

        def step_fn(step):
            idx = torch.randint(0, len(train[0]), (args.batch,), generator=gen, device=device)
            x, s, label, weight = (t[idx] for t in train[:4])
            if step % 2:
                x = x.flip(-1)
            if step % 4 >= 2:
                x = x.flip(-2)
            return choice_loss(net, x, s, label, weight, device), x.shape[0]
    else:
        val_gen = torch.Generator(device=device).manual_seed(30_000 + args.seed)
        val = make_pairs(make_volumes(128, (6, args.canvas, args.canvas), val_gen, device), val_gen, 4, device)
        n_vol = max(1, args.batch // args.per_volume)

        def step_fn(step):
            with torch.no_grad():
                vols = make_volumes(n_vol, (6, args.canvas, args.canvas), gen, device)
                x, s, label, weight, *_ = make_pairs(vols, gen, args.per_volume, device)
            return choice_loss(net, x, s, label, weight, device), x.shape[0]

    train_loop(args, NAME, net, opt, step_fn, lambda: validate(net, val), extra=extra)

if __name__ == "__main__":
    main()
