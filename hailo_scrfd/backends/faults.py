"""A test hook that makes the real backend fail or hang on demand (config ``debug.fault_injection``, off by default).

It wraps whichever backend is loaded, so the fault, the 503, the ``degraded`` health and
the automatic re-creation of the backend are all exercised on the real engine.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from ..vision.scrfd import StrideOutput
from .base import Backend

MODES = ("error", "hang")
HANG_LIMIT_S = 60.0  # a hang ends by itself eventually, so no thread is held forever


class InjectedFault(RuntimeError):
    pass


class FaultInjector:
    """Faults armed for the next inferences; shared by every backend the model creates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: collections.deque[str] = collections.deque()
        self._release = threading.Event()

    def arm(self, mode: str, count: int = 1) -> None:
        if mode not in MODES:
            raise ValueError(f"fault mode must be one of {', '.join(MODES)}")
        with self._lock:
            self._armed.extend([mode] * count)

    def release_hangs(self) -> None:
        with self._lock:
            self._release.set()
            self._release = threading.Event()

    def check(self) -> None:
        with self._lock:
            mode = self._armed.popleft() if self._armed else None
            release = self._release
        if mode == "error":
            raise InjectedFault("injected inference error")
        if mode == "hang":
            release.wait(HANG_LIMIT_S)
            raise InjectedFault("injected hang ended")


class FaultyBackend(Backend):
    def __init__(self, inner: Backend, injector: FaultInjector):
        self.inner, self.injector = inner, injector
        self.kind, self.name, self.input_spec = inner.kind, inner.name, inner.input_spec
        self.max_in_flight = inner.max_in_flight

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        return self.inner.prepare(canvas)

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        self.injector.check()
        return self.inner.infer(tensor)

    def close(self) -> None:
        self.injector.release_hangs()
        self.inner.close()
