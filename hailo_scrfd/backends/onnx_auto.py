"""``model.precision: auto`` with no INT8 version yet: serve FP32 at once, make INT8 in the background, swap.

:class:`SwappingBackend` answers every run on the FP32 backend while a low-priority (nice 19) child process
runs ``hailo-scrfd quantize MODEL --synthetic``: calibration on procedurally drawn scenes
(:mod:`.onnx_synthetic`), no photo needed. The result is cached in the model dir like any INT8 version, so later
starts load it directly. Before it serves, the INT8 model must find the same faces as FP32 (IoU >= 0.9) on
scenes calibration never saw, and run faster here (interleaved timing); then runs that start afterwards go to
INT8, runs in flight finish on FP32, and the FP32 session is closed once the last one is done. No request
fails or waits for the swap.
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import sys
import threading
from typing import Callable

import numpy as np

from ..vision.detections import box_iou
from ..vision.sanity import synthetic_probe_image
from ..vision.scrfd import postprocess
from .base import Backend
from .onnx_synthetic import SEED, synthetic_canvases

log = logging.getLogger(__name__)

AUTO_ENV = "HAILO_SCRFD_AUTO_INT8"  # "off" acts as model.auto_int8: off (the test suite sets it)
CHECK_SCENES = 12  # held-out scenes (another seed) for the check against FP32, plus the probe's scene
THRESHOLD, DRIFT, SAME_FACE_IOU = 0.5, 0.05, 0.9
HINT = "make one from your photos with  hailo-scrfd quantize {model} --calibration DIR_OF_PHOTOS"


def auto_int8(config) -> str:
    """How auto makes a missing INT8 version: ``synthetic`` or ``off``."""
    if os.environ.get(AUTO_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return "off"
    return config.model.auto_int8


class SwappingBackend(Backend):
    """Runs on ``first`` until :meth:`swap` hands over another backend of the same input."""

    kind = "onnx"

    def __init__(self, first: Backend, precision: dict):
        self._current = first
        self.input_spec, self.max_in_flight, self.max_batch = first.input_spec, first.max_in_flight, first.max_batch
        self.precision = precision
        self._cond = threading.Condition()
        self._users: dict[int, int] = {}
        self.closed = threading.Event()
        self.child: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return self._current.name

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        return self._current.prepare(canvas)

    def _run(self, call: Callable[[Backend], object]):
        with self._cond:
            backend = self._current
            self._users[id(backend)] = self._users.get(id(backend), 0) + 1
        try:
            return call(backend)
        finally:
            with self._cond:
                self._users[id(backend)] -= 1
                self._cond.notify_all()

    def infer(self, tensor):
        return self._run(lambda b: b.infer(tensor))

    def infer_batch(self, tensors):
        return self._run(lambda b: b.infer_batch(tensors))

    def swap(self, backend: Backend, precision: dict) -> bool:
        """Later runs go to ``backend``; the old one is closed once its runs in flight are done. False (and
        ``backend`` closed) when this backend was closed meanwhile."""
        with self._cond:
            if self.closed.is_set():
                backend.close()
                return False
            old, self._current, self.precision = self._current, backend, precision
            self._cond.wait_for(lambda: self._users.get(id(old), 0) == 0)
            self._users.pop(id(old), None)
        old.close()
        release_freed_memory()
        return True

    def close(self) -> None:
        self.closed.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()
        self._current.close()


def release_freed_memory() -> None:
    """Hand the heap the closed FP32 session freed back to the system (glibc's ``malloc_trim``): without it
    the process keeps that memory, and its RSS stays at both models' size until it restarts."""
    try:
        ctypes.CDLL(None).malloc_trim(ctypes.c_size_t(0))
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows): nothing to do
        pass


def quantize_in_background(model_path: str) -> subprocess.Popen:
    """``hailo-scrfd quantize MODEL --synthetic`` as a child process at the lowest CPU priority."""
    child = subprocess.Popen([sys.executable, "-m", "hailo_scrfd", "quantize", model_path, "--synthetic"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:  # before it has started ONNX Runtime's threads, which inherit the priority
        os.setpriority(os.PRIO_PROCESS, child.pid, 19)
    except OSError:
        pass
    return child


def check_scenes(input_hw: tuple[int, int]) -> list[np.ndarray]:
    """Canvases for the check: scenes drawn from another seed than calibration's, and the probe's scene."""
    scenes = list(synthetic_canvases(input_hw, CHECK_SCENES, seed=SEED + 1))
    probe = synthetic_probe_image(input_hw[1], input_hw[0] * 3 // 4)
    canvas = np.zeros((*input_hw, 3), np.uint8)
    canvas[:probe.shape[0], :probe.shape[1]] = probe
    return scenes + [canvas]


def same_faces(fp32: Backend, int8: Backend) -> tuple[bool, str]:
    """Whether ``int8`` finds every face ``fp32`` finds at the default threshold (and no other) at IoU >= 0.9,
    on :func:`check_scenes`; and a line that says how it went."""
    hw = fp32.input_spec.hw
    compared = 0
    for i, canvas in enumerate(check_scenes(hw)):
        a, b = (_faces(backend, canvas, THRESHOLD - DRIFT) for backend in (fp32, int8))
        sure_a, sure_b = a.scores >= THRESHOLD + DRIFT, b.scores >= THRESHOLD + DRIFT
        if not sure_a.any() and not sure_b.any():
            continue
        if not len(a) or not len(b):
            return False, f"scene {i}: FP32 finds {len(a)} faces, INT8 {len(b)}"
        iou = box_iou(a.xyxy, b.xyxy)
        worst = min(iou.max(axis=1)[sure_a].min(initial=1.0), iou.max(axis=0)[sure_b].min(initial=1.0))
        if worst < SAME_FACE_IOU:
            return False, f"scene {i}: a face at IoU {worst:.2f} < {SAME_FACE_IOU}"
        compared += int(sure_a.sum())
    if compared == 0:
        return False, "no face to compare on the check scenes"
    return True, f"{compared} faces on {CHECK_SCENES + 1} scenes calibration did not see, all at IoU >= {SAME_FACE_IOU}"


def _faces(backend: Backend, canvas: np.ndarray, threshold: float):
    hw = canvas.shape[:2]
    outputs = backend.infer(backend.prepare(canvas))
    return postprocess(outputs, input_hw=hw, scale=(1.0, 1.0), image_size=(hw[1], hw[0]), threshold=threshold,
                       nms_threshold=0.4)
