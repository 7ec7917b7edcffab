"""A rolling restart behind nginx loses nothing: scripts/rolling-restart.sh restarts two instances in turn (with a
stand-in for systemctl) while 8 clients post photos and one pushes /v1/track frames to a named session.

Every client request must be answered 200, and nginx must not have hidden a reset by replaying a request an
instance had received: its error log may show refused connections (retried before anything was sent), never
a connection reset or closed while a response was awaited.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from support import fake_systemctl
from support.data import ROOT
from support.load import Clients
from support.nginx import Nginx, nginx_binary
from support.server import clean_env, free_port

pytestmark = pytest.mark.e2e

LOAD_S = 30
CONFIG = """
performance:
  inference_threads: 1
  inference_concurrency: 1
  worker_threads: 4
"""
HIDDEN_FAILURES = ("while reading response header", "reset by peer", "prematurely closed")


def two_free_ports() -> int:
    """A base port P with P+1 and P+2 free (instance N serves on P+N)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port - 1
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture
def instances(model_path, tmp_path):
    if nginx_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: .ci/run must install it")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    state, base = tmp_path / "systemd", two_free_ports()
    state.mkdir()
    config = tmp_path / "instance.yaml"
    config.write_text(CONFIG)
    argv = [sys.executable, "-m", "hailo_scrfd", "serve", "--model", str(model_path), "--config", str(config),
            "--host", "127.0.0.1"]  # server.drain_s auto: 3 s
    (state / "serve.json").write_text(json.dumps({"argv": argv, "base_port": base}))
    env = {**clean_env(), "FAKE_SYSTEMD_DIR": str(state)}
    try:
        for n in (1, 2):
            subprocess.run([sys.executable, fake_systemctl.__file__, "start", f"hailo-scrfd@{n}.service"], env=env,
                           check=True, timeout=30)
        yield {"state": state, "base": base, "env": env}
    finally:
        fake_systemctl.stop_all(state)


def rolling_restart(instances) -> subprocess.CompletedProcess:
    systemctl = f"{sys.executable} {fake_systemctl.__file__}"
    return subprocess.run([str(ROOT / "scripts" / "rolling-restart.sh")], capture_output=True, text=True,
                          timeout=300, env={**instances["env"], "SYSTEMCTL": systemctl,
                                            "BASE_PORT": str(instances["base"])})


def wait_healthy(port: int, timeout_s: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"instance on {port} not ready")


def test_rolling_restart_behind_nginx_fails_no_request(instances, shared, tmp_path):
    base, state = instances["base"], instances["state"]
    for n in (1, 2):
        wait_healthy(base + n)
    proxy = Nginx(tmp_path / "nginx", [base + 1, base + 2])
    photo, frame = (shared / "images" / "t1.jpg").read_bytes(), (shared / "images" / "s_l.jpg").read_bytes()
    detect = Clients(proxy.port, photo, count=8, keepalive=True, timeout_s=30)
    track = Clients(proxy.port, frame, count=1, path="/v1/track?session=cam-restart", keepalive=True, timeout_s=30)
    started = time.monotonic()
    try:
        proxy.wait_ready()
        detect.start()
        track.start()
        detect.wait_answers(16)
        result = rolling_restart(instances)
        time.sleep(max(0.0, LOAD_S - (time.monotonic() - started)))
    finally:
        detect.stop()
        track.stop()
        proxy.stop()
    outcomes = detect.outcomes + track.outcomes
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(outcomes) == {200}, (dict(detect.outcomes), dict(track.outcomes), proxy.error_log()[-3000:])
    assert track.outcomes[200] >= 10 and detect.outcomes[200] >= 50
    hidden = [line for line in proxy.error_log().splitlines() if any(s in line for s in HIDDEN_FAILURES)]
    assert not hidden, hidden
    for n in (1, 2):  # each instance was restarted once and its first run stopped cleanly
        first = (state / f"{n}-0.log").read_text()
        assert "0 abandoned" in first and (state / f"{n}-1.log").exists(), first
    slowest = max(detect.latencies + track.latencies)
    print(f"\nrolling restart of 2 instances in {time.monotonic() - started:.0f}s: {detect.outcomes[200]} detect and "
          f"{track.outcomes[200]} track requests, all 200; slowest {slowest:.2f}s; nginx retried "
          f"{sum(', ' in line for line in proxy.access_log())} refused connections elsewhere")
