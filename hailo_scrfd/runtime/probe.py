"""The deep health probe behind ``GET /health?deep=1``: one fixed image through the live model, checked.

Plain ``/health`` says whether a backend is loaded; it cannot see a device that answers every job
with garbage (per-channel quantization read as zero scales makes every score 0, and nothing
raises). The probe runs a small fixed image through :class:`~.model.SCRFDModel`, exactly as a
request would, and checks the raw outputs (:func:`~hailo_scrfd.vision.sanity.check_outputs`) and,
for an operator's own image, the number of faces found.

A monitor may poll it as often as it likes: one probe runs at a time, callers that arrive meanwhile
share its result, and a result is reused for ``health.probe_cache_s``. A probe that outlives
``health.probe_timeout_s`` fails at its deadline; it is not started again while it still hangs.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ServiceError
from ..system.sections import HealthSection
from ..vision.decode import decode_image
from ..vision.letterbox import Letterbox
from ..vision.sanity import check_outputs, synthetic_probe_image
from ..vision.scrfd import postprocess
from .model import RawInference, SCRFDModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeImage:
    """The pixels every probe runs on, and where they came from (``synthetic`` or ``configured``)."""

    pixels: np.ndarray
    source: str


def load_probe_image(section: HealthSection, max_pixels: int) -> ProbeImage:
    """``health.probe_image`` decoded once, or the synthetic scene; ConfigError for a file that cannot serve."""
    if not section.probe_image:
        return ProbeImage(synthetic_probe_image(), "synthetic")
    path = Path(section.probe_image)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"health.probe_image {path} cannot be read: {exc.strerror or exc}") from None
    try:
        pixels = decode_image(data, max_pixels=max_pixels)
    except ServiceError as exc:
        raise ConfigError(f"health.probe_image {path} is not a usable image: {exc.message}") from None
    return ProbeImage(pixels, "configured")


def run_probe(model: SCRFDModel, image: ProbeImage, expected_faces: int | None) -> dict[str, Any]:
    """One probe, now, on the calling thread: the ``probe`` object of ``/health?deep=1``."""
    start = time.perf_counter()
    result = _skeleton(model, image, expected_faces)
    try:
        raw, letterbox = infer_image(model, image.pixels)
        sanity = check_outputs(raw.outputs, raw.input_hw)
        # Garbage is never decoded: noise would hand thousands of boxes to NMS.
        faces = count_faces(model, raw, letterbox, image.pixels.shape[:2]) if sanity.sane else None
    except ServiceError as exc:
        return _finish(result, start, f"the probe's inference failed: {exc.message}")
    result.update(engine_ms=round(raw.timings_ms["inference"], 2), sane=sanity.sane, problems=list(sanity.problems),
                  max_score=None if sanity.max_score is None else round(sanity.max_score, 4), faces=faces)
    if not sanity.sane:
        return _finish(result, start, "the outputs are not sane: " + sanity.summary())
    if expected_faces is not None and faces != expected_faces:
        return _finish(result, start, f"found {faces} faces on health.probe_image, expected {expected_faces}")
    return _finish(result, start, None)


def infer_image(model: SCRFDModel, pixels: np.ndarray) -> tuple[RawInference, Letterbox]:
    """An image's raw outputs, letterboxed as a request's would be, and the letterbox."""
    letterbox = model.letterbox(pixels.shape[:2])
    return model.infer(letterbox.apply(pixels)), letterbox


def count_faces(model: SCRFDModel, raw: RawInference, letterbox: Letterbox, image_hw: tuple[int, int]) -> int:
    """The faces in sane outputs at the config's ``detection.threshold`` and ``nms_threshold``."""
    scale, size = letterbox.back_to(image_hw)
    detection = model.config.detection
    return len(postprocess(raw.outputs, input_hw=raw.input_hw, scale=scale, image_size=size,
                           threshold=detection.threshold, nms_threshold=detection.nms_threshold))


