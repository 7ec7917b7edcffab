"""Re-opening an engine after a fault: one loop and one back-off, for every engine the model runs.

An :class:`Engine` is one backend behind its own :class:`~.worker.InferenceWorker` (which admits its
callers), with the function that opens it again. When a run fails or hangs, the model takes the
worker away (:meth:`~.model.SCRFDModel._on_backend_failure`), :func:`discard` ends its runs by
closing the backend, and :func:`reopen` opens a new one: at once, then after the quick retries of
:data:`RECOVERY_BACKOFF_S`, then every ``steady_s`` (5 s; for the NPU under ``model.fallback``,
``hailo.probe_interval_s``, which also caps the quick retries), until it opens or the service stops.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from .worker import InferenceWorker

log = logging.getLogger(__name__)

RECOVERY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # the quick retries after a failed re-open
STEADY_RETRY_S = 5.0                       # then this often


def retry_delay(attempt: int, steady_s: float = STEADY_RETRY_S) -> float:
    """Seconds to wait after failed re-open number ``attempt`` (0: the first)."""
    quick = RECOVERY_BACKOFF_S[attempt] if attempt < len(RECOVERY_BACKOFF_S) else steady_s
    return min(quick, steady_s)


@dataclass(eq=False)
class Engine:
    """One backend behind its own inference worker (None while it is being re-opened), and how to open it."""

    role: str                                # "primary" (the configured model) or "cpu" (model.fallback)
    open: Callable[[], InferenceWorker]
    steady_s: float = STEADY_RETRY_S
    covered: bool = False                    # another engine answers while it is away (the NPU under model.fallback)
    worker: InferenceWorker | None = None


def discard(worker: InferenceWorker) -> None:
    """Fail what is queued on ``worker`` and close its backend without waiting for its runs: closing the
    backend is what ends a hung call (it aborts the device job, or releases the hang)."""
    worker.close(drain=False, timeout_s=0.0)
    try:
        worker.backend.close()
    except Exception as exc:  # a broken device may not close cleanly; the new one must still open
        log.warning("closing the failed backend: %s: %s", type(exc).__name__, exc)


def reopen(engine: Engine, closed: threading.Event,
           on_retry: Callable[[Exception, float], None]) -> InferenceWorker | None:
    """A new worker for ``engine``, tried until one opens; None once ``closed`` is set.
    ``on_retry(error, delay_s)`` is told of each failed try before the wait."""
    attempt = 0
    while not closed.is_set():
        try:
            return engine.open()
        except Exception as exc:
            delay = retry_delay(attempt, engine.steady_s)
            on_retry(exc, delay)
            attempt += 1
            closed.wait(delay)
    return None


def recover(engine: Engine, failed: InferenceWorker | None, closed: threading.Event,
            on_retry: Callable[[Exception, float], None]) -> InferenceWorker | None:
    """:func:`discard` the ``failed`` worker (if any), then :func:`reopen` the engine."""
    if failed is not None:
        discard(failed)
    return reopen(engine, closed, on_retry)
