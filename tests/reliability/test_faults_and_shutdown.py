"""A live server: injected backend faults recover by themselves."""

from __future__ import annotations

import time

import pytest
import requests

from support.server import ServerProcess

pytestmark = pytest.mark.e2e



@pytest.fixture
def faulty_server(shared, tmp_path):
    config = tmp_path / "faults.yaml"
    config.write_text("debug:\n  fault_injection: true\nperformance:\n  inference_timeout_s: 1\n")
    srv = ServerProcess(shared / "models" / "scrfd_2.5g_bnkps.onnx", "--config", str(config))
    try:
        srv.wait_ready()
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()


def detect(srv, data):
    return requests.post(srv.url + "/v1/detect", data=data, headers={"Content-Type": "image/jpeg"}, timeout=30)


def watch_recovery(srv, timeout_s=30.0):
    """Poll /health: the statuses seen, and seconds until it is ok again."""
    seen, start = [], time.monotonic()
    while time.monotonic() - start < timeout_s:
        body = requests.get(srv.url + "/health", timeout=5).json()
        seen.append(body["status"])
        if body["status"] == "ok":
            return seen, time.monotonic() - start, body
        time.sleep(0.01)
    raise AssertionError(f"not recovered after {timeout_s}s: {seen[-5:]}")


def test_fault_hook_is_off_by_default(shared):
    srv = ServerProcess(shared / "models" / "scrfd_500m_bnkps.onnx")
    try:
        srv.wait_ready()
        assert requests.post(srv.url + "/debug/faults", json={"mode": "error"}, timeout=5).status_code == 404
    finally:
        srv.stop()


def test_inference_error_503_degraded_and_recreated(faulty_server, t1):
    assert requests.post(faulty_server.url + "/debug/faults", json={"mode": "error"}, timeout=5).status_code == 202
    start = time.monotonic()
    resp = detect(faulty_server, t1)
    elapsed = time.monotonic() - start
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "inference_failed"
    assert elapsed < 2.5  # at once, where a hang waits out inference_timeout_s (1 s) and more (below)
    seen, recovery_s, health = watch_recovery(faulty_server)
    assert recovery_s < 15.0 and health["recoveries"] == 1  # a new session: ~1 s on a quiet machine
    assert "degraded" in seen or "model degraded" in faulty_server.log()
    assert detect(faulty_server, t1).json()["count"] == 6


def test_hung_inference_is_bounded_then_recovered(faulty_server, t1):
    requests.post(faulty_server.url + "/debug/faults", json={"mode": "hang"}, timeout=5).raise_for_status()
    start = time.monotonic()
    resp = detect(faulty_server, t1)
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "inference_timeout"
    assert 0.9 < time.monotonic() - start < 5.0  # inference_timeout_s is 1
    _, recovery_s, health = watch_recovery(faulty_server)
    assert recovery_s < 15.0 and health["recoveries"] == 1
    assert detect(faulty_server, t1).json()["count"] == 6


# SIGTERM during a burst: tests/reliability/test_drain.py (30 runs under CPU load, nothing reset).
