"""No worker outlives the interpreter: at quit, cancel the annotator's work and wait for its threads.

napari's thread workers run on Qt's global thread pool; their signal objects belong to Python. When
the process exits while one still runs (quitting in the seconds after docking, while the networks
load; closing the window during a round or a preview), the worker's last ``finished`` signal fires
on a deleted object, and the process aborts ("wrapped C/C++ object of type WorkerBaseSignals has been
deleted", then "Error in sys.excepthook"). So, once per process, on the application's
``aboutToQuit`` and at interpreter exit: every live annotator cancels its rounds and learning, then
the pool is drained (a warm-up cannot be cancelled: it finishes loading the networks first).
"""

from __future__ import annotations

import atexit
import weakref

#: the annotators alive in this process (their ``cancel_all_work`` is called at quit)
_WIDGETS: "weakref.WeakSet" = weakref.WeakSet()
_INSTALLED = {"atexit": False, "app": None}

#: how long quitting may wait for running workers (a warm-up's torch import on a slow disk)
DRAIN_MS = 60_000


def register(widget) -> None:
    """Drain ``widget``'s work (and every worker on the pool) before the process ends."""
    _WIDGETS.add(widget)
    if not _INSTALLED["atexit"]:
        atexit.register(drain)
        _INSTALLED["atexit"] = True
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None and _INSTALLED["app"] is not app:
        app.aboutToQuit.connect(drain)
        _INSTALLED["app"] = app


def drain(timeout_ms: int = DRAIN_MS) -> bool:
    """Cancel every annotator's rounds and learning, then wait for the thread pool. True when it emptied."""
    for widget in list(_WIDGETS):
        try:
            widget.cancel_all_work()
        except RuntimeError:  # its Qt object is already gone; its workers still get waited for
            pass
    try:
        from qtpy.QtCore import QThreadPool

        return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))
    except (ImportError, RuntimeError):
        return True
