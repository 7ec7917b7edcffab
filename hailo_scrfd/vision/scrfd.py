"""SCRFD post-processing in pure numpy: anchors, distance decode, threshold, NMS, rescale.

Backends hand over one canonical layout, a :class:`StrideOutput` per stride holding
``scores (N,)``, ``boxes (N, 4)`` and ``landmarks (N, 10)`` in stride units, anchor-major
within each feature-map cell: float32, or quantized integers with their
``(scale, zero_point)`` so that only the rows that pass the threshold are ever
dequantized. Nothing here knows where those came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from .detections import Detections, clip_boxes

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2


Quant = tuple[float, float]  # (scale, zero_point): value = (q - zero_point) * scale


@dataclass(frozen=True)
class StrideOutput:
    """Raw network outputs for one stride, in the canonical layout."""

    stride: int
    scores: np.ndarray  # (N,) sigmoid scores
    boxes: np.ndarray   # (N, 4) distances left, top, right, bottom in stride units
    landmarks: np.ndarray  # (N, 10) x, y offsets of the 5 landmarks in stride units
    quant: tuple[Quant, Quant, Quant] | None = None  # for scores, boxes, landmarks when they are quantized


def dequantize(values: np.ndarray, quant: Quant | None) -> np.ndarray:
    """Float32 values of a (possibly) quantized array."""
    if quant is None:
        return values
    scale, zero_point = quant
    return (values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


@lru_cache(maxsize=64)
def anchor_centers(height: int, width: int, stride: int, num_anchors: int = NUM_ANCHORS) -> np.ndarray:
    """Anchor centres ``(H/s * W/s * A, 2)`` as x, y in input pixels, anchor-major within a cell.

    Cached per input size: the arrays are read-only and shared between requests.
    """
    fh, fw = height // stride, width // stride
    ys, xs = np.mgrid[:fh, :fw]
    centers = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    if num_anchors > 1:
        centers = np.repeat(centers, num_anchors, axis=0)
    centers.setflags(write=False)
    return centers


_SIDES = np.array([-1, -1, 1, 1], np.float32)  # left and top distances run back from the centre


def distance2bbox(centers: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Boxes ``x1, y1, x2, y2`` from anchor centres and left/top/right/bottom distances (pixels)."""
    return np.concatenate([centers, centers], axis=1) + distances[:, :4] * _SIDES


def distance2kps(centers: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Landmarks ``(N, K, 2)`` from anchor centres and ``(N, 2K)`` x/y offsets (pixels)."""
    return centers[:, None, :] + offsets.reshape(len(offsets), -1, 2)


def decode(outputs: Sequence[StrideOutput], input_hw: tuple[int, int], threshold: float) -> Detections:
    """Faces scoring at least ``threshold``, in input-tensor pixels, before NMS."""
    height, width = input_hw
    boxes, scores, landmarks = [], [], []
    for out in outputs:
        q_scores, q_boxes, q_landmarks = out.quant or (None, None, None)
        all_scores = dequantize(out.scores, q_scores)
        keep = (all_scores >= threshold).nonzero()[0]
        if keep.size == 0:
            continue
        cells = (height // out.stride) * (width // out.stride)
        centers = anchor_centers(height, width, out.stride, len(out.scores) // cells)[keep]
        boxes.append(distance2bbox(centers, dequantize(out.boxes[keep], q_boxes) * out.stride))
        landmarks.append(distance2kps(centers, dequantize(out.landmarks[keep], q_landmarks) * out.stride))
        scores.append(all_scores[keep])
    if not scores:
        return Detections.empty()
    if len(scores) == 1:
        return Detections(boxes[0], scores[0], landmarks[0])
    return Detections(np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks))


def postprocess(outputs: Sequence[StrideOutput], *, input_hw: tuple[int, int], scale: tuple[float, float],
                image_size: tuple[int, int], threshold: float, nms_threshold: float) -> Detections:
    """Decode, NMS and map back to the original image: the faces of one input, by score.

    ``scale`` is (sx, sy), original-image pixels to input pixels; ``image_size`` is
    (width, height). Boxes are clipped to the image, landmarks are not (alignment
    needs them even when a face runs off the edge). Which of them a request keeps
    (``min_face_size``, ``max_faces`` by ``order``) is the pipeline's selection.
    """
    faces = decode(outputs, input_hw, threshold)
    if len(faces) == 0:
        return faces
    faces = faces.with_nms(nms_threshold)
    sx, sy = scale
    boxes = clip_boxes(faces.xyxy / np.array([sx, sy, sx, sy], dtype=np.float32), *image_size)
    landmarks = faces.landmarks / np.array([sx, sy], dtype=np.float32)
    return Detections(boxes, faces.scores, landmarks)
