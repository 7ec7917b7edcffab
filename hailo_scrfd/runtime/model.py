"""`SCRFDModel`: the loaded engine, its health and self-healing; one way in for a canvas (:meth:`SCRFDModel.infer`)
and the thread-safe `detect_faces`."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends import Backend, InputSpec, create_backend
from ..backends.faults import FaultInjector, FaultyBackend
from ..system.config import SCRFDServiceConfig
from ..errors import ModelLoadError, ModelNotReady
from ..options import DetectOptions
from ..system.models import resolve_model
from ..vision.letterbox import Letterbox, input_letterbox
from ..vision.detections import Detections
from ..vision.scrfd import StrideOutput, postprocess
from .worker import InferenceWorker

log = logging.getLogger(__name__)

RECOVERY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class DetectionResult:
    faces: Detections
    image_size: tuple[int, int]           # (width, height) of the input image
    timings_ms: dict[str, float] = field(default_factory=dict)
    input_hw: tuple[int, int] = (0, 0)    # the network input it ran at


@dataclass(frozen=True)
class RawInference:
    """One canvas through the engine: its canonical per-stride outputs, before decoding, and where the time went
    (milliseconds: ``preprocess``, the backend's own input conversion; ``queue``; ``inference``, the engine)."""

    outputs: list[StrideOutput]
    input_hw: tuple[int, int]             # (height, width) of the network input
    timings_ms: dict[str, float]

    @property
    def engine_ms(self) -> float:
        return self.timings_ms["inference"]


class SCRFDModel:
    """One SCRFD model, loaded once with :meth:`load` and shared by every request thread.

    States: ``loading`` (not loaded yet, or closed), ``ok``, ``error`` (loading failed)
    and ``degraded`` (an inference failed; the backend is being re-created in the
    background, without restarting the process).
    """

    def __init__(self, config: SCRFDServiceConfig,
                 backend_factory: Callable[[SCRFDServiceConfig, str], Backend] = create_backend):
        self.config = config
        self.path = config.model_path() or ""
        self.name = Path(self.path).stem if self.path else ""
        self._backend_factory = backend_factory
        self._lock = threading.Lock()
        self._worker: InferenceWorker | None = None
        self._closed = threading.Event()
        self.state = "loading"
        self.reason = ""
        self.recoveries = 0
        self._degraded_since: float | None = None
        self.faults = FaultInjector() if config.debug.fault_injection else None

    # -- lifecycle --------------------------------------------------------------------

    def load(self) -> "SCRFDModel":
        """Create the backend and the inference worker; raises ModelLoadError with one clear line."""
        with self._lock:
            if self._worker is not None:
                return self
            try:
                self.path = resolve_model(self.path) if self.path else self.path
                self.name = Path(self.path).stem if self.path else ""
                self._worker = self._start_worker()
            except ModelLoadError as exc:
                self.state, self.reason = "error", str(exc)
                raise
            self.state, self.reason = "ok", ""
        return self

    def close(self) -> None:
        """Finish queued work and release the backend (and its device)."""
        self._closed.set()
        with self._lock:
            worker, self._worker = self._worker, None
            self.state, self.reason = "loading", "the service is stopping"
        if worker is not None:
            worker.close(drain=True)
            worker.backend.close()

    def _start_worker(self) -> InferenceWorker:
        backend = self._backend_factory(self.config, self.path)
        if self.faults is not None:
            backend = FaultyBackend(backend, self.faults)
        performance = self.config.performance
        return InferenceWorker(backend, performance.max_queue_size, on_failure=self._on_backend_failure,
                               batch_wait_s=performance.batch_wait_ms / 1000.0)

    # -- self-healing -----------------------------------------------------------------

    def _on_backend_failure(self, worker: InferenceWorker, exc: BaseException) -> None:
        """Called when ``worker``'s backend raised or hung: go degraded and rebuild once."""
        with self._lock:
            if worker is not self._worker or self._closed.is_set():
                return  # a worker already replaced (its late errors are moot), or stopping
            self.state = "degraded"
            self.reason = f"inference failed ({type(exc).__name__}: {str(exc)[:200]}); re-creating the backend"
            self._worker = None
            self._degraded_since = time.monotonic()
        log.warning("model degraded: %s", self.reason)
        threading.Thread(target=self._recover, args=(worker,), name="scrfd-recovery", daemon=True).start()

    def _recover(self, failed: InferenceWorker | None) -> None:
        started = time.monotonic()
        if failed is not None:
            # Fail what is queued and let the threads go without waiting for them: closing the
            # backend is what ends a hung call (it aborts the device job, or releases the hang).
            failed.close(drain=False, timeout_s=0.0)
            try:
                failed.backend.close()
            except Exception as exc:  # a broken device may not close cleanly; the new one must still open
                log.warning("closing the failed backend: %s: %s", type(exc).__name__, exc)
        attempt = 0
        while not self._closed.is_set():
            try:
                worker = self._start_worker()
            except Exception as exc:
                delay = RECOVERY_BACKOFF_S[min(attempt, len(RECOVERY_BACKOFF_S) - 1)]
                with self._lock:
                    self.reason = f"re-creating the backend failed ({exc}); retrying in {delay:g} s"
                log.warning("%s", self.reason)
                attempt += 1
                self._closed.wait(delay)
                continue
            with self._lock:
                if not self._closed.is_set():
                    self._worker = worker
                    self.state, self.reason = "ok", ""
                    self._degraded_since = None
                    self.recoveries += 1
                    log.info("backend re-created in %.2f s", time.monotonic() - started)
                    return
            worker.close(drain=False)  # the service stopped while we were rebuilding
            worker.backend.close()
            return

    # -- state ------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.state == "ok" and self._worker is not None

    def is_healthy(self, grace_s: float) -> bool:
        """Serving, or recovering from a fault for less than ``grace_s`` (for the systemd watchdog)."""
        since = self._degraded_since
        return self.ready or (self.state == "degraded" and since is not None
                              and time.monotonic() - since < grace_s)

    def ensure_ready(self) -> InferenceWorker:
        """The inference worker, or ModelNotReady saying why there is none."""
        worker = self._worker
        if worker is None or self.state != "ok":
            # The reason (which may name files) is for operators: GET /health has it.
            raise ModelNotReady(f"the model is not ready ({self.state}); GET /health says why")
        return worker

    @property
    def backend(self) -> Backend | None:
        worker = self._worker
        return worker.backend if worker else None

    @property
    def input_spec(self) -> InputSpec:
        """The live backend's input; ModelNotReady when there is none."""
        return self.ensure_ready().backend.input_spec

    @property
    def queue_depth(self) -> int:
        worker = self._worker
        return worker.queue_depth if worker else 0

    def info(self) -> dict:
        backend = self.backend
        return {
            "name": self.name,
            "path": self.path,
            "backend": backend.name if backend else None,
            "input_size": [backend.input_spec.width, backend.input_spec.height] if backend else None,
            "precision": getattr(backend, "precision", None),  # ONNX: which runs, and what calibrated INT8
            "loaded": self.ready,
        }

    # -- inference --------------------------------------------------------------------

    def letterbox(self, image_hw: tuple[int, int]) -> Letterbox:
        """Where an image of ``image_hw`` lands in the live backend's input (fit, or the fixed reference size)."""
        spec = self.input_spec
        return input_letterbox(image_hw, spec.hw, spec.dynamic)

    def infer(self, canvas: np.ndarray) -> RawInference:
        """The engine's raw outputs for one uint8 ``(H, W, 3)`` input canvas: the one way into the engine.
        Safe to call from any number of threads: only the backend call is serialised."""
        worker = self.ensure_ready()
        t0 = time.perf_counter()
        tensor = worker.backend.prepare(canvas)
        t1 = time.perf_counter()
        outputs, engine_ms = worker.infer(tensor, self.config.performance.inference_timeout_s)
        t2 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1000.0, "queue": max(0.0, (t2 - t1) * 1000.0 - engine_ms),
                   "inference": engine_ms}
        return RawInference(outputs, canvas.shape[:2], timings)

    def detect_faces(self, image: np.ndarray, options: DetectOptions | None = None,
                     original_size: tuple[int, int] | None = None) -> DetectionResult:
        """Faces in an RGB uint8 ``(H, W, 3)`` image, in its own pixel coordinates, by score: letterbox, infer,
        decode and NMS at ``options``' ``threshold`` and ``nms_threshold`` (else the config's), nothing else of a
        request (selecting faces is the pipeline's). ``original_size`` (width, height): the image was decoded
        at a reduced size from a larger original; coordinates are then mapped to the original's pixels.
        Thread-safe like :meth:`infer`.
        """
        detection = options or self.config.detection
        t0 = time.perf_counter()
        letterbox = self.letterbox(image.shape[:2])
        canvas = letterbox.apply(image)
        letterbox_ms = (time.perf_counter() - t0) * 1000.0
        raw = self.infer(canvas)
        t1 = time.perf_counter()
        scale, size = letterbox.back_to(image.shape[:2], original_size)
        faces = postprocess(raw.outputs, input_hw=raw.input_hw, scale=scale, image_size=size,
                            threshold=detection.threshold, nms_threshold=detection.nms_threshold)
        timings = {**raw.timings_ms, "preprocess": letterbox_ms + raw.timings_ms["preprocess"],
                   "postprocess": (time.perf_counter() - t1) * 1000.0}
        return DetectionResult(faces=faces, image_size=size, timings_ms=timings, input_hw=raw.input_hw)
