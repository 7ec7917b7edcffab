"""`hailo-scrfd serve` with a .hef on the simulated Hailo-10H, as a real process over HTTP."""

import pytest
import requests

from support.server import ServerProcess, clean_env
from .conftest import SIM_DIR

pytestmark = pytest.mark.e2e


def sim_env(chip: str, **extra: str):
    return clean_env(PYTHONPATH=str(SIM_DIR), HAILO_SIM_ARCH=chip, **extra)


def test_serve_auto_selects_hailo_for_a_hef(hefs, shared, chip):
    srv = ServerProcess(hefs["2.5g"], env=sim_env(chip))
    try:
        health = srv.wait_ready()
        assert health["model"]["backend"].startswith("hailort:") and health["model"]["input_size"] == [640, 640]
        resp = requests.post(srv.url + "/v1/detect", data=(shared / "images" / "t1.jpg").read_bytes(),
                             headers={"Content-Type": "image/jpeg"}, timeout=60)
        assert resp.status_code == 200 and resp.json()["count"] == 6
        assert resp.json()["backend"] == health["model"]["backend"]
    finally:
        assert srv.stop() == 0, srv.log()


def test_hef_for_another_chip_exits_2_with_one_line(hefs, chip):
    srv = ServerProcess(hefs["other-chip"], env=sim_env(chip))
    code = srv.proc.wait(60)
    lines = srv.log().strip().splitlines()
    srv.stop()
    assert code == 2 and "Traceback" not in srv.log()
    assert lines[-1].startswith("hailo-scrfd: error: ") and "compiled for a different Hailo chip" in lines[-1]
