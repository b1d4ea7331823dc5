"""Do the proxy cases rank weight candidates the way the dev shipping check does?

    python docs/research/training/cpu_sweep_2026-12-01/greedy/proxy_dev_agreement.py            # the committed issue-21 pairs below

Every issue-21 candidate that had both a proxy run (training structures held out by object,
synthetic volumes; never dev) and a dev shipping check, with the same inference code and
proxy groups within its family, is one row: its round-6 Dice change against the shipped nets on
the proxy groups, and on the dev groups. Prints the rows and the Spearman rank correlation of
each proxy column with each dev column. Reads only committed reports under docs/research/training.
"""

from __future__ import annotations

import json
from pathlib import Path

from scipy.stats import spearmanr

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file()) / "docs" / "research" / "training"
DISTILL = "cpu_sweep_2026-11-30/distill"
EDGE = "cpu_sweep_2026-12-01/edge"
GREEDY = "cpu_sweep_2026-12-01/greedy"
#: (label, proxy report, dev report); the edge/greedy proxy reports without a 'limnet' curve use
#: the shipped curve of the first edge report (same cases, same code).
PAIRS = [
    ("p100_d6", f"{DISTILL}/robot_p100_d6.json", f"{DISTILL}/dev_p100_d6.json"),
    ("p50_d3", f"{DISTILL}/robot_p50_d3.json", f"{DISTILL}/dev_p50_d3.json"),
    ("p50_d6", f"{DISTILL}/robot_p50_d6.json", f"{DISTILL}/dev_p50_d6.json"),
    ("soup_x3 (p30_d6)", f"{DISTILL}/robot_soup_x3.json", f"{DISTILL}/dev_soup_x3.json"),
    ("e40_t50_s1", f"{EDGE}/proxies_e40_t50_s1.json", f"{EDGE}/dev_e40_t50_s1.json"),
    ("soup e40_t50 s1+s3", f"{EDGE}/proxies_soup_e40_t50_s13.json", f"{EDGE}/dev_soup_e40_t50_s13.json"),
    ("soup e40_t50 s1+s3+s4", f"{EDGE}/proxies_soup_e40_t50_x3.json", f"{EDGE}/dev_soup_e40_t50_x3.json"),
    ("greedy soup s9+s7+s4+s10", f"{GREEDY}/proxies_greedy_trial_8.json", f"{GREEDY}/dev_greedy_soup_x4.json"),
]
PROXY_GROUPS = ("train", "synthetic")
DEV_GROUPS = ("all_real", "macaque", "mni152", "nuclei3d", "nuclei_confocal")


def last_round_change(summary: dict, group: str, shipped: dict | None = None) -> float:
    """Candidate minus shipped Dice at the last round; shipped from ``shipped`` when the report has none."""
    entry = summary[group]
    old = entry["limnet"] if "limnet" in entry else shipped[group]["limnet"]
    return entry["candidate"]["dice"][-1] - old["dice"][-1]


def main() -> list[dict]:
    """Print the rows and the rank correlations; returns the rows."""
    shipped_edge = json.loads((ROOT / EDGE / "proxies_e40_t50_s1.json").read_text())["summary"]
    rows = []
    for label, proxy_path, dev_path in PAIRS:
        proxy = json.loads((ROOT / proxy_path).read_text())["summary"]
        dev = json.loads((ROOT / dev_path).read_text())["summary"]
        row = {"label": label}
        row.update({f"proxy {g}": last_round_change(proxy, g, shipped_edge) for g in PROXY_GROUPS})
        row.update({f"dev {g}": last_round_change(dev, g) for g in DEV_GROUPS})
        rows.append(row)
    columns = [k for k in rows[0] if k != "label"]
    print(f"{'candidate (r6 change vs shipped)':<28}" + "".join(f"{c:>20}" for c in columns))
    for row in rows:
        print(f"{row['label']:<28}" + "".join(f"{row[c]:>+20.3f}" for c in columns))
    print(f"\nSpearman rank correlation over {len(rows)} candidates:")
    for p in PROXY_GROUPS:
        cells = []
        for d in DEV_GROUPS:
            rho = spearmanr([r[f"proxy {p}"] for r in rows], [r[f"dev {d}"] for r in rows])[0]
            cells.append(f"{d} {rho:+.2f}")
        print(f"  proxy {p:<10} vs dev: " + ", ".join(cells))
    return rows


if __name__ == "__main__":
    main()
