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
TRIM_THRESHOLD = 256 * 1024 * 1024  # in effect: the heaps keep their working size (see tune_for_serving)
ARENA_MAX = 2


def tune_for_serving() -> None:
    """Keep per-request buffers in the heap, and OpenCV single-threaded.

    Each request allocates a few buffers of 1-5 MB (the input canvas, the float tensor).
    glibc serves those with mmap and unmaps them on free, so every request page-faults
    them in again: measured here, that was 3 ms of a 25 ms request. A fixed 8 MB mmap
    threshold keeps them in the heap for reuse (decoded photos above it are still
    unmapped when freed), and two malloc arenas instead of one per thread keep what the
    heaps retain bounded (RSS after a mixed load: 283 MB, against 445 MB with an arena
    per thread). The heaps are not trimmed below their working size: since the HTTP
    threads run the engine themselves, a 32 MB trim threshold made the soak's RSS swing
    between 218 and 270 MB as heaps were given back and faulted in again; with none, it
    stays at 267-269 MB. OpenCV's own thread pool only competes with ONNX Runtime's
    threads and the HTTP threads, which already work in parallel.
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
