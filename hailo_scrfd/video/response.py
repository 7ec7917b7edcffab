"""Tracks and best shots as the JSON-ready objects of the stream events and of ``POST /v1/track``."""

from __future__ import annotations

import base64

import numpy as np

from .tracking import BestShot, Track


def track_json(track: Track) -> dict:
    """A track as the events and /v1/track show it (bbox as [x, y, w, h], like /v1/detect's faces)."""
    x0, y0, x1, y1 = (round(float(v), 2) for v in track.xyxy)
    return {"track_id": track.track_id, "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
            "score": round(track.score, 5), "landmarks": np.round(track.landmarks.astype(np.float64), 2).tolist(),
            "quality": track.quality.to_json()}


def best_shot_json(shot: BestShot) -> dict:
    return {"track_id": shot.track_id, "image": base64.b64encode(shot.jpeg).decode("ascii"), "format": "jpeg",
            "size": shot.size, "score": round(shot.score, 5), "sharpness": round(shot.sharpness, 1),
            "quality": round(shot.quality, 3),
            "frame": shot.frame, "timestamp": round(shot.timestamp, 3), "first_frame": shot.first_frame,
            "last_frame": shot.last_frame, "frames": shot.frames}
