"""`hailo-scrfd serve` with model.fallback, as a real process: the simulated NPU disappears, is busy, returns.

The server's simulated device is steered from here through the JSON file in $HAILO_SIM_CONTROL.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import yaml

from support.server import ServerProcess
from support.wait import until
from .test_serve_sim import sim_env

pytestmark = pytest.mark.e2e


def test_zero_failed_requests_while_the_npu_goes_and_comes_back(hefs, shared, chip, tmp_path):
    control = tmp_path / "sim.json"
    control.write_text("{}")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"fallback": str(shared / "models" / "scrfd_2.5g_bnkps.onnx")},
        "hailo": {"fallback_after_s": 0.5, "probe_interval_s": 0.3},
        "cache": {"enabled": False}}))  # the same photo again and again: each request must reach an engine
    srv = ServerProcess(hefs["2.5g"], "--config", str(config), env=sim_env(chip, HAILO_SIM_CONTROL=str(control)))
    body = (shared / "images" / "s_l.jpg").read_bytes()
    codes: list[int] = []
    engines: list[str] = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                resp = requests.post(srv.url + "/v1/detect", data=body, headers={"Content-Type": "image/jpeg"},
                                     timeout=30)
                codes.append(resp.status_code)
                if resp.status_code == 200:
                    engines.append(resp.json()["backend"])
            except requests.RequestException:
                codes.append(-1)

    def steer(**state):
        control.write_text(json.dumps(state))

    def health() -> dict:
        resp = requests.get(srv.url + "/health", timeout=5)
        return {"code": resp.status_code, **resp.json()}

    try:
        assert srv.wait_ready()["model"]["backend"].startswith("hailort:")
        thread = threading.Thread(target=client)
        thread.start()
        assert until(lambda: len(codes) >= 3)
        steer(device_ids=[])                                   # the device disappears
        assert until(lambda: health()["status"] == "degraded"), srv.log()
        h = health()
        assert h["code"] == 200 and h["model"]["backend"] == "onnxruntime (fallback)" and h["fallback"]["active"]
        steer(device_ids=["0000:01:00.0"], busy=True)          # back, but held by another process
        time.sleep(1.5)
        assert health()["status"] == "degraded"
        steer(device_ids=["0000:01:00.0"], busy=False)         # free again
        assert until(lambda: health()["status"] == "ok"), srv.log()
        count = len(codes)
        assert until(lambda: len(codes) >= count + 3)
        metrics = requests.get(srv.url + "/metrics", timeout=5).text
    finally:
        stop.set()
        if "thread" in locals():
            thread.join(60)
        assert srv.stop() == 0, srv.log()
    print(f"{chip}: {len(codes)} requests, {engines.count('onnxruntime (fallback)')} on the CPU fallback")
    assert codes and set(codes) == {200}, f"{codes.count(200)} ok of {len(codes)}: {sorted(set(codes))}"
    assert "onnxruntime (fallback)" in engines and engines[0].startswith("hailort:")
    assert engines[-1].startswith("hailort:")
    seconds = next(float(line.split()[1]) for line in metrics.splitlines()
                   if line.startswith("hailo_scrfd_fallback_seconds "))
    assert seconds > 1.0
