"""Inference backends, chosen by a type key: one small module per engine."""

from __future__ import annotations

import dataclasses
import importlib
import logging

from ..system.config import SCRFDServiceConfig
from ..errors import ModelLoadError
from .base import Backend, InputSpec

log = logging.getLogger(__name__)

# key -> "module:Class", imported only when chosen, so an engine's library is needed only where it runs.
BACKENDS = {
    "onnx": "hailo_scrfd.backends.onnx:OnnxBackend",
    "hailo": "hailo_scrfd.backends.hailo:HailoBackend",
}


def backend_class(kind: str) -> type[Backend]:
    try:
        module_name, class_name = BACKENDS[kind].split(":")
    except KeyError:
        raise ModelLoadError(f"unknown backend '{kind}': choose one of auto, {', '.join(BACKENDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def choose_backend(requested: str, model_path: str) -> str:
    """The backend key for ``--backend auto|onnx|hailo`` and a model file.

    ``auto`` runs a .hef on the Hailo backend (only it can; without hailo_platform or a
    device that backend says which is missing) and anything else on ONNX Runtime.
    """
    if requested != "auto":
        return requested
    return "hailo" if model_path.lower().endswith(".hef") else "onnx"


def create_backend(config: SCRFDServiceConfig, model_path: str) -> Backend:
    """Every engine is built the same way: ``cls(model_path, its own config section, inference timeout)``, the NPU
    under ``model.fallback`` with half of it; ONNX models go through ``model.precision`` first (:mod:`.precision`)."""
    kind = choose_backend(config.model.backend, model_path)
    if kind == "onnx":
        from .precision import create_onnx

        return create_onnx(config, model_path)
    timeout_s = config.performance.inference_timeout_s
    if kind == "hailo" and config.model.fallback:
        timeout_s /= 2  # a hung NPU call must fail, and move to the CPU, well before the request's own timeout
    return backend_class(kind)(model_path, getattr(config, kind), timeout_s)


def create_fallback_backend(config: SCRFDServiceConfig) -> Backend:
    """``config.model.fallback`` on ONNX Runtime, served on the CPU while the Hailo device is away. It runs the
    HEF's fixed 640x640 input, so a request's canvas fits whichever engine runs it; model.precision applies to it
    as to any ONNX model (INT8 when one was made with `quantize`)."""
    from .precision import create_onnx

    fixed = dataclasses.replace(config, onnx=dataclasses.replace(config.onnx, input_mode="fixed"))
    return create_onnx(fixed, config.model.fallback)


__all__ = ["Backend", "InputSpec", "BACKENDS", "backend_class", "choose_backend", "create_backend",
           "create_fallback_backend"]
