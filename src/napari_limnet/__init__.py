"""napari-limnet: interactive 3D segmentation with LIM-Net (clicks -> 2D mask -> memory propagation -> MRF)."""

__version__ = "0.2.0"

from .controller import LimNetController  # noqa: E402
from .inference.cancel import Cancelled  # noqa: E402

__all__ = ["LimNetController", "Cancelled", "__version__"]
