"""Load: a 60 fps MJPEG camera against a stream capped at 20 processed frames a second, for 20 s on a real
server (bench/stream_load.py runs the same for 60 s). The lag stays within two processing periods, every
frame not processed is counted as dropped, and memory stays flat."""

from __future__ import annotations

import pytest

from bench.stream_load import run, verdict

pytestmark = pytest.mark.e2e


def test_a_fast_camera_is_dropped_not_queued(shared):
    result = run(20.0, source_fps=60.0, max_fps=20.0)
    assert result["processed_fps"] <= 21.0 and result["frames_in"] > 2 * result["frames_processed"], result
    assert verdict(result) == [], result
    # Bounded lag: the last third of the run is no later than the first (a queue would grow without end).
    assert result["lag_ms_last_third_p50"] <= 2 * result["period_ms"], result
