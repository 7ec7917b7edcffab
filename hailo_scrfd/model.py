"""`SCRFDModel`: the loaded detector, its health, and thread-safe `detect_faces`."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .backends import Backend, create_backend
from .config import SCRFDServiceConfig
from .errors import ModelLoadError, ModelNotReady
from .preprocess import fixed_letterbox
from .scrfd import Detections, postprocess
from .worker import InferenceWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectOptions:
    """Per-call detection knobs; defaults come from the config's ``detection`` section."""

    threshold: float = 0.5
    nms_threshold: float = 0.4
    max_faces: int = 0
    min_face_size: float = 0.0


@dataclass(frozen=True)
class DetectionResult:
    faces: Detections
    image_size: tuple[int, int]           # (width, height) of the input image
    timings_ms: dict[str, float] = field(default_factory=dict)


class SCRFDModel:
    """One SCRFD model, loaded once with :meth:`load` and shared by every request thread."""

    def __init__(self, config: SCRFDServiceConfig,
                 backend_factory: Callable[[SCRFDServiceConfig, str], Backend] = create_backend):
        self.config = config
        self.path = config.model_path() or ""
        self.name = Path(self.path).stem if self.path else ""
        self.defaults = DetectOptions(**dataclasses.asdict(config.detection))
        self._backend_factory = backend_factory
        self._lock = threading.Lock()
        self._worker: InferenceWorker | None = None
        self.state = "loading"
        self.reason = ""

    # -- lifecycle --------------------------------------------------------------------

    def load(self) -> "SCRFDModel":
        """Create the backend and the inference worker; raises ModelLoadError with one clear line."""
        with self._lock:
            if self._worker is not None:
                return self
            try:
                backend = self._backend_factory(self.config, self.path)
            except ModelLoadError as exc:
                self.state, self.reason = "error", str(exc)
                raise
            self._worker = InferenceWorker(backend, self.config.performance.max_queue_size)
            self.state, self.reason = "ok", ""
        return self

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
            worker.backend.close()
        self.state, self.reason = "loading", "closed"

    @property
    def ready(self) -> bool:
        return self.state == "ok" and self._worker is not None

    def ensure_ready(self) -> InferenceWorker:
        """The inference worker, or ModelNotReady saying why there is none."""
        worker = self._worker
        if worker is None or self.state != "ok":
            raise ModelNotReady(f"the model is not ready ({self.state}{': ' + self.reason if self.reason else ''})")
        return worker

    @property
    def backend(self) -> Backend | None:
        return self._worker.backend if self._worker else None

    def info(self) -> dict:
        backend = self.backend
        return {
            "name": self.name,
            "path": self.path,
            "backend": backend.name if backend else None,
            "input_size": [backend.input_spec.width, backend.input_spec.height] if backend else None,
            "loaded": self.ready,
        }

    # -- inference --------------------------------------------------------------------

    def detect_faces(self, image: np.ndarray, options: DetectOptions | None = None) -> DetectionResult:
        """Faces in an RGB uint8 ``(H, W, 3)`` image, in its own pixel coordinates, by score.

        Safe to call from any number of threads: only the backend call is serialised.
        """
        worker = self.ensure_ready()
        opts = options or self.defaults
        t0 = time.perf_counter()
        height, width = image.shape[:2]
        letterbox = fixed_letterbox((height, width), worker.backend.input_spec.hw)
        tensor = worker.backend.prepare(letterbox.apply(image))
        t1 = time.perf_counter()
        outputs, engine_ms = worker.infer(tensor, self.config.performance.inference_timeout_s)
        t2 = time.perf_counter()
        faces = postprocess(outputs, input_hw=letterbox.input_hw, scale=letterbox.scale,
                            image_size=(width, height), threshold=opts.threshold,
                            nms_threshold=opts.nms_threshold, max_faces=opts.max_faces,
                            min_face_size=opts.min_face_size)
        t3 = time.perf_counter()
        timings = {
            "preprocess": (t1 - t0) * 1000.0,
            "queue": max(0.0, (t2 - t1) * 1000.0 - engine_ms),
            "inference": engine_ms,
            "postprocess": (t3 - t2) * 1000.0,
        }
        return DetectionResult(faces=faces, image_size=(width, height), timings_ms=timings)
