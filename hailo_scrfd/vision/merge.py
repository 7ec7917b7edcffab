"""Merge the faces of several passes (scales, tiles) into one set. Pure numpy.

Each pass's faces are first kept only where that pass sees them best (:func:`trusted`):
faces whose size lies in the pass's ``face_range``, and, for a tile, not cut by one of its
inner edges (the overlap guarantees that a neighbouring tile holds such a face whole, so
it never becomes two half-faces). The survivors of all passes then go through one NMS, or
weighted box fusion (:func:`fuse`), which averages each cluster's boxes and landmarks.

Written in numpy rather than taken from supervision (its ``InferenceSlicer`` and
``box_non_max_merge``) or SAHI (``postprocess/combine.py``): supervision is installed (the
tracker needs it) but slices and merges boxes only, and SAHI pulls in a framework stack;
neither knows about landmarks or scale ranges.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .detections import Detections, box_iou, nms
from .scales import TILE_EDGE_PX, Pass

MERGE_METHODS = ("nms", "wbf")


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


def concat(parts: Sequence[Detections]) -> Detections:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    return Detections(np.concatenate([p.xyxy for p in parts]), np.concatenate([p.scores for p in parts]),
                      np.concatenate([p.landmarks for p in parts]))


def fuse(faces: Detections, iou_threshold: float) -> Detections:
    """Weighted box fusion: each NMS survivor takes the score-weighted mean box and landmarks of
    the faces it suppresses (IoU above ``iou_threshold``), and keeps its own (highest) score."""
    keep = nms(faces.xyxy, faces.scores, iou_threshold)
    if len(keep) == 0:
        return faces
    iou = box_iou(faces.xyxy[keep], faces.xyxy)
    # Each face joins the cluster of the first (highest-scoring) survivor it overlaps, as in NMS.
    member = iou > iou_threshold
    member[np.arange(len(keep)), keep] = True
    first = np.argmax(member, axis=0)
    assigned = member.any(axis=0)
    weights = np.zeros((len(keep), len(faces)))
    weights[first[assigned], np.flatnonzero(assigned)] = faces.scores[assigned]
    weights /= weights.sum(axis=1, keepdims=True)
    boxes = weights @ faces.xyxy
    landmarks = np.einsum("kn,nij->kij", weights, faces.landmarks)
    return Detections(boxes.astype(np.float32), faces.scores[keep], landmarks.astype(np.float32))


def merge_passes(results: Sequence[tuple[Pass, Detections]], nms_threshold: float,
                 method: str = "nms") -> Detections:
    """One set of faces, by score, from each pass's faces in image coordinates."""
    if method not in MERGE_METHODS:
        raise ValueError(f"merge method must be one of {', '.join(MERGE_METHODS)}, not {method!r}")
    faces = concat([d[trusted(d, p)] for p, d in results])
    if len(faces) == 0:
        return faces
    if method == "wbf":
        faces = fuse(faces, nms_threshold)
        return faces[np.argsort(-faces.scores, kind="stable")]
    return faces[nms(faces.xyxy, faces.scores, nms_threshold)]
