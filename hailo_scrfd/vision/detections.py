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


# np.maximum/np.minimum rather than np.clip throughout: the same values, without np.clip's Python-level
# dispatch, which cost more than the arithmetic on a request's few dozen boxes.


def box_areas(xyxy: np.ndarray) -> np.ndarray:
    """Areas of xyxy boxes; degenerate boxes have area 0."""
    wh = np.maximum(xyxy[:, 2:] - xyxy[:, :2], 0)
    return wh[:, 0] * wh[:, 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in ``a`` (N, 4) with every box in ``b`` (M, 4): an (N, M) matrix."""
    inter, union = _intersection_union(a, b)
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def _intersection_union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (N, M) intersection and union areas of the boxes of ``a`` and ``b``."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(bottom_right - top_left, 0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = box_areas(a)
    area_b = area_a if b is a else box_areas(b)
    return inter, area_a[:, None] + area_b[None, :] - inter


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box exceeds
    ``iou_threshold`` (evaluated as intersection > threshold x union, in float64).
    Up to :data:`NMS_MATRIX_MAX` boxes, the overlaps come from one matrix (a crowd's
    hundreds of candidates in one call); above it, one row per kept box, so memory stays
    linear. Both give the same boxes.
    """
    order = np.argsort(-scores, kind="stable")
    if order.size <= NMS_MATRIX_MAX:
        boxes = xyxy[order]
        inter, union = _intersection_union(boxes, boxes)
        return order[_greedy(_overlaps(inter, union, iou_threshold))]
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        if rest.size == 0:
            break
        inter, union = _intersection_union(xyxy[i:i + 1], xyxy[rest])
        order = rest[~_overlaps(inter[0], union[0], iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def _overlaps(inter: np.ndarray, union: np.ndarray, iou_threshold: float) -> np.ndarray:
    """IoU > ``iou_threshold`` as inter > t x union, in float64 as box_iou divides: no division, which with its
    zero-union guard was a third of NMS's cost with the caches cold after an engine run. A zero union has a
    zero intersection, so such a pair never overlaps, as box_iou gives it IoU 0."""
    return inter > union.astype(np.float64) * iou_threshold


def _greedy(over: np.ndarray) -> np.ndarray:
    """Greedy suppression on an ``(N, N)`` "overlaps too much" matrix of boxes sorted by score: the rows kept,
    each kept unless an earlier kept row overlaps it.

    Each kept row becomes one Python integer bit mask, so the loop costs a few integer operations per box
    instead of a numpy call per box: a request's few dozen candidates take microseconds.
    """
    n = len(over)
    width = -(-n // 8)
    packed = np.packbits(over, axis=1, bitorder="little").tobytes()
    suppressed, keep = 0, []
    for i in range(n):
        if not suppressed >> i & 1:
            keep.append(i)
            suppressed |= int.from_bytes(packed[i * width:(i + 1) * width], "little")
    return np.asarray(keep, dtype=np.intp)


def clip_boxes(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """A copy of ``xyxy`` clipped to a ``width`` x ``height`` image."""
    return np.minimum(np.maximum(xyxy, 0), np.array([width, height, width, height], dtype=xyxy.dtype))
