"""Shared pieces of the three training scripts: losses, mask corruptions, schedule, records."""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..modeling.weights import build_network, load_checkpoint, save_checkpoint, shipped_weights_dir
from .batch_ops import dilate, erode
from ..data.synthetic import SyntheticConfig
from .what_moves import BATCHNORM, MOVES, OPTIMIZERS, make_optimizer, set_what_moves


def seg_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """BCE + soft Dice per sample, averaged. logits, target: (B, 1, S, S); weight: (B,) or None."""
    t = target.float()
    bce = F.binary_cross_entropy_with_logits(logits.float(), t, reduction="none").mean(dim=(1, 2, 3))
    p = torch.sigmoid(logits.float())
    inter = (p * t).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + t.sum(dim=(1, 2, 3)) + 1)
    per_sample = bce + dice
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-6)


def dice_score(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample Dice of bool tensors (B, ...); 1 when both are empty."""
    p, t = pred.flatten(1).float(), target.flatten(1).float()
    inter = (p * t).sum(1)
    denom = p.sum(1) + t.sum(1)
    return torch.where(denom > 0, 2 * inter / denom.clamp_min(1), torch.ones_like(denom))


def corrupt_masks(
    target: torch.Tensor,
    labels: torch.Tensor,
    gen: torch.Generator,
    severity: torch.Tensor,
    kind: torch.Tensor | None = None,
) -> torch.Tensor:
    """Plausible wrong masks (as propagation or a first click produces them), per sample.

    target: (B, H, W) bool; labels: (B, H, W) label map of the slice; severity: (B,) in [0, 1].
    One of: dilation, erosion, shift, leak into a neighbouring label, a missing part, an empty
    mask, or a leak on its own where the target is empty. ``kind`` (B,) in 0..5 forces the choice.
    """
    b, h, w = target.shape
    dev = target.device
    if kind is None:
        kind = torch.randint(0, 6, (b,), generator=gen, device=dev)
    radius = (severity.clamp(0, 1) * 8 * torch.rand(b, generator=gen, device=dev)).round().long().clamp_min(1)
    out = target.clone()
    out = torch.where((kind == 0).view(b, 1, 1), dilate(target, radius, 8), out)
    out = torch.where((kind == 1).view(b, 1, 1), erode(target, radius, 8), out)
    # shift
    shift = (severity * 10).round().long().clamp_min(1)
    dy = (torch.rand(b, generator=gen, device=dev) * 2 - 1) * shift
    dx = (torch.rand(b, generator=gen, device=dev) * 2 - 1) * shift
    ys = (torch.arange(h, device=dev).view(1, h, 1) - dy.round().long().view(b, 1, 1)).clamp(0, h - 1)
    xs = (torch.arange(w, device=dev).view(1, 1, w) - dx.round().long().view(b, 1, 1)).clamp(0, w - 1)
    shifted = target[torch.arange(b, device=dev).view(b, 1, 1), ys, xs]
    out = torch.where((kind == 2).view(b, 1, 1), shifted, out)
    # leak into the label found next to the target (or anywhere when the target is empty)
    ring = dilate(target, 3) & ~target
    pick = torch.rand(b, h, w, generator=gen, device=dev) * torch.where(
        target.flatten(1).any(1).view(b, 1, 1), ring.float(), (labels > 0).float()
    )
    idx = pick.flatten(1).argmax(1)
    leak_label = labels.flatten(1).gather(1, idx.unsqueeze(1)).view(b, 1, 1)
    reach = dilate(target | (pick == pick.flatten(1).amax(1).view(b, 1, 1)), (severity.clamp(0, 1) * 20 + 4).long(), 24)
    leak = (labels == leak_label) & reach
    out = torch.where((kind == 3).view(b, 1, 1), target | leak, out)
    # a missing part: cut by a random half-plane through the target
    cy = (target.float() * torch.arange(h, device=dev).view(1, h, 1)).flatten(1).sum(1) / target.flatten(1).sum(1).clamp_min(1)
    cx = (target.float() * torch.arange(w, device=dev).view(1, 1, w)).flatten(1).sum(1) / target.flatten(1).sum(1).clamp_min(1)
    ang = torch.rand(b, generator=gen, device=dev) * 6.2832
    off = (torch.rand(b, generator=gen, device=dev) - 0.2) * 10
    plane = (torch.arange(h, device=dev).view(1, h, 1) - cy.view(b, 1, 1)) * torch.sin(ang).view(b, 1, 1) + (
        torch.arange(w, device=dev).view(1, 1, w) - cx.view(b, 1, 1)
    ) * torch.cos(ang).view(b, 1, 1)
    out = torch.where((kind == 4).view(b, 1, 1), target & (plane < off.view(b, 1, 1)), out)
    # empty (a propagation that stopped too early)
    out = torch.where(((kind == 5) & (torch.rand(b, generator=gen, device=dev) < severity)).view(b, 1, 1), False, out)
    return out


class TimeBudget:
    """Cosine learning-rate schedule over a wall-clock budget (steps/s is unknown in advance)."""

    def __init__(self, seconds: float, base_lr: float, warmup_s: float = 10.0, min_ratio: float = 0.03):
        self.seconds, self.base_lr, self.warmup_s, self.min_ratio = seconds, base_lr, warmup_s, min_ratio
        self.start = time.time()

    @property
    def elapsed(self) -> float:
        return time.time() - self.start

    def done(self) -> bool:
        return self.elapsed >= self.seconds

    def lr(self) -> float:
        t = self.elapsed
        warm = min(1.0, t / self.warmup_s) if self.warmup_s > 0 else 1.0
        frac = min(1.0, t / self.seconds)
        cos = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
        return self.base_lr * warm * cos


def common_parser(description: str, seconds: float, batch: int, lr: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seconds", type=float, default=seconds, help="wall-clock training budget")
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, default=shipped_weights_dir(), help="folder for <module>.pt and .json")
    p.add_argument("--resume", action="store_true", help="continue from <out>/<module>.pt and append to its record")
    p.add_argument("--size", type=int, default=128, help="crop size")
    p.add_argument("--canvas", type=int, default=160, help="synthetic slice size")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    p.add_argument("--log-every", type=float, default=20.0, help="seconds between log lines")
    p.add_argument("--bank", type=int, default=0,
                   help="volumes kept in a device-resident bank (0 = generate fresh volumes every step, the old pipeline)")
    p.add_argument("--refresh-every", type=int, default=4, help="steps between bank refreshes")
    p.add_argument("--refresh-batch", type=int, default=128, help="volumes generated per bank refresh")
    p.add_argument("--real", default=None,
                   help="real training volumes: a .npz pack, or NIfTI folders joined by ':' (default $LIMNET_TRAIN_DATA, "
                   "else ../shared/data/train; see data.real_volumes.train_data_dirs); needs --bank")
    p.add_argument("--real-fraction", type=float, default=0.0, help="share of bank refreshes drawn from --real")
    p.add_argument("--object-texture", type=float, default=0.0,
                   help="share of synthetic bank volumes whose classes get a strong, fine internal texture "
                        "(data.synthetic.SyntheticConfig.object_texture_p; needs --bank)")
    p.add_argument("--real-texture", type=float, default=0.0,
                   help="the same texture on a share of the real canvases' structures (RealVolumes(object_texture=))")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0 = time budget only)")
    p.add_argument("--moves", choices=MOVES, default="all",
                   help="parameters that learn: all, decoders and heads only, or the propagation net's presence head only")
    p.add_argument("--batchnorm", choices=BATCHNORM, default="train",
                   help="'frozen' keeps the starting weights' BatchNorm running statistics (fine-tuning with small batches)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw", help="sgd: momentum 0.9, no weight decay")
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16", help="autocast of forward passes")
    p.add_argument("--val-volumes", type=int, default=0,
                   help="volumes in each fixed validation set (0 = the script's default; CPU runs want a few)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of a distillation loss on a second, synthetic stream whose target is the starting "
                        "net's own output (training.distillation; 0 = off; needs --bank)")
    p.add_argument("--distill-batch", type=int, default=0, help="batch of the distillation stream (0 = --batch)")
    p.add_argument("--distill-texture", type=float, default=0.0,
                   help="share of the distillation stream's synthetic volumes with textured objects")
    p.add_argument("--hold-out-every", type=int, default=0,
                   help="never train on every k-th real structure (data.real_volumes.held_out_structures), so the "
                        "held-out ones can score the run (0 = train on all)")
    return p


def make_bank(args, shape: tuple[int, int, int], device, gen):
    """The device-resident volume bank of ``--bank`` entries (None for the fresh-volume pipeline)."""
    if args.real_texture > 0 and args.real_fraction <= 0:
        raise SystemExit("--real-texture textures the real canvases: it needs --real-fraction > 0")
    if args.distill_texture > 0 and args.distill <= 0:
        raise SystemExit("--distill-texture textures the distillation stream: it needs --distill > 0")
    if not args.bank:
        if args.real_fraction > 0 or args.object_texture > 0:
            raise SystemExit("--real-fraction and --object-texture need --bank (they are served from the bank)")
        return None
    from .bank import VolumeBank

    real = None
    if args.real_fraction > 0:
        from ..data.real_volumes import RealVolumes, load_real_volumes

        from ..data.real_volumes import held_out_structures

        volumes = load_real_volumes(args.real)
        held_out = held_out_structures(volumes, args.hold_out_every) if args.hold_out_every else set()
        real = RealVolumes(volumes, device, exclude=held_out, object_texture=args.real_texture)
        if held_out:
            log(f"held out (never a target): {len(held_out)} structures, every {args.hold_out_every}th")
        log(f"real volumes: {len(real.names)} ({', '.join(real.names)}), {len(real)} structures")
    config = SyntheticConfig(object_texture_p=args.object_texture)
    bank = VolumeBank(args.bank, shape, device, gen, args.refresh_batch, real, args.real_fraction, config)
    log(f"bank: {args.bank} volumes of {shape}, refresh {args.refresh_batch} every {args.refresh_every} steps, "
        f"real fraction {args.real_fraction}")
    return bank


def data_record(args, bank) -> dict:
    """What the training record says about the data a run saw."""
    if bank is None:
        return {"data": "synthetic volumes from napari_limnet.data.synthetic only (no real images)"}
    out = {
        "data": ("synthetic volumes (napari_limnet.data.synthetic)"
                 + (f" + real structures of ../shared/data/train ({args.real})" if args.real_fraction > 0 else " only")
                 + f", served from a device-resident bank of {args.bank}"),
        "bank_volumes_generated": dict(bank.generated),
        "real_fraction": args.real_fraction,
        "object_texture": args.object_texture,
        "real_texture": args.real_texture,
    }
    if bank.real is not None:
        out["real_sources"] = list(bank.real.names)
        out["real_structures"] = len(bank.real)
        if args.hold_out_every:
            out["held_out_every"] = args.hold_out_every
    return out


def setup(args, name: str):
    """Seed, threads, network (fresh or resumed) with what moves per ``--moves`` / ``--batchnorm``,
    optimiser over the moving parameters. Returns (net, optimiser, device, gen)."""
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    net = build_network(name)
    if args.resume:
        load_checkpoint(net, Path(args.out) / f"{name}.pt")
    net.to(device)
    params = set_what_moves(net, name, args.moves, args.batchnorm)
    if device.type in ("cpu", "cuda"):
        net.to(memory_format=torch.channels_last)
    opt = make_optimizer(params, args.optimizer, args.lr, fused=device.type == "cuda")
    _PRECISION["bf16"] = args.precision == "bf16"
    gen = torch.Generator(device=device).manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return net, opt, device, gen


#: ``--precision`` of the running training script (bf16 autocast unless a run asked for fp32).
_PRECISION = {"bf16": True}


def cpu_has_native_bf16() -> bool:
    """True on CPUs that compute bf16 in hardware (AVX512-BF16 or AMX).

    Elsewhere (AVX2 laptops and most desktops) torch emulates bf16: a 3x3 convolution measured 48x
    slower under bf16 autocast than in fp32 on an AVX2 CPU, and a CPU adaptation step 14-25x slower
    (22-46 s instead of 1.6-1.8 s), so "Learn" overran its budget and could not stop for 20 s.
    """
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    try:
        return any(bool(check()) for check in checks if check is not None)
    except Exception:  # noqa: BLE001 - an unknown build: the safe choice is fp32
        return False


def autocast(device: torch.device):
    """bf16 autocast on CUDA, and on CPUs with native bf16 (it halves the step time there); fp32 on other
    CPUs (emulated bf16 is many times slower) and for ``--precision fp32``."""
    fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=_PRECISION["bf16"] and fast)


def checkpoint(args, name: str, net) -> None:
    """Save the weights so far (``<out>/<name>.partial.pt``), so a cut-off run still leaves weights."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(net, out / f"{name}.partial.pt")


def finish(args, name: str, net, history: list[dict], extra: dict) -> Path:
    """Save weights and append this run to ``<out>/<name>.json``; returns the weights path."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.pt"
    save_checkpoint(net, path)
    (out / f"{name}.partial.pt").unlink(missing_ok=True)
    record_path = out / f"{name}.json"
    record = json.loads(record_path.read_text()) if (args.resume and record_path.is_file()) else {"runs": []}
    record["module"] = name
    record["runs"].append(
        {
            "command": " ".join([Path(sys.executable).name, "-m", f"napari_limnet.training.train_{name}"] + sys.argv[1:]),
            "seed": args.seed,
            "resumed": bool(args.resume),
            "device": str(args.device) + (f" ({torch.cuda.get_device_name()})" if str(args.device).startswith("cuda") else ""),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "args": {k: str(v) for k, v in vars(args).items()},
            **({"data": "synthetic volumes from napari_limnet.data.synthetic only (no real images)"} | extra),
        }
    )
    record_path.write_text(json.dumps(record, indent=1))
    history_path = out / f"{name}_history.json"
    old = json.loads(history_path.read_text()) if (args.resume and history_path.is_file()) else []
    run_index = len(record["runs"]) - 1
    history_path.write_text(json.dumps(old + [dict(h, run=run_index) for h in history]))
    return path


def log(msg: str) -> None:
    print(msg, flush=True)


def train_step(net, opt, step_fn, step: int, lr: float):
    """One optimisation step: loss from ``step_fn(step)``, backward, clipped update.

    Returns (loss tensor, number of samples).

    Profiler scopes: ``forward_backward`` (the step function's own scopes nest inside it) and
    ``optimizer``. Nothing here reads a value back from the device.
    """
    for g in opt.param_groups:
        g["lr"] = lr
    loss, n = step_fn(step)
    with torch.profiler.record_function("backward"):
        opt.zero_grad(set_to_none=True)
        loss.backward()
    with torch.profiler.record_function("optimizer"):
        torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
        opt.step()
    return loss, n


def train_loop(args, name: str, net, opt, step_fn, validate_fn, unit: str = "samples", extra: dict | None = None) -> None:
    """The shared loop: cosine LR over the time budget, clipped steps, periodic validation.

    step_fn(step) -> (loss, number of samples); validate_fn() -> dict of metrics; ``extra`` (a dict,
    or a callable that returns one at the end) goes into the training record. Validates and
    checkpoints every ``args.log_every`` seconds, then saves the weights and the training record.
    """
    budget = TimeBudget(args.seconds, args.lr)
    history, step, samples, last_log = [], 0, 0, 0.0
    validated_at, metrics = None, {}  # the step of the latest validation and its metrics
    log(f"{name}: {sum(p.numel() for p in net.parameters())} parameters on {args.device}, {args.seconds:.0f}s")
    while not budget.done() and not (args.max_steps and step >= args.max_steps):
        loss, n = train_step(net, opt, step_fn, step, budget.lr())
        step += 1
        samples += n
        if budget.elapsed - last_log >= args.log_every or budget.done():
            last_log = budget.elapsed
            validated_at, metrics = step, validate_fn()
            entry = {"step": step, "seconds": round(budget.elapsed, 1), "loss": float(loss.detach()), "lr": budget.lr(), **metrics}
            history.append(entry)
            log(f"[{name}] {entry}")
            checkpoint(args, name, net)
    final = metrics if validated_at == step else validate_fn()  # the weights did not change since the last one
    extra = extra() if callable(extra) else extra
    record = {"steps": step, unit: samples, "seconds": round(budget.elapsed, 1), "final_validation": final, **(extra or {})}
    finish(args, name, net, history, record)
    log(f"[{name}] done: {step} steps, {samples} {unit}, {final}")


def validation_volumes(args, default: int) -> int:
    """How many volumes a fixed validation set holds (``--val-volumes``, else the script's default)."""
    return args.val_volumes if args.val_volumes > 0 else default
