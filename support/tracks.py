"""Scoring face tracks against the known truth of a :mod:`support.video` scene (shared by tests and bench).

The truth: every detection is mapped back onto the composite picture, where a face does not move, and
detections that overlap there (IoU >= 0.3) are one face. A face is *stable* when the detector saw it in at
least 80% of the sharp frames that show it whole; the proofs are about those faces, since a face the
detector itself keeps losing cannot be tracked by anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hailo_scrfd.vision.detections import box_iou

from .video import OUT_H, OUT_W, Scene


@dataclass
class Observation:
    """One detection in one frame: frame index, the id of the track reporting it (-1: none), box (pixels)."""

    frame: int
    track_id: int
    xyxy: np.ndarray


@dataclass
class Score:
    faces: int                                  # stable faces
    id_switches: int                            # times a stable face's track id changed
    incomplete: list[int] = field(default_factory=list)   # stable faces missing a track in a sharp frame
    shared_tracks: int = 0                      # tracks that covered more than one face
    tracks_per_face: dict[int, set[int]] = field(default_factory=dict)


def identities(scene: Scene, observations: list[Observation]) -> np.ndarray:
    """Each observation's face, found by overlap on the composite."""
    centres: list[np.ndarray] = []
    labels = np.empty(len(observations), np.int64)
    for i, obs in enumerate(observations):
        box = scene.to_composite(obs.frame, obs.xyxy[None].astype(np.float64))
        iou = box_iou(box, np.array(centres)) if centres else np.zeros((1, 0))
        if iou.size and iou.max() >= 0.3:
            labels[i] = int(iou.argmax())
        else:
            centres.append(box[0])
            labels[i] = len(centres) - 1
    return labels


def score(scene: Scene, observations: list[Observation], min_frames: int = 2, min_side: float = 24.0) -> Score:
    """ID switches and completeness of the stable faces; ``min_frames``: the tracker's activation delay.
    ``min_side``: faces whose median box side (frame pixels) is smaller are left out: a box tracker needs
    consecutive boxes to overlap, and the pan moves 8 px a frame (a 24 px face keeps IoU >= 0.5)."""
    labels = identities(scene, observations)
    result = Score(0, 0)
    for face in np.unique(labels):
        obs = [o for o, lab in zip(observations, labels, strict=True) if lab == face]
        if np.median([min(o.xyxy[2] - o.xyxy[0], o.xyxy[3] - o.xyxy[1]) for o in obs]) < min_side:
            continue
        box = scene.to_composite(obs[0].frame, obs[0].xyxy[None].astype(np.float64))[0]
        whole = [i for i in range(len(scene.frames)) if i not in scene.blurred and i != scene.occluded
                 and _inside(scene, i, box)]
        seen = {o.frame for o in obs}
        if len(whole) < 5 or len(seen & set(whole)) < 0.8 * len(whole):
            continue
        result.faces += 1
        ordered = sorted(obs, key=lambda o: o.frame)
        ids = [o.track_id for o in ordered if o.track_id >= 0]
        result.id_switches += sum(a != b for a, b in zip(ids, ids[1:], strict=False))
        result.tracks_per_face[int(face)] = set(ids)
        first = ordered[0].frame
        if any(o.track_id < 0 for o in ordered if o.frame >= first + min_frames - 1):
            result.incomplete.append(int(face))
    owners: dict[int, set[int]] = {}
    for o, lab in zip(observations, labels, strict=True):
        if o.track_id >= 0:
            owners.setdefault(o.track_id, set()).add(int(lab))
    result.shared_tracks = sum(len(faces) > 1 for faces in owners.values())
    return result


def observations(frame: int, detections: np.ndarray, tracks: list[tuple[int, np.ndarray]]) -> list[Observation]:
    """A frame's detections, each with the id of the track reporting the same box (-1 when none does)."""
    out = []
    boxes = np.array([box for _, box in tracks], np.float64).reshape(-1, 4)
    for det in detections:
        iou = box_iou(det[None].astype(np.float64), boxes)[0]
        out.append(Observation(frame, tracks[int(iou.argmax())][0] if iou.size and iou.max() > 0.95 else -1, det))
    return out


def _inside(scene: Scene, index: int, box: np.ndarray, margin: float = 4.0) -> bool:
    x0, y0, x1, y1 = scene.windows[index]
    s = OUT_W / (x1 - x0)
    fx0, fy0, fx1, fy1 = (box - [x0, y0, x0, y0]) * s
    return fx0 >= margin and fy0 >= margin and fx1 <= OUT_W - margin and fy1 <= OUT_H - margin
