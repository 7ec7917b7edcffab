"""Faces and aligned crops as the response's JSON-ready objects."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..options import AlignOptions
from ..vision.align import encode_crop, estimate_transform, warp
from ..vision.detections import Detections

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


def aligned_crops(image: np.ndarray, faces: Detections, options: AlignOptions) -> list[dict[str, Any]]:
    """Each face's ArcFace-aligned crop (base64, in ``options.format``) and its 2x3 transform."""
    crops = []
    for landmarks in faces.landmarks:
        matrix = estimate_transform(landmarks, options.size)
        crop = encode_crop(warp(image, matrix, options.size), options.format)
        crops.append({
            "image": base64.b64encode(crop).decode("ascii"),
            "format": options.format,
            "size": options.size,
            "transform": [[round(float(v), 6) for v in row] for row in matrix],
        })
    return crops


def round_timings(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}
