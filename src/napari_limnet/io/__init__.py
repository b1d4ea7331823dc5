"""File I/O (Qt-free): NIfTI and TIFF volumes with their geometry."""

from .files import Volume, read_volume, write_volume
from .geometry import Geometry

__all__ = ["Volume", "Geometry", "read_volume", "write_volume"]
