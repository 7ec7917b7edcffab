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


def test_a_tracker_still_gets_them():
    from hailo_scrfd.runtime.tracking import FaceTracker

    FaceTracker()
    assert "trackers" in sys.modules
