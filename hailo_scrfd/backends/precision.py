"""``model.precision``: the FP32 export as given, its INT8 version, or whichever ran faster at start-up."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from ..system.config import SCRFDServiceConfig
from .base import check_model_file
from .onnx import OnnxBackend
from .onnx_cache import _cpu_flags
from .onnx_quantize import cache_path, find_quantized, outdated_quantized

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
        outdated = outdated_quantized(model_path)
        why = (f" (only {', '.join(p.name for p in outdated)}, made by an earlier INT8 recipe, which lost "
               "accuracy on x86 CPUs without VNNI)") if outdated else ""
        if precision == "int8":
            raise ModelLoadError(f"model.precision is int8 but {model_path} has no INT8 version in "
                                 f"{cache_path(model_path).parent}{why}: make one with  hailo-scrfd quantize "
                                 f"{model_path} --calibration DIR_OF_PHOTOS")
        log.info("model.precision auto: no INT8 version of %s%s (hailo-scrfd quantize makes one): FP32",
                 model_path, why)
        return OnnxBackend(model_path, section, timeout)
    decision = decision_path(int8_path, section)
    decided = _read_decision(decision) if precision == "auto" else None
    if decided == "fp32":
        log.info("model.precision auto: FP32, as measured at an earlier start here (%s; delete it to measure "
                 "again)", decision)
        return OnnxBackend(model_path, section, timeout)
    int8 = _int8(OnnxBackend(str(int8_path), section, timeout))
    if precision == "int8" or decided == "int8":
        log.info("model.precision %s: %s%s", precision, int8_path,
                 f" (measured faster at an earlier start here: {decision})" if decided else "")
        return int8
    fp32 = OnnxBackend(model_path, section, timeout)
    t8, t32 = engine_times(int8, fp32)
    keep, drop = (int8, fp32) if t8 < t32 else (fp32, int8)
    log.info("model.precision auto: INT8 %.1f ms, FP32 %.1f ms per image here: using %s", t8, t32,
             "INT8 (" + str(int8_path) + ")" if keep is int8 else "FP32")
    _write_decision(decision, "int8" if keep is int8 else "fp32", t8, t32)
    drop.close()
    return keep


def decision_path(int8_path: Path, section) -> Path:
    """Where auto's measured choice is kept: beside the INT8 file, keyed by this machine, its ONNX Runtime and
    the settings that change the timing, so a start on other hardware or settings measures again."""
    import onnxruntime as ort

    key = hashlib.sha256("|".join((ort.__version__, platform.machine(), _cpu_flags(), section.input_mode,
                                   str(section.input_size), str(section.threads))).encode()).hexdigest()[:16]
    return int8_path.with_name(f"{int8_path.stem}.auto-{key}.json")


def _read_decision(path: Path) -> str | None:
    try:
        choice = json.loads(path.read_text()).get("choice")
    except (OSError, ValueError, AttributeError):
        return None
    return choice if choice in ("int8", "fp32") else None


def _write_decision(path: Path, choice: str, int8_ms: float, fp32_ms: float) -> None:
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"choice": choice, "int8_ms": round(int8_ms, 2), "fp32_ms": round(fp32_ms, 2)}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs the measurement at the next start
        log.warning("model.precision auto: cannot keep the decision in %s: %s", path, exc)


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
