"""Keep serving when the NPU is gone: the Hailo backend, with ONNX Runtime on the CPU behind it.

On a Pi the NPU is shared and can disappear: another model holds it, a firmware update
resets it, the PCIe link drops. :class:`FallbackBackend` owns both engines and decides,
per call, which one answers:

* the NPU, while it works;
* when a call on the NPU fails, the backend marks the NPU lost, closes it and keeps
  re-opening it in the background; calls (the failed one included) wait up to
  ``fallback_after_s`` for it to come back, then run on the CPU;
* when the NPU cannot be opened at start, the CPU answers from the first call;
* once the NPU opens again (its warm-up inference passed), new calls go back to it.

Nothing is dropped at a switch: a call runs on one engine or the other, both take the
same uint8 canvas, and the CPU model runs at the same fixed input size (640x640) so a
request's letterbox never changes under it. Engine errors on the NPU never leave this
class, so the model above stays ``ok`` (its watchdog keeps pinging: a restart would not
bring the NPU back); :attr:`fallback_status` tells ``/health`` and ``/metrics``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable

import numpy as np

from ..errors import ModelLoadError, ModelNotReady
from ..vision.scrfd import StrideOutput
from .base import Backend

log = logging.getLogger(__name__)

FALLBACK_NAME = "onnxruntime (fallback)"
REOPEN_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # then every probe_interval_s


class FallbackBackend(Backend):
    """The NPU backend ``open_primary()`` makes, backed by ``cpu`` (a fixed-size ONNX backend)."""

    kind = "hailo"

    def __init__(self, open_primary: Callable[[], Backend], cpu: Backend, *, fallback_after_s: float,
                 probe_interval_s: float, max_in_flight: int):
        if cpu.input_spec.dynamic:
            raise ValueError("the fallback backend must take a fixed input size")
        self._open_primary = open_primary
        self._cpu = cpu
        self._cpu_slots = threading.BoundedSemaphore(max(1, cpu.max_in_flight))
        self.input_spec = cpu.input_spec
        self.fallback_after_s = fallback_after_s
        self.probe_interval_s = probe_interval_s
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._primary: Backend | None = None
        self._primary_name = FALLBACK_NAME
        self._lost_since: float | None = None     # when the NPU was lost; None while it serves
        self._cpu_since: float | None = None      # when the CPU started answering; None while it does not
        self._cpu_total_s = 0.0
        self._reason = ""
        self.switches = 0
        try:
            primary = self._open_checked()
        except Exception as exc:
            primary = None
            self._lost(None, f"the Hailo device could not be opened ({exc})", at_start=True)
        if primary is not None:
            self._primary, self._primary_name = primary, primary.name
            max_in_flight = max(max_in_flight, primary.max_in_flight)
        self.max_in_flight = max(max_in_flight, cpu.max_in_flight)
        self._supervisor = threading.Thread(target=self._supervise, name="scrfd-npu-probe", daemon=True)
        self._supervisor.start()

    # -- what the model and /health see ------------------------------------------------

    @property
    def name(self) -> str:  # type: ignore[override]
        with self._cond:
            return FALLBACK_NAME if self._cpu_since is not None else self._primary_name

    @property
    def fallback_status(self) -> dict:
        """``active`` (the CPU answers), ``reason``, ``seconds_total`` on the CPU, ``switches`` to the CPU."""
        with self._cond:
            self._update(time.monotonic())
            active = self._cpu_since is not None
            total = self._cpu_total_s + (time.monotonic() - self._cpu_since if active else 0.0)
            return {"active": active, "reason": self._reason if self._lost_since is not None else "",
                    "seconds_total": round(total, 3), "switches": self.switches}

    # -- inference ---------------------------------------------------------------------

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        # Both engines take the raw uint8 canvas (the ONNX one as a batch of one): a call may change engine.
        return np.require(canvas, np.uint8, ("C", "W"))

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        while True:
            primary = self._wait_for_primary()
            if primary is None:
                with self._cpu_slots:
                    return self._cpu.infer(tensor[None])
            try:
                return primary.infer(tensor)
            except Exception as exc:
                self._lost(primary, f"inference failed on the NPU ({type(exc).__name__}: {str(exc)[:200]})")

    def _wait_for_primary(self) -> Backend | None:
        """The NPU backend, or None when the CPU must answer (lost for ``fallback_after_s`` or more)."""
        with self._cond:
            while not self._closed.is_set():
                now = time.monotonic()
                self._update(now)
                if self._primary is not None or self._cpu_since is not None:
                    return self._primary
                self._cond.wait(max(0.001, self._lost_since + self.fallback_after_s - now))
            raise ModelNotReady("the backend is closed")

    # -- state changes (under self._cond) -------------------------------------------------

    def _update(self, now: float) -> None:
        if self._primary is None and self._cpu_since is None and self._lost_since is not None \
                and now - self._lost_since >= self.fallback_after_s:
            self._cpu_since = now
            self.switches += 1
            log.warning("serving on the CPU fallback (%s): %s", self._cpu.name, self._reason)

    def _lost(self, primary: Backend | None, reason: str, at_start: bool = False) -> None:
        with self._cond:
            if primary is not self._primary:
                return  # already replaced; its late failures are moot
            self._primary = None
            self._reason = reason
            now = time.monotonic()
            self._lost_since = now - self.fallback_after_s if at_start else now
            self._update(now)
            self._cond.notify_all()
        log.warning("Hailo device lost: %s", reason)
        if primary is not None:
            threading.Thread(target=_close_quietly, args=(primary,), name="scrfd-npu-close", daemon=True).start()

    def _recovered(self, primary: Backend) -> None:
        with self._cond:
            if self._closed.is_set():
                threading.Thread(target=_close_quietly, args=(primary,), daemon=True).start()
                return
            now = time.monotonic()
            if self._cpu_since is not None:
                self._cpu_total_s += now - self._cpu_since
            lost_s = now - (self._lost_since or now)
            self._primary, self._primary_name = primary, primary.name
            self._lost_since = self._cpu_since = None
            self._reason = ""
            self._cond.notify_all()
        log.info("Hailo device back after %.1f s: serving on %s", lost_s, primary.name)

    # -- the probe ----------------------------------------------------------------------

    def _open_checked(self) -> Backend:
        primary = self._open_primary()
        if primary.input_spec.hw != self.input_spec.hw:
            _close_quietly(primary)
            raise ModelLoadError(f"the HEF takes {primary.input_spec.width}x{primary.input_spec.height} but "
                                 f"model.fallback takes {self.input_spec.width}x{self.input_spec.height}")
        return primary

    def _supervise(self) -> None:
        attempt = 0
        while not self._closed.is_set():
            with self._cond:
                while self._primary is not None and not self._closed.is_set():
                    self._cond.wait()
                    attempt = 0
            if self._closed.is_set():
                return
            delay = REOPEN_BACKOFF_S[attempt] if attempt < len(REOPEN_BACKOFF_S) else self.probe_interval_s
            if self._closed.wait(min(delay, self.probe_interval_s)):
                return
            attempt += 1
            try:
                primary = self._open_checked()
            except Exception as exc:
                with self._cond:
                    self._reason = f"the Hailo device could not be re-opened ({exc}); retrying"
                log.info("NPU probe: %s", exc)
                continue
            self._recovered(primary)

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            primary, self._primary = self._primary, None
            self._cond.notify_all()
        self._supervisor.join(5)
        if primary is not None:
            _close_quietly(primary)
        self._cpu.close()


def _close_quietly(backend: Backend) -> None:
    try:
        backend.close()
    except Exception as exc:  # a lost device may not close cleanly
        log.warning("closing %s: %s: %s", getattr(backend, "name", "backend"), type(exc).__name__, exc)


def create_fallback_backend(config, model_path: str) -> FallbackBackend:
    """The Hailo backend for ``model_path`` with ``config.model.fallback`` (an ONNX model) behind it."""
    from .hailo import HailoBackend
    from .precision import create_onnx

    timeout_s = config.performance.inference_timeout_s
    # The CPU runs the HEF's fixed 640x640 input, so a request's canvas fits whichever engine runs it;
    # model.precision applies to it as to any ONNX model (INT8 when one was made with `quantize`).
    fixed = dataclasses.replace(config, onnx=dataclasses.replace(config.onnx, input_mode="fixed"))
    cpu = create_onnx(fixed, config.model.fallback)
    # A hung NPU call must fail (and move to the CPU) before the request's own timeout fires: the NPU gets half.
    return FallbackBackend(lambda: HailoBackend(model_path, config.hailo, timeout_s / 2), cpu,
                           fallback_after_s=config.hailo.fallback_after_s,
                           probe_interval_s=config.hailo.probe_interval_s, max_in_flight=config.hailo.max_in_flight)