def _skeleton(model: SCRFDModel, image: ProbeImage, expected_faces: int | None) -> dict[str, Any]:
    """A probe object with nothing measured yet."""
    backend = model.backend
    return {"ok": False, "image": image.source, "backend": backend.name if backend else None, "engine_ms": None,
            "total_ms": 0.0, "sane": None, "problems": [], "max_score": None, "faces": None,
            "expected_faces": expected_faces}


def _finish(result: dict[str, Any], start: float, reason: str | None) -> dict[str, Any]:
    result["total_ms"] = round((time.perf_counter() - start) * 1000.0, 2)
    result["ok"] = reason is None
    if reason is not None:
        result["reason"] = reason
    return result


@dataclass
class _Run:
    """A probe in progress: when it started and the future its callers wait on."""

    started: float
    future: Future


class HealthProbe:
    """Runs :func:`run_probe` for ``/health?deep=1``: one at a time, within a deadline, its result cached."""

    def __init__(self, model: SCRFDModel, section: HealthSection, *, max_pixels: int):
        self.model = model
        self.section = section
        self.image = load_probe_image(section, max_pixels)
        counted = section.probe_expected_faces >= 0
        self.expected_faces = section.probe_expected_faces if counted and section.probe_image else None
        if counted and not section.probe_image:
            log.warning("health.probe_expected_faces is ignored without health.probe_image")
        self.runs = 0  # probes started since start-up
        self._lock = threading.Lock()
        self._running: _Run | None = None
        self._last: tuple[dict[str, Any], float] | None = None  # a result, and when it was taken (monotonic)

    def check(self) -> dict[str, Any]:
        """The probe's verdict: a cached one while fresh, else the running probe's, else a new probe's."""
        timeout = self.section.probe_timeout_s
        with self._lock:
            if not self.model.ready:  # nothing to probe: plain /health already says why (503)
                result = _finish(_skeleton(self.model, self.image, self.expected_faces), time.perf_counter(),
                                 f"not run: the model is not ready ({self.model.state})")
                return {**result, "cached": False, "age_s": 0.0}
            now = time.monotonic()
            if self._last is not None and now - self._last[1] < self.section.probe_cache_s:
                result, taken = self._last
                return {**result, "cached": True, "age_s": round(now - taken, 2)}
            run = self._running
            if run is None:
                run = self._running = _Run(now, Future())
                self.runs += 1
                threading.Thread(target=self._probe, args=(run,), name="scrfd-health-probe", daemon=True).start()
        try:
            result = run.future.result(timeout=max(0.0, run.started + timeout - time.monotonic()))
        except FutureTimeout:
            result = self._timed_out(run, timeout)
        return {**result, "cached": False, "age_s": 0.0}

    def _probe(self, run: _Run) -> None:
        try:
            result = run_probe(self.model, self.image, self.expected_faces)
        except Exception as exc:  # a bug must fail the probe, not leave its callers waiting
            log.exception("the health probe raised")
            result = _finish(_skeleton(self.model, self.image, self.expected_faces), time.perf_counter(),
                             f"the probe raised {type(exc).__name__}")
        limit = self.section.probe_timeout_s
        if result["ok"] and result["total_ms"] > limit * 1000.0:  # it passed, but its callers gave up on it
            result.update(ok=False, reason=f"the probe took {result['total_ms'] / 1000.0:.2f} s, more than "
                                           f"health.probe_timeout_s ({limit:g} s)")
        if not result["ok"]:
            log.warning("deep health probe failed: %s", result["reason"])
        with self._lock:
            self._running = None
            self._last = (result, time.monotonic())
        run.future.set_result(result)

    def _timed_out(self, run: _Run, timeout: float) -> dict[str, Any]:
        """The verdict at the deadline of a probe still running; cached, so the next callers get it at once."""
        elapsed = time.monotonic() - run.started
        reason = (f"the probe did not finish within {timeout:g} s (running for {elapsed:.1f} s): the device "
                  "hangs or the inference queue is backed up")
        result = _finish(_skeleton(self.model, self.image, self.expected_faces), time.perf_counter() - elapsed,
                         reason)
        with self._lock:
            if self._running is run:  # else it finished meanwhile, and cached its own result
                self._last = (result, time.monotonic())
        log.warning("deep health probe failed: %s", reason)
        return result
