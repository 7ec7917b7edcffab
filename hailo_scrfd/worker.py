"""The one thread that owns the inference backend, fed through a bounded queue.

HTTP threads decode, pre-process and post-process in parallel; only ``infer`` is
serialised here. A full queue is refused at once (503 with Retry-After) rather than
building a backlog that would time out anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .backends import Backend
from .errors import InferenceFailed, InferenceTimeout, QueueFull

log = logging.getLogger(__name__)

_STOP = object()


class InferenceWorker:
    def __init__(self, backend: Backend, max_queue_size: int):
        self.backend = backend
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue_size)
        self._thread = threading.Thread(target=self._run, name="scrfd-inference", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def infer(self, tensor, timeout_s: float) -> tuple[Any, float]:
        """Run ``tensor`` on the backend; returns (outputs, engine milliseconds)."""
        future: Future = Future()
        try:
            self._queue.put_nowait((tensor, future))
        except queue.Full:
            raise QueueFull(f"the inference queue is full ({self._queue.maxsize} waiting); retry shortly") from None
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            future.cancel()
            raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s") from None
        except InferenceFailed:
            raise
        except Exception as exc:
            log.error("inference failed: %s: %s", type(exc).__name__, exc)
            raise InferenceFailed("inference failed on the backend; the service will retry") from None

    def close(self, timeout_s: float = 5.0) -> None:
        """Let queued jobs finish, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            tensor, future = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            start = time.perf_counter()
            try:
                outputs = self.backend.infer(tensor)
            except BaseException as exc:  # handed to the caller, never kills the worker
                future.set_exception(exc)
            else:
                future.set_result((outputs, (time.perf_counter() - start) * 1000.0))
