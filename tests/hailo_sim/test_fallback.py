"""CPU fallback (model.fallback) on the simulated device: removed, busy, restored; nothing dropped."""

from __future__ import annotations

import threading
import time

import pytest

from hailo_scrfd.errors import QueueFull
from hailo_scrfd.http.app import create_app
from hailo_scrfd.runtime.fallback import FALLBACK_NAME

from ..ops.test_openapi import check
from .test_hailo_backend import wait_for


@pytest.fixture
def fallback_model(hailo_model, shared):
    def make(**overrides):
        settings = {"model__fallback": str(shared / "models" / "scrfd_2.5g_bnkps.onnx"),
                    "hailo__fallback_after_s": 0.3, "hailo__probe_interval_s": 0.2, **overrides}
        return hailo_model("2.5g", **settings)
    return make


def health(client) -> tuple[int, dict]:
    resp = client.get("/health")
    check("/health", "get", resp)  # as documented in openapi.json
    return resp.status_code, resp.get_json()


def test_no_device_at_start_serves_on_the_cpu_then_returns(fallback_model, load_image, sim):
    sim.device_ids = []
    model = fallback_model()
    client = create_app(model.config, model).test_client()
    assert model.fallback_status is not None and model.state == "ok"
    code, body = health(client)
    assert code == 200 and body["status"] == "degraded" and body["model"]["backend"] == FALLBACK_NAME
    assert "no Hailo device found" in body["reason"] and body["fallback"]["active"] is True
    assert len(model.detect_faces(load_image("t1.jpg")).faces) == 6
    assert "hailo_scrfd_fallback_active 1.0" in client.get("/metrics").get_data(as_text=True)
    sim.device_ids = ["0000:01:00.0"]
    assert wait_for(lambda: health(client)[1]["status"] == "ok")
    code, body = health(client)
    assert code == 200 and body["model"]["backend"].startswith("hailort:") and "fallback" not in body
    jobs = sim.jobs_completed
    assert len(model.detect_faces(load_image("t1.jpg")).faces) == 6 and sim.jobs_completed == jobs + 1
    assert model.fallback_status["seconds_total"] > 0 and model.recoveries == 0


def test_device_removed_busy_and_restored_under_steady_load(fallback_model, load_image, sim):
    model = fallback_model()
    image = load_image("s_l.jpg")
    results: list = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                results.append((len(model.detect_faces(image).faces), model.backend.name))
            except Exception as exc:
                results.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: len(results) >= 3)
        sim.device_ids = []  # the PCIe link drops: jobs in flight fail, and the device is gone
        assert wait_for(lambda: model.fallback_status["active"])
        sim.device_ids, sim.busy = ["0000:01:00.0"], True  # back, but another process holds it
        assert wait_for(lambda: "busy" in model.fallback_status["reason"])  # a probe saw it (every 0.2 s)
        time.sleep(0.5)  # several more probes: still busy, so still on the CPU
        assert model.fallback_status["active"] and "busy" in model.fallback_status["reason"]
        count = len(results)
        assert wait_for(lambda: len(results) > count + 2)  # still answering, on the CPU
        sim.busy = False
        assert wait_for(lambda: not model.fallback_status["active"])
        count = len(results)
        assert wait_for(lambda: len(results) > count + 2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == [], failures[:3]
    assert {faces for faces, _ in results} == {2}
    engines = [name for _, name in results]
    assert FALLBACK_NAME in engines and engines[-1].startswith("hailort:") and engines[0].startswith("hailort:")
    status = model.fallback_status
    assert status["switches"] == 1 and status["seconds_total"] > 0.5 and model.state == "ok"


def test_a_short_fault_stays_on_the_npu(fallback_model, load_image, sim):
    model = fallback_model(hailo__fallback_after_s=10)
    sim.close_next_jobs = 1
    assert len(model.detect_faces(load_image("t1.jpg")).faces) == 6  # answered by the re-opened NPU
    status = model.fallback_status
    assert status == {"active": False, "reason": "", "seconds_total": 0.0, "switches": 0}
    assert model.backend.name.startswith("hailort:") and sim.vdevices_created == 2 and sim.open_vdevices == 1


def test_a_hung_npu_call_moves_to_the_cpu_before_the_request_times_out(fallback_model, load_image, sim):
    model = fallback_model(performance__inference_timeout_s=6.0, hailo__fallback_after_s=0)
    sim.hang_next_jobs = 1
    start = time.monotonic()
    # the NPU call's 3 s: job.wait gets half of it, since it may take twice its timeout; then the CPU answered
    assert len(model.detect_faces(load_image("t1.jpg")).faces) == 6
    assert 1.5 <= time.monotonic() - start < 6.0 and model.state == "ok" and model.recoveries == 0


def test_close_releases_everything(fallback_model, sim):
    sim.device_ids = []
    model = fallback_model()
    sim.device_ids = ["0000:01:00.0"]
    assert wait_for(lambda: not model.fallback_status["active"])
    model.close()
    assert sim.open_vdevices == 0


def test_calls_waiting_for_the_lost_npu_count_against_the_queue(fallback_model, load_image, sim):
    model = fallback_model(hailo__fallback_after_s=30, performance__max_queue_size=1)
    image, results = load_image("t1.jpg"), []

    def call():
        try:
            results.append(len(model.detect_faces(image).faces))
        except Exception as exc:
            results.append(exc)

    sim.device_ids = []  # the link drops: the call fails on the NPU, then waits for it (30 s before the CPU)
    waiter = threading.Thread(target=call)
    waiter.start()
    assert wait_for(lambda: model.queue_depth == 1)
    start = time.monotonic()
    with pytest.raises(QueueFull):  # a second caller is told at once, as a full engine queue would
        model.detect_faces(image)
    assert time.monotonic() - start < 5.0
    sim.device_ids = ["0000:01:00.0"]
    waiter.join(30)
    assert results == [6] and model.queue_depth == 0 and not model.fallback_status["active"]
