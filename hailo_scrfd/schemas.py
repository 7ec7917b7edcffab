"""Faces to response JSON, and back (for the client and tests)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .scrfd import Detections

# SCRFD's keypoint order. "left" means the image's left, not the subject's.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def faces_to_json(faces: Detections) -> list[dict[str, Any]]:
    """Faces as ``{"bbox": [x, y, w, h], "score", "landmarks": {name: [x, y]}}``, in the given order."""
    return [
        {
            "bbox": [_r(v) for v in box],
            "score": _r(score, 5),
            "landmarks": {name: [_r(x), _r(y)] for name, (x, y) in zip(LANDMARK_NAMES, kps, strict=True)},
        }
        for box, score, kps in zip(faces.xywh, faces.scores, faces.landmarks, strict=True)
    ]


def faces_from_json(faces: Iterable[dict[str, Any]]) -> Detections:
    """The inverse of :func:`faces_to_json` (up to its rounding)."""
    faces = list(faces)
    if not faces:
        return Detections.empty()
    xywh = np.array([f["bbox"] for f in faces], dtype=np.float32)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    scores = np.array([f["score"] for f in faces], dtype=np.float32)
    kps = np.array([[f["landmarks"][n] for n in LANDMARK_NAMES] for f in faces], dtype=np.float32)
    return Detections(boxes, scores, kps)


def round_timings(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
