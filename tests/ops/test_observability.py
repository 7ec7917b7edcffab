"""/health's operational fields, Prometheus /metrics, and the SoC temperature sources."""

from __future__ import annotations

import os
import stat

import pytest

from prometheus_client.parser import text_string_to_metric_families

from hailo_scrfd.system.thermal import read_soc_temperature

METRICS = {"hailo_scrfd_requests", "hailo_scrfd_request_duration_seconds", "hailo_scrfd_inference_duration_seconds",
           "hailo_scrfd_faces_per_image", "hailo_scrfd_queue_depth", "hailo_scrfd_model_loaded",
           "hailo_scrfd_backend_recoveries", "hailo_scrfd_soc_temperature_celsius", "hailo_scrfd_build_info"}



@pytest.fixture
def fresh_client(app_factory):
    """A new app for each test: its request counters start at zero, and every request reaches the engine (a
    result-cache hit runs no inference, and is not counted as one)."""
    return app_factory(cache__enabled=False)


def samples(client):
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(resp.get_data(as_text=True))}
    return families, {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}


def test_all_metrics_are_exported(fresh_client):
    families, _ = samples(fresh_client)
    assert METRICS <= set(families)


def test_requests_latency_inference_and_faces_are_counted(fresh_client, shared):
    body = (shared / "images" / "t1.jpg").read_bytes()
    for _ in range(2):
        assert fresh_client.post("/v1/detect", data=body, content_type="image/jpeg").status_code == 200
    assert fresh_client.post("/v1/detect", data=b"junk", content_type="image/jpeg").status_code == 422
    assert fresh_client.get("/no/such/path").status_code == 404
    _, values = samples(fresh_client)
    assert values[("hailo_scrfd_requests_total", (("endpoint", "/v1/detect"), ("status", "200")))] == 2
    assert values[("hailo_scrfd_requests_total", (("endpoint", "/v1/detect"), ("status", "422")))] == 1
    assert values[("hailo_scrfd_requests_total", (("endpoint", "unmatched"), ("status", "404")))] == 1
    assert values[("hailo_scrfd_request_duration_seconds_count", (("endpoint", "/v1/detect"),))] == 3
    assert values[("hailo_scrfd_inference_duration_seconds_count", ())] == 2
    assert values[("hailo_scrfd_faces_per_image_sum", ())] == 12  # 6 faces, twice
    assert values[("hailo_scrfd_model_loaded", ())] == 1 and values[("hailo_scrfd_queue_depth", ())] == 0


def test_health_reports_counts_queue_and_temperature(fresh_client):
    fresh_client.get("/health")
    fresh_client.get("/nope")
    body = fresh_client.get("/health").get_json()
    assert body["requests"]["total"] >= 2 and body["requests"]["by_status"]["404"] == 1
    assert body["queue_depth"] == 0 and body["recoveries"] == 0
    assert body["temperature_c"] is None or isinstance(body["temperature_c"], float)


def test_temperature_from_sysfs(tmp_path):
    for i, (kind, milli) in enumerate([("gpu-thermal", "39000"), ("cpu-thermal", "51250")]):
        zone = tmp_path / f"thermal_zone{i}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")
    assert read_soc_temperature(tmp_path) == 51.25  # the CPU/SoC zone wins


def test_temperature_from_vcgencmd(tmp_path, monkeypatch):
    tool = tmp_path / "vcgencmd"
    tool.write_text("#!/bin/sh\n[ \"$1\" = measure_temp ] && echo \"temp=48.3'C\"\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert read_soc_temperature(tmp_path / "no-sysfs") == 48.3


def test_temperature_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert read_soc_temperature(tmp_path) is None
