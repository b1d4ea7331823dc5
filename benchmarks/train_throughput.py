"""Training throughput, before/after, with a profile of where a step's time goes.

    python benchmarks/train_throughput.py --device cuda --baseline .baseline/src --out docs/research/training

For each module (interaction, propagation) it runs two workers in fresh subprocesses on the same
device, one after the other:

- ``before``: the pipeline of the baseline tree (``--baseline``, a copy of the previous main's
  ``src``): fresh synthetic volumes every step, at the batch sizes ``scripts/train_gpu.sh`` used;
- ``after``: this tree's pipeline: a device-resident volume bank (``--bank``), real volumes in the
  mix, larger batches, no device-to-host reads in the step.

Each worker resumes from the shipped weights, warms up, times ``--seconds`` of steps
(samples/s, synchronised), profiles a few steps with ``torch.profiler`` (time per step in the
scopes ``data``, ``clicks``, ``forward``, ``backward``, ``optimizer``), and times the *learning
step alone* (forward, backward and update on one fixed batch) to give the share of a step that
the networks' own work takes. It writes ``throughput.json`` (with ``speedup`` per module) and
``profile.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCOPES = ("data", "clicks", "forward", "backward", "optimizer")

#: The configurations compared. "before" = scripts/train_gpu.sh of the previous main.
CONFIGS = {
    ("interaction", "before"): {"batch": 512, "lr": 2e-3},
    ("propagation", "before"): {"batch": 128, "lr": 1e-3, "clip": 10},
    ("interaction", "after"): {"batch": 1024, "lr": 2e-3, "bank": 2048, "refresh_batch": 256, "refresh_every": 4},
    ("propagation", "after"): {"batch": 256, "lr": 1e-3, "clip": 10, "bank": 768, "refresh_batch": 64, "refresh_every": 4},
}


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _args_for(module: str, config: dict, device: str, real: str | None, real_fraction: float):
    """The module's own argument parser, filled as the training command would be."""
    import importlib

    mod = importlib.import_module(f"napari_limnet.training.train_{module}")
    argv = ["--device", device, "--batch", str(config["batch"]), "--lr", str(config["lr"]), "--resume", "--seconds", "1e9"]
    if "clip" in config:
        argv += ["--clip", str(config["clip"])]
    if "bank" in config:
        argv += ["--bank", str(config["bank"]), "--refresh-batch", str(config["refresh_batch"]),
                 "--refresh-every", str(config["refresh_every"])]
        if real and real_fraction > 0:
            argv += ["--real", real, "--real-fraction", str(real_fraction)]
    if hasattr(mod, "build_parser"):
        return mod, mod.build_parser().parse_args(argv)
    # the previous main builds its parser inside main(): the same arguments, rebuilt here
    common = importlib.import_module("napari_limnet.training.common")
    parser = common.common_parser("", seconds=600, batch=config["batch"], lr=config["lr"])
    if module == "interaction":
        parser.add_argument("--per-volume", type=int, default=4)
    else:
        parser.add_argument("--clip", type=int, default=8)
        parser.add_argument("--depth", type=int, default=24)
    return mod, parser.parse_args(argv)


def _make_volumes():
    """The synthetic generator of whichever tree is on the path (data/ now, training/ before)."""
    import importlib

    try:
        return importlib.import_module("napari_limnet.data.synthetic").make_volumes
    except ImportError:
        return importlib.import_module("napari_limnet.training.synthetic").make_volumes


