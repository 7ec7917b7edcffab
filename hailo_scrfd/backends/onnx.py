"""SCRFD on ONNX Runtime: CUDA when the installed build offers it, else the CPU."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..errors import ModelLoadError
from ..scrfd import StrideOutput
from .base import Backend, InputSpec, canonical_outputs, check_model_file

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
INPUT_MEAN, INPUT_STD = 127.5, 128.0


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when this onnxruntime build has it, then the CPU, which every build has.

    ONNX Runtime itself falls back to the next provider when CUDA cannot initialise (no
    driver, no GPU), so the backend name reports the provider actually in use.
    """
    return [p for p in PREFERRED_PROVIDERS if p in available] or list(available)


class OnnxBackend(Backend):
    kind = "onnx"

    def __init__(self, model_path: str, *, input_size: int = 640, threads: int = 0):
        import onnxruntime as ort

        check_model_file(model_path, (".onnx",))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        providers = choose_providers(ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(model_path, sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot load ONNX model {model_path}: {reason}") from None

        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelLoadError(f"{model_path} is not an SCRFD model: expected one NCHW input")
        _, _, h, w = inputs[0].shape
        self.input_spec = InputSpec(h if isinstance(h, int) else input_size, w if isinstance(w, int) else input_size)
        self._input_name = inputs[0].name
        self.name = f"onnxruntime:{self._session.get_providers()[0]}"
        self.model_path = model_path
        try:
            self.infer(self.prepare(np.zeros((*self.input_spec.hw, 3), np.uint8)))
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{model_path} is not a usable SCRFD model: {exc}") from None
        log.info("loaded %s on %s, input %dx%d", model_path, self.name, self.input_spec.width, self.input_spec.height)

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        # (x - 127.5) / 128 and HWC -> NCHW in one native pass; 1/128 is exact in binary.
        return cv2.dnn.blobFromImage(canvas, 1.0 / INPUT_STD, mean=(INPUT_MEAN,) * 3, swapRB=False)

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        outputs = self._session.run(None, {self._input_name: tensor})
        return canonical_outputs([o.reshape(-1, o.shape[-1]) for o in outputs], tensor.shape[2:])

    def close(self) -> None:
        self._session = None
