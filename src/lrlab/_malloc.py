"""Keep glibc from returning every large freed buffer to the kernel.

PyTorch's CPU allocator calls ``malloc``/``free`` for every tensor. glibc serves blocks
above its mmap threshold (128 KiB at start) with fresh ``mmap`` calls and trims the heap
eagerly, so a population's activations (K times one network's) are page-faulted in again
on every step. Raising both thresholds lets freed blocks be reused. Measured on the blobs
sweep in ``docs/benchmarks.md``.

This changes the allocator of the whole process, so the library never does it on import:
the command line calls :func:`keep_freed_memory` for its own process, and a user may call it
in theirs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(threshold: int = 1 << 26) -> bool:
    """Raise glibc's mmap and trim thresholds (default 64 MiB); whether it took effect.

    A no-op returning ``False`` where the C library is not glibc (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 4 * threshold))
