"""``python -m napari_limnet.demo``: the main job on the bundled sample.

With a display: napari opens with the CT-like sample, the LIM-Net Annotator docked and one
positive click already placed (so the first round runs at once). Without a display: the
headless CLI segments the sample and writes the mask and a PNG overlay to ``demo_out/``.
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
    import numpy as np

    from .samples import SAMPLES
    from .widget.annotator import LimNetWidget

    s = SAMPLES[sample_name]()
    viewer = napari.Viewer(title="napari-limnet demo")
    image = viewer.add_image(s.image, name=s.name, scale=s.spacing)
    widget = LimNetWidget(viewer)
    viewer.window.add_dock_widget(widget, name="LIM-Net Annotator", area="right")
    viewer.dims.set_point(0, image.data_to_world(np.array(s.click, dtype=float))[0])
    prompts = widget._layers.prompts()
    prompts.add(prompts.world_to_data(image.data_to_world(np.array(s.click, dtype=float))))
    napari.run()


def run_headless(out_dir: str = "demo_out", sample_name: str = "ct_abdomen") -> int:
    from .cli import main as cli_main

    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    from .samples import SAMPLES

    s = SAMPLES[sample_name]()
    image = out / f"{sample_name}.nii.gz"
    cli_main(["sample", sample_name, "--out", str(image)])
    z, y, x = s.click
    return cli_main([
        "segment", str(image), "--click", f"{z},{y},{x}",
        "--out", str(out / f"{sample_name}_mask.nii.gz"), "--overlay", str(out / f"{sample_name}_overlay.png"),
    ])


if __name__ == "__main__":
    if "--headless" in sys.argv or not has_display():
        sys.exit(run_headless())
    run_gui()
