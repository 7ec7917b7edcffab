"""The backend interface: one model on one inference engine, knowing nothing of HTTP.

A backend takes the uint8 RGB input canvas, turns it into whatever its engine wants
(:meth:`Backend.prepare`), runs it (:meth:`Backend.infer`, on the calling thread, at most
``max_in_flight`` at once: the inference worker admits them) and returns the canonical
per-stride layout that :mod:`hailo_scrfd.vision.scrfd` decodes. :meth:`Backend.close` must end
the runs in flight (the worker's timeout relies on it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from ..errors import ModelLoadError
from ..vision.scrfd import STRIDES, Quant, StrideOutput

# Channel count of each canonical output: scores, box distances, landmark offsets.
SCORE_C, BOX_C, KPS_C = 1, 4, 10


@dataclass(frozen=True)
class InputSpec:
    """The input the network takes: height and width in pixels; when ``dynamic``, the most it
    takes, and any smaller multiple of 32 works too."""

    height: int
    width: int
    dynamic: bool = False

    @property
    def hw(self) -> tuple[int, int]:
        return self.height, self.width


class Backend(ABC):
    """One loaded SCRFD model on one engine."""

    kind: ClassVar[str]
    name: str           # shown in /health and responses, e.g. "onnxruntime:CPUExecutionProvider"
    input_spec: InputSpec
    max_in_flight: int = 1  # frames the engine can work on at once: runs the worker lets in together
    max_batch: int = 1      # frames the worker may hand over as one batch (infer_batch)

    @abstractmethod
    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        """Turn the uint8 ``(H, W, 3)`` RGB canvas into this engine's input tensor."""

    @abstractmethod
    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        """Run one input; outputs in the canonical layout, strides ascending."""

    def infer_batch(self, tensors: Sequence[np.ndarray]) -> list[list[StrideOutput]]:
        """Run several inputs (each as :meth:`prepare` made it); engines without batching run them in turn."""
        return [self.infer(t) for t in tensors]

    def close(self) -> None:  # noqa: B027 - optional hook, most engines free themselves
        """Release the engine; the backend is unusable afterwards."""


def canonical_outputs(tensors: Sequence[np.ndarray], input_hw: tuple[int, int],
                      strides: Sequence[int] = STRIDES,
                      quant: Sequence[Quant] | None = None) -> list[StrideOutput]:
    """Map raw outputs to per-stride :class:`StrideOutput`, by shape alone.

    ``tensors`` are 2-D ``(rows, channels)`` arrays in any order: channels tell scores
    (1), boxes (4) and landmarks (10) apart, and within each kind the row count falls as
    the stride grows. Names are never consulted, since exports name outputs differently.
    ``quant``, parallel to ``tensors``, gives each one's (scale, zero_point) when they
    are quantized.
    """
    groups: dict[int, list[tuple[np.ndarray, Quant | None]]] = {SCORE_C: [], BOX_C: [], KPS_C: []}
    for i, t in enumerate(tensors):
        if t.ndim != 2 or t.shape[1] not in groups:
            raise ValueError(f"unexpected SCRFD output shape {t.shape}")
        groups[t.shape[1]].append((t, quant[i] if quant is not None else None))
    if groups[KPS_C] == [] and len(groups[SCORE_C]) == len(strides):
        raise ValueError("the model has no landmark outputs: use an SCRFD export with keypoints (*_bnkps / *_kps)")
    for c, arrays in groups.items():
        if len(arrays) != len(strides):
            raise ValueError(f"expected {len(strides)} outputs with {c} channel(s), got {len(arrays)}")
        arrays.sort(key=lambda pair: len(pair[0]), reverse=True)
    height, width = input_hw
    result = []
    for i, stride in enumerate(strides):
        (scores, q_scores), (boxes, q_boxes) = groups[SCORE_C][i], groups[BOX_C][i]
        landmarks, q_landmarks = groups[KPS_C][i]
        cells = (height // stride) * (width // stride)
        if not (len(scores) == len(boxes) == len(landmarks)) or len(scores) not in (cells, 2 * cells):
            raise ValueError(f"stride {stride} outputs have {len(scores)}/{len(boxes)}/{len(landmarks)} rows, "
                             f"not 1 or 2 anchors for each of the {cells} cells of a {width}x{height} input")
        q = (q_scores, q_boxes, q_landmarks) if quant is not None else None
        result.append(StrideOutput(stride, scores[:, 0], boxes, landmarks, q))
    return result


def check_model_file(path: str, suffixes: tuple[str, ...]) -> None:
    """A clear one-line error for a model path that cannot possibly load."""
    import os

    if not path:
        raise ModelLoadError("no model given: pass --model, set model.path in the config, or set HAILO_SCRFD_MODEL")
    if not os.path.exists(path):
        raise ModelLoadError(f"model file not found: {path}")
    if not os.path.isfile(path):
        raise ModelLoadError(f"model path is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise ModelLoadError(f"model file is not readable by this user: {path}")
    if not path.lower().endswith(suffixes):
        raise ModelLoadError(f"model file {path} is not a {' or '.join(suffixes)} file")
