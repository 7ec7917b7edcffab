"""The inference worker: callers run their own inference, wait in line for a slot, time out, and a run that
outlives its deadline is reported by the watchdog and ended by closing the backend."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hailo_scrfd.backends import Backend, InputSpec
from hailo_scrfd.errors import InferenceFailed, InferenceTimeout, ModelNotReady, QueueFull
from hailo_scrfd.runtime.worker import InferenceWorker
from support.wait import until


class Gate(Backend):
    """A backend whose runs block until released (or until close() ends them, as a real engine's close does),
    and which records who ran what."""

    kind, name, input_spec = "gate", "gate", InputSpec(32, 32)

    def __init__(self, max_in_flight: int = 1, block: bool = True):
        self.max_in_flight = max_in_flight
        self.release = threading.Event()
        self.closed = threading.Event()
        self.started: list[int] = []   # tensor ids, in the order their runs began
        self.threads: list[int] = []   # the thread each run ran on
        self.block = block
        self._lock = threading.Lock()

    def prepare(self, canvas):
        return canvas

    def infer(self, tensor):
        with self._lock:
            self.started.append(int(tensor[0]))
            self.threads.append(threading.get_ident())
        if self.block:
            self.release.wait(10)
        if self.closed.is_set():
            raise RuntimeError("the engine was closed during the run")
        return [int(tensor[0])]

    def close(self):
        self.closed.set()
        self.release.set()


def run_in_thread(worker, value, timeout_s=10.0):
    outcome: dict = {}

    def call():
        try:
            outcome["result"] = worker.infer(np.array([value]), timeout_s)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def test_a_lone_call_runs_on_the_calling_thread():
    backend = Gate(block=False)
    worker = InferenceWorker(backend, max_queue_size=4)
    outputs, engine_ms = worker.infer(np.array([7]), 5)
    assert outputs == [7] and engine_ms >= 0
    assert backend.threads == [threading.get_ident()]  # no hand-off to another thread
    worker.close()


def test_callers_wait_in_line_and_run_in_arrival_order():
    backend = Gate()
    worker = InferenceWorker(backend, max_queue_size=8)
    first, first_out = run_in_thread(worker, 0)
    assert until(lambda: backend.started == [0])
    waiting = []
    for value in (1, 2, 3):
        waiting.append(run_in_thread(worker, value))
        assert until(lambda v=value: worker.queue_depth == v)
    backend.release.set()
    for thread, _ in [(first, first_out), *waiting]:
        thread.join(5)
    assert backend.started == [0, 1, 2, 3]
    assert [out["result"][0] for _, out in waiting] == [[1], [2], [3]]
    assert worker.queue_depth == 0
    worker.close()


def test_two_slots_run_two_callers_at_once():
    backend = Gate(max_in_flight=2)
    worker = InferenceWorker(backend, max_queue_size=4)
    calls = [run_in_thread(worker, v) for v in (0, 1)]
    assert until(lambda: len(backend.started) == 2)
    assert worker.queue_depth == 0
    backend.release.set()
    for thread, out in calls:
        thread.join(5)
        assert "result" in out
    worker.close()


def test_a_full_line_is_refused_at_once():
    backend = Gate()
    worker = InferenceWorker(backend, max_queue_size=1)
    running = run_in_thread(worker, 0)
    assert until(lambda: backend.started == [0])
    queued = run_in_thread(worker, 1)
    assert until(lambda: worker.queue_depth == 1)
    start = time.monotonic()
    with pytest.raises(QueueFull):
        worker.infer(np.array([2]), 5)
    assert time.monotonic() - start < 0.5
    backend.release.set()
    for thread, _ in (running, queued):
        thread.join(5)
    worker.close()


def test_a_caller_still_in_line_at_its_deadline_times_out_and_nothing_is_reported():
    backend, reports = Gate(), []
    worker = InferenceWorker(backend, max_queue_size=4, on_failure=lambda w, exc: reports.append(exc))
    running = run_in_thread(worker, 0, timeout_s=10)
    assert until(lambda: backend.started == [0])
    start = time.monotonic()
    with pytest.raises(InferenceTimeout):
        worker.infer(np.array([1]), 0.2)
    assert 0.15 < time.monotonic() - start < 2.0
    assert worker.queue_depth == 0 and reports == []
    backend.release.set()
    running[0].join(5)
    assert backend.started == [0]  # the caller that gave up never ran
    worker.close()


def test_a_run_past_its_deadline_is_reported_once_and_closing_the_backend_ends_it():
    backend, reports = Gate(), []

    def on_failure(failed, exc):  # what SCRFDModel does: re-create, which closes the stuck backend
        reports.append(exc)
        failed.close(drain=False, timeout_s=0)
        failed.backend.close()

    worker = InferenceWorker(backend, max_queue_size=4, on_failure=on_failure)
    start = time.monotonic()
    running = run_in_thread(worker, 0, timeout_s=0.3)
    assert until(lambda: backend.started == [0])
    waiting = run_in_thread(worker, 1, timeout_s=5)
    running[0].join(5)
    waiting[0].join(5)
    assert isinstance(running[1]["error"], InferenceTimeout)
    assert 0.3 <= time.monotonic() - start < 2.0
    assert len(reports) == 1 and isinstance(reports[0], TimeoutError)
    assert isinstance(waiting[1]["error"], ModelNotReady)  # refused by the close, never run on the dead engine
    assert backend.started == [0]


def test_a_failing_run_is_reported_and_worded_for_the_client():
    class Broken(Gate):
        def infer(self, tensor):
            raise ValueError("bad engine")

    reports = []
    worker = InferenceWorker(Broken(), max_queue_size=4, on_failure=lambda w, exc: reports.append(exc))
    with pytest.raises(InferenceFailed, match="ValueError"):
        worker.infer(np.array([0]), 5)
    assert len(reports) == 1 and isinstance(reports[0], ValueError)
    worker.close()


def test_close_drains_the_line_then_refuses_new_calls():
    backend = Gate()
    worker = InferenceWorker(backend, max_queue_size=4)
    calls = [run_in_thread(worker, v) for v in (0,)]
    assert until(lambda: backend.started == [0])
    calls.append(run_in_thread(worker, 1))
    assert until(lambda: worker.queue_depth == 1)
    closer = threading.Thread(target=worker.close)
    closer.start()
    assert until(lambda: worker._closed)
    with pytest.raises(ModelNotReady):
        worker.infer(np.array([2]), 5)
    backend.release.set()
    closer.join(5)
    for thread, out in calls:
        thread.join(5)
        assert "result" in out  # the one in line still ran
    assert backend.started == [0, 1]


def test_a_keyboard_interrupt_in_the_engine_reaches_its_caller_and_frees_the_slot():
    class Interrupted(Gate):
        def infer(self, tensor):
            if int(tensor[0]) == 0:
                raise KeyboardInterrupt
            return [int(tensor[0])]

    reports = []
    worker = InferenceWorker(Interrupted(), max_queue_size=4, on_failure=lambda w, exc: reports.append(exc))
    with pytest.raises(KeyboardInterrupt):
        worker.infer(np.array([0]), 5)
    assert reports == []  # not the engine's fault: no re-creation
    assert worker.infer(np.array([1]), 5)[0] == [1]  # the slot came back
    worker.close()


class Batching(Gate):
    """A Gate that also runs batches, noting each batch's size; runs of value 0 block until released."""

    max_batch = 4

    def __init__(self, max_in_flight=2, wrong_count=False):
        super().__init__(max_in_flight=max_in_flight)
        self.batches: list[int] = []
        self.wrong_count = wrong_count

    def infer(self, tensor):
        if int(tensor[0]) == 0:
            return super().infer(tensor)
        self.batches.append(1)
        return [int(tensor[0])]

    def infer_batch(self, tensors):
        self.batches.append(len(tensors))
        outputs = [[int(t[0])] for t in tensors]
        return outputs[:-1] if self.wrong_count else outputs


def test_with_a_run_inside_the_engine_the_next_caller_waits_to_gather_a_batch():
    backend = Batching()
    worker = InferenceWorker(backend, max_queue_size=8, batch_wait_s=1.0)
    blocker = run_in_thread(worker, 0)
    assert until(lambda: backend.started == [0])
    start = time.monotonic()
    calls = [run_in_thread(worker, 1)]
    assert until(lambda: worker._gathering == 1)  # the second slot's caller is gathering now
    calls += [run_in_thread(worker, v) for v in (2, 3)]
    for thread, _ in calls:
        thread.join(5)
    # gathered within batch_wait_s (1 s, with room for a loaded machine), not held until the blocker ends
    assert backend.batches == [3] and time.monotonic() - start < 3.0
    assert sorted(out["result"][0][0] for _, out in calls) == [1, 2, 3]
    backend.release.set()
    blocker[0].join(5)
    worker.close()


def test_a_batch_answered_with_the_wrong_number_of_outputs_fails_every_caller_and_hangs_none():
    backend, reports = Batching(max_in_flight=1, wrong_count=True), []
    worker = InferenceWorker(backend, max_queue_size=8, on_failure=lambda w, exc: reports.append(exc))
    blocker = run_in_thread(worker, 0)
    assert until(lambda: backend.started == [0])
    calls = [run_in_thread(worker, v) for v in (1, 2, 3)]
    assert until(lambda: worker.queue_depth == 3)
    backend.release.set()
    for thread, _ in [blocker, *calls]:
        thread.join(5)
        assert not thread.is_alive()
    assert backend.batches == [3]
    assert all(isinstance(out["error"], InferenceFailed) for _, out in calls)
    assert len(reports) == 1 and "3 inputs" in str(reports[0])
    assert worker.infer(np.array([4]), 5)[0] == [4]
    worker.close()


def test_a_healthy_run_that_the_re_creation_cuts_short_answers_model_not_ready():
    backend, reports = Gate(max_in_flight=2), []

    def on_failure(failed, exc):
        reports.append(exc)
        failed.close(drain=False, timeout_s=0)
        failed.backend.close()

    worker = InferenceWorker(backend, max_queue_size=4, on_failure=on_failure)
    stuck = run_in_thread(worker, 0, timeout_s=0.3)
    assert until(lambda: backend.started == [0])
    healthy = run_in_thread(worker, 1, timeout_s=30)
    for thread, _ in (stuck, healthy):
        thread.join(5)
    assert isinstance(stuck[1]["error"], InferenceTimeout)
    assert isinstance(healthy[1]["error"], ModelNotReady) and len(reports) == 1
