"""Speed and memory benchmark of napari-limnet, side by side with a SAM ViT-B image encoder.

    python benchmarks/speed.py [--threads 2] [--out docs/speed] [--quick] [--no-sam]

For each volume (256x256x100, 512x512x300, 1024x1024x64, int16) and object (small, large) it
runs, in a fresh subprocess (so peak RSS is per case): one round from a single click, and a
6-round robot-user session. It reports the 2D prompt time, propagation time per slice and
slices/s, MRF time, full-round time, peak RSS above the volume itself and, on CUDA, peak GPU
memory. It also measures, in the same run, the optimisations before/after (BatchNorm folding,
channels_last, bf16 autocast, object-centred crops vs whole slices, batching the key encoder)
and one SAM ViT-B image-encoder pass at 1024x1024 with random weights (``segment-anything``,
benchmark-only extra), and prints the ratio "our full round / one SAM slice embedding".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from napari_limnet.evaluation.memory import peak_rss_mb

VOLUMES = [(100, 256, 256), (300, 512, 512), (64, 1024, 1024)]
OBJECTS = {"small": (6, 0.04), "large": (20, 0.3)}  # (z half-extent in slices, in-plane radius / side)


def make_case(shape, size: str, seed: int = 0):
    """int16 CT-like volume with one ellipsoidal object; returns (volume, truth, click)."""
    rng = np.random.default_rng(seed)
    z, y, x = shape
    hz, frac = OBJECTS[size]
    ry = max(4.0, frac * y)
    vol = np.empty(shape, dtype=np.int16)
    truth = np.zeros(shape, dtype=bool)
    yy = np.arange(y)[:, None]
    xx = np.arange(x)[None, :]
    disk = ((yy - y / 2) / ry) ** 2 + ((xx - x / 2) / (0.8 * ry)) ** 2
    for k in range(z):  # slice by slice: no volume-sized temporaries inflate the peak RSS
        vol[k] = rng.normal(40, 15, size=(y, x))
        truth[k] = disk < 1 - ((k - z / 2) / hz) ** 2
    vol[truth] += 120
    return vol, truth, (z // 2, y // 2, x // 2)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ----------------------------------------------------------------------------------- workers
def worker_case(args) -> dict:
    """One volume/object/device: a single-click round and a 6-round robot session."""
    import torch

    torch.set_num_threads(args.threads)
    from napari_limnet import LimNetController
    from napari_limnet.evaluation.robot_user import run_session

    shape = tuple(args.shape)
    vol, truth, (z, y, x) = make_case(shape, args.size)
    base = rss_mb()
    dev = args.device
    ctrl = LimNetController(vol, spacing=(1.0, 1.0, 1.0), device=dev, precision=args.precision)
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    warm = LimNetController(vol[: min(8, shape[0])].copy(), device=dev, precision=args.precision, models=ctrl.models)
    warm.interact(min(4, shape[0] - 1), [(y, x)])  # warm-up: weights, allocator, kernels
    t = time.perf_counter()
    ctrl.interact(z, [(y, x)])
    one = dict(ctrl.last_round_stats, wall_s=time.perf_counter() - t)
    ctrl.reset()
    # would caching image features per slice pay? count read windows that repeat across rounds
    seen, repeats, reads = set(), [0], [0]

    def count_read(zz, ya, yb, xa, xb):
        key = (zz, ya, yb, xa, xb)
        reads[0] += 1
        repeats[0] += key in seen
        seen.add(key)

    ctrl._source.on_read = count_read  # the volume's read hook (no monkey-patching)
    rounds = []
    try:
        session = run_session(lambda zz, p, n: (ctrl.interact(zz, p, n), rounds.append(dict(ctrl.last_round_stats)))[0], truth, 6)
    finally:
        ctrl._source.on_read = None
    out = {
        "feature_cache_hit_rate": repeats[0] / max(1, reads[0]),
        "shape": shape, "size": args.size, "device": dev, "precision": args.precision, "threads": args.threads,
        "object_slices": int(truth.any(axis=(1, 2)).sum()),
        "one_round": one,
        "session": {
            "dice": session.dice,
            "round_s": [r["total_s"] for r in rounds],
            "prompt_s": [r["prompt_s"] for r in rounds],
            "propagation_s": [r["propagation_s"] for r in rounds],
            "propagated_slices": [r["propagated_slices"] for r in rounds],
            "fusion_s": [r["fusion_s"] for r in rounds],
        },
        "volume_mb": vol.nbytes / 2**20,
        "rss_before_mb": base,
        "peak_rss_above_volume_mb": peak_rss_mb() - base,
    }
    if dev == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def worker_variants(args) -> dict:
    """Before/after of each optimisation on one case, masks compared to the plain fp32 run."""
    import torch

    torch.set_num_threads(args.threads)
    from napari_limnet import LimNetController
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.inference.runner import NetRunner, cpu_supports_bf16

    vol, truth, (z, y, x) = make_case(tuple(args.shape), "large")
    variants = [
        ("plain fp32 (no folding, NCHW)", dict(fold_bn=False, channels_last=False), "fp32"),
        ("+ channels_last", dict(fold_bn=False, channels_last=True), "fp32"),
        ("+ BatchNorm folded (default)", dict(fold_bn=True, channels_last=True), "fp32"),
        ("+ bf16 autocast", dict(fold_bn=True, channels_last=True), "bf16"),
    ]
    rows, ref = [], None
    for name, opts, precision in variants:
        ctrl = LimNetController(vol, device=args.device)
        ctrl._runner = NetRunner(ctrl.models, precision, **opts)  # benchmark-only: swap the runner
        ctrl.interact(z, [(y, x)])  # warm-up
        times, stats = [], []
        for _ in range(args.repeats):
            ctrl.reset()
            t = time.perf_counter()
            ctrl.interact(z, [(y, x)])
            times.append(time.perf_counter() - t)
            stats.append(ctrl.last_round_stats)
        mask = np.array(ctrl.mask)
        ref = mask if ref is None else ref
        rows.append({
            "variant": name, "round_s": statistics.median(times),
            "prompt_s": statistics.median(s["prompt_s"] for s in stats),
            "per_slice_ms": 1000 * statistics.median(s["propagation_s"] / max(1, s["propagated_slices"]) for s in stats),
            "dice_vs_plain": dice(mask, ref), "dice_truth": dice(mask, truth),
        })
    # object-centred crops vs running the interaction net on the whole slice
    from napari_limnet.modeling.weights import shipped_models

    runner = NetRunner(shipped_models(args.device))
    crops = []
    for side in (128, 256, 512, 1024):
        x_in = torch.randn(1, 4, side, side)
        runner.interaction(x_in)
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            runner.interaction(x_in)
            ts.append(time.perf_counter() - t)
        crops.append({"input": f"{side}x{side}", "interaction_ms": 1000 * statistics.median(ts)})
    # batching the key encoder over 8 upcoming slices
    imgs = torch.randn(8, 1, 128, 128)
    runner.encode_image(imgs[:1])
    t = time.perf_counter()
    for i in range(8):
        runner.encode_image(imgs[i : i + 1])
    single = time.perf_counter() - t
    t = time.perf_counter()
    runner.encode_image(imgs)
    batched = time.perf_counter() - t
    return {
        "variants": rows, "crop_vs_slice": crops,
        "key_encoder_8_slices_ms": {"one_by_one": 1000 * single, "batched": 1000 * batched},
        "cpu_bf16_native": cpu_supports_bf16(),
    }


def worker_sam(args) -> dict:
    """One SAM ViT-B image-encoder pass at 1024x1024 (random weights), median of ``repeats``."""
    import importlib.util
    import types
    from functools import partial

    import torch

    torch.set_num_threads(args.threads)
    spec = importlib.util.find_spec("segment_anything")
    if spec is None:
        return {"error": "segment-anything is not installed (pip install -e '.[benchmark]')"}
    # segment_anything/__init__ imports torchvision (broken next to this torch); load only the encoder.
    pkg = types.ModuleType("segment_anything")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["segment_anything"] = pkg
    sub = types.ModuleType("segment_anything.modeling")
    sub.__path__ = [str(Path(spec.submodule_search_locations[0]) / "modeling")]
    sys.modules["segment_anything.modeling"] = sub
    from segment_anything.modeling.image_encoder import ImageEncoderViT

    enc = ImageEncoderViT(
        depth=12, embed_dim=768, img_size=1024, mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=12, patch_size=16, qkv_bias=True, use_rel_pos=True, global_attn_indexes=[2, 5, 8, 11],
        window_size=14, out_chans=256,
    ).eval().to(args.device)
    x = torch.randn(1, 3, 1024, 1024, device=args.device)
    times = []
    with torch.inference_mode():
        for _ in range(args.repeats):
            if args.device == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            enc(x)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
    return {"sam_vit_b_1024_s": statistics.median(times), "passes": len(times), "device": args.device}


def run_worker(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--worker-args", json.dumps(kw)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------- report
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="docs/speed")
    p.add_argument("--quick", action="store_true", help="only 256x256x100 and 512x512x300, fewer repeats")
    p.add_argument("--no-sam", action="store_true")
    p.add_argument("--no-variants", action="store_true", help="skip the CPU before/after optimisation table")
    p.add_argument("--devices", default=None, help="comma list; default cpu (+cuda when present)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-args", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        wargs = argparse.Namespace(**json.loads(args.worker_args))
        fn = {"case": worker_case, "variants": worker_variants, "sam": worker_sam}[args.worker]
        print(json.dumps(fn(wargs)))
        return

    import torch

    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    volumes = VOLUMES[:2] if args.quick else VOLUMES
    report = {"threads": args.threads, "torch": torch.__version__, "cases": [], "devices": devices}
    for dev in devices:
        threads = args.threads if dev == "cpu" else 8
        for shape in volumes:
            for size in OBJECTS:
                r = run_worker("case", shape=shape, size=size, device=dev, threads=threads, precision="fp32")
                report["cases"].append(r)
                if "error" in r:
                    print(f"{dev} {shape} {size}: ERROR {r['error'][-300:]}", flush=True)
                    continue
                o = r["one_round"]
                print(f"{dev:<5} {'x'.join(map(str, shape[::-1])):<14} {size:<6} round {o['total_s']:.3f}s "
                      f"(prompt {1000 * o['prompt_s']:.0f} ms, {o['propagated_slices']} slices at "
                      f"{o['propagated_slices'] / max(o['propagation_s'], 1e-9):.0f}/s, MRF {1000 * o['fusion_s']:.0f} ms) "
                      f"6 rounds mean {np.mean(r['session']['round_s']):.3f}s, peak RSS +{r['peak_rss_above_volume_mb']:.0f} MB"
                      + (f", GPU {r['peak_gpu_mb']:.0f} MB" if "peak_gpu_mb" in r else ""), flush=True)
    if not args.no_variants:
        report["variants"] = run_worker("variants", shape=[100, 256, 256], device="cpu", threads=args.threads,
                                        repeats=3 if args.quick else 5)
    if not args.no_sam:
        report["sam"] = run_worker("sam", device="cpu", threads=args.threads, repeats=1 if args.quick else 2)
        if "cuda" in devices:
            report["sam_cuda"] = run_worker("sam", device="cuda", threads=8, repeats=5)
    summarise(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out / 'speed.json'}")


def summarise(report: dict) -> None:
    print("\n== per case (median over the 6 robot rounds; one round = single click) ==")
    hdr = (f"{'device':<6}{'volume':<15}{'object':<7}{'slices':>7}{'prompt ms':>10}{'slices/s':>9}{'MRF ms':>8}"
           f"{'round s':>9}{'6-rnd s':>9}{'RSS+MB':>8}{'GPU MB':>8}")
    print(hdr)
    for r in report["cases"]:
        if "error" in r:
            continue
        s = r["session"]
        rates = [n / t for n, t in zip(s["propagated_slices"], s["propagation_s"]) if n and t > 0]
        r["summary"] = {
            "prompt_ms": 1000 * statistics.median(s["prompt_s"]),
            "slices_per_s": statistics.median(rates) if rates else float("nan"),
            "mrf_ms": 1000 * statistics.median(s["fusion_s"]),
            "one_round_s": r["one_round"]["total_s"],
            "session_mean_round_s": float(np.mean(s["round_s"])),
        }
        m = r["summary"]
        print(f"{r['device']:<6}{'x'.join(map(str, r['shape'][::-1])):<15}{r['size']:<7}{r['object_slices']:>7}"
              f"{m['prompt_ms']:>10.0f}{m['slices_per_s']:>9.0f}{m['mrf_ms']:>8.0f}{m['one_round_s']:>9.3f}"
              f"{m['session_mean_round_s']:>9.3f}{r['peak_rss_above_volume_mb']:>8.0f}{r.get('peak_gpu_mb', float('nan')):>8.0f}")
    rates = [r["feature_cache_hit_rate"] for r in report["cases"] if "feature_cache_hit_rate" in r]
    if rates:
        print(f"\nimage-feature cache across the 6 rounds: {100 * np.mean(rates):.1f}% of propagation crops repeat "
              "(same slice and same window), so a per-slice feature cache would save at most that share of encoder calls")
    v = report.get("variants", {})
    if "variants" in v:
        print("\n== optimisations, before/after (256x256x100, large object, CPU) ==")
        print(f"{'variant':<32}{'round s':>9}{'prompt ms':>10}{'ms/slice':>9}{'Dice vs plain':>14}")
        for row in v["variants"]:
            print(f"{row['variant']:<32}{row['round_s']:>9.3f}{1000 * row['prompt_s']:>10.1f}{row['per_slice_ms']:>9.1f}"
                  f"{row['dice_vs_plain']:>14.4f}")
        crops = ", ".join(f"{c['input']} {c['interaction_ms']:.0f} ms" for c in v["crop_vs_slice"])
        print("interaction net, crop vs whole slice: " + crops)
        k = v["key_encoder_8_slices_ms"]
        print(f"key encoder, 8 slices: one by one {k['one_by_one']:.1f} ms, batched {k['batched']:.1f} ms")
    sam = report.get("sam", {})
    if "sam_vit_b_1024_s" in sam:
        rounds = [r["summary"]["one_round_s"] for r in report["cases"] if "summary" in r and r["device"] == "cpu"
                  and r["size"] == "large" and tuple(r["shape"]) == (100, 256, 256)]
        ours = rounds[0] if rounds else float("nan")
        report["ratio_round_over_sam"] = ours / sam["sam_vit_b_1024_s"]
        print(f"\nSAM ViT-B image encoder, one 1024x1024 slice (CPU, {report['threads']} threads): {sam['sam_vit_b_1024_s']:.2f} s")
        print(f"our full round (256x256x100, large object, 40 slices): {ours:.3f} s  ->  "
              f"ratio our round / one SAM embedding = {report['ratio_round_over_sam']:.3f}")
    elif sam:
        print(f"\nSAM: {sam.get('error', '')[:300]}")


if __name__ == "__main__":
    main()
