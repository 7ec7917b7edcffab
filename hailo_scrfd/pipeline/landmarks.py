"""Refined landmarks for face quality: the detector once more on an upright cell of each face and on its mirror.

Only the quality path calls this (detection alone costs nothing more). Each face gets two 160x160 cells (see
:mod:`hailo_scrfd.vision.landmarks`), packed on canvases that run through :meth:`.Detector.detect_canvas`:
on a dynamic backend one canvas of about ``2N * 160 * 160`` pixels, on a fixed 640x640 one a canvas per 16
cells (8 faces). At most :data:`MAX_REFINED` faces, the largest, are refined; the others keep their first
landmarks.
"""

from __future__ import annotations

import numpy as np

from ..vision.detections import Detections
from ..vision.landmarks import CELL, cell_landmarks, draw, face_cell, mirror_cell, pack, refined
from ..vision.pose import eye_roll
from .detector import Detector

MAX_REFINED = 16        # faces per request whose landmarks are refined (the largest boxes)
CELL_THRESHOLD = 0.3    # detection score needed in a cell: the face is known to be there
CELL_NMS = 0.4


def refine_landmarks(detector: Detector, image: np.ndarray, faces: Detections,
                     limit: int = MAX_REFINED) -> tuple[np.ndarray, float]:
    """``(N, 5, 2)`` landmarks of ``faces`` in ``image``'s pixels, refined for the ``limit`` largest, and the
    engine milliseconds the cells took."""
    landmarks = np.asarray(faces.landmarks, np.float64).copy()
    if not len(faces) or limit <= 0:
        return landmarks, 0.0
    wh = faces.xyxy[:, 2:] - faces.xyxy[:, :2]
    chosen = np.argsort(-(wh[:, 0] * wh[:, 1]), kind="stable")[:limit]
    rolls = eye_roll(landmarks[chosen])
    cells = []
    for i, roll in zip(chosen, rolls, strict=True):
        upright = face_cell(image, faces.xyxy[i], float(roll) if np.isfinite(roll) else 0.0)
        cells += [upright, mirror_cell(upright)]
    found, engine_ms = _run_cells(detector, cells)
    for k, i in enumerate(chosen):
        landmarks[i] = refined(landmarks[i], found[2 * k], found[2 * k + 1], cells[2 * k].matrix)
    return landmarks, engine_ms


def _run_cells(detector: Detector, cells: list) -> tuple[list[np.ndarray | None], float]:
    """Each cell's landmarks (cell pixels, unflipped) or None, and the engine milliseconds of all canvases."""
    spec = detector.input_spec
    out: list[np.ndarray | None] = []
    total_ms = 0.0
    for canvas_hw, positions in pack(len(cells), None if spec.dynamic else spec.hw, CELL):
        batch = cells[len(out):len(out) + len(positions)]
        faces, engine_ms = detector.detect_canvas(draw(canvas_hw, batch, positions), CELL_THRESHOLD, CELL_NMS)
        total_ms += engine_ms
        out += [cell_landmarks(c, faces.landmarks, p) for c, p in zip(batch, positions, strict=True)]
    return out, total_ms
