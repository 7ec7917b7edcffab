"""Faces from response JSON back to arrays, for comparing responses with direct calls."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from hailo_scrfd.pipeline.response import LANDMARK_NAMES
from hailo_scrfd.vision.detections import Detections


def faces_from_json(faces: Iterable[dict[str, Any]]) -> Detections:
    """The inverse of ``faces_to_json`` (up to its rounding)."""
    faces = list(faces)
    if not faces:
        return Detections.empty()
    xywh = np.array([f["bbox"] for f in faces], dtype=np.float32)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    scores = np.array([f["score"] for f in faces], dtype=np.float32)
    kps = np.array([[f["landmarks"][n] for n in LANDMARK_NAMES] for f in faces], dtype=np.float32)
    return Detections(boxes, scores, kps)
