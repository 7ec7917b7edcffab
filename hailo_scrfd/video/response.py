"""Tracks and best shots as the JSON-ready objects of the stream events and of ``POST /v1/track``."""

from __future__ import annotations

import base64
from typing import Any, Sequence

import numpy as np

from ..pipeline.response import faces_to_json
from ..vision.detections import Detections
from .tracking import BestShot, Track


def tracks_json(tracks: Sequence[Track]) -> list[dict[str, Any]]:
    """Each track as ``{"track_id", "bbox", "score", "landmarks", "quality"}``. The face in it is written by
    /v1/detect's own :func:`~hailo_scrfd.pipeline.response.faces_to_json`, so a tracked face reads exactly as
    a detected one (named landmarks, the same rounding)."""
    if not tracks:
        return []
    faces = Detections(np.stack([t.xyxy for t in tracks]), np.array([t.score for t in tracks], np.float32),
                       np.stack([t.landmarks for t in tracks]))
    return [{"track_id": track.track_id, **face, "quality": track.quality.to_json()}
            for track, face in zip(tracks, faces_to_json(faces), strict=True)]


def best_shot_json(shot: BestShot) -> dict[str, Any]:
    return {"track_id": shot.track_id, "image": base64.b64encode(shot.jpeg).decode("ascii"), "format": "jpeg",
            "size": shot.size, "score": round(shot.score, 5), "sharpness": round(shot.sharpness, 1),
            "quality": round(shot.quality, 3),
            "frame": shot.frame, "timestamp": round(shot.timestamp, 3), "first_frame": shot.first_frame,
            "last_frame": shot.last_frame, "frames": shot.frames}
