"""``model.precision``: the FP32 export as given, its INT8 version, or whichever ran faster at start-up."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from ..system.config import SCRFDServiceConfig
from .base import check_model_file
from .onnx import OnnxBackend
from .onnx_cache import _cpu_flags
from .onnx_auto import HINT, SwappingBackend, auto_int8, quantize_in_background, same_faces
from .onnx_quantize import META_CALIBRATION, cache_path, find_quantized, outdated_quantized

log = logging.getLogger(__name__)

AUTO_ROUNDS = 2  # interleaved FP32/INT8 pairs timed by auto, after each one's warm-up run at load
BACKGROUND_ROUNDS = 5  # the same after a background quantization: nobody waits for these


def create_onnx(config: SCRFDServiceConfig, model_path: str) -> OnnxBackend:
    """The ONNX backend at ``config.model.precision``; ``int8`` without a cached INT8 version is an error
    that says how to make one, ``auto`` without one runs FP32."""
    precision, section, timeout = config.model.precision, config.onnx, config.performance.inference_timeout_s
    check_model_file(model_path, (".onnx",))  # the one-line errors, before any hashing
    if precision == "fp32":
        return _tagged(OnnxBackend(model_path, section, timeout), "fp32", None)
    int8_path = find_quantized(model_path)
    if int8_path is None:
        return _without_int8(config, model_path)
    decision = decision_path(int8_path, section)
    decided = _read_decision(decision) if precision == "auto" else None
    if decided == "fp32":
        log.info("model.precision auto: FP32, as measured at an earlier start here (%s; delete it to measure "
                 "again)", decision)
        return _tagged(OnnxBackend(model_path, section, timeout), "fp32", None)
    int8 = _int8(OnnxBackend(str(int8_path), section, timeout))
    calibration = int8.precision["calibration"]
    if precision == "int8" or decided == "int8":
        log.info("model.precision %s: INT8 (calibration: %s) %s%s", precision, calibration, int8_path,
                 f" (measured faster at an earlier start here: {decision})" if decided else "")
        return int8
    fp32 = _tagged(OnnxBackend(model_path, section, timeout), "fp32", None)
    t8, t32 = engine_times(int8, fp32)
    keep, drop = (int8, fp32) if t8 < t32 else (fp32, int8)
    log.info("model.precision auto: INT8 %.1f ms, FP32 %.1f ms per image here: using %s", t8, t32,
             f"INT8 (calibration: {calibration}, {int8_path})" if keep is int8 else "FP32")
    _write_decision(decision, "int8" if keep is int8 else "fp32", t8, t32)
    drop.close()
    return keep


def _without_int8(config: SCRFDServiceConfig, model_path: str) -> OnnxBackend:
    """No INT8 version: an error for ``int8``; for ``auto``, FP32, and (unless model.auto_int8 is off) a
    background job that makes the INT8 version from synthetic scenes and swaps it in when it passes."""
    precision, section, timeout = config.model.precision, config.onnx, config.performance.inference_timeout_s
    outdated = outdated_quantized(model_path)
    why = (f" (only {', '.join(p.name for p in outdated)}, made by an earlier INT8 recipe, which lost "
           "accuracy on x86 CPUs without VNNI)") if outdated else ""
    if precision == "int8":
        raise ModelLoadError(f"model.precision is int8 but {model_path} has no INT8 version in "
                             f"{cache_path(model_path).parent}{why}: make one with  hailo-scrfd quantize "
                             f"{model_path} --calibration DIR_OF_PHOTOS")
    fp32 = _tagged(OnnxBackend(model_path, section, timeout), "fp32", None)
    if auto_int8(config) == "off":
        log.info("model.precision auto: no INT8 version of %s%s (hailo-scrfd quantize makes one): FP32",
                 model_path, why)
        return fp32
    log.info("model.precision auto: no INT8 version of %s yet: serving FP32 while it is made from synthetic "
             "scenes in the background (model.auto_int8: off turns this off)", model_path)
    swapping = SwappingBackend(fp32, {"precision": "fp32", "calibration": None, "int8": "quantizing"})
    threading.Thread(target=_make_int8, args=(swapping, fp32, config, model_path), name="scrfd-int8-auto",
                     daemon=True).start()
    return swapping


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


def _write_decision(path: Path, choice: str, int8_ms: float, fp32_ms: float, reason: str = "") -> None:
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"choice": choice, "int8_ms": round(int8_ms, 2), "fp32_ms": round(fp32_ms, 2),
                                   **({"reason": reason} if reason else {})}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs the measurement at the next start
        log.warning("model.precision auto: cannot keep the decision in %s: %s", path, exc)


def _int8(backend: OnnxBackend) -> OnnxBackend:
    """``backend`` on an INT8 file: named so, and tagged with what calibrated it (read from the session, so
    that a start from the cached optimised graph needs no ``import onnx``)."""
    backend.name += " int8"
    return _tagged(backend, "int8", backend.metadata().get(META_CALIBRATION, "photos"))


def _tagged(backend: OnnxBackend, precision: str, calibration: str | None) -> OnnxBackend:
    """What /health says under model.precision: which precision runs, and what calibrated it."""
    backend.precision = {"precision": precision, "calibration": calibration}
    return backend


def _make_int8(swapping: SwappingBackend, fp32: OnnxBackend, config: SCRFDServiceConfig, model_path: str) -> None:
    """The background job: quantize (child process), check against FP32, time both, swap when INT8 wins."""
    hint = HINT.format(model=model_path)
    try:
        swapping.child = child = quantize_in_background(model_path)
        _, err = child.communicate()
        int8_path = find_quantized(model_path)
        if swapping.closed.is_set():
            return
        if child.returncode != 0 or int8_path is None:
            reason = (err or "").strip().splitlines()[-1:] or [f"exit code {child.returncode}"]
            return _stay_fp32(swapping, f"making the INT8 version failed ({reason[0]})", hint)
        section, timeout = config.onnx, config.performance.inference_timeout_s
        int8 = _int8(OnnxBackend(str(int8_path), section, timeout))
        ok, how = same_faces(fp32, int8)
        decision = decision_path(int8_path, section)
        if not ok:
            int8.close()
            _write_decision(decision, "fp32", 0.0, 0.0, f"failed the check against FP32: {how}")
            return _stay_fp32(swapping, f"the INT8 version failed the check against FP32 ({how})", hint)
        t8, t32 = engine_times(int8, fp32, BACKGROUND_ROUNDS)
        _write_decision(decision, "int8" if t8 < t32 else "fp32", t8, t32)
        if t8 >= t32:
            int8.close()
            return _stay_fp32(swapping, f"INT8 {t8:.1f} ms, FP32 {t32:.1f} ms per image here", "")
        if swapping.swap(int8, int8.precision):
            log.info("model.precision auto: the INT8 version (calibration: synthetic) finds the same faces as "
                     "FP32 (%s); INT8 %.1f ms, FP32 %.1f ms per image here: now serving INT8 (%s)", how, t8, t32,
                     int8_path)
    except Exception as exc:  # the service keeps serving FP32 whatever happens here
        _stay_fp32(swapping, f"making the INT8 version failed ({type(exc).__name__}: {exc})", hint)


def _stay_fp32(swapping: SwappingBackend, why: str, hint: str) -> None:
    swapping.precision = {"precision": "fp32", "calibration": None, "int8": why}
    if not swapping.closed.is_set():
        log.warning("model.precision auto: %s: serving FP32%s", why, f"; {hint}" if hint else "")


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
