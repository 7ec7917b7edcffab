#!/usr/bin/env python3
"""Face tracking on the synthetic ../shared video (support/video.py): what it costs and how well it tracks.

    python bench/tracking.py                 # the whole scene
    python bench/tracking.py --frames 60     # a shorter run

Part 1, the service's path: per frame, detection alone against detection + FaceTracker (ByteTrack plus the
aligned best-shot bookkeeping), interleaved frame by frame so machine noise hits both alike. Prints the
added latency per frame and the tracks updated per second.

Part 2, the library choice: the same cached detections through each candidate tracker, with ID switches
and incomplete faces of the stable faces (support/tracks.py) and the time per update. Candidates that are
not installed are reported as such (norfair pins numpy < 2, so it cannot share this environment).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support.data import shared_dir  # noqa: E402
from support.tracks import observations, score  # noqa: E402
from support.video import scene as make_scene  # noqa: E402

from hailo_scrfd.runtime.model import SCRFDModel  # noqa: E402
from hailo_scrfd.video.tracking import FaceTracker  # noqa: E402
from hailo_scrfd.system.config import SCRFDServiceConfig  # noqa: E402
from bench.common import pct  # noqa: E402


def service_path(model: SCRFDModel, frames: list[np.ndarray]) -> tuple[list, dict]:
    """Detection alone vs detection + tracking, alternating per frame; the detections of the tracked runs."""
    tracker = FaceTracker()
    alone, tracked, track_ms, updates, cached = [], [], [], 0, []
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        model.detect_faces(frame)
        alone.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        faces = model.detect_faces(frame).faces
        mid = time.perf_counter()
        tracks, _ = tracker.update(faces, frame, i, i / 30)
        end = time.perf_counter()
        tracked.append((end - start) * 1000)
        track_ms.append((end - mid) * 1000)
        updates += len(tracks)
        cached.append(faces)
    return cached, {"detect_ms_p50": pct(alone, 50), "detect_track_ms_p50": pct(tracked, 50),
                    "added_ms_p50": pct(track_ms, 50), "added_ms_p95": pct(track_ms, 95),
                    "track_updates_per_s": updates / (sum(track_ms) / 1000), "tracks_per_frame": updates / len(frames)}


def candidates() -> dict:
    """Each candidate: a factory of ``update(xyxy, scores) -> list of (track_id, box)``."""
    import supervision as sv

    def wrap(make, method):
        def factory():
            tracker = make()

            def update(xyxy, scores):
                out = getattr(tracker, method)(sv.Detections(xyxy=xyxy, confidence=scores,
                                                             class_id=np.zeros(len(scores), int)))
                return [(int(t), b) for t, b in zip(out.tracker_id, out.xyxy, strict=True) if t >= 0]
            return update
        return factory

    found = {}
    try:
        from trackers import ByteTrackTracker, SORTTracker
        found["trackers.SORTTracker (chosen)"] = wrap(lambda: SORTTracker(
            lost_track_buffer=15, track_activation_threshold=0.5, minimum_consecutive_frames=3,
            minimum_iou_threshold=0.3), "update")
        found["trackers.SORTTracker (2 frames, IoU 0.2)"] = wrap(lambda: SORTTracker(
            lost_track_buffer=15, track_activation_threshold=0.5, minimum_consecutive_frames=2,
            minimum_iou_threshold=0.2), "update")
        found["trackers.ByteTrackTracker"] = wrap(lambda: ByteTrackTracker(
            lost_track_buffer=15, track_activation_threshold=0.6, high_conf_det_threshold=0.6), "update")
    except ImportError:
        print("trackers: not installed")
    if hasattr(sv, "ByteTrack"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found["supervision.ByteTrack (deprecated)"] = wrap(lambda: sv.ByteTrack(lost_track_buffer=15),
                                                               "update_with_detections")
    else:
        print(f"supervision {sv.__version__}: has no ByteTrack (removed in 0.31)")
    print("norfair: not measurable here (requires numpy < 2; the service runs numpy 2)")
    return found


def compare(scene, cached: list) -> None:
    for name, factory in candidates().items():
        update, obs, times = factory(), [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, faces in enumerate(cached):
                start = time.perf_counter()
                tracks = update(faces.xyxy.astype(np.float32), faces.scores.astype(np.float32))
                times.append((time.perf_counter() - start) * 1000)
                obs += observations(i, faces.xyxy, tracks)
        result = score(scene, obs, min_frames=2 if "2 frames" in name else 3)
        print(f"{name:40s} stable faces {result.faces:4d}  id switches {result.id_switches:3d}  "
              f"incomplete {len(result.incomplete):3d}  shared tracks {result.shared_tracks:3d}  "
              f"update p50 {pct(times, 50):6.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=0, help="use only the first N frames (0: all)")
    parser.add_argument("--model", default=str(shared_dir() / "models" / "scrfd_2.5g_bnkps.onnx"))
    args = parser.parse_args()
    scene = make_scene(shared_dir())
    if args.frames:
        scene.frames, scene.windows = scene.frames[:args.frames], scene.windows[:args.frames]
    model = SCRFDModel(SCRFDServiceConfig().override(model__path=args.model)).load()
    try:
        cached, timings = service_path(model, scene.frames)
    finally:
        model.close()
    print(f"{len(scene.frames)} frames of {scene.frames[0].shape[1]}x{scene.frames[0].shape[0]}")
    for key, value in timings.items():
        print(f"  {key:22s} {value:9.2f}")
    compare(scene, cached)
    return 0


if __name__ == "__main__":
    sys.exit(main())
