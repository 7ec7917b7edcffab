"""Face tracks: the ``trackers`` package's SORT on face boxes, with landmarks carried and a best shot kept.

Why ``trackers`` (Roboflow's maintained tracker package): supervision deprecated its own ``ByteTrack`` in
favour of it (deprecated in 0.28, removed in 0.31), and norfair pins numpy below 2. Version 2.1 is the last
whose dependencies do not pull ``opencv-python`` beside our ``opencv-python-headless``. Why its SORT rather
than its ByteTrack, measured on the synthetic zoom-and-pan (``bench/tracking.py``, 154 frames, 22 stable
faces): all candidates made 0 ID switches on the stable faces, but tracks that wandered between faces of
the dense crowd numbered 7 for SORT (3 frames to confirm, IoU >= 0.3) against 191 for trackers' ByteTrack
and 16 for supervision's deprecated ByteTrack, and SORT's update was the fastest (docs/performance.md). Face scores are
high or absent, so ByteTrack's low-score second pass has little to add.

The tracker sees boxes and scores only. Each face's landmarks ride along in ``sv.Detections.data``, so a
track's output row is always the detection it was matched to this frame. A track that loses its face
survives ``lost_frames`` processed frames (one missed frame keeps its identity); when the tracker drops it,
the track has ended and its best shot (the crop of highest face quality, :mod:`~hailo_scrfd.vision.quality`:
sharpness, size, pose, exposure, score, cut-off) is handed out once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..vision.align import encode_crop, estimate_transform, warp
from ..vision.detections import Detections
from ..vision.quality import FaceQuality, QualitySettings, assess_faces, face_crops


@dataclass(frozen=True)
class Track:
    """One tracked face in one frame."""

    track_id: int
    xyxy: np.ndarray       # (4,)
    landmarks: np.ndarray  # (5, 2)
    score: float
    quality: FaceQuality

    @property
    def sharpness(self) -> float:
        return self.quality.sharpness


@dataclass(frozen=True)
class BestShot:
    """A finished track's best aligned crop (JPEG) and where it came from."""

    track_id: int
    jpeg: bytes
    size: int
    score: float
    sharpness: float
    quality: float        # the overall face quality (0-1) of the chosen frame
    frame: int            # the frame index the crop came from
    timestamp: float      # that frame's timestamp, seconds
    first_frame: int
    last_frame: int
    frames: int           # frames in which the face was seen


@dataclass
class _TrackState:
    first_frame: int
    last_frame: int = 0
    frames: int = 0
    rank: float = -1.0
    crop: np.ndarray | None = field(default=None, repr=False)
    shot: dict = field(default_factory=dict)


def load_library() -> None:
    """Import the tracker library (trackers, with supervision and SciPy: slow and large the first time).
    Not at start-up, since a server that never tracks should not pay for it; callers do it before taking a lock
    that ``/health`` also needs."""
    import supervision  # noqa: F401
    import trackers  # noqa: F401


class FaceTracker:
    """Tracks faces across frames. Not thread-safe: one tracker per stream or session, fed in frame order.
    ``quality``: the thresholds of the issue codes (the service passes its configured ``quality.*``)."""

    def __init__(self, *, lost_frames: int = 15, crop_size: int = 112, quality: QualitySettings | None = None,
                 activation_threshold: float = 0.5, min_frames: int = 3, min_iou: float = 0.3):
        from trackers import SORTTracker  # not at the top: see load_library

        # frame_rate 30 makes the library's buffer exactly ``lost_frames`` frames.
        self._tracker = SORTTracker(lost_track_buffer=lost_frames, frame_rate=30.0,
                                    track_activation_threshold=activation_threshold,
                                    minimum_consecutive_frames=min_frames, minimum_iou_threshold=min_iou)
        self.crop_size, self.quality = crop_size, quality or QualitySettings()
        self._states: dict[int, _TrackState] = {}

    @property
    def active(self) -> int:
        """Tracks alive now (seen recently or still within their lost-frame buffer)."""
        return len(self._states)

    def update(self, faces: Detections, image: np.ndarray, index: int,
               timestamp: float) -> tuple[list[Track], list[BestShot]]:
        """The tracks seen in this frame, and the best shots of the tracks that ended with it."""
        import supervision as sv

        matched = self._tracker.update(sv.Detections(xyxy=faces.xyxy.astype(np.float32),
                                                     confidence=faces.scores.astype(np.float32),
                                                     data={"landmarks": faces.landmarks.astype(np.float32)}))
        rows = np.flatnonzero(np.asarray(matched.tracker_id) >= 0)
        crops = face_crops(image, matched.data["landmarks"][rows])
        qualities = assess_faces((image.shape[1], image.shape[0]), matched.xyxy[rows], matched.confidence[rows],
                                 matched.data["landmarks"][rows], crops, self.quality)
        tracks = []
        for i, crop, quality in zip(rows, crops, qualities, strict=True):
            landmarks = matched.data["landmarks"][i]
            track_id = int(matched.tracker_id[i])
            state = self._states.setdefault(track_id, _TrackState(first_frame=index))
            self._observe(state, image, crop, landmarks, quality, float(matched.confidence[i]), index, timestamp)
            tracks.append(Track(track_id, matched.xyxy[i], landmarks, float(matched.confidence[i]), quality))
        tracks.sort(key=lambda t: t.track_id)
        alive = {t.tracker_id for t in self._tracker.trackers if t.tracker_id >= 0}
        return tracks, [self._finish(track_id) for track_id in sorted(set(self._states) - alive)]

    def finish(self) -> list[BestShot]:
        """End every track (the stream is over): their best shots."""
        return [self._finish(track_id) for track_id in sorted(self._states)]

    def _observe(self, state: _TrackState, image: np.ndarray, crop: np.ndarray, landmarks: np.ndarray,
                 quality: FaceQuality, score: float, index: int, timestamp: float) -> None:
        """Count the sighting; keep the crop when its quality beats the track's best."""
        state.last_frame, state.frames = index, state.frames + 1
        if quality.score > state.rank:
            if self.crop_size != crop.shape[0]:
                crop = warp(image, estimate_transform(landmarks, self.crop_size), self.crop_size)
            state.rank, state.crop = quality.score, crop
            state.shot = {"score": score, "sharpness": quality.sharpness, "quality": quality.score,
                          "frame": index, "timestamp": timestamp}

    def _finish(self, track_id: int) -> BestShot:
        state = self._states.pop(track_id)
        return BestShot(track_id, encode_crop(state.crop, "jpeg"), self.crop_size, first_frame=state.first_frame,
                        last_frame=state.last_frame, frames=state.frames, **state.shot)
