"""Longest UI-thread block per action, in a real napari viewer (under Xvfb on a headless machine).

    python benchmarks/ui_freeze.py [--out docs/speed]

A QTimer heartbeat ticks every 5 ms on the UI thread; the longest gap between ticks while an
action runs (minus the tick period) is how long the UI froze. Actions, as a new user does them:
open the dock through the Plugins menu (a fresh process, so imports count) and wait until its
layers and the background warm-up are done, first click of a session, later clicks (2D preview
+ round), a box, Propagate [P], commit, learn (start).
Each action is followed by waiting until the widget is idle, while the heartbeat keeps ticking.
The last row is napari's own cost of adding one Labels layer (no plugin code): the floor under the
dock opening on this machine.

``--baseline REF`` also runs the same actions on the code of git revision REF (a temporary
worktree first on PYTHONPATH), in its own process, and prints both side by side; actions the
old code does not have are n/a.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TICK_MS = 5


class Heartbeat:
    def __init__(self, app):
        from qtpy.QtCore import QTimer

        self.app = app
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _tick(self):
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def measure(self, action, idle=lambda: True, settle_s: float = 0.3, timeout_s: float = 300.0) -> float:
        """Run ``action`` on the UI thread, keep the event loop going until ``idle()``; worst block (ms)."""
        self.app.processEvents()
        self.last = time.perf_counter()
        self.worst = 0.0
        t0 = time.perf_counter()
        action()
        self._tick()  # the action itself blocked the loop this long
        end = None
        while time.perf_counter() - t0 < timeout_s:
            self.app.processEvents()
            time.sleep(0.001)
            if idle():
                end = end or time.perf_counter()
                if time.perf_counter() - end > settle_s:
                    break
            else:
                end = None
        return round(max(0.0, self.worst * 1000 - TICK_MS), 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="bench_out")
    p.add_argument("--baseline", default=None, help="also measure git revision REF (e.g. HEAD~5), side by side")
    p.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.baseline:
        return compare(args)
    t_import = time.perf_counter()
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_limnet.data.samples import ct_abdomen

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    s = ct_abdomen()
    viewer.add_image(s.image, name="ct", scale=s.spacing)
    hb = Heartbeat(app)
    results, holder = {}, {}

    def open_dock():
        holder["w"] = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")[1]

    def settled():  # the layers are added and the background warm-up (torch, networks) is done
        w = holder.get("w")
        return w is not None and not getattr(w, "adding_layers", False) and not getattr(w, "warming", False)

    results["open the dock (Plugins menu)"] = hb.measure(open_dock, settle_s=0.5)
    results["dock opening until layers and warm-up are done"] = hb.measure(lambda: None, settled, settle_s=0.5)
    w = holder["w"]
    w.image_combo.setCurrentText("ct")
    idle = lambda: not w.busy and not getattr(w, "warming", False)  # noqa: E731

    def click(z, y, x):
        prompts = w.layers.prompts()
        world = w.layers.image.data_to_world(np.array([z, y, x], float))
        viewer.dims.set_point(0, world[0])
        prompts.add(prompts.world_to_data(world))

    z, y, x = s.click
    w.auto_check.setChecked(True)
    results["first click (preview + round)"] = hb.measure(lambda: click(z, y, x), idle)
    results["second click, same slice"] = hb.measure(lambda: click(z, y + 3, x), idle)
    results["click on another slice"] = hb.measure(lambda: click(z + 3, y, x), idle)
    w.auto_check.setChecked(False)
    results["click, preview only (auto off)"] = hb.measure(lambda: click(z - 3, y, x), idle)
    if hasattr(w, "propagate_slice"):
        results["Propagate this slice [P]"] = hb.measure(w.propagate_slice, idle)
    results["commit [C]"] = hb.measure(w.commit, idle)
    if hasattr(w, "learn"):
        w.learn_seconds.setValue(15)
        results["learn [L] (start; runs in the background)"] = hb.measure(w.learn, lambda: not w.learning)
    results["next object [N]"] = hb.measure(w.next_object, idle)
    results["undo [U]"] = hb.measure(w.undo, idle)
    # napari's own cost of one layer on this machine, no plugin code involved: the floor under any
    # action that adds a layer (the dock adds five, one per event-loop turn)
    blank = np.zeros(s.image.shape, np.uint8)
    results["reference: napari adds one Labels layer"] = hb.measure(lambda: viewer.add_labels(blank, scale=s.spacing))
    worst = max(results.values())
    report = {"tick_ms": TICK_MS, "longest_block_ms": results, "worst_ms": worst,
              "wall_s": round(time.perf_counter() - t_import, 1)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui_freeze.json").write_text(json.dumps(report, indent=1))
    if not args.json_only:
        for k, v in results.items():
            print(f"{k:<45}{v:>9.1f} ms")
    viewer.close()
    return report


def _run(src: str | None, out: Path) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    subprocess.run([sys.executable, __file__, "--out", str(out), "--json-only"], env=env, check=True)
    return json.loads((out / "ui_freeze.json").read_text())


def compare(args) -> dict:
    """This code and the code of ``args.baseline``, each in a fresh process, side by side."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), args.baseline],
                       check=True, capture_output=True)
        try:
            old = _run(str(tree / "src"), Path(tmp) / "old")
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)
        new = _run(None, Path(tmp) / "new")
    print(f"{'action':<45}{args.baseline:>12}{'this code':>12}   (longest UI-thread block, ms)")
    for k in new["longest_block_ms"]:
        o = old["longest_block_ms"].get(k)
        print(f"{k:<45}{(f'{o:.1f}' if o is not None else 'n/a'):>12}{new['longest_block_ms'][k]:>12.1f}")
    report = {"baseline": args.baseline, "baseline_ms": old["longest_block_ms"], "this_ms": new["longest_block_ms"],
              "tick_ms": TICK_MS}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui_freeze.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
