"""Peak memory of adapting on a 512 x 512 x 300 volume (the issue-18 bound: 1.5 GB RSS).

    python benchmarks/adaptation_memory.py [--seconds 60] [--out docs/adaptation]

Two fresh processes, side by side: one loads the volume and its labels and imports everything
(the baseline), the other also adapts on them. Each reports its peak RSS (evaluation.memory.peak_rss_mb: its own VmHWM).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
from napari_limnet.evaluation.memory import peak_rss_mb
import numpy as np
import torch
from napari_limnet.adaptation import adapt
torch.set_num_threads(2)
rng = np.random.default_rng(0)
shape = (300, 512, 512)
vol = np.empty(shape, np.int16)
for z in range(shape[0]):  # slice by slice: no float64 volume-sized temporaries in the baseline
    vol[z] = rng.normal(300, 40, size=shape[1:]).astype(np.int16)
labels = np.zeros(shape, np.uint16)
zz, yy, xx = np.ogrid[:300, :512, :512]
for k, (cz, cy, cx, r) in enumerate([(80, 150, 150, 30), (150, 300, 350, 45), (220, 380, 160, 25), (150, 120, 400, 35)], 1):
    sl = (slice(cz - 2 * r, cz + 2 * r), slice(cy - 2 * r, cy + 2 * r), slice(cx - 2 * r, cx + 2 * r))
    blob = ((zz[sl[0]] - cz) / (1.2 * r)) ** 2 + ((yy[:, sl[1]] - cy) / r) ** 2 + ((xx[:, :, sl[2]] - cx) / (0.8 * r)) ** 2 < 1
    vol[sl][blob] += 400
    labels[sl][blob] = k
adapt_it = sys.argv[1] == "adapt"
t0 = time.perf_counter()
info = {}
if adapt_it:
    m = adapt(vol, labels, (1.0, 0.7, 0.7), seconds=float(sys.argv[2]), seed=0)
    info = {k: m.info["adaptation"][k] for k in ("steps", "seconds", "time_limited", "crops")}
print(json.dumps({"peak_rss_mb": peak_rss_mb(),
                  "volume_mb": (vol.nbytes + labels.nbytes) / 2**20, "seconds": time.perf_counter() - t0, **info}))
"""


def run(kind: str, seconds: float) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(seconds)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--out", default="bench_out")
    args = p.parse_args(argv)
    base, ad = run("baseline", args.seconds), run("adapt", args.seconds)
    report = {"shape": [300, 512, 512], "baseline": base, "adapt": ad,
              "adapt_extra_mb": round(ad["peak_rss_mb"] - base["peak_rss_mb"], 1)}
    print(f"baseline (volume int16 + labels uint16 loaded): peak RSS {base['peak_rss_mb']:.0f} MB")
    print(f"adapt {args.seconds:.0f} s:                          peak RSS {ad['peak_rss_mb']:.0f} MB "
          f"(+{report['adapt_extra_mb']:.0f} MB), steps {ad['steps']}, crops {ad['crops']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adaptation_memory.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
