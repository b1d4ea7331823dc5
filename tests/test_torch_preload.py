"""Torch's native library mapped with the GIL released before ``import torch`` (issue 38, dock opening)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(sys.platform not in ("linux", "darwin"), reason="dlopen preloading is for Linux and macOS")
def test_preload_maps_the_library_and_torch_imports_and_computes_after_it():
    code = textwrap.dedent(
        """
        import sys
        from napari_limnet.inference.torch_preload import preload_torch_library, torch_library
        assert "torch" not in sys.modules
        path = torch_library()
        assert path is not None and path.name.startswith("libtorch_cpu")
        assert preload_torch_library() is True
        assert preload_torch_library() is True  # once is enough
        assert path.name in open("/proc/self/maps").read() if sys.platform == "linux" else True
        import torch
        x = torch.arange(6.0).reshape(2, 3)
        print(float(torch.nn.functional.conv1d(x[None], torch.ones(3, 2, 1)).sum()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) == 3 * float(sum(range(6)))  # 3 output channels, each the sum of both inputs


def test_preload_does_nothing_once_torch_is_imported():
    code = "import torch; from napari_limnet.inference.torch_preload import preload_torch_library as p; print(p())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_layer_imports_finish_in_a_thread():
    code = textwrap.dedent(
        """
        import sys, time
        from napari_limnet.widget import layer_imports
        assert not layer_imports.ready()
        layer_imports.start(); layer_imports.start()
        end = time.monotonic() + 120
        while not layer_imports.ready() and time.monotonic() < end:
            time.sleep(0.01)
        print(layer_imports.ready(), all(m in sys.modules for m in layer_imports.LAYER_MODULES))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]
