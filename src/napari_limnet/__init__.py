"""napari-limnet: interactive 3D segmentation with LIM-Net (clicks -> 2D mask -> memory propagation -> MRF).

``LimNetController`` and ``Cancelled`` are imported on first use, so that napari can load the
reader, writer, samples and the dock widget without importing torch on its UI thread (the
widget imports it in a background thread while it warms the networks up).
"""

__version__ = "0.2.0"

__all__ = ["LimNetController", "Cancelled", "__version__"]


def __getattr__(name):
    if name == "LimNetController":
        from .controller import LimNetController

        return LimNetController
    if name == "Cancelled":
        from .inference.cancel import Cancelled

        return Cancelled
    raise AttributeError(f"module 'napari_limnet' has no attribute {name!r}")
