"""Start-up cost: serving must not import what only tracking needs (trackers pulls in supervision and SciPy,
0.45 s and 55 MB measured)."""

import subprocess
import sys

HEAVY = ("trackers", "supervision", "scipy")


def test_the_http_app_does_not_import_the_tracker_libraries():
    code = ("import sys, hailo_scrfd.http, hailo_scrfd.cli.serve; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_a_tracker_still_gets_them_and_tracks():
    code = ("import sys, numpy as np; from hailo_scrfd.video.tracking import FaceTracker; "
            "from hailo_scrfd.vision.detections import Detections; "
            "t = FaceTracker(min_frames=1); image = np.zeros((120, 160, 3), np.uint8); "
            "box = np.array([[40, 30, 90, 90]], np.float32); lm = np.full((1, 5, 2), 60, np.float32); "
            "[t.update(Detections(box, np.array([0.9], np.float32), lm), image, i, i / 30) for i in range(3)]; "
            f"print(','.join(m for m in {HEAVY[:2]!r} if m in sys.modules), t.active)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["trackers,supervision", "1"], out.stdout
