"""The accuracy benchmark's figure: mean 3D Dice per round, one panel per case group."""

from __future__ import annotations

from pathlib import Path


def plot(summary: dict, methods, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in summary if g != "all_real"]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.4 * len(groups), 3.2), squeeze=False)
    styles = {"limnet": ("tab:blue", "-o"), "previous_stopping": ("tab:green", "-.v"), "no_valley": ("tab:olive", ":x"),
              "no_drift_gap": ("tab:red", ":v"), "drift_plateau": ("firebrick", "--<"),
              "no_leak_cut": ("tab:purple", ":+"), "core_erase": ("tab:cyan", ":d"),
              "trim_spread": ("tab:brown", "-.*"), "no_weak_edge_look": ("tab:olive", "--x"),
              "no_texture_edge": ("tab:pink", ":x"), "no_small_look": ("gold", "-.s"),
              "no_collapse_guard": ("darkgoldenrod", "--p"), "no_border_contrast": ("teal", ":h"),
              "mirror_border": ("slateblue", "-.H"), "no_reframe_guard": ("sienna", ":<"),
              "local_correction": ("darkgreen", ":>"), "before_click_trust": ("tab:gray", "--o"),
              "two_d_first": ("magenta", "-.^"),
              "no_growth": ("tab:cyan", "--d"), "no_mrf": ("tab:orange", "--s"),
              "box_r1": ("tab:red", "-D"), "mask_r1": ("black", "-P"),
              "region_growing": ("tab:gray", ":^"), "candidate": ("tab:pink", "-h")}
    for ax, g in zip(axes[0], groups):
        for m in methods:
            if m in summary[g]:
                color, style = styles.get(m, ("black", ":."))
                d = summary[g][m]["dice"]
                ax.plot(range(1, len(d) + 1), d, style, color=color, label=m, ms=4)
        ax.set_title(f"{g} (n={summary[g]['n']})")
        ax.set_xlabel("round")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean 3D Dice")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