def legacy_step(mod, module: str, args, net, device, gen):
    """The previous main's step function, rebuilt from its own module (fresh volumes every step)."""
    import torch
    from torch.profiler import record_function

    common = sys.modules[mod.__name__.rsplit(".", 1)[0] + ".common"]
    make_volumes = _make_volumes()
    if module == "interaction":
        n_vol = max(1, args.batch // args.per_volume)
        extra_clicks = torch.Generator().manual_seed(args.seed)

        def step_fn(step):
            with torch.no_grad(), record_function("data"):
                vols = make_volumes(n_vol, (6, args.canvas, args.canvas), gen, device)
                img, gt, lab = mod.sample_slices(vols, gen, args.per_volume)
            n_extra = int(torch.multinomial(torch.tensor([0.35, 0.25, 0.2, 0.2]), 1, generator=extra_clicks).item())
            with record_function("clicks"):
                x, target, _ = mod.run_episode(net, img, gt, lab, gen, args.size, n_extra, device)
            with record_function("forward"), common.autocast(device):
                logits = net(x.contiguous(memory_format=torch.channels_last))
                loss = common.seg_loss(logits, target)
            return loss, x.shape[0]

        return step_fn

    def step_fn(step):
        with torch.no_grad(), record_function("data"):
            vols = make_volumes(args.batch, (args.depth, args.canvas, args.canvas), gen, device)
            z, valid = mod.sample_clips(vols, gen, args.clip)
        with record_function("forward"):
            loss, *_ = mod.run_clip(net, vols, z, valid, gen, args.size, device, True, train=True)
        return loss, args.batch

    return step_fn


def one_optimiser_step(net, opt, loss):
    import torch
    from torch.profiler import record_function

    with record_function("backward"):
        opt.zero_grad(set_to_none=True)
        loss.backward()
    with record_function("optimizer"):
        torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
        opt.step()


def learning_only(mod, module: str, args, net, opt, device, gen, step_fn, repeats: int = 5) -> float:
    """Seconds per step of the networks' own work on one fixed batch (no data, no click simulation)."""
    import torch

    common = sys.modules[mod.__name__.rsplit(".", 1)[0] + ".common"]
    make_volumes = _make_volumes()
    if module == "interaction":
        with torch.no_grad():
            vols = make_volumes(max(1, args.batch // args.per_volume), (6, args.canvas, args.canvas), gen, device)
            img, gt, lab = mod.sample_slices(vols, gen, args.per_volume)
            x, target, _ = mod.run_episode(net, img, gt, lab, gen, args.size, 0, device)
        x = x.contiguous(memory_format=torch.channels_last)

        def work():
            with common.autocast(device):
                loss = common.seg_loss(net(x), target)
            one_optimiser_step(net, opt, loss)
    else:
        with torch.no_grad():
            vols = make_volumes(args.batch, (args.depth, args.canvas, args.canvas), gen, device)
            z, valid = mod.sample_clips(vols, gen, args.clip)

        def work():
            # run_clip is the learning computation itself (crops framed on the net's own predictions)
            loss, *_ = mod.run_clip(net, vols, z, valid, gen, args.size, device, True, train=True)
            one_optimiser_step(net, opt, loss)

    work()
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        work()
    _sync(device)
    return (time.perf_counter() - t) / repeats


def profile_steps(net, opt, step_fn, device, steps: int = 3) -> dict:
    """Per-step CPU and device milliseconds in each scope, from torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    _sync(device)
    t = time.perf_counter()
    with profile(activities=activities) as prof:
        for i in range(steps):
            loss, _ = step_fn(10_000 + i)
            one_optimiser_step(net, opt, loss)
        _sync(device)
    wall = (time.perf_counter() - t) / steps
    out = {"wall_ms_per_step_profiled": 1000 * wall}
    for evt in prof.key_averages():
        if evt.key in SCOPES:
            dev_us = getattr(evt, "device_time_total", None)
            if dev_us is None:
                dev_us = getattr(evt, "cuda_time_total", 0)
            out[evt.key] = {"cpu_ms": evt.cpu_time_total / 1000 / steps, "device_ms": dev_us / 1000 / steps}
    launches = sum(e.count for e in prof.key_averages() if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    out["kernel_launches_per_step"] = launches / steps
    syncs = sum(e.count for e in prof.key_averages() if e.key in ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpyAsync"))
    out["sync_or_copy_calls_per_step"] = syncs / steps
    return out


def worker(w) -> dict:
    import torch

    if w.device == "cpu" and w.threads:
        torch.set_num_threads(w.threads)
    config = dict(CONFIGS[(w.module, w.pipeline)])
    if w.batch_scale != 1.0:
        config["batch"] = max(2, int(config["batch"] * w.batch_scale))
        for k in ("bank", "refresh_batch"):
            if k in config:
                config[k] = max(4, int(config[k] * w.batch_scale))
    mod, args = _args_for(w.module, config, w.device, w.real, w.real_fraction)
    common = sys.modules[mod.__name__.rsplit(".", 1)[0] + ".common"]
    net, opt, device, gen = common.setup(args, w.module)
    t0 = time.perf_counter()
    if w.pipeline == "before":
        step_fn = legacy_step(mod, w.module, args, net, device, gen)
    else:
        step_fn, _ = mod.make_step(args, net, device, gen)
    setup_s = time.perf_counter() - t0
    for i in range(w.warmup):
        loss, _ = step_fn(i)
        one_optimiser_step(net, opt, loss)
    _sync(device)
    steps, samples = 0, 0
    t = time.perf_counter()
    while time.perf_counter() - t < w.seconds or steps < 2:
        loss, n = step_fn(w.warmup + steps)
        one_optimiser_step(net, opt, loss)
        steps += 1
        samples += n
    _sync(device)
    elapsed = time.perf_counter() - t
    prof = profile_steps(net, opt, step_fn, device)
    learn = learning_only(mod, w.module, args, net, opt, device, gen, step_fn)
    step_s = elapsed / steps
    return {
        "module": w.module, "pipeline": w.pipeline, "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "config": config, "setup_s": setup_s,
        "steps": steps, "samples": samples, "seconds": elapsed,
        "samples_per_s": samples / elapsed, "step_ms": 1000 * step_s,
        "learning_step_ms": 1000 * learn, "learning_share": learn / step_s,
        "profile": prof,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }


def run_worker(module, pipeline, a) -> dict:
    src = str(Path(a.baseline).resolve()) if pipeline == "before" else str(ROOT / "src")
    env = dict(os.environ, PYTHONPATH=src, PYTHONUNBUFFERED="1")
    wargs = {"module": module, "pipeline": pipeline, "device": a.device, "seconds": a.seconds, "warmup": a.warmup,
             "threads": a.threads, "real": a.real, "real_fraction": a.real_fraction, "batch_scale": a.batch_scale}
    cmd = [sys.executable, __file__, "--worker", json.dumps(wargs)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT))
    if res.returncode != 0:
        return {"module": module, "pipeline": pipeline, "error": res.stderr[-3000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def write_profile_md(results: list[dict], path: Path) -> None:
    lines = ["# Where a training step's time goes", "",
             "Generated by `benchmarks/train_throughput.py` (torch.profiler over 3 steps after warm-up; "
             "CPU ms = host time inside the scope (n/a where the profiler attributed none, as torch 2.11's does on "
             "CUDA), device ms = kernels launched from it; backward kernels run on autograd's thread and are not "
             "attributed to a scope). "
             "*Learning step* = forward, backward and update of the network on one fixed batch, no data "
             "generation and no click simulation.", ""]
    for r in results:
        if "error" in r:
            lines += [f"## {r['module']} / {r['pipeline']}: failed", "", "```", r["error"][-1500:], "```", ""]
            continue
        p = r["profile"]
        lines += [f"## {r['module']} / {r['pipeline']} ({r['device_name']}, torch {r['torch']})", "",
                  f"config `{json.dumps(r['config'])}`: **{r['samples_per_s']:.0f} samples/s**, "
                  f"{r['step_ms']:.0f} ms per step; learning step alone {r['learning_step_ms']:.0f} ms "
                  f"(**{100 * r['learning_share']:.0f} %** of a step); "
                  f"{p.get('kernel_launches_per_step', 0):.0f} kernel launches and "
                  f"{p.get('sync_or_copy_calls_per_step', 0):.0f} sync/copy calls per step"
                  + (f"; peak GPU memory {r['peak_gpu_mb']:.0f} MB" if r.get("peak_gpu_mb") else ""), "",
                  "| scope | CPU ms / step | device ms / step |", "|---|---|---|"]
        host_known = any(p[s]["cpu_ms"] > 0 for s in SCOPES if s in p)
        for s in SCOPES:
            if s in p:
                host = f"{p[s]['cpu_ms']:.1f}" if host_known else "n/a"
                lines.append(f"| {s} | {host} | {p[s]['device_ms']:.1f} |")
        lines.append(f"| whole step (profiled) | {p['wall_ms_per_step_profiled']:.1f} | |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--baseline", default=".baseline/src", help="src folder of the previous pipeline")
    p.add_argument("--modules", nargs="*", default=["interaction", "propagation"])
    p.add_argument("--pipelines", nargs="*", default=["before", "after"])
    p.add_argument("--seconds", type=float, default=15.0, help="timed seconds per worker")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch-scale", type=float, default=1.0, help="scale all batch and bank sizes (CPU smoke runs)")
    p.add_argument("--real", default=".train_data/real_train.npz")
    p.add_argument("--real-fraction", type=float, default=0.3)
    p.add_argument("--out", default="docs/research/training")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(argparse.Namespace(**json.loads(a.worker)))))
        return
    results, summary = [], {}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def save():  # after every worker, so a run cut short still leaves what it measured
        (out / "throughput.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
        write_profile_md(results, out / "profile.md")

    for module in a.modules:
        for pipeline in a.pipelines:
            r = run_worker(module, pipeline, a)
            results.append(r)
            if "error" in r:
                print(f"{module:<12} {pipeline:<7} ERROR {r['error'][-800:]}", flush=True)
                continue
            print(f"{module:<12} {pipeline:<7} {r['samples_per_s']:8.0f} samples/s  step {r['step_ms']:6.0f} ms  "
                  f"learning share {100 * r['learning_share']:4.0f} %  (batch {r['config']['batch']})", flush=True)
            save()
        done = {r["pipeline"]: r for r in results if r["module"] == module and "error" not in r}
        if "before" in done and "after" in done:
            summary[module] = {
                "before_samples_per_s": done["before"]["samples_per_s"],
                "after_samples_per_s": done["after"]["samples_per_s"],
                "speedup": done["after"]["samples_per_s"] / done["before"]["samples_per_s"],
                "after_learning_share": done["after"]["learning_share"],
            }
            print(f"{module:<12} speedup {summary[module]['speedup']:.2f}x", flush=True)
    save()
    print(f"wrote {out / 'throughput.json'} and {out / 'profile.md'}")


if __name__ == "__main__":
    main()
