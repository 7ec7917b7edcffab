"""Admission to the inference backend: the calling thread runs its own inference, at most
``backend.max_in_flight`` at once, with a bounded line of waiting callers.

HTTP threads decode, pre-process and post-process in parallel, and each one also runs its own
``Backend.infer``: handing the tensor to a dedicated thread and waking the caller again was a
measurable share of an INT8 engine run (docs/performance.md). A caller that finds every slot busy joins
the line; a finished run hands its slot straight to the next caller in line (one wake-up, no
thundering herd). A full line is refused at once (503 with Retry-After) rather than building a
backlog that would time out anyway.

Timeouts (``timeout_s``, config ``performance.inference_timeout_s``): a caller waits at most that long
in line (then 503 ``inference_timeout``; nothing is reported, the engine is only busy), and a run
that takes longer than that is the backend's fault: the watchdog thread reports it (``on_failure``),
the model re-creates the backend, and closing the old backend is what ends the run (ONNX Runtime's
``RunOptions.terminate``, HailoRT's model shutdown, the fault hook's release), so its caller answers
503 ``inference_timeout`` too. A run that closing the backend cut short answers 503
``model_not_ready``. A non-``Exception`` (KeyboardInterrupt, SystemExit) raised in a run reaches its
caller as it is, and is no backend fault.

Dynamic batching (a backend with ``max_batch`` > 1): the caller whose turn it is also takes the
callers waiting behind it, up to the cap, runs them as one batch and hands each its outputs. When
another run is inside the engine it may wait ``batch_wait_s`` for more; a caller that finds the
engine idle runs at once, so a lone request never waits.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from ..backends import Backend
from ..errors import InferenceFailed, InferenceTimeout, ModelNotReady, QueueFull

log = logging.getLogger(__name__)

WATCHDOG_TICK_S = 0.05  # how often runs are checked against their deadline (no cost on the request path)

WAITING, TURN, RUNNING, DONE, REFUSED = range(5)
RECREATING = "the backend is being re-created; retry shortly"


class _Job:
    """One caller's tensor and, once it ran, its outcome."""

    __slots__ = ("tensor", "state", "ready", "outputs", "engine_ms", "error", "timed_out", "cut_short")

    def __init__(self, tensor) -> None:
        self.tensor = tensor
        self.state = WAITING
        self.ready: threading.Event | None = None  # made when it joins the line (most jobs never wait)
        self.outputs: Any = None
        self.engine_ms = 0.0
        self.error: BaseException | None = None
        self.timed_out = False  # its run outlived the deadline
        self.cut_short = False  # its run failed while the worker was being closed


