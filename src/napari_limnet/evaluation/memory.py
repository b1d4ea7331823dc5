"""Peak resident memory of *this* process, for benchmarks and memory tests.

``getrusage(RUSAGE_SELF).ru_maxrss`` is not that in a child process on Linux: the kernel keeps
the high-water mark across ``execve``, and a child started with ``vfork`` (Python's subprocess
does) begins with its parent's memory map. A test that spawns a script from a pytest process of
2 GB read 2 GB whatever the script used. ``VmHWM`` in ``/proc/self/status`` belongs to the memory
map exec created, so it is the script's own peak.
"""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB): VmHWM on Linux, else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
