"""``model.precision``: the FP32 export as given, its INT8 version, or whichever ran faster at start-up."""

from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import ModelLoadError
from ..system.config import SCRFDServiceConfig
from .base import check_model_file
from .onnx import OnnxBackend
from .onnx_quantize import cache_path, find_quantized

log = logging.getLogger(__name__)

AUTO_ROUNDS = 2  # interleaved FP32/INT8 pairs timed by auto, after each one's warm-up run at load


def create_onnx(config: SCRFDServiceConfig, model_path: str) -> OnnxBackend:
    """The ONNX backend at ``config.model.precision``; ``int8`` without a cached INT8 version is an error
    that says how to make one, ``auto`` without one runs FP32."""
    precision, section, timeout = config.model.precision, config.onnx, config.performance.inference_timeout_s
    check_model_file(model_path, (".onnx",))  # the one-line errors, before any hashing
    if precision == "fp32":
        return OnnxBackend(model_path, section, timeout)
    int8_path = find_quantized(model_path)
    if int8_path is None:
        if precision == "int8":
            raise ModelLoadError(f"model.precision is int8 but {model_path} has no INT8 version in "
                                 f"{cache_path(model_path).parent}: make one with  hailo-scrfd quantize "
                                 f"{model_path} --calibration DIR_OF_PHOTOS")
        log.info("model.precision auto: no INT8 version of %s (hailo-scrfd quantize makes one): FP32", model_path)
        return OnnxBackend(model_path, section, timeout)
    int8 = _int8(OnnxBackend(str(int8_path), section, timeout))
    if precision == "int8":
        log.info("model.precision int8: %s", int8_path)
        return int8
    fp32 = OnnxBackend(model_path, section, timeout)
    t8, t32 = engine_times(int8, fp32)
    keep, drop = (int8, fp32) if t8 < t32 else (fp32, int8)
    log.info("model.precision auto: INT8 %.1f ms, FP32 %.1f ms per image here: using %s", t8, t32,
             "INT8 (" + str(int8_path) + ")" if keep is int8 else "FP32")
    drop.close()
    return keep


def _int8(backend: OnnxBackend) -> OnnxBackend:
    backend.name += " int8"
    return backend


def engine_times(a: OnnxBackend, b: OnnxBackend, rounds: int = AUTO_ROUNDS) -> tuple[float, float]:
    """The fastest ms per run of ``a`` and ``b`` (the least disturbed by other work), interleaved so that load
    from elsewhere hits both alike, on a 3:2 photo's fit-mode input."""
    height, width = a.input_spec.hw
    hw = (max(32, height * 2 // 3 // 32 * 32), width) if a.input_spec.dynamic else (height, width)
    tensors = [backend.prepare(np.zeros((*hw, 3), np.uint8)) for backend in (a, b)]
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for backend, tensor, out in zip((a, b), tensors, times, strict=True):
            start = time.perf_counter()
            backend.infer(tensor)
            out.append((time.perf_counter() - start) * 1000.0)
    return min(times[0]), min(times[1])
