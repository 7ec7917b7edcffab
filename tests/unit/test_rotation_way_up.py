"""Which orientation a rotations pass takes as the photo's way up (pipeline.rotations.primary)."""

from __future__ import annotations

import numpy as np

from hailo_scrfd.pipeline.rotations import COUNTED_SCORE, primary
from hailo_scrfd.vision.detections import Detections


def faces(*scores: float) -> Detections:
    n = len(scores)
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1))
    return Detections(boxes, np.asarray(scores, np.float32), np.zeros((n, 5, 2), np.float32))


def test_no_face_anywhere_keeps_upright():
    assert primary([faces(), faces(), faces(), faces()]) == 0


def test_a_tie_keeps_the_first():
    assert primary([faces(0.9), faces(0.9)]) == 0
    assert primary([faces(), faces(0.7), faces(0.7)]) == 1


def test_the_total_of_counted_faces_decides_before_the_best_face():
    # Two faces of 0.55 outweigh one of 0.9: a crowd seen the right way up beats one strong wrong-way find.
    assert primary([faces(0.9), faces(0.55, 0.55)]) == 1
    # Faces under COUNTED_SCORE weigh nothing, however many.
    assert primary([faces(*[COUNTED_SCORE - 0.01] * 20), faces(0.6)]) == 1


def test_with_no_counted_face_the_best_face_decides():
    assert primary([faces(0.3, 0.2), faces(0.45), faces(0.1)]) == 1
