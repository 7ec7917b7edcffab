"""Quality in a request: assess the faces, drop those below ``min_quality``, and cut by quality order."""

from __future__ import annotations

import numpy as np

from ..errors import NoUsableFace
from ..options import DetectOptions, QualityOptions
from ..vision.detections import Detections
from ..vision.order import best_face, face_order
from ..vision.quality import FaceQuality, QualitySettings, assess_faces, face_crops


def assess(pixels: np.ndarray, faces: Detections, settings: QualitySettings) -> list[FaceQuality]:
    """The quality of each face; ``pixels`` must be the full-resolution image the coordinates refer to."""
    if not len(faces):
        return []
    height, width = pixels.shape[:2]
    crops = face_crops(pixels, faces.landmarks)
    return assess_faces((width, height), faces.xyxy, faces.scores, faces.landmarks, crops, settings)


def select(faces: Detections, qualities: list[FaceQuality], options: DetectOptions,
           quality: QualityOptions) -> tuple[Detections, list[FaceQuality]]:
    """Faces at or above ``min_quality``; with ``order: quality``, the ``max_faces`` best of them.
    The kept faces stay in their (score) order."""
    keep = np.array([q.score is not None and q.score >= quality.min_quality for q in qualities], dtype=bool)
    if options.order == "quality" and options.max_faces and keep.sum() > options.max_faces:
        scores = [q.score if q.score is not None else float("nan") for q in qualities]
        ranked = [i for i in face_order(faces.xyxy, faces.scores, "quality", quality_scores=scores) if keep[i]]
        keep[:] = False
        keep[ranked[:options.max_faces]] = True
    index = np.flatnonzero(keep)
    return faces[index], [qualities[i] for i in index]


def best(qualities: list[FaceQuality]) -> int:
    """The index of the best usable face, or NoUsableFace (422) listing each face's issues."""
    index = best_face([q.score for q in qualities], [q.issues for q in qualities])
    if index is not None:
        return index
    if not qualities:
        raise NoUsableFace("no face was found in the image", details={"faces": []})
    summary = "; ".join(f"face {i}: {', '.join(q.issues)}" for i, q in enumerate(qualities[:10]))
    raise NoUsableFace(f"no usable face among {len(qualities)}: {summary}",
                       details={"faces": [{"score": q.to_json()["score"], "issues": list(q.issues)}
                                          for q in qualities]})
