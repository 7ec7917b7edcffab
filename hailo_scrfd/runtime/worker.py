"""The threads that own the inference backend, fed through one bounded queue.

HTTP threads decode, pre-process and post-process in parallel; only ``Backend.infer``
runs here. A backend that can keep several frames in flight (an NPU) gets that many
threads, each blocking on its own job; ONNX Runtime gets one, since it already uses
every core for one frame. A full queue is refused at once (503 with Retry-After)
rather than building a backlog that would time out anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

from ..backends import Backend
from ..errors import InferenceFailed, InferenceTimeout, ModelNotReady, QueueFull

log = logging.getLogger(__name__)

_STOP = object()


class InferenceWorker:
    def __init__(self, backend: Backend, max_queue_size: int,
                 on_failure: Callable[["InferenceWorker", BaseException], None] | None = None):
        self.backend = backend
        self._on_failure = on_failure
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue_size)
        self._threads = [threading.Thread(target=self._run, name=f"scrfd-inference-{i}", daemon=True)
                         for i in range(max(1, backend.max_in_flight))]
        for t in self._threads:
            t.start()

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
            if not future.cancel():
                # It was running, not waiting in the queue: the backend is stuck, not just busy.
                self._report(TimeoutError(f"an inference ran longer than {timeout_s:g} s"))
            raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s") from None
        except ModelNotReady:
            raise
        except Exception as exc:
            log.error("inference failed: %s: %s", type(exc).__name__, exc)
            raise InferenceFailed(f"inference failed on the backend ({type(exc).__name__}); "
                                  "the backend is being re-created") from None

    def _report(self, exc: BaseException) -> None:
        if self._on_failure is not None:
            self._on_failure(self, exc)

    def close(self, *, drain: bool = True, timeout_s: float = 5.0) -> None:
        """Stop the threads. ``drain``: let queued jobs run first; else fail them at once."""
        if not drain:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and item[1].set_running_or_notify_cancel():
                    item[1].set_exception(ModelNotReady("the backend is being re-created; retry shortly"))
        for _ in self._threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

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
            except BaseException as exc:  # handed to the caller, never kills the thread
                future.set_exception(exc)
                self._report(exc)
            else:
                future.set_result((outputs, (time.perf_counter() - start) * 1000.0))
