"""Face tracks on the synthetic ../shared video (support/video.py), with the real detector: identities,
completeness and best shots against the known truth (support/tracks.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.tracks import observations, score
from support.video import scene as make_scene

from hailo_scrfd.video.tracking import FaceTracker
from hailo_scrfd.vision.detections import Detections


@pytest.fixture(scope="module")
def scene(shared):
    return make_scene(shared)


@pytest.fixture(scope="module")
def detections(scene, model):
    return [model.detect_faces(frame).faces for frame in scene.frames]


@pytest.fixture(scope="module")
def tracked(scene, detections):
    """Each frame's tracks and every best shot, from one tracker fed the whole scene."""
    tracker, per_frame, shots = FaceTracker(), [], []
    for i, (frame, faces) in enumerate(zip(scene.frames, detections, strict=True)):
        tracks, ended = tracker.update(faces, frame, i, i / 30)
        per_frame.append(tracks)
        shots += ended
    return per_frame, shots + tracker.finish()


def test_pan_and_zoom_keep_every_stable_face_on_one_complete_track(scene, detections, tracked):
    per_frame, _ = tracked
    obs = []
    for i, (faces, tracks) in enumerate(zip(detections, per_frame, strict=True)):
        obs += observations(i, faces.xyxy, [(t.track_id, t.xyxy) for t in tracks])
    result = score(scene, obs, min_frames=3)
    assert result.faces >= 15, result  # t1's six faces and the larger faces of the crowd
    assert result.id_switches == 0, result.tracks_per_face
    assert result.incomplete == [], result.incomplete
    assert all(len(ids) == 1 for ids in result.tracks_per_face.values())  # one track per face
    stable_tracks = [next(iter(ids)) for ids in result.tracks_per_face.values()]
    assert len(set(stable_tracks)) == len(stable_tracks)  # ... and one face per track


def test_a_covered_face_keeps_its_identity_through_the_missed_frame(scene, detections, tracked):
    per_frame, _ = tracked
    k = scene.occluded
    assert len(detections[k]) < len(detections[k - 1])  # the detector really lost the covered face
    before = {t.track_id for t in per_frame[k - 1]}
    after = {t.track_id for t in per_frame[k + 1]}
    assert {t.track_id for t in per_frame[k]} < before
    assert before - {t.track_id for t in per_frame[k]} <= after  # the missing one came back under its id


def test_one_best_shot_per_track_and_never_from_a_blurred_frame(scene, tracked):
    per_frame, shots = tracked
    seen = {t.track_id for tracks in per_frame for t in tracks}
    ids = [s.track_id for s in shots]
    assert sorted(ids) == sorted(seen) and len(set(ids)) == len(ids)
    blurred = [s for s in shots if s.frame in scene.blurred]
    assert blurred == [], [(s.track_id, s.frame, s.sharpness) for s in blurred]
    for shot in shots:
        assert shot.jpeg[:2] == b"\xff\xd8" and shot.first_frame <= shot.frame <= shot.last_frame


def test_landmarks_ride_with_their_own_face(scene, detections, tracked):
    per_frame, _ = tracked
    for faces, tracks in zip(detections, per_frame, strict=True):
        for track in tracks:
            row = int(np.argmin(np.abs(faces.xyxy - track.xyxy).sum(axis=1)))
            np.testing.assert_allclose(track.landmarks, faces.landmarks[row], atol=1e-3)


def test_a_one_frame_gap_keeps_the_id_and_a_long_one_ends_the_track(scene, detections):
    tracker = FaceTracker(lost_frames=5)
    frames = scene.frames[:12]
    ids = []
    for i, frame in enumerate(frames):
        faces = Detections.empty() if i == 6 else detections[i]
        ids.append({t.track_id for t in tracker.update(faces, frame, i, i / 30)[0]})
    assert ids[5] and ids[7] == ids[5] and ids[6] == set()
    ended = []
    for i in range(12, 19):
        ended += tracker.update(Detections.empty(), frames[0], i, i / 30)[1]
    assert sorted(s.track_id for s in ended) == sorted(ids[11]) and tracker.active == 0
