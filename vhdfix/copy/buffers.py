"""Keep the copy's freed 1 MiB buffers in the process instead of handing them back to the system.

The copy and its verification allocate a fresh 1 MiB ``bytes`` for every piece they read, and free it on another
thread once it is hashed or written. With glibc's defaults, a freed buffer at the top of the heap is returned to the
system (the heap is trimmed past 2x the last freed mmap chunk) and the next read faults its 256 pages back in, each
zeroed by the kernel: on the benchmark disk that was ~250,000 page faults and ~1 s of system time per 3 GiB read
(benchmarks/bench_repair_data.py). Fixed thresholds stop the trimming; memory stays bounded by what the copy holds at
once (``vhdfix.copy.background.IN_FLIGHT`` pieces per thread), which the heap then keeps for reuse.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 64 << 20  # free heap kept before trimming: more than the copy holds at once
MMAP_THRESHOLD = 32 << 20  # glibc's largest (64-bit): the 1 MiB buffers come from the heap, not from fresh mmaps


@functools.cache
def keep_freed_buffers() -> bool:
    """Set glibc's allocator to reuse freed buffers (once per process); False where the C library is not glibc."""
    if sys.platform != "linux":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
