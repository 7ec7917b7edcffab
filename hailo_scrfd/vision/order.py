"""Which faces come first: the order that ``max_faces`` cuts, and the single best face for enrolment."""

from __future__ import annotations

from typing import Sequence

import numpy as np

ORDERS = ("score", "area", "quality", "center")


def face_order(boxes: np.ndarray, scores: np.ndarray, order: str = "score",
               image_size: tuple[int, int] | None = None,
               quality_scores: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Indices of the faces, first the one to keep; ``max_faces = K`` keeps ``indices[:K]``.

    ``score``: detection score, highest first. ``area``: box area, largest first. ``quality``: overall
    quality score, best first (needs ``quality_scores``). ``center``: distance from the box centre to the
    image centre, nearest first (needs ``image_size`` (width, height)). Ties go to the higher detection
    score, then to the lower index, so the order is deterministic.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError("boxes and scores must describe the same faces")
    if order == "score":
        key = -scores
    elif order == "area":
        key = -(np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))
    elif order == "quality":
        if quality_scores is None:
            raise ValueError("order 'quality' needs the faces' quality scores")
        key = -np.asarray(quality_scores, dtype=np.float64).reshape(-1)
        if len(key) != len(scores):
            raise ValueError("quality_scores must describe the same faces as boxes")
        key = np.where(np.isfinite(key), key, np.inf)
    elif order == "center":
        if image_size is None:
            raise ValueError("order 'center' needs the image size")
        width, height = image_size
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        key = np.hypot(centres[:, 0] - width / 2.0, centres[:, 1] - height / 2.0)
    else:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    # lexsort: the last key is the primary one
    return np.lexsort((np.arange(len(scores)), -scores, key))


def best_face(quality_scores: Sequence[float], issues: Sequence[Sequence[str]]) -> int | None:
    """Index of the face with the highest quality score among those without any issue, or None."""
    usable = [i for i, codes in enumerate(issues) if not codes]
    if not usable:
        return None
    return max(usable, key=lambda i: (quality_scores[i], -i))
