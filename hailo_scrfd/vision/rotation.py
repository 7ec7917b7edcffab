"""Quarter turns: an image turned for a detection pass, and that pass's faces mapped back. Pure numpy.

A photo whose pixels are stored sideways (no EXIF orientation to undo it) shows its faces at 90, 180 or 270
degrees, which SCRFD, trained on upright faces, mostly misses. A turned pass runs the image turned by a
quarter turn so those faces stand upright; :func:`faces_back` maps its faces (boxes and the five landmarks,
each point kept as the same eye, nose or mouth corner) back into the image's own coordinates, so an alignment
from them is upright and their roll is the face's true roll in the image.

``turn`` is in degrees, clockwise: the ``rot90`` pass runs the image turned 90 degrees clockwise, which stands
up a face whose top points left.
"""

from __future__ import annotations

import numpy as np

from .detections import Detections

ROTATIONS = ("none", "auto", "all")
TURNS = (90, 180, 270)


def turned(image: np.ndarray, turn: int) -> np.ndarray:
    """``image`` turned ``turn`` degrees clockwise (a contiguous copy; the image itself when ``turn`` is 0)."""
    if turn % 360 == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=-(turn // 90)))


def points_back(points: np.ndarray, turn: int, image_hw: tuple[int, int]) -> np.ndarray:
    """Points (..., 2) as x, y in the turned image, as x, y in the original ``image_hw`` (height, width).

    Continuous coordinates (pixel edges at integers): turning 90 degrees clockwise takes (x, y) to
    (h - y, x), whose inverse is (x', y') -> (y', h - x')."""
    h, w = image_hw
    x, y = points[..., 0], points[..., 1]
    turn %= 360
    if turn == 90:
        back = (y, h - x)
    elif turn == 180:
        back = (w - x, h - y)
    elif turn == 270:
        back = (w - y, x)
    elif turn == 0:
        back = (x, y)
    else:
        raise ValueError(f"turn must be a multiple of 90 degrees, not {turn}")
    return np.stack(back, axis=-1).astype(np.float32)


def box_back(xyxy: np.ndarray, turn: int, image_hw: tuple[int, int]) -> np.ndarray:
    """Boxes (N, 4) in the turned image as boxes in the original: its two corners mapped back, reordered."""
    corners = points_back(xyxy.reshape(-1, 2, 2), turn, image_hw)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)


def faces_back(faces: Detections, turn: int, image_hw: tuple[int, int]) -> Detections:
    """A turned pass's faces in the original image (``image_hw``: its height, width)."""
    if turn % 360 == 0 or len(faces) == 0:
        return faces
    return Detections(box_back(faces.xyxy, turn, image_hw), faces.scores,
                      points_back(faces.landmarks, turn, image_hw))


def crop_back(crop: tuple[int, int, int, int], turn: int, image_hw: tuple[int, int]) -> list[int]:
    """A pass's crop (x0, y0, x1, y1) in the turned image as the same region of the original."""
    box = box_back(np.asarray([crop], np.float32), turn, image_hw)[0]
    return [int(round(v)) for v in box]


def pass_name(turn: int, name: str) -> str:
    """The name a turned pass is listed under: ``rot90`` for its base pass, ``rot90-rescue`` and so on."""
    return f"rot{turn}" if name == "base" else f"rot{turn}-{name}"
