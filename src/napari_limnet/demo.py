"""``python -m napari_limnet.demo``: the main job on the bundled sample.

With a display: napari opens with the CT-like sample, the LIM-Net Annotator docked and the
sample's demo clicks placed (:meth:`Sample.demo_clicks`: the kidney's largest slice, then one
slice towards each end), so its rounds run at once, one per slice. Without a display: the
headless CLI segments the sample with the same clicks and writes the mask and a PNG overlay to
``demo_out/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(sample_name: str = "ct_abdomen") -> None:
    import napari

    from .data.samples import SAMPLES
    from .widget.annotator import LimNetWidget

    s = SAMPLES[sample_name]()
    viewer = napari.Viewer(title="napari-limnet demo")
    image = viewer.add_image(s.image, name=s.name, scale=s.spacing)
    widget = LimNetWidget(viewer)
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator", area="right")
    place_demo_clicks(viewer, widget, image, s.demo_clicks())
    napari.run()


def place_demo_clicks(viewer, widget, image, clicks) -> None:
    """Put the demo's clicks on the prompts layer, as a user would; each slice's round runs in turn."""
    import numpy as np

    prompts = widget.layers.prompts()
    for click in clicks:
        world = image.data_to_world(np.array(click, dtype=float))
        viewer.dims.set_point(0, world[0])
        prompts.add(prompts.world_to_data(world))


def run_headless(out_dir: str = "demo_out", sample_name: str = "ct_abdomen") -> int:
    from .cli import main as cli_main

    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    from .data.samples import SAMPLES

    s = SAMPLES[sample_name]()
    image = out / f"{sample_name}.nii.gz"
    cli_main(["sample", sample_name, "--out", str(image)])
    clicks = [arg for z, y, x in s.demo_clicks() for arg in ("--click", f"{z},{y},{x}")]
    return cli_main([
        "segment", str(image), *clicks,
        "--out", str(out / f"{sample_name}_mask.nii.gz"), "--overlay", str(out / f"{sample_name}_overlay.png"),
    ])


if __name__ == "__main__":
    if "--headless" in sys.argv or not has_display():
        sys.exit(run_headless())
    run_gui()
