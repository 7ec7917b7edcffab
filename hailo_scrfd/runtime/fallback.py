"""Keep serving when the NPU is gone (config ``model.fallback``): which engine answers, as a policy of the model.

On a Pi the NPU is shared and can disappear: another model holds it, a firmware update resets it,
the PCIe link drops. Under ``model.fallback`` the model runs two engines, each behind its own
inference worker: the Hailo NPU (the ``primary``) and ONNX Runtime on the CPU. :class:`FallbackPolicy`
says which one answers now:

* the NPU, while it is open;
* when a call on the NPU fails, the model marks it lost (:meth:`FallbackPolicy.lost`) and its one
  recovery loop keeps re-opening it; calls (the failed one included) wait up to
  ``hailo.fallback_after_s`` for it to come back, then run on the CPU. They wait in line as they would for an
  engine: ``performance.max_queue_size`` of them at most, the next ones get 503 ``queue_full`` at once;
* when the NPU cannot be opened at start, the CPU answers from the first call;
* once the NPU opens again (its warm-up inference passed), new calls go back to it.

Nothing is dropped at a switch: :class:`FallbackRouter` runs a call on one engine or the other, both
take the same uint8 canvas, and the CPU model runs at the same fixed input size (640x640) so a
request's letterbox never changes under it. NPU faults do not make the model ``degraded`` (its
watchdog keeps pinging: a restart would not bring the NPU back); :meth:`FallbackPolicy.status`
tells ``/health`` and ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from ..backends import Backend, InputSpec, create_fallback_backend
from ..errors import InferenceFailed, InferenceTimeout, ModelLoadError, ModelNotReady, QueueFull
from ..system.sections import HailoSection
from .recovery import Engine, discard
from .worker import RECREATING, InferenceWorker

log = logging.getLogger(__name__)

FALLBACK_NAME = "onnxruntime (fallback)"  # the backend's name while the CPU answers


class FallbackPolicy:
    """When the CPU answers instead of the NPU, and for how long it has; thread-safe."""

    def __init__(self, fallback_after_s: float, input_spec: InputSpec, max_waiting: int):
        self.fallback_after_s = fallback_after_s
        self.max_waiting = max_waiting            # calls that may wait for a lost NPU (performance.max_queue_size)
        self.waiting = 0
        self.input_spec = input_spec              # the CPU model's fixed input, which the HEF must share
        self._cond = threading.Condition()
        self._closed = False
        self._npu_up = False
        self._lost_since: float | None = None     # when the NPU was lost; None while it serves
        self._cpu_since: float | None = None      # when the CPU started answering; None while it does not
        self._cpu_total_s = 0.0
        self._reason = ""
        self.switches = 0

    @property
    def active(self) -> bool:
        """Whether the CPU answers now."""
        with self._cond:
            self._update(time.monotonic())
            return self._cpu_since is not None

    def status(self) -> dict:
        """``active`` (the CPU answers), ``reason``, ``seconds_total`` on the CPU, ``switches`` to the CPU."""
        with self._cond:
            now = time.monotonic()
            self._update(now)
            active = self._cpu_since is not None
            total = self._cpu_total_s + (now - self._cpu_since if active else 0.0)
            return {"active": active, "reason": self._reason if self._lost_since is not None else "",
                    "seconds_total": round(total, 3), "switches": self.switches}

    def checked(self, npu: InferenceWorker) -> InferenceWorker:
        """``npu``, or ModelLoadError (after closing it) when its input differs from the CPU model's."""
        spec = npu.backend.input_spec
        if spec.hw != self.input_spec.hw:
            discard(npu)
            raise ModelLoadError(f"the HEF takes {spec.width}x{spec.height} but "
                                 f"model.fallback takes {self.input_spec.width}x{self.input_spec.height}")
        return npu

    def use_npu(self, deadline: float) -> bool | None:
        """True: the NPU answers; False: the CPU does; None: neither before ``deadline`` (monotonic).
        QueueFull when :attr:`max_waiting` calls already wait for the lost NPU."""
        with self._cond:
            counted = False
            try:
                while not self._closed:
                    now = time.monotonic()
                    self._update(now)
                    if self._npu_up or self._cpu_since is not None:
                        return self._npu_up
                    if now >= deadline:
                        return None
                    if not counted:
                        if self.waiting >= self.max_waiting:
                            raise QueueFull(f"the inference queue is full ({self.max_waiting} waiting for the "
                                            "Hailo device to come back); retry shortly")
                        self.waiting, counted = self.waiting + 1, True
                    self._cond.wait(max(0.001, min(self._lost_since + self.fallback_after_s, deadline) - now))
                raise ModelNotReady("the service is stopping")
            finally:
                if counted:
                    self.waiting -= 1

    # -- what the model tells it ---------------------------------------------------------

    def lost(self, reason: str, at_start: bool = False) -> None:
        """The NPU failed (or, ``at_start``, could not be opened: the CPU answers at once)."""
        with self._cond:
            now = time.monotonic()
            self._npu_up, self._reason = False, reason
            self._lost_since = now - self.fallback_after_s if at_start else now
            self._update(now)
            self._cond.notify_all()
        log.warning("Hailo device lost: %s", reason)

    def retrying(self, exc: Exception) -> None:
        """A re-open of the lost NPU failed: the reason says why."""
        with self._cond:
            self._reason = f"the Hailo device could not be re-opened ({exc}); retrying"
        log.info("NPU probe: %s", exc)

    def restored(self) -> None:
        """The NPU is open (again) and passed its warm-up: new calls go to it."""
        with self._cond:
            now = time.monotonic()
            if self._cpu_since is not None:
                self._cpu_total_s += now - self._cpu_since
            lost_s = None if self._lost_since is None else now - self._lost_since
            self._npu_up, self._reason = True, ""
            self._lost_since = self._cpu_since = None
            self._cond.notify_all()
        if lost_s is not None:
            log.info("Hailo device back after %.1f s: serving on the NPU", lost_s)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _update(self, now: float) -> None:  # under self._cond
        if not self._npu_up and self._cpu_since is None and self._lost_since is not None \
                and now - self._lost_since >= self.fallback_after_s:
            self._cpu_since = now
            self.switches += 1
            log.warning("serving on the CPU fallback: %s", self._reason)


