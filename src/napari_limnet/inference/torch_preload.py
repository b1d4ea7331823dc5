"""Load torch's large native library with the GIL released, before ``import torch``.

``import torch`` opens ``libtorch_cpu`` (hundreds of MB, thousands of static initialisers). The
interpreter's extension-module loader, and ``ctypes.CDLL`` too, keep the GIL while ``dlopen``
runs: 200-330 ms on a 2-core laptop-class CPU, during which napari's UI thread cannot run a single
Python line, even though the import happens in a worker thread. A *foreign call* through ctypes
releases the GIL, so calling the C library's own ``dlopen`` on that file first does the expensive
part while the UI keeps painting; the import that follows finds the library already mapped.

Measured (2 cores, a 5 ms heartbeat on the main thread while a worker imports torch): the longest
main-thread stall fell from 233-317 ms to 42-46 ms.

Linux and macOS only (``dlopen``); elsewhere, or when anything is unexpected, nothing is done and
``import torch`` behaves as always. Qt-free.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

_NAMES = {"linux": "libtorch_cpu.so", "darwin": "libtorch_cpu.dylib"}
_handles: list[int] = []  # kept: the library stays mapped for the process's life, as torch keeps it


def torch_library() -> Path | None:
    """The path of torch's CPU library in the installed torch package, or None where unknown."""
    name = _NAMES.get(sys.platform)
    if name is None:
        return None
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "lib" / name
    return path if path.is_file() else None


def preload_torch_library() -> bool:
    """``dlopen`` torch's CPU library with the GIL released; True when it is mapped now.

    Does nothing (False) when torch is already imported, on other platforms, or when the library
    is not where a pip-installed torch keeps it. Never raises: ``import torch`` then pays as usual.
    """
    if "torch" in sys.modules or _handles:
        return bool(_handles)
    path = torch_library()
    if path is None:
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's C library: a foreign call releases the GIL
        dlopen = libc.dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        handle = dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL)
    except (OSError, AttributeError):
        return False
    if not handle:
        return False
    _handles.append(handle)
    return True
