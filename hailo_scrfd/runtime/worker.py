"""The threads that own the inference backend, fed through one bounded queue.

HTTP threads decode, pre-process and post-process in parallel; only ``Backend.infer``
runs here. A backend that can keep several frames in flight (an NPU) gets that many
threads, each blocking on its own job; ONNX Runtime gets one, since it already uses
every core for one frame. A full queue is refused at once (503 with Retry-After)
rather than building a backlog that would time out anyway.

Dynamic batching (a backend with ``max_batch`` > 1): a thread that takes a job also takes
the jobs already waiting, up to the cap, and runs them as one batch. When it finds the engine
busy with another run it may wait ``batch_wait_s`` for more; a job that finds the engine idle
runs at once, so a lone request never waits.
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
                 on_failure: Callable[["InferenceWorker", BaseException], None] | None = None,
                 batch_wait_s: float = 0.0):
        self.backend = backend
        self._on_failure = on_failure
        self._batch_wait_s = batch_wait_s
        self._busy = 0  # threads inside the backend now (read without a lock: a hint for batching only)
        self._busy_lock = threading.Lock()
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
            jobs, stop = self._gather(item) if self.backend.max_batch > 1 else ([item], False)
            jobs = [job for job in jobs if job[1].set_running_or_notify_cancel()]  # drop those given up on
            if jobs:
                self._execute(jobs)
            if stop:
                return

    def _gather(self, first) -> tuple[list, bool]:
        """``first`` and the jobs waiting behind it, up to the batch cap; True when a stop was taken too."""
        jobs, deadline = [first], None
        while len(jobs) < self.backend.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if self._busy == 0 or self._batch_wait_s <= 0:
                    break  # the engine is idle: waiting would only add latency
                deadline = deadline or time.monotonic() + self._batch_wait_s
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if item is _STOP:
                return jobs, True
            jobs.append(item)
        return jobs, False

    def _execute(self, jobs: list) -> None:
        with self._busy_lock:
            self._busy += 1
        start = time.perf_counter()
        try:
            if len(jobs) == 1:
                results = [self.backend.infer(jobs[0][0])]
            else:
                results = self.backend.infer_batch([tensor for tensor, _ in jobs])
        except BaseException as exc:  # handed to the callers, never kills the thread
            for _, future in jobs:
                future.set_exception(exc)
            self._report(exc)
        else:
            engine_ms = (time.perf_counter() - start) * 1000.0
            for (_, future), outputs in zip(jobs, results, strict=True):
                future.set_result((outputs, engine_ms))
        finally:
            with self._busy_lock:
                self._busy -= 1
