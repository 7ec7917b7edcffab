"""Quality in a request: assess the faces, drop those below ``min_quality``, and cut by quality order."""

from __future__ import annotations

import numpy as np

from ..errors import NoUsableFace
from ..options import DetectOptions, QualityOptions
from ..vision.detections import Detections
from ..vision.order import best_face, face_order
from ..runtime.model import SCRFDModel
from ..vision.pose import head_pose
from ..vision.quality import FaceQuality, QualitySettings, assess_faces, face_crops
from .landmarks import MAX_REFINED, refine_landmarks


def assess(model: SCRFDModel, pixels: np.ndarray, faces: Detections, settings: QualitySettings,
           refine: int = MAX_REFINED) -> tuple[list[FaceQuality], float]:
    """The quality of each face, and the engine milliseconds of the landmark refinement. ``pixels`` must be
    the full-resolution image the coordinates refer to. The pose comes from landmarks refined on the
    ``refine`` largest faces (:mod:`.landmarks`); crops, size and cut-off from the detected ones, like /v1/align."""
    if not len(faces):
        return [], 0.0
    height, width = pixels.shape[:2]
    refined, engine_ms = refine_landmarks(model, pixels, faces, refine)
    crops = face_crops(pixels, faces.landmarks)
    return assess_faces((width, height), faces.xyxy, faces.scores, faces.landmarks, crops, settings,
                        poses=head_pose(refined)), engine_ms


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
