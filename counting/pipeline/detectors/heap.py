"""Keep freed tensor memory in the process instead of handing it back to the kernel.

A forward pass of the torch detector allocates and frees ~150 activation tensors of up to a
few MB each. With glibc's defaults, large blocks come from ``mmap`` and freed memory at the top
of the heap is trimmed, so every frame faults the same pages in again: 2,500-6,000 minor page
faults per frame were measured here, about 20% of a single-threaded forward pass. Raising the
mmap and trim thresholds lets the allocator reuse those blocks (0 faults per frame after the
first). PyTorch's CPU tuning guide makes the same point and suggests jemalloc or tcmalloc; this
does it without a preloaded library. The cost is that the process keeps its peak heap (tens of
MB for this model) instead of returning it between frames.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's maximum on 64-bit
TRIM_THRESHOLD_BYTES = 256 << 20

_applied = False


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; False where the C library is not glibc."""
    global _applied
    if _applied:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        logger.debug("mallopt unavailable; the C library's default heap policy stays")
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    _applied = ok
    if not ok:
        logger.warning("mallopt refused the heap thresholds; per-frame page faults stay")
    return ok
