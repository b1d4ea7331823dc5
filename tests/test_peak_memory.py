"""Peak memory of a spawned script is the script's own, not its parent's (evaluation.memory)."""

import json
import subprocess
import sys

import numpy as np

CHILD = "import json; from napari_limnet.evaluation.memory import peak_rss_mb; print(json.dumps(peak_rss_mb()))"


def test_a_child_reports_its_own_peak_not_the_parents():
    ballast = np.ones(400 * 2**20 // 8)  # 400 MB touched in this (parent) process
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    child_peak = json.loads(out.stdout)
    assert 1 < child_peak < 300, f"child peak {child_peak:.0f} MB (the parent holds {ballast.nbytes / 2**20:.0f} MB)"
