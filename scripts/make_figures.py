"""Figures for docs/: synthetic training samples and the training curves of the shipped weights.

    python scripts/make_figures.py [synthetic] [curves] [leak]   # docs/synthetic_samples.png, training_curves.png, leak_cut.png
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from napari_limnet.modeling.weights import shipped_weights_dir  # noqa: E402
from napari_limnet.data.synthetic import make_volumes  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def synthetic_samples(path: Path, n: int = 8, seed: int = 5) -> None:
    fig, axes = plt.subplots(3, n, figsize=(2.1 * n, 6.6))
    gen = torch.Generator().manual_seed(seed)
    for i in range(n):
        v = make_volumes(1, (24, 128, 128), gen)
        t = v.target[0]
        z = int(t.flatten(1).sum(1).argmax())
        img = v.image[0, z].numpy()
        axes[0, i].imshow(img, cmap="gray")
        axes[0, i].set_title(f"{v.dtype_mode}\nslice thickness {v.z_scale:.1f}", fontsize=7)
        axes[1, i].imshow(img, cmap="gray")
        axes[1, i].contour(t[z].numpy().astype(float), [0.5], colors="r", linewidths=0.8)
        axes[2, i].imshow(v.labels[0, z].numpy(), cmap="tab20", interpolation="nearest")
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("target")
    axes[2, 0].set_ylabel("label map")
    fig.suptitle("Domain-randomised synthetic volumes (one slice each): napari_limnet.data.synthetic", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


GROUP_NAMES = {"macaque": "macaque", "mni152": "MNI brain", "nuclei3d": "3D nuclei", "nuclei_confocal": "confocal",
               "synthetic": "synthetic", "all_real": "all real dev"}


def dev_vs_gpu_seconds(ax_r1, ax_r6, points: list[dict]) -> None:
    """Dev benchmark Dice (round 1, round 6) per group against the GPU-seconds of training
    (``points`` of docs/research/training/dev_vs_gpu_seconds.json: one per set of interaction + propagation weights)."""
    for ax, r, title in ((ax_r1, 0, "round 1"), (ax_r6, -1, "round 6")):
        for i, g in enumerate(GROUP_NAMES):
            color = f"C{i}"
            xs = [p["gpu_seconds"] for p in points]
            ys = [p["dice"][g][r] for p in points]
            ax.plot(xs, ys, "-", color=color, lw=1, label=GROUP_NAMES[g])
            for p, x, y in zip(points, xs, ys):
                ax.plot(x, y, "o" if p["shipped"] else "s", color=color, mfc=color if p["shipped"] else "none", ms=5)
        ax.set_title(f"dev benchmark Dice, {title}")
        ax.set_xlabel("GPU-seconds of training (both nets in parallel)")
        ax.set_ylabel("mean 3D Dice")
    ax_r6.legend(fontsize=7, ncol=2)


def training_curves(path: Path) -> None:
    folder = shipped_weights_dir()
    specs = {
        "interaction": ["dice@1", "dice@3", "dice@5"],
        "propagation": ["clip_dice", "overshoot", "undershoot"],
        "fusion": ["accuracy", "dice_chosen", "dice_always_new"],
    }
    fig, axes = plt.subplots(3, 3, figsize=(13, 9.8))
    for col, (name, keys) in enumerate(specs.items()):
        hist = json.loads((folder / f"{name}_history.json").read_text())
        record = json.loads((folder / f"{name}.json").read_text())
        offsets, t = {}, 0.0
        for run in sorted({h.get("run", 0) for h in hist}):
            offsets[run] = t
            t += max(h["seconds"] for h in hist if h.get("run", 0) == run)
        x = [offsets[h.get("run", 0)] + h["seconds"] for h in hist]
        axes[0, col].plot(x, [h["loss"] for h in hist], ".-", ms=3)
        axes[0, col].set_title(f"{name}: training loss ({len(record['runs'])} run(s))")
        axes[0, col].set_xlabel("training seconds (dotted: a new run)")
        for k in keys:
            axes[1, col].plot(x, [h[k] for h in hist], ".-", ms=3, label=k)
        axes[1, col].set_title(f"{name}: synthetic validation")
        axes[1, col].set_xlabel("training seconds (dotted: a new run)")
        axes[1, col].legend(fontsize=8)
        for bound in list(offsets.values())[1:]:
            for r in (0, 1):
                axes[r, col].axvline(bound, color="gray", ls=":", lw=0.8)
    points = json.loads((DOCS / "training" / "dev_vs_gpu_seconds.json").read_text())["points"]
    dev_vs_gpu_seconds(axes[2, 0], axes[2, 1], points)
    axes[2, 2].axis("off")
    note = "filled: weights shipped (then or now); open: not shipped\n\n" + "\n\n".join(p["label"] for p in points)
    axes[2, 2].text(0, 1, note, va="top", fontsize=8, wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def best_leak_cut_example(names) -> str:
    """The case whose first corrective click cuts the longest leak (to illustrate the mechanism)."""
    import numpy as np

    from napari_limnet import LimNetController
    from napari_limnet.evaluation.cases import load_dev_cases
    from napari_limnet.evaluation.robot_user import corrective_click, first_click

    best, best_cut = names[0], -1
    for case in load_dev_cases(names=names):
        ctrl = LimNetController(case.image, spacing=case.spacing)
        z0, yx = first_click(case.truth)
        m1 = np.asarray(ctrl.interact(z0, [yx], []))
        z1, yx1, positive = corrective_click(m1, case.truth)
        if positive:
            continue
        ctrl.interact(z1, [], [yx1])
        if ctrl.last_round_stats["leak_cut_slices"] > best_cut:
            best, best_cut = case.name, ctrl.last_round_stats["leak_cut_slices"]
    return best


def leak_cut(path: Path, case_name: str | None = None) -> None:
    """Area per slice: the truth, round 1 (a leak into the neighbour), and round 2 after one
    negative click on the worst leaked slice, with and without the leak cut."""
    if case_name is None:
        case_name = best_leak_cut_example([f"nuclei_confocal_{i}" for i in (2, 3, 5, 6, 7, 8, 11, 12, 14)])
    from dataclasses import replace

    import numpy as np

    from napari_limnet import LimNetController
    from napari_limnet.evaluation.cases import load_dev_cases
    from napari_limnet.evaluation.robot_user import corrective_click, first_click
    from napari_limnet.inference.stopping import StoppingConfig

    case = load_dev_cases(names=[case_name])[0]
    area = lambda m: np.asarray(m).reshape(m.shape[0], -1).sum(1)  # noqa: E731
    curves, clicks = {}, {}
    variants = (("with the leak cut", StoppingConfig()), ("only the clicked slice (before)", replace(StoppingConfig(), leak_cut=None)))
    for label, stopping in variants:
        ctrl = LimNetController(case.image, spacing=case.spacing, stopping=stopping)
        z0, yx = first_click(case.truth)
        m1 = np.asarray(ctrl.interact(z0, [yx], [])).copy()
        z1, yx1, positive = corrective_click(m1, case.truth)
        m2 = np.asarray(ctrl.interact(z1, [yx1] if positive else [], [] if positive else [yx1]))
        curves["round 1: one click"] = area(m1)
        curves[f"round 2, {label}"] = area(m2)
        clicks = {"first": z0, "negative": z1, "cut": ctrl.last_round_stats.get("leak_cut_slices", 0)}
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    zs = np.arange(case.truth.shape[0])
    ax.fill_between(zs, area(case.truth), color="0.85", label="truth", step="mid")
    styles = {"round 1: one click": ("tab:red", "-"), "round 2, with the leak cut": ("tab:green", "-"),
              "round 2, only the clicked slice (before)": ("tab:orange", "--")}
    for name, a in curves.items():
        color, ls = styles[name]
        ax.step(zs, a, where="mid", color=color, ls=ls, label=name)
    ax.axvline(clicks["first"], color="tab:blue", lw=1)
    ax.axvline(clicks["negative"], color="tab:red", lw=1, ls=":")
    ax.text(clicks["first"], ax.get_ylim()[1] * 0.92, " + click", color="tab:blue", fontsize=8)
    ax.text(clicks["negative"], ax.get_ylim()[1] * 0.8, " - click", color="tab:red", fontsize=8)
    ax.set_xlabel("slice z")
    ax.set_ylabel("mask area (pixels)")
    ax.set_title(f"One negative click removes the whole leak ({case_name}, real nets)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    DOCS.mkdir(exist_ok=True)
    which = sys.argv[1:] or ["synthetic", "curves", "leak"]
    if "synthetic" in which:
        synthetic_samples(DOCS / "synthetic_samples.png")
    if "curves" in which:
        training_curves(DOCS / "training_curves.png")
    if "leak" in which:
        leak_cut(DOCS / "leak_cut.png")
    print("wrote figures in docs/: " + ", ".join(which))
