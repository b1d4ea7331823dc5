"""Screenshots of the docked annotator with real segmentations, for README.md.

    xvfb-run -a python scripts/make_screenshots.py                 # writes docs/screenshot_*.png
    xvfb-run -a -s "-screen 0 1280x720x24" python scripts/make_screenshots.py --only small_screen
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_limnet.data.samples import SAMPLES
from napari_limnet.widget.annotator import LimNetWidget

DOCS = Path(__file__).resolve().parents[1] / "docs"


def wait(widget, timeout=120):
    app = QApplication.instance()
    t = time.time()
    while widget.busy and time.time() - t < timeout:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        app.processEvents()


def click(viewer, widget, zyx, negative=False):
    prompts = widget.layers.prompts()
    current = prompts.feature_defaults["label"][0]
    if (current == "negative") != negative:
        widget.toggle_mode()
    world = widget.layers.image.data_to_world(np.array(zyx, dtype=float))
    viewer.dims.set_point(0, world[0])
    prompts.add(prompts.world_to_data(world))
    wait(widget)


def open_viewer(sample, **image_kwargs):
    """A 1500x950 viewer with the sample and the annotator docked: (viewer, widget)."""
    viewer = napari.Viewer(title="napari-limnet")
    viewer.window.resize(1500, 950)
    viewer.add_image(sample.image, name=sample.name, scale=sample.spacing, **image_kwargs)
    widget = LimNetWidget(viewer)
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator", area="right")
    return viewer, widget


def small_screen():
    """The whole napari window on a 1280 x 720 screen, the dock opened from the Plugins menu, after one click."""
    os.environ["LIMNET_CACHE_DIR"] = tempfile.mkdtemp()
    s = SAMPLES["ct_abdomen"]()
    viewer = napari.Viewer(title="napari-limnet")
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1280, 720)
    viewer.add_image(s.image, name=s.name, scale=s.spacing, contrast_limits=(-200, 300))
    widget = viewer.window.add_plugin_dock_widget("napari-limnet", "LIM-Net Annotator")[1]
    widget.image_combo.setCurrentText(s.name)
    click(viewer, widget, s.demo_clicks()[0])
    window.resize(1280, 720)
    wait(widget)
    print(f"window {window.width()} x {window.height()}")
    viewer.screenshot(str(DOCS / "screenshot_1280x720.png"), canvas_only=False)
    viewer.close()


def main():
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", choices=["small_screen"], default=None)
    if p.parse_args().only == "small_screen":
        return small_screen()
    DOCS.mkdir(exist_ok=True)
    os.environ["LIMNET_CACHE_DIR"] = tempfile.mkdtemp()  # no autosave offers from earlier runs
    # 1. CT-like sample, two kidneys committed, slice view with the widget docked
    s = SAMPLES["ct_abdomen"]()
    viewer, widget = open_viewer(s, contrast_limits=(-200, 300))
    for zyx in s.demo_clicks():
        click(viewer, widget, zyx)
    widget.next_object()
    z = s.click[0]
    ys, xs = np.nonzero(s.image[z] > 120)
    right = (xs > s.image.shape[2] // 2 + 10)
    click(viewer, widget, (z, int(np.median(ys[right])), int(np.median(xs[right]))))
    widget.commit()
    viewer.screenshot(str(DOCS / "screenshot_ct.png"), canvas_only=False)
    viewer.close()

    # 2. nuclei in 3D: several committed nuclei
    s = SAMPLES["nuclei"]()
    viewer, widget = open_viewer(s)
    from scipy import ndimage

    blobs, n = ndimage.label(ndimage.gaussian_filter(s.image.astype(float), 1) > 500)
    centers = ndimage.center_of_mass(blobs > 0, blobs, range(1, n + 1))
    sizes = ndimage.sum(blobs > 0, blobs, range(1, n + 1))
    for (cz, cy, cx), _size in sorted(zip(centers, sizes), key=lambda t: -t[1])[:6]:
        click(viewer, widget, (int(round(cz)), int(round(cy)), int(round(cx))))
        widget.next_object()
    viewer.dims.ndisplay = 3
    viewer.camera.angles = (15, 35, 140)
    viewer.layers[s.name].visible = False
    viewer.screenshot(str(DOCS / "screenshot_nuclei_3d.png"), canvas_only=False)
    viewer.close()

    # 3. the confidence strip after one click on the kidney; G jumps to the slice that most needs a check
    os.environ["LIMNET_CACHE_DIR"] = tempfile.mkdtemp()  # a fresh cache: no restore offer for section 1's objects
    s = SAMPLES["ct_abdomen"]()
    viewer, widget = open_viewer(s, contrast_limits=(-200, 300))
    click(viewer, widget, s.demo_clicks()[0])
    widget.go_to_least_confident()
    wait(widget)
    viewer.screenshot(str(DOCS / "screenshot_confidence.png"), canvas_only=False)

    # 4. refine an existing object: commit, then Edit object 1 (or Ctrl-click it) and correct it
    for zyx in s.demo_clicks()[1:]:
        click(viewer, widget, zyx)
    widget.next_object()
    widget.edit_object(1)  # (or Ctrl-click the object): it is the current object again, ready for corrections
    viewer.dims.set_point(0, viewer.layers[s.name].data_to_world(np.array(s.demo_clicks()[1], dtype=float))[0])
    wait(widget)
    viewer.screenshot(str(DOCS / "screenshot_refine.png"), canvas_only=False)
    viewer.close()
    small_screen()
    print("wrote docs/screenshot_ct.png, screenshot_nuclei_3d.png, screenshot_confidence.png, screenshot_refine.png, "
          "screenshot_1280x720.png")


if __name__ == "__main__":
    main()
