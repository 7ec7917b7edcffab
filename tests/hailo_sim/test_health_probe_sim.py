"""GET /health?deep=1 on the simulated Hailo device, on a Hailo-10H and on a Hailo-8.

The probe passes on a working device; it fails on a device that answers every job with garbage (the
silent failure of per-channel quantization read as zero scales, where every score is 0) while plain
/health still says ok; it fails at its deadline on a hung device, without piling up probes.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import yaml

from hailo_scrfd.http.app import create_app
from support.server import ServerProcess
from ..ops.test_openapi import check
from .test_serve_sim import sim_env


PROBE_S = 1.0  # the deep probe's deadline in the hung-device test


def app_for(model, **health):
    return create_app(model.config.override(**{f"health__{k}": v for k, v in health.items()}), model)


def deep(client):
    """Status and body of ``/health?deep=1``, after checking the answer against the OpenAPI document."""
    resp = client.get("/health?deep=1")
    check("/health", "get", resp)
    return resp.status_code, resp.get_json()


def test_the_probe_passes_on_a_working_device(hailo_model):
    model = hailo_model()
    code, body = deep(app_for(model).test_client())
    probe = body["probe"]
    assert code == 200 and probe["ok"] and probe["sane"] and probe["problems"] == []
    assert probe["backend"].startswith("hailort:") and probe["engine_ms"] > 0 and 0 < probe["max_score"] < 1


@pytest.mark.parametrize("output_format, mode, problem", [
    ("quantized", "zeros", "stride 8 scores are all 0 (constant)"),
    ("float32", "zeros", "stride 8 scores are all 0 (constant)"),
    ("quantized", "noise", "% of the anchors score 0.5 or more (noise, not faces)"),  # uniform uint8 scores
    ("float32", "noise", "stride 8 scores are not finite ("),  # random float32 bits hold NaNs and infinities
])
def test_garbage_outputs_fail_the_deep_probe_and_only_it(hailo_model, sim, shared, mode, problem, output_format):
    model = hailo_model(hailo__output_format=output_format)
    client = app_for(model, probe_cache_s=0).test_client()
    assert deep(client)[0] == 200
    sim.garbage_outputs = mode
    if mode == "zeros":  # the silent failure: requests are answered, with no face at all
        photo = (shared / "images" / "t1.jpg").read_bytes()
        detect = client.post("/v1/detect", data=photo, content_type="image/jpeg")
        assert detect.status_code == 200 and detect.get_json()["count"] == 0
    plain = client.get("/health")
    assert plain.status_code == 200 and plain.get_json()["status"] == "ok" and "probe" not in plain.get_json()
    code, body = deep(client)
    probe = body["probe"]
    assert code == 503 and not probe["ok"] and probe["sane"] is False and probe["faces"] is None
    assert body["reason"] == "deep health probe failed: " + probe["reason"]
    assert probe["reason"].startswith("the outputs are not sane: ") and problem in probe["reason"]
    sim.garbage_outputs = ""  # the device is sane again: so is the probe
    assert deep(client)[0] == 200


def test_a_hung_device_fails_at_the_deadline_and_probes_do_not_pile_up(hailo_model, sim):
    # The windows below are wide (a loaded CI machine): what they tell apart is the probe's own deadline
    # (PROBE_S) from the request's inference timeout. A hung job fails at half of that (the backend's job.wait
    # takes half of what is left), so 8 * PROBE_S leaves 3 s after the polls for the plain /health below.
    model = hailo_model(performance__inference_timeout_s=8 * PROBE_S)
    app = app_for(model, probe_timeout_s=PROBE_S, probe_cache_s=0)
    jobs = sim.jobs_completed
    sim.hang_next_jobs = 1
    answers: list = []
    started = time.monotonic()

    def poll():
        answers.append((*deep(app.test_client()), time.monotonic() - started))

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(answers) == 6
    for code, body, elapsed in answers:
        assert code == 503 and 0.9 * PROBE_S < elapsed < 3 * PROBE_S, (code, elapsed)
        assert body["probe"]["reason"].startswith(f"the probe did not finish within {PROBE_S:g} s")
    # Past its deadline, while the device still hangs: plain /health is ok (the request timeout has not
    # run out), polls fail at once, and no second probe is queued behind the hung one.
    assert app.test_client().get("/health").status_code == 200
    poll_at = time.monotonic()
    assert deep(app.test_client())[0] == 503 and time.monotonic() - poll_at < 0.9 * PROBE_S  # no new deadline
    assert app.extensions["hailo_scrfd"].probe.runs == 1
    # The hung job runs into performance.inference_timeout_s, the backend is re-created, the probe passes.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not (model.ready and deep(app.test_client())[0] == 200):
        time.sleep(0.2)
    assert deep(app.test_client())[0] == 200 and model.recoveries == 1
    assert sim.jobs_completed > jobs


def test_polls_share_one_probe_and_its_cached_result(hailo_model, sim):
    model = hailo_model()
    app = app_for(model, probe_cache_s=30)
    jobs = sim.jobs_completed
    barrier = threading.Barrier(8)
    codes: list[int] = []

    def poll():
        client = app.test_client()
        barrier.wait()
        codes.extend(deep(client)[0] for _ in range(5))

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [200] * 40
    assert sim.jobs_completed - jobs == 1 and app.extensions["hailo_scrfd"].probe.runs == 1


@pytest.mark.e2e
def test_serve_deep_health_on_a_device_that_returns_garbage(hefs, shared, chip, tmp_path):
    """A real `serve` process: a load balancer polling ?deep=1 takes it out while its device returns zeros."""
    control = tmp_path / "sim.json"
    control.write_text("{}")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"health": {"probe_cache_s": 0, "probe_image": str(shared / "images" / "t1.jpg"),
                                                 "probe_expected_faces": 6}}))
    srv = ServerProcess(hefs["2.5g"], "--config", str(config), env=sim_env(chip, HAILO_SIM_CONTROL=str(control)))
    try:
        srv.wait_ready()
        ok = requests.get(srv.url + "/health?deep=1", timeout=10)
        assert ok.status_code == 200 and ok.json()["probe"]["faces"] == 6, ok.text
        control.write_text(json.dumps({"garbage_outputs": "zeros"}))
        time.sleep(0.05)  # a new mtime for the simulation to notice
        bad = requests.get(srv.url + "/health?deep=1", timeout=10)
        assert bad.status_code == 503 and bad.json()["reason"].startswith("deep health probe failed: the outputs "
                                                                         "are not sane"), bad.text
        assert requests.get(srv.url + "/health", timeout=10).status_code == 200
    finally:
        assert srv.stop() == 0, srv.log()
