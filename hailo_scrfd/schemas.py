"""Faces to response JSON, and back (for the client and tests)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .scrfd import Detections

# SCRFD's keypoint order. "left" means the image's left, not the subject's.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def faces_to_json(faces: Detections) -> list[dict[str, Any]]:
    """Faces as ``{"bbox": [x, y, w, h], "score", "landmarks": {name: [x, y]}}``, in the given order."""
    # Round in numpy and convert once: a crowd of 150 faces costs 0.2 ms, not 1.6.
    boxes = np.round(faces.xywh.astype(np.float64), 3).tolist()
    scores = np.round(faces.scores.astype(np.float64), 5).tolist()
    landmarks = np.round(faces.landmarks.astype(np.float64), 3).tolist()
    return [
        {"bbox": box, "score": score, "landmarks": dict(zip(LANDMARK_NAMES, kps, strict=True))}
        for box, score, kps in zip(boxes, scores, landmarks, strict=True)
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
