"""`Detections`, faces as one frozen dataclass of parallel arrays, and vectorised box utilities.

Modelled on supervision's ``Detections`` and ``iou_and_nms``: every array has one row
per face, a boolean mask or index array selects faces, and the box functions work on
whole ``(N, 4)`` arrays at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

NUM_LANDMARKS = 5


@dataclass(frozen=True)
class Detections:
    """Faces: ``xyxy (N, 4)`` boxes, ``scores (N,)``, ``landmarks (N, 5, 2)`` as x, y."""

    xyxy: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.scores.ndim != 1:
            raise ValueError(f"scores must be (N,), got {self.scores.shape}")
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must be ({n}, 4), got {self.xyxy.shape}")
        if self.landmarks.shape != (n, NUM_LANDMARKS, 2):
            raise ValueError(f"landmarks must be ({n}, {NUM_LANDMARKS}, 2), got {self.landmarks.shape}")

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32),
                   np.zeros((0, NUM_LANDMARKS, 2), np.float32))

    @classmethod
    def merge(cls, parts: Sequence["Detections"]) -> "Detections":
        """All faces of ``parts``, concatenated in order."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.xyxy for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.landmarks for p in parts]))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Detections":
        """Select faces with a numpy index (boolean mask, index array or slice)."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Detections(self.xyxy[index], self.scores[index], self.landmarks[index])

    def with_nms(self, iou_threshold: float) -> "Detections":
        """The faces that survive greedy non-maximum suppression, highest score first."""
        return self[nms(self.xyxy, self.scores, iou_threshold)]

    def scaled(self, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> "Detections":
        """Coordinates multiplied by (sx, sy), then shifted by (dx, dy)."""
        factor = np.array([sx, sy], np.float32)
        shift = np.array([dx, dy], np.float32)
        xyxy = self.xyxy * np.tile(factor, 2) + np.tile(shift, 2)
        return Detections(xyxy.astype(np.float32), self.scores, (self.landmarks * factor + shift).astype(np.float32))

    @property
    def areas(self) -> np.ndarray:
        return box_areas(self.xyxy)

    @property
    def xywh(self) -> np.ndarray:
        """Boxes as COCO ``[x, y, width, height]``."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out


NMS_MATRIX_MAX = 512  # an (N, N) float64 IoU matrix (and its temporaries): 2 MiB each at this size


def box_areas(xyxy: np.ndarray) -> np.ndarray:
    """Areas of xyxy boxes; degenerate boxes have area 0."""
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in ``a`` (N, 4) with every box in ``b`` (M, 4): an (N, M) matrix."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box exceeds
    ``iou_threshold``. Up to :data:`NMS_MATRIX_MAX` boxes, the IoUs come from one
    :func:`box_iou` matrix (a crowd's hundreds of candidates in one call); above it, one
    row per kept box, so memory stays linear. Both give the same boxes.
    """
    order = np.argsort(-scores, kind="stable")
    if order.size <= NMS_MATRIX_MAX:
        boxes = xyxy[order]
        iou = box_iou(boxes, boxes)
        suppressed = np.zeros(order.size, dtype=bool)
        keep = []
        for i in range(order.size):
            if not suppressed[i]:
                keep.append(order[i])
                suppressed |= iou[i] > iou_threshold
        return np.asarray(keep, dtype=np.int64)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        if rest.size == 0:
            break
        iou = box_iou(xyxy[i:i + 1], xyxy[rest])[0]
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def clip_boxes(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """A copy of ``xyxy`` clipped to a ``width`` x ``height`` image."""
    out = xyxy.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out
