"""Import, in a background thread, the libraries napari needs to add the plugin's layers.

napari imports pandas the first time a Points layer with features is made, and scikit-image and
scipy.linalg for the first Labels layer: 0.3-0.6 s on the UI thread when the dock opened. Imports
are Python code that releases the GIL every few milliseconds, so a thread can do them while the
dock paints; the widget adds its layers once :func:`ready` says they are done.
"""

from __future__ import annotations

import importlib
import threading

#: What napari 0.9 imports on its first Points (features) and Labels layers.
LAYER_MODULES = ("pandas", "scipy.linalg", "skimage.util", "skimage.color", "skimage.exposure")

_done = threading.Event()
_lock = threading.Lock()
_thread: threading.Thread | None = None


def _import_all() -> None:
    try:
        for name in LAYER_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # napari then imports (or does without) it itself
                pass
    finally:
        _done.set()


def start() -> None:
    """Start the imports once per process (later calls do nothing)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_import_all, name="limnet-layer-imports", daemon=True)
            _thread.start()


def ready() -> bool:
    """True once the imports have finished (or failed); False before :func:`start`."""
    return _done.is_set()
