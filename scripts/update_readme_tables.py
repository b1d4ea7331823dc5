"""Rewrite the measured tables in README.md and the docs pages from the benchmark and speed reports in docs/.

    python scripts/update_readme_tables.py

Tables live between ``<!-- NAME START -->`` and ``<!-- NAME END -->`` markers, in whichever of README.md
and docs/*.md holds them: BENCHMARK
(docs/benchmark/benchmark.json), CONFIDENCE, STRIP and PROMPTS (the same report), SPEED (docs/speed/speed.json,
plus the CUDA rows of docs/speed/speed_cuda.json when present).
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"macaque": "macaque", "mni152": "MNI152 brain", "nuclei3d": "3D nuclei (synthetic)",
         "nuclei_confocal": "confocal nuclei (real)", "synthetic": "synthetic hold-out", "train": "training-volume structures",
         "all_real": "all real dev cases"}
METHODS = {"limnet": "LIM-Net (shipped)", "previous_stopping": "previous stopping", "no_valley": "- area valley",
           "no_drift_gap": "- intensity gap", "drift_plateau": "+ sustained drift (option, off)",
           "no_leak_cut": "- leak cut", "core_erase": "+ core erase (not kept)",
           "trim_spread": "+ trims spread (option, off)", "no_weak_edge_look": "- weak-edge look",
           "no_texture_edge": "- texture edge", "no_small_look": "- small-window look",
           "no_collapse_guard": "- collapse guard", "no_border_contrast": "- border contrast",
           "mirror_border": "+ mirror past the edge (option, off)", "no_growth": "- growth cut and erase",
           "no_mrf": "no MRF", "region_growing": "region growing"}
GROUPS = ("macaque", "mni152", "nuclei3d", "nuclei_confocal", "synthetic", "all_real", "train")


def _fmt_extent(entry: dict, round_index: int) -> str:
    if "overshoot" not in entry:
        return ""
    return f"{entry['overshoot'][round_index]:.1f} / {entry['undershoot'][round_index]:.1f}"


def _merged_summary(reports: list[dict]) -> dict:
    """The reports' per-group summaries in one dict (a later report's group wins)."""
    summary = {}
    for rep in reports:
        summary.update(rep["summary"])
    return summary


def _dice_row(head: str, label: str, entry: dict, middle: str = "") -> str:
    """| head | label | r1..r6 | [middle |] over / under r1 | over / under r6 |"""
    cells = " | ".join(f"{v:.3f}" for v in entry["dice"]) + (f" | {middle}" if middle else "")
    return f"| {head} | {label} | {cells} | {_fmt_extent(entry, 0)} | {_fmt_extent(entry, -1)} |"


def benchmark_table(reports: list[dict]) -> str:
    lines = ["| group (n) | method | r1 | r2 | r3 | r4 | r5 | r6 | s/round | over / under r1 | over / under r6 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    summary = _merged_summary(reports)
    for g in GROUPS:
        e = summary.get(g)
        if not e:
            continue
        first = True
        for m, label in METHODS.items():
            if m not in e:
                continue
            head = f"{NAMES[g]} ({e['n']})" if first else ""
            lines.append(_dice_row(head, label, e[m], f"{e[m]['seconds_per_round']:.2f}"))
            first = False
    r0 = reports[0]
    return "\n".join(lines) + (f"\n\n*{r0['threads']} CPU thread(s), {r0['precision']}, "
                               f"{sum(r['wall_seconds'] for r in reports) / 60:.0f} min for the whole run "
                               "(all variants are their own robot sessions). Seconds per round come from a shared 2-core "
                               "machine running two benchmarks at once: the speed section has the timings.*")


def confidence_table(reports: list[dict]) -> str:
    lines = ["| group | next click among the 3 slices that most need the user | random 3 of the same slices | the 3 largest masks |",
             "|---|---|---|---|"]
    for rep in reports:
        for g in GROUPS:
            e = rep["summary"].get(g)
            if e and e.get("confidence_hit_rate") is not None:
                lines.append(f"| {NAMES[g]} | {e['confidence_hit_rate']:.2f} | {e['random_hit_rate']:.2f} | "
                             f"{e['largest_area_hit_rate']:.2f} |")
    return "\n".join(lines)


PROMPTS = {"limnet": "one click", "box_r1": "true box", "mask_r1": "true 2D mask (painted)"}
STRIP_COLOURS = ("red", "yellow", "green")


def prompts_table(reports: list[dict]) -> str:
    """Round 1 as one click, the true box or the true 2D mask of the robot's slice (rounds 2-6 click)."""
    lines = ["| group (n) | round 1 prompt | r1 | r2 | r3 | r4 | r5 | r6 | over / under r1 | over / under r6 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = _merged_summary(reports)
    for g in GROUPS:
        e = summary.get(g)
        if not e or not all(m in e for m in PROMPTS):
            continue
        for i, (m, label) in enumerate(PROMPTS.items()):
            lines.append(_dice_row(f"{NAMES[g]} ({e['n']})" if i == 0 else "", label, e[m]))
    return "\n".join(lines)


def strip_table(reports: list[dict]) -> str:
    """How the confidence strip's colours after round 1 agree with per-slice Dice."""
    lines = ["| group | red | yellow | green | rank correlation |", "|---|---|---|---|---|"]
    for rep in reports:
        for g in GROUPS:
            st = rep["summary"].get(g, {}).get("strip_r1")
            if not st or g == "all_real":
                continue
            cells = " | ".join(f"{st[c]['share']:.2f} / {st[c]['mean_slice_dice']:.2f}" if st[c]["mean_slice_dice"] is not None
                               else f"{st[c]['share']:.2f} / -" for c in STRIP_COLOURS)
            lines.append(f"| {NAMES[g]} ({st['slices']} slices) | {cells} | {st.get('spearman', float('nan')):.2f} |")
    return "\n".join(lines)


def _speed_rows(rep: dict) -> list[str]:
    rows = []
    for r in rep["cases"]:
        if "error" in r:
            continue
        s = r["session"]
        rates = [n / t for n, t in zip(s["propagated_slices"], s["propagation_s"]) if n and t > 0]
        one = r["one_round"]
        gpu = f"{r['peak_gpu_mb']:.0f}" if r.get("peak_gpu_mb") is not None else "-"
        rows.append(
            f"| {r['device']} | {'×'.join(map(str, r['shape'][::-1]))} int16 | {r['size']} | {r['object_slices']} | "
            f"{1000 * statistics.median(s['prompt_s']):.0f} | {statistics.median(rates):.0f} | "
            f"{1000 * statistics.median(s['fusion_s']):.0f} | {one['total_s']:.2f} | {statistics.mean(s['round_s']):.2f} | "
            f"{r['peak_rss_above_volume_mb']:.0f} | {gpu} |")
    return rows


def speed_table() -> str:
    rep = json.loads((ROOT / "docs/speed/speed.json").read_text())
    lines = [
        "| device | volume (X×Y×Z) | object | slices | 2D prompt ms | propagation slices/s | MRF ms | one round s | "
        "6-round mean s | peak RSS above volume MB | peak GPU MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ] + _speed_rows(rep)
    cuda = ROOT / "docs/speed/speed_cuda.json"
    if cuda.is_file():
        lines += _speed_rows(json.loads(cuda.read_text()))
    out = "\n".join(lines)
    v = rep.get("variants", {})
    if "variants" in v:
        out += "\n\nOptimisations, before/after in one run (256×256×100, 40-slice object, CPU, 2 threads):\n\n"
        out += "| variant | full round s | 2D prompt ms | ms per propagated slice | Dice vs plain fp32 | kept |\n"
        out += "|---|---|---|---|---|---|\n"
        kept = {"plain fp32 (no folding, NCHW)": "baseline", "+ channels_last": "yes", "+ BatchNorm folded (default)": "yes",
                "+ bf16 autocast": "opt-in (`precision='auto'`)"}
        for row in v["variants"]:
            out += (f"| {row['variant']} | {row['round_s']:.3f} | {1000 * row['prompt_s']:.0f} | {row['per_slice_ms']:.1f} | "
                    f"{row['dice_vs_plain']:.4f} | {kept.get(row['variant'], '')} |\n")
        crop = ", ".join(f"{c['input']}: {c['interaction_ms']:.0f} ms" for c in v["crop_vs_slice"])
        k = v["key_encoder_8_slices_ms"]
        rates = [r["feature_cache_hit_rate"] for r in rep["cases"] if "feature_cache_hit_rate" in r]
        out += (
            f"\n* Object-centred crops: the interaction net on a 128² crop vs on the whole slice: {crop} (kept).\n"
            f"* Batching the key encoder over 8 upcoming slices: {k['one_by_one']:.1f} ms one by one vs {k['batched']:.1f} ms "
            f"batched ({k['one_by_one'] / k['batched']:.2f}×), and it would need speculative crops (the next crop depends on "
            "this slice's mask): not kept.\n"
            f"* Caching image features per slice across rounds: only {100 * statistics.mean(rates):.0f}% of propagation crops "
            "repeat (same slice, same window) in a 6-round session, so at most that share of encoder calls could be saved: "
            "not implemented.\n"
        )
    sam = rep.get("sam", {})
    if "sam_vit_b_1024_s" in sam:
        out += (
            f"\n**SAM ViT-B image encoder, one 1024² slice, same CPU and threads: {sam['sam_vit_b_1024_s']:.2f} s. "
            f"Our full round on a 40-slice object: ratio {rep['ratio_round_over_sam']:.3f}** "
            "(the whole 3D round costs under a twentieth of what a SAM-based tool pays to embed one slice)."
        )
    return out


def latency_table() -> str:
    path = ROOT / "docs/robustness/commit_latency.json"
    if not path.is_file():
        return "*(run `python benchmarks/commit_latency.py --legacy`)*"
    runs = json.loads(path.read_text())["runs"]
    lines = ["| labels (Z×Y×X uint16) | commit path | objects | UI-thread ms per commit (median / p95 / max) | "
             "autosave ms (median / max) | peak RSS MB |", "|---|---|---|---|---|---|"]
    for r in runs:
        shape = "×".join(map(str, r["shape"]))
        if r["kind"] in ("new", "pretouched"):
            c, a = r["commit_ui_ms"], r["autosave_background_ms"]
            label = "this release" + (", label memory faulted in beforehand" if r["kind"] == "pretouched" else "")
            lines.append(f"| {shape} | {label} | {r['objects']} | {c['median']:.1f} / {c['p95']:.1f} / {c['max']:.1f} | "
                         f"{a['median']:.0f} / {a['max']:.0f} (background) | {r['peak_rss_mb']:.0f} |")
        else:
            c, a = r["commit_plus_autosave_ui_ms"], r["autosave_ui_ms"]
            lines.append(f"| {shape} | previous (full slices, volume scans, whole-bbox autosave) | {r['objects_timed']} | "
                         f"{c['median']:.0f} (median) | {a['median']:.0f} (on the UI thread) | |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block between ``name``'s markers replaced (unchanged when it has none)."""
    pattern = re.compile(rf"(<!-- {name} START -->\n).*?(<!-- {name} END -->)", re.S)
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def main() -> None:
    reports = [json.loads(p.read_text()) for p in sorted((ROOT / "docs/benchmark").glob("benchmark*.json"))]
    blocks = {"BENCHMARK TABLE": lambda: benchmark_table(reports), "CONFIDENCE TABLE": lambda: confidence_table(reports),
              "PROMPTS TABLE": lambda: prompts_table(reports), "STRIP TABLE": lambda: strip_table(reports),
              "SPEED TABLE": speed_table, "LATENCY TABLE": latency_table}
    found = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = new = page.read_text()
        for name, make in blocks.items():
            if f"<!-- {name} START -->" in text:
                new = replace_block(new, name, make())
                found.add(name)
        if new != text:
            page.write_text(new)
            print(f"{page.relative_to(ROOT)}: tables updated")
    missing = set(blocks) - found
    if missing:
        raise SystemExit(f"no page holds the markers of {sorted(missing)}")


if __name__ == "__main__":
    main()
