"""Figures for docs/: synthetic training samples and the training curves of the shipped weights.

    python scripts/make_figures.py            # writes docs/synthetic_samples.png, docs/training_curves.png
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from napari_limnet.modeling.weights import shipped_weights_dir  # noqa: E402
from napari_limnet.training.synthetic import make_volumes  # noqa: E402

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
    fig.suptitle("Domain-randomised synthetic volumes (one slice each): napari_limnet.training.synthetic", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def training_curves(path: Path) -> None:
    folder = shipped_weights_dir()
    specs = {
        "interaction": ["dice@1", "dice@3", "dice@5"],
        "propagation": ["clip_dice", "overshoot", "undershoot"],
        "fusion": ["accuracy", "dice_chosen", "dice_always_new"],
    }
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    synthetic_samples(DOCS / "synthetic_samples.png")
    training_curves(DOCS / "training_curves.png")
    print("wrote docs/synthetic_samples.png and docs/training_curves.png")
