"""README tables of the adaptation benchmark: the dev runs merged per group (they score the same
objects and share the shipped row), and the recipe sweep.

    python scripts/adaptation_readme_tables.py docs/adaptation/adaptation_dev_T60.json docs/adaptation/adaptation_dev_k3_T180.json ...
"""

from __future__ import annotations

import json
import sys

GROUP_NAMES = {"macaque": "macaque", "nuclei_confocal": "confocal nuclei (real)", "nuclei3d": "synthetic 3D nuclei",
               "train": "training-volume structures"}


def label(key: str) -> str:
    k, mode, t, variant = key.split(" ", 3)
    what = {"true": "true masks", "robot": "robot's masks"}[mode]
    guard = ", guarded" if variant.endswith("guarded") else ""
    name = variant.replace(" guarded", "")
    extra = "" if name == "default" else f", {name}"
    return f"{k}, {what}, {t.replace('.0', '')} s{extra}{guard}"


def table(paths: list[str]) -> str:
    merged: dict[str, dict] = {}
    for p in paths:
        for group, entry in json.loads(open(p).read())["summary"].items():
            g = merged.setdefault(group, {"objects": entry["objects"], "shipped": entry["shipped"], "rows": {}})
            g["rows"].update({k: v for k, v in entry.items() if k not in ("objects", "shipped")})
    lines = ["| group (scored objects) | weights | r1 | r2 | r3 | r4 | r5 | r6 | over / under r1 | over / under r6 | adapt s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for group, g in merged.items():
        rows = [("shipped", g["shipped"])] + sorted(g["rows"].items(), key=lambda kv: (kv[0].split()[0], "guarded" in kv[0], kv[0]))
        for i, (key, row) in enumerate(rows):
            name = f"{GROUP_NAMES.get(group, group)} ({g['objects']})" if i == 0 else ""
            cells = " | ".join(f"{v:.3f}" for v in row["dice"])
            ext = f"{row['overshoot'][0]:.1f} / {row['undershoot'][0]:.1f} | {row['overshoot'][-1]:.1f} / {row['undershoot'][-1]:.1f}"
            secs = f"{row['adapt_seconds']:.0f}" if "adapt_seconds" in row else ""
            lines.append(f"| {name} | {'shipped' if key == 'shipped' else 'adapted: ' + label(key)} | {cells} | {ext} | {secs} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1:]))
