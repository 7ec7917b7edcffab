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

from ..backends import Backend, InputSpec, choose_backend, create_backend
from ..backends.faults import FaultInjector, FaultyBackend
from ..system.config import SCRFDServiceConfig
from ..errors import ModelLoadError, ModelNotReady
from ..options import DetectOptions
from ..system.models import resolve_model
from ..vision.letterbox import Letterbox, input_letterbox
from ..vision.detections import Detections
from ..vision.scrfd import StrideOutput, postprocess
from .fallback import FallbackRouter, open_cpu_fallback, start_fallback
from .recovery import Engine, discard, recover
from .worker import InferenceWorker

log = logging.getLogger(__name__)


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
    background, without restarting the process). Under ``model.fallback`` a lost NPU leaves it
    ``ok``: the CPU answers meanwhile (:mod:`.fallback`) and :attr:`fallback_status` says so.
    """

    def __init__(self, config: SCRFDServiceConfig,
                 backend_factory: Callable[[SCRFDServiceConfig, str], Backend] = create_backend):
        self.config = config
        self.path = config.model_path() or ""
        self.name = Path(self.path).stem if self.path else ""
        self._backend_factory = backend_factory
        self._lock = threading.Lock()
        self._primary = Engine("primary", self._open_primary)
        self._cpu: Engine | None = None               # model.fallback's engine
        self._router: FallbackRouter | None = None    # model.fallback's choice between the two
        self._recovering: list[threading.Thread] = []
        self._closed = threading.Event()
        self.state = "loading"
        self.reason = ""
        self.recoveries = 0
        self._degraded_since: float | None = None
        self.faults = FaultInjector() if config.debug.fault_injection else None

    # -- lifecycle --------------------------------------------------------------------

    def load(self) -> "SCRFDModel":
        """Open the engine(s), each behind its inference worker; raises ModelLoadError with one clear line."""
        with self._lock:
            if self.state in ("ok", "degraded"):
                return self
            try:
                self.path = resolve_model(self.path) if self.path else self.path
                self.name = Path(self.path).stem if self.path else ""
                if self.config.model.fallback and choose_backend(self.config.model.backend, self.path) == "hailo":
                    self._cpu = Engine("cpu", lambda: self._new_worker(open_cpu_fallback(self.config)))
                    self._router = start_fallback(self._primary, self._cpu, self.config.hailo,
                                                  self.config.performance.max_queue_size)
                    if self._primary.worker is None:  # no NPU at start: the CPU answers, the NPU is re-tried
                        self._start_recovery(self._primary, None)
                else:
                    self._primary.worker = self._primary.open()
            except ModelLoadError as exc:
                self.state, self.reason = "error", str(exc)
                raise
            self.state, self.reason = "ok", ""
        return self

    def close(self) -> None:
        """Finish queued work and release the backends (and their devices)."""
        self._closed.set()
        with self._lock:
            engines = [e for e in (self._primary, self._cpu) if e is not None]
            workers = [e.worker for e in engines if e.worker is not None]
            for engine in engines:
                engine.worker = None
            self.state, self.reason = "loading", "the service is stopping"
            recovering, self._recovering = self._recovering, []
        if self._router is not None:
            self._router.policy.close()
        for worker in workers:
            worker.close(drain=True)
            worker.backend.close()
        for thread in recovering:
            thread.join(5.0)

    def _open_primary(self) -> InferenceWorker:
        backend = self._backend_factory(self.config, self.path)
        return self._new_worker(FaultyBackend(backend, self.faults) if self.faults is not None else backend)

    def _new_worker(self, backend: Backend) -> InferenceWorker:
        performance = self.config.performance
        return InferenceWorker(backend, performance.max_queue_size, on_failure=self._on_backend_failure,
                               batch_wait_s=performance.batch_wait_ms / 1000.0)

    # -- self-healing: one recovery loop for every engine (:mod:`.recovery`) ----------------

    def _on_backend_failure(self, worker: InferenceWorker, exc: BaseException) -> None:
        """Called when ``worker``'s backend raised or hung: take it away and re-open its engine."""
        why = f"{type(exc).__name__}: {str(exc)[:200]}"
        with self._lock:
            engine = next((e for e in (self._primary, self._cpu) if e is not None and e.worker is worker), None)
            if engine is None or self._closed.is_set():
                return  # a worker already replaced (its late errors are moot), or stopping
            if engine.covered:
                self._router.policy.lost(f"inference failed on the NPU ({why})")
            else:
                self.state = "degraded"
                self.reason = f"inference failed ({why}); re-creating the backend"
                self._degraded_since = time.monotonic()
            engine.worker = None
            log.warning("%s engine failed: %s", engine.role, why)
            self._start_recovery(engine, worker)

    def _start_recovery(self, engine: Engine, failed: InferenceWorker | None) -> None:
        thread = threading.Thread(target=self._recover, args=(engine, failed), name="scrfd-recovery", daemon=True)
        self._recovering = [t for t in self._recovering if t.is_alive()] + [thread]
        thread.start()

    def _recover(self, engine: Engine, failed: InferenceWorker | None) -> None:
        started = time.monotonic()
        worker = recover(engine, failed, self._closed, lambda exc, delay: self._retrying(engine, exc, delay))
        if worker is None:
            return
        with self._lock:
            if not self._closed.is_set():
                engine.worker = worker
                if engine.covered:
                    self._router.policy.restored()
                else:
                    self.state, self.reason = "ok", ""
                    self._degraded_since = None
                    self.recoveries += 1
                log.info("%s engine re-opened in %.2f s", engine.role, time.monotonic() - started)
                return
        discard(worker)  # the service stopped while we were re-opening

    def _retrying(self, engine: Engine, exc: Exception, delay: float) -> None:
        if engine.covered:
            return self._router.policy.retrying(exc)
        with self._lock:
            self.reason = f"re-creating the backend failed ({exc}); retrying in {delay:g} s"
        log.warning("%s", self.reason)

    # -- state ------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.state == "ok" and self.backend is not None

    def is_healthy(self, grace_s: float) -> bool:
        """Serving, or recovering from a fault for less than ``grace_s`` (for the systemd watchdog)."""
        since = self._degraded_since
        return self.ready or (self.state == "degraded" and since is not None
                              and time.monotonic() - since < grace_s)

    def ensure_ready(self) -> InferenceWorker | FallbackRouter:
        """What runs a request's inference: the inference worker (or model.fallback's router); or ModelNotReady."""
        runner = self._router or self._primary.worker
        if runner is None or self.state != "ok":
            # The reason (which may name files) is for operators: GET /health has it.
            raise ModelNotReady(f"the model is not ready ({self.state}); GET /health says why")
        return runner

    @property
    def backend(self) -> Backend | None:
        """The backend answering now (under model.fallback the CPU's, named FALLBACK_NAME, while the NPU is away)."""
        primary, cpu = self._primary.worker, self._cpu.worker if self._router and self._cpu else None
        worker = cpu if cpu is not None and (primary is None or self._router.policy.active) else primary
        return worker.backend if worker else None

    @property
    def fallback_status(self) -> dict | None:
        """Under model.fallback: ``active`` (the CPU answers), ``reason``, ``seconds_total``, ``switches``."""
        return self._router.policy.status() if self._router is not None else None

    @property
    def input_spec(self) -> InputSpec:
        """The live backend's input; ModelNotReady when there is none."""
        return self.ensure_ready().backend.input_spec

    @property
    def queue_depth(self) -> int:
        """Calls waiting: in each engine's line, and under model.fallback for a lost NPU to come back."""
        waiting = self._router.policy.waiting if self._router else 0
        return waiting + sum(e.worker.queue_depth for e in (self._primary, self._cpu) if e is not None and e.worker)

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
