"""Inference backends, chosen by a type key: one small module per engine."""

from __future__ import annotations

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
    """Every engine is built the same way: ``cls(model_path, its own config section, inference timeout)``;
    ONNX models go through ``model.precision`` first (:mod:`.precision`)."""
    kind = choose_backend(config.model.backend, model_path)
    if kind == "onnx":
        from .precision import create_onnx

        return create_onnx(config, model_path)
    if kind == "hailo" and config.model.fallback:
        from .fallback import create_fallback_backend
        return create_fallback_backend(config, model_path)
    return backend_class(kind)(model_path, getattr(config, kind), config.performance.inference_timeout_s)


__all__ = ["Backend", "InputSpec", "BACKENDS", "backend_class", "choose_backend", "create_backend"]
