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

    Each request allocates a few buffers of 1-5 MB (the input canvas, the float tensor).
    glibc serves those with mmap and unmaps them on free, so every request page-faults
    them in again: measured here, that was 3 ms of a 25 ms request. A fixed 8 MB mmap
    threshold keeps them in the heap for reuse (decoded photos above it are still
    unmapped when freed), and one malloc arena for every thread keeps what the heap
    retains bounded. Since the HTTP threads run the engine themselves, the 60-s mixed
    soak's RSS settles flat at 236-242 MB with one arena; with two it swung between 218
    and 270 MB as the heaps were trimmed and grown again (or crept from 295 to 310 MB
    untrimmed), and with an arena per thread it reached 445 MB. One arena did not cost
    throughput: 8 clients, 1.03x the previous code, six rounds each in turn. OpenCV's
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
