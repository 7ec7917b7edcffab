"""The one selection: which of the detected faces a request keeps, each option applied once.

``min_face_size`` first: quality is assessed only on the faces of the size asked for (which faces get their
landmarks refined, and so their poses, depends on the whole set, and each costs engine time). Then, when quality
decides (``quality``, ``min_quality``, ``order: quality``, /v1/best), the qualities, ``min_quality`` or the
single best usable face; then ``max_faces`` by ``order``. The kept faces stay in their (score) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..options import DetectOptions, QualityOptions
from ..vision.detections import Detections
from ..vision.order import face_order
from ..vision.quality import FaceQuality
from . import quality as face_quality

# Faces -> (their qualities, the engine milliseconds that took).
Assess = Callable[[Detections], tuple[list[FaceQuality], float]]


@dataclass(frozen=True)
class Selection:
    """The faces a request keeps, their qualities when quality was assessed, and the assessment's engine ms."""

    faces: Detections
    qualities: list[FaceQuality] | None = None
    engine_ms: float = 0.0


def select(faces: Detections, image_size: tuple[int, int], options: DetectOptions,
           quality: QualityOptions | None = None, assess: Assess | None = None, *, best: bool = False) -> Selection:
    """The faces (in ``image_size`` (width, height) coordinates, by score) that ``options`` keep; with ``assess``,
    judged by quality as well (``quality``'s ``min_quality``, or with ``best`` the best usable face, or
    NoUsableFace)."""
    if options.min_face_size > 0 and len(faces):
        wh = faces.xyxy[:, 2:] - faces.xyxy[:, :2]
        faces = faces[np.minimum(wh[:, 0], wh[:, 1]) >= options.min_face_size]
    if assess is None:
        return Selection(*_cut(faces, None, options, image_size))
    qualities, engine_ms = assess(faces)
    if best:
        chosen = face_quality.best(qualities)
        return Selection(faces[chosen], [qualities[chosen]], engine_ms)
    min_quality = (quality or QualityOptions()).min_quality
    keep = np.flatnonzero([q.score is not None and q.score >= min_quality for q in qualities])
    faces, qualities = _cut(faces[keep], [qualities[i] for i in keep], options, image_size)
    return Selection(faces, qualities, engine_ms)


def _cut(faces: Detections, qualities: list[FaceQuality] | None, options: DetectOptions,
         image_size: tuple[int, int]) -> tuple[Detections, list[FaceQuality] | None]:
    """``max_faces`` by ``order``: the one cut. Without qualities, ``order: quality`` falls back to score (a
    video frame's faces are not assessed)."""
    if not options.max_faces or len(faces) <= options.max_faces:
        return faces, qualities
    order = "score" if qualities is None and options.order == "quality" else options.order
    scores = None if qualities is None else [q.score for q in qualities]
    keep = np.sort(face_order(faces.xyxy, faces.scores, order, image_size, scores)[:options.max_faces])
    return faces[keep], None if qualities is None else [qualities[i] for i in keep]