class InferenceWorker:
    """Runs inferences on one backend for any number of calling threads; see the module docstring.
    ``on_failure(worker, exc)``: called (once per fault) when a run fails or outlives its deadline; it is what
    ends a stuck run, by closing the backend, so without it a stuck run is only reported, never ended."""

    def __init__(self, backend: Backend, max_queue_size: int,
                 on_failure: Callable[["InferenceWorker", BaseException], None] | None = None,
                 batch_wait_s: float = 0.0):
        self.backend = backend
        self._on_failure = on_failure
        self._batch_wait_s = batch_wait_s
        self._max_queue = max_queue_size
        self._slots = max(1, backend.max_in_flight)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a batching caller waits on it for more jobs
        self._drained = threading.Condition(self._lock)
        self._free = self._slots
        self._line: collections.deque[_Job] = collections.deque()
        self._running: dict[int, tuple[float, float, list[_Job]]] = {}  # id -> (deadline, timeout, its jobs)
        self._gathering = 0
        self._closed = False
        self._watchdog = threading.Thread(target=self._watch, name="scrfd-inference-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def queue_depth(self) -> int:
        return len(self._line)

    def infer(self, tensor, timeout_s: float) -> tuple[Any, float]:
        """Run ``tensor`` on the backend; returns (outputs, engine milliseconds)."""
        job = _Job(tensor)
        with self._lock:
            if self._closed:
                raise ModelNotReady(RECREATING)
            if self._free and not self._line:
                self._free -= 1
                job.state = TURN
            elif len(self._line) >= self._max_queue:
                raise QueueFull(f"the inference queue is full ({self._max_queue} waiting); retry shortly")
            else:
                job.ready = threading.Event()  # set at its turn, with its outcome, or when it is refused
                self._line.append(job)
                if self._gathering:
                    self._arrived.notify()
        if job.state != TURN:
            self._wait_for_turn(job, timeout_s)
        if job.state == TURN:
            self._run(job, timeout_s)
        return self._outcome(job, timeout_s)

    def _wait_for_turn(self, job: _Job, timeout_s: float) -> None:
        try:
            turned = job.ready.wait(timeout_s)
        except BaseException:  # interrupted while in line: leave it, and pass on a slot it was just given
            with self._lock:
                if job.state == WAITING:
                    self._line.remove(job)
                elif job.state == TURN:
                    self._pass_slot()
            raise
        if not turned:
            with self._lock:
                if job.state == WAITING:  # still in line: the engine is busy, not stuck
                    self._line.remove(job)
                    raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s")
        # In another caller's batch: that run is bounded by the watchdog; this bound is the last resort.
        if job.state == RUNNING and not job.ready.wait(2 * timeout_s + 1):
            raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s")

    def _gather(self, jobs: list[_Job]) -> None:
        """Append the jobs waiting behind ``jobs[0]`` to it, up to the batch cap (batching backends only)."""
        cap = self.backend.max_batch
        with self._lock:
            deadline = None
            while len(jobs) < cap:
                if self._line:
                    job = self._line.popleft()
                    job.state = RUNNING
                    jobs.append(job)
                    continue
                if not self._running or self._batch_wait_s <= 0 or self._closed:
                    break  # the engine is idle: waiting would only add latency
                deadline = deadline or time.monotonic() + self._batch_wait_s
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._gathering += 1
                try:
                    self._arrived.wait(remaining)
                finally:
                    self._gathering -= 1

    def _run(self, first: _Job, timeout_s: float) -> None:
        """Run ``first`` (and, batching, the jobs behind it) in this thread, give each its outcome, and pass
        the slot on, whatever happens."""
        jobs, key, deadline, failed = [first], id(first), time.monotonic() + timeout_s, None
        try:
            if self.backend.max_batch > 1:
                self._gather(jobs)
            with self._lock:
                self._running[key] = (deadline, timeout_s, jobs)
            failed = self._infer(jobs)
        finally:
            late = failed is not None and time.monotonic() >= deadline  # an engine's own timer fired first
            with self._lock:
                self._running.pop(key, None)
                reported, closed = first.timed_out, self._closed
                for job in jobs:
                    job.timed_out = job.timed_out or late
                    job.cut_short = failed is not None and closed
                    if job.outputs is None and job.error is None:  # a non-Exception ended the run
                        job.error = ModelNotReady("the inference was interrupted; retry shortly")
                self._pass_slot()
            for job in jobs[1:]:  # the others of a batch, waiting in _wait_for_turn
                job.state = DONE
                job.ready.set()
            first.state = DONE
        if failed is not None and not (reported or closed):
            self._report(TimeoutError(f"an inference ran longer than {timeout_s:g} s") if late else failed)

    def _infer(self, jobs: list[_Job]) -> Exception | None:
        """One engine run for ``jobs``: their outputs, or the engine's error on each of them (returned)."""
        start = time.perf_counter()
        try:
            if len(jobs) == 1:
                results = [self.backend.infer(jobs[0].tensor)]
            else:
                results = self.backend.infer_batch([job.tensor for job in jobs])
            if len(results) != len(jobs):
                raise RuntimeError(f"the backend returned {len(results)} outputs for {len(jobs)} inputs")
        except Exception as exc:  # handed to every caller of the batch
            for job in jobs:
                job.error = exc
            return exc
        engine_ms = (time.perf_counter() - start) * 1000.0
        for job, outputs in zip(jobs, results, strict=True):
            job.outputs, job.engine_ms = outputs, engine_ms
        return None

    def _pass_slot(self) -> None:
        """Give the freed slot to the next caller in line, or back to the pool (under the lock)."""
        if self._line:
            job = self._line.popleft()
            job.state = TURN
            job.ready.set()
        else:
            self._free += 1
            if self._free == self._slots:
                self._drained.notify_all()

    def _outcome(self, job: _Job, timeout_s: float) -> tuple[Any, float]:
        if job.state == REFUSED:
            raise ModelNotReady(RECREATING)
        exc = job.error
        if exc is None:
            return job.outputs, job.engine_ms
        if job.timed_out:
            raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s") from None
        if isinstance(exc, ModelNotReady):
            raise exc
        if job.cut_short:  # a healthy run ended by the re-creation another run's fault started
            raise ModelNotReady(RECREATING) from None
        log.error("inference failed: %s: %s", type(exc).__name__, exc)
        raise InferenceFailed(f"inference failed on the backend ({type(exc).__name__}); {RECREATING}") from None

    def _watch(self) -> None:
        """Report each run that outlives its deadline, once; the model then re-creates the backend."""
        while True:
            time.sleep(WATCHDOG_TICK_S)
            now = time.monotonic()
            with self._lock:
                if self._closed and not self._running:
                    return
                late = [(timeout_s, jobs) for deadline, timeout_s, jobs in self._running.values()
                        if now > deadline and not jobs[0].timed_out]
                for _, jobs in late:
                    for job in jobs:
                        job.timed_out = True
            for timeout_s, _ in late:
                self._report(TimeoutError(f"an inference ran longer than {timeout_s:g} s"))

    def _report(self, exc: BaseException) -> None:
        if self._on_failure is not None:
            self._on_failure(self, exc)

    def close(self, *, drain: bool = True, timeout_s: float = 5.0) -> None:
        """Take no new work. ``drain``: let the callers in line run first, waiting up to ``timeout_s`` for every
        run to end; the callers still in line then (or at once, without ``drain``) are refused (ModelNotReady)."""
        with self._lock:
            self._closed = True
            self._arrived.notify_all()
            if drain:
                self._drained.wait_for(lambda: self._free == self._slots and not self._line, timeout_s)
            while self._line:
                job = self._line.popleft()
                job.state = REFUSED
                job.ready.set()
