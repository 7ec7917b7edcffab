"""Process-level settings for serving, applied once at start-up, before any thread starts."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc mallopt(3) parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 8 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024
ARENA_MAX = 1  # one heap for every thread: flat RSS (see tune_for_serving)


def tune_for_serving() -> None:
    """Keep per-request buffers in the heap, and OpenCV single-threaded.

    Each request allocates a few buffers of some megabytes (the input canvas, the float
    tensor). glibc serves those with mmap and unmaps them on free, so every request
    page-faults them in again, a visible share of a request's time. A fixed mmap
    threshold (MMAP_THRESHOLD) keeps them in the heap for reuse (decoded photos above it
    are still unmapped when freed), and one malloc arena for every thread keeps what the
    heap retains bounded: since the HTTP threads run the engine themselves, more arenas
    let RSS swing or creep as heaps are trimmed and grown again, and one arena costs no
    throughput (docs/performance.md has the soak's figures). OpenCV's
    own thread pool only competes with ONNX Runtime's threads and the HTTP threads,
    which already work in parallel.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
              and libc.mallopt(M_ARENA_MAX, ARENA_MAX))
        if not ok:
            log.debug("mallopt refused the thresholds")
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        log.debug("mallopt is not available")
    import cv2

    cv2.setNumThreads(1)