class SharedInput:
    """What a request prepares for under ``model.fallback``: the fixed input both engines take, as the raw
    uint8 canvas (each engine's own ``prepare`` runs once the call knows which engine runs it)."""

    def __init__(self, input_spec: InputSpec):
        self.input_spec = input_spec

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        return np.require(canvas, np.uint8, ("C", "W"))


class FallbackRouter:
    """Stands where the inference worker does for a request (:meth:`~.model.SCRFDModel.ensure_ready`): runs
    each call on the engine the policy names, and a call the NPU failed again, within the call's timeout."""

    def __init__(self, policy: FallbackPolicy, npu: Engine, cpu: Engine):
        self.policy, self._npu, self._cpu = policy, npu, cpu
        self.backend = SharedInput(policy.input_spec)

    def infer(self, tensor: np.ndarray, timeout_s: float) -> tuple[list, float]:
        deadline = time.monotonic() + timeout_s
        while True:
            use_npu = self.policy.use_npu(deadline)
            if use_npu is None:
                raise InferenceTimeout(f"inference did not finish within {timeout_s:g} s")
            worker = (self._npu if use_npu else self._cpu).worker
            if worker is None:
                if not use_npu:
                    raise ModelNotReady(RECREATING)
                time.sleep(0.001)  # the NPU is being marked lost this instant
                continue
            try:
                return worker.infer(worker.backend.prepare(tensor), max(0.001, deadline - time.monotonic()))
            except (InferenceFailed, InferenceTimeout, ModelNotReady):
                # On the NPU, a failed or cut-short run: the model marked it lost; ask the policy again.
                if not use_npu or time.monotonic() >= deadline:
                    raise


def open_cpu_fallback(config) -> Backend:
    """``model.fallback`` on ONNX Runtime at its fixed input, named :data:`FALLBACK_NAME`."""
    cpu = create_fallback_backend(config)
    cpu.name = FALLBACK_NAME
    return cpu


def start_fallback(npu: Engine, cpu: Engine, section: HailoSection, max_queue_size: int) -> FallbackRouter:
    """Open the CPU engine (ModelLoadError when it cannot), then the NPU; when the NPU cannot be opened the
    CPU answers from the first call and the caller starts the NPU's recovery (``npu.worker`` is None)."""
    cpu.worker = cpu.open()
    policy = FallbackPolicy(section.fallback_after_s, cpu.worker.backend.input_spec, max_queue_size)
    open_npu = npu.open
    npu.open = lambda: policy.checked(open_npu())
    npu.steady_s, npu.covered = section.probe_interval_s, True
    try:
        npu.worker = npu.open()
    except Exception as exc:
        policy.lost(f"the Hailo device could not be opened ({exc})", at_start=True)
    else:
        policy.restored()
    return FallbackRouter(policy, npu, cpu)
