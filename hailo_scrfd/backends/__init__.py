"""Inference backends, chosen by a type key: one small module per engine."""

from __future__ import annotations

import importlib
import logging

from ..config import SCRFDServiceConfig
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
    kind = choose_backend(config.model.backend, model_path)
    cls = backend_class(kind)
    if kind == "onnx":
        return cls(model_path, input_size=config.model.input_size, threads=config.performance.inference_threads,
                   dynamic=config.detection.input_mode == "fit", spinning=config.performance.inference_spinning,
                   concurrency=config.performance.inference_concurrency)
    if config.model.fallback:
        from .fallback import create_fallback_backend
        return create_fallback_backend(config, model_path)
    return cls(model_path, config=config)


__all__ = ["Backend", "InputSpec", "BACKENDS", "backend_class", "choose_backend", "create_backend"]
