"""Merge the faces of several passes (scales, tiles) into one set. Pure numpy.

Each pass's faces are first kept only where that pass sees them best (:func:`trusted`):
faces whose size lies in the pass's ``face_range``, and, for a tile, not cut by one of its
inner edges (the overlap guarantees that a neighbouring tile holds such a face whole, so
it never becomes two half-faces). The survivors of all passes then go through one NMS.

Written in numpy rather than taken from supervision (its ``InferenceSlicer`` and
``box_non_max_merge``) or SAHI (``postprocess/combine.py``): supervision is installed (the
tracker needs it) but slices and merges boxes only, and SAHI pulls in a framework stack;
neither knows about landmarks or scale ranges.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .detections import Detections, nms
from .scales import TILE_EDGE_PX, Pass


def face_sizes(boxes: np.ndarray) -> np.ndarray:
    """A face's size: the longer side of its box."""
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def trusted(faces: Detections, p: Pass) -> np.ndarray:
    """Boolean mask of the faces (image coordinates) that pass ``p`` is trusted for."""
    size = face_sizes(faces.xyxy)
    keep = (size >= p.face_range[0]) & (size <= p.face_range[1])
    if any(p.inner_edges):
        x0, y0, x1, y1 = p.crop
        sx, sy = p.scale_xy
        mx, my = TILE_EDGE_PX / sx, TILE_EDGE_PX / sy
        b = faces.xyxy
        left, top, right, bottom = p.inner_edges
        cut = ((left & (b[:, 0] < x0 + mx)) | (top & (b[:, 1] < y0 + my))
               | (right & (b[:, 2] > x1 - mx)) | (bottom & (b[:, 3] > y1 - my)))
        keep &= ~cut
    return keep


def merge_passes(results: Sequence[tuple[Pass, Detections]], nms_threshold: float) -> Detections:
    """One set of faces, by score, from each pass's faces in image coordinates."""
    faces = Detections.merge([d[trusted(d, p)] for p, d in results])
    if len(faces) == 0:
        return faces
    return faces[nms(faces.xyxy, faces.scores, nms_threshold)]
