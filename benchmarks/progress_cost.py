"""What showing progress costs a round, in a real napari window (run it under Xvfb: software rendering).

    xvfb-run -a python benchmarks/progress_cost.py [--repeats 4] [--out docs/speed]

The same click round on the bundled CT sample, docked through the Plugins menu, alternating three
ways of showing its progress on the same machine in the same run:

- ``none``: the worker's progress signals reach nothing (the floor);
- ``dock bar``: the shipped indicator, the dock's own bar repainted at most 4 times a second;
- ``napari bar``: napari's activity-panel progress bar fed every update (what rounds used before
  issue 38).

Each round is timed in wall seconds and in process CPU seconds (all threads, time.process_time),
from the click until the widget is idle. The overhead of a mode is its median over ``none``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def _napari_bar(widget):
    """Connect a napari activity-panel progress bar to the round's progress, as rounds did before issue 38."""
    from napari.utils import progress

    holder = {}

    def on_progress(done, total, message):
        bar = holder.get("bar")
        if bar is None:
            bar = holder["bar"] = progress(total=max(total, 1), desc="LIM-Net round")
        bar.total = max(total, 1)
        bar.n = done
        bar.set_description(f"LIM-Net: {message}")
        if done >= total:
            bar.close()
            holder.pop("bar")

    widget._relay.progress.connect(on_progress)
    return lambda: (widget._relay.progress.disconnect(on_progress), holder.pop("bar", None) and None)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--z-repeat", type=int, default=4,
                   help="also a long round: the sample with each slice repeated this often (0: short round only)")
    p.add_argument("--out", default="bench_out")
    args = p.parse_args(argv)
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_limnet.data.samples import ct_abdomen

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    s = ct_abdomen()
    images = {"ct": (s.image, s.spacing, s.click)}
    if args.z_repeat > 1:
        r = args.z_repeat
        spacing = (s.spacing[0] / r, *s.spacing[1:])
        images[f"ct, slices x{r}"] = (np.repeat(s.image, r, axis=0), spacing, (s.click[0] * r, *s.click[1:]))
    for name, (image, spacing, _) in images.items():
        viewer.add_image(image, name=name, scale=spacing)
    w = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")[1]
    w.auto_check.setChecked(False)
    report = {"repeats": args.repeats, "images": {}}
    for name, (_, _, click) in images.items():
        w.image_combo.setCurrentText(name)
        report["images"][name] = measure(app, viewer, w, click, args.repeats)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "progress_cost.json").write_text(json.dumps(report, indent=1))
    print(f"{'image':<18}{'progress shown by':<18}{'wall s':>8}{'CPU s':>8}{'wall +%':>9}{'CPU +%':>8}")
    for name, r in report["images"].items():
        for m, med in r["median"].items():
            o = r["overhead_pct"][m]
            print(f"{name:<18}{m:<18}{med['wall_s']:>8.2f}{med['cpu_s']:>8.2f}{o['wall_s']:>9.1f}{o['cpu_s']:>8.1f}")
    viewer.close()
    return report


def measure(app, viewer, w, click, repeats: int) -> dict:
    """Rounds from ``click`` on the widget's image, alternating the three progress modes; medians and overheads."""

    def wait_idle():
        while w.busy or getattr(w, "warming", False):
            app.processEvents()
            time.sleep(0.002)

    def one_round(k):
        z, y, x = click
        prompts = w.layers.prompts()
        world = w.layers.image.data_to_world(np.array([z, y + k % 3, x], float))
        viewer.dims.set_point(0, world[0])
        w.reset()
        prompts.add(prompts.world_to_data(world))
        wall, cpu = time.perf_counter(), time.process_time()
        w.segment()
        wait_idle()
        return time.perf_counter() - wall, time.process_time() - cpu

    wait_idle()
    one_round(0)  # warm caches
    modes = ("none", "dock bar", "napari bar")
    times = {m: {"wall_s": [], "cpu_s": []} for m in modes}
    for rep in range(repeats):
        for mode in modes:
            undo = None
            if mode == "none":
                w._relay.progress.disconnect(w._on_progress)
            elif mode == "napari bar":
                undo = _napari_bar(w)
            wall, cpu = one_round(rep)
            if mode == "none":
                w._relay.progress.connect(w._on_progress)
            elif undo is not None:
                undo()
            times[mode]["wall_s"].append(round(wall, 3))
            times[mode]["cpu_s"].append(round(cpu, 3))
    med = {m: {k: statistics.median(v) for k, v in t.items()} for m, t in times.items()}
    base = med["none"]
    return {"rounds": times, "median": med,
            "overhead_pct": {m: {k: round(100 * (med[m][k] - base[k]) / base[k], 1) for k in base} for m in modes}}


if __name__ == "__main__":
    main()
