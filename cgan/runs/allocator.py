"""Keep freed memory for reuse instead of handing it back to the OS (glibc's malloc).

Why: by default glibc serves each allocation above 128 KiB with a fresh mmap and unmaps it when it
is freed, so every activation, gradient and temporary of a training step (up to 6 MB each for the
MNIST nets) is faulted in again, page by page, at every step: about a tenth of a CPU update's time
(`make bench` measures it both ways). With the mmap threshold raised to glibc's maximum and the trim
threshold above any working set here, freed buffers are recycled from the heap. Numbers computed
are unchanged; only where the memory comes from changes.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest accepted value on 64-bit machines
TRIM_THRESHOLD = 1024 * 1024 * 1024
DISABLE_VARIABLE = "CGAN_MALLOC_TUNING"  # set to 0 to keep the C library's defaults


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; whether it took (False on other C libraries, or
    when $CGAN_MALLOC_TUNING is 0)."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not a glibc system (macOS, Windows)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
