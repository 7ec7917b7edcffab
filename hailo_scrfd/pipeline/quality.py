"""Quality in a request: assess the faces, and pick the single best usable one (/v1/best). Which faces a request
keeps by quality (``min_quality``, ``order: quality``) is :mod:`.select`'s."""

from __future__ import annotations

import numpy as np

from ..errors import NoUsableFace
from ..vision.detections import Detections
from ..vision.order import best_face
from ..vision.pose import head_pose
from ..vision.quality import FaceQuality, QualitySettings, assess_faces, face_crops
from .detector import Detector
from .landmarks import MAX_REFINED, refine_landmarks


def assess(detector: Detector, pixels: np.ndarray, faces: Detections, settings: QualitySettings,
           refine: int = MAX_REFINED) -> tuple[list[FaceQuality], float]:
    """The quality of each face, and the engine milliseconds of the landmark refinement. ``pixels`` must be
    the full-resolution image the coordinates refer to. The pose comes from landmarks refined on the
    ``refine`` largest faces (:mod:`.landmarks`); crops, size and cut-off from the detected ones, like /v1/align."""
    if not len(faces):
        return [], 0.0
    height, width = pixels.shape[:2]
    refined, engine_ms = refine_landmarks(detector, pixels, faces, refine)
    crops = face_crops(pixels, faces.landmarks)
    return assess_faces((width, height), faces.xyxy, faces.scores, faces.landmarks, crops, settings,
                        poses=head_pose(refined)), engine_ms


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
