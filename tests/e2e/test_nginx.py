"""Scale-out for real: Debian's nginx with deploy/nginx/hailo-scrfd.conf in front of three `serve` processes.

A steady client load runs while one instance is killed (SIGKILL), restarted, and another is stopped
(SIGTERM): the client must see only 200s. Everything runs on 127.0.0.1, bounded in time and count.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import threading
import time

import pytest
import requests

from support.data import shared_dir
from support.nginx import Nginx, nginx_binary
from support.server import ServerProcess, clean_env
from support.wait import until

pytestmark = pytest.mark.e2e

# The same photo again and again: every request reaches an engine (no result cache), so the load is the
# engine-bound one the failover is sized for.
CONFIG = """
cache:
  enabled: false
performance:
  inference_threads: 1
  inference_concurrency: 1
  worker_threads: 4
server:
  shutdown_timeout_s: 10
"""


@pytest.fixture(scope="module")
def nginx_exe():
    exe = nginx_binary()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: .ci/run must install it")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return exe


@pytest.fixture(scope="module")
def cluster(nginx_exe, shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    config = tmp / "instance.yaml"
    config.write_text(CONFIG)
    model = shared / "models" / "scrfd_2.5g_bnkps.onnx"

    def start(port=None):
        return ServerProcess(model, "--config", str(config), port=port, env=clean_env())

    instances = [start() for _ in range(3)]
    for s in instances:
        s.wait_ready()
    proxy = Nginx(tmp / "nginx", [s.port for s in instances])
    proxy.wait_ready()
    state = {"instances": instances, "nginx": proxy, "start": start}
    yield state
    proxy.stop()
    for s in state["instances"]:
        s.stop()


class Load:
    """``clients`` threads posting a photo in a loop until stopped, at most ``max_requests`` in all."""

    def __init__(self, url: str, body: bytes, clients: int = 3, max_requests: int = 3000):
        self.url, self.body, self.max_requests = url + "/v1/detect", body, max_requests
        self.results: list[tuple[float, int | str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                if len(self.results) >= self.max_requests:
                    return
            try:
                resp = session.post(self.url, data=self.body, headers={"Content-Type": "image/jpeg"}, timeout=30)
                outcome: int | str = resp.status_code
                if resp.status_code == 200 and resp.json()["count"] != 6:
                    outcome = f"wrong count {resp.json()['count']}"
            except requests.RequestException as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self.results.append((time.monotonic(), outcome))

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def count_since(self, t0: float) -> int:
        with self._lock:
            return sum(1 for t, _ in self.results if t >= t0)


def test_no_failed_request_while_instances_die_and_restart(cluster, shared):
    instances, proxy = cluster["instances"], cluster["nginx"]
    body = (shared / "images" / "t1.jpg").read_bytes()
    victim, stopped = instances[0], instances[1]
    with Load(proxy.url, body) as load:
        time.sleep(1.5)
        t_kill = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)
        time.sleep(1.5)
        restarted = cluster["start"](port=victim.port)
        instances[0] = restarted
        restarted.wait_ready()
        logged_before_restart = len(proxy.access_log())
        time.sleep(1.5)
        t_term = time.monotonic()
        stopped.proc.send_signal(signal.SIGTERM)
        assert stopped.proc.wait(30) == 0, stopped.log()
        time.sleep(1.5)
        # nginx takes the restarted instance back once its fail_timeout (5 s) after the kill is over
        upstream = f"127.0.0.1:{restarted.port}"
        until(lambda: any(upstream in line for line in proxy.access_log()[logged_before_restart:]), 20, 0.2)
    outcomes = [o for _, o in load.results]
    failures = [o for o in outcomes if o != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} requests failed: {failures[:5]}"
    assert len(outcomes) >= 20 and load.count_since(t_kill) >= 10 and load.count_since(t_term) >= 3
    # nginx saw the dead instances and moved on (passive health check); the restarted one got work again.
    log = proxy.access_log()
    served = {line.split()[2] for line in log[logged_before_restart:] if line.startswith("200 ")}
    assert upstream in " ".join(served), served
    print(f"\n{len(outcomes)} requests, all 200; nginx retried {sum(', ' in line for line in log)} of them "
          "on another instance")


def test_a_session_stays_on_one_instance(cluster):
    instances, proxy = cluster["instances"], cluster["nginx"]
    live = [s for s in instances if s.proc.poll() is None]
    if len(live) < 3:  # the failover test stopped one: bring the set back to three
        restarted = cluster["start"](port=instances[1].port)
        restarted.wait_ready()
        instances[1] = restarted
    proxy_session = requests.Session()
    frame_bytes = (shared_dir() / "images" / "s_l.jpg").read_bytes()

    def counters() -> list[float]:
        out = []
        for s in instances:
            text = requests.get(s.url + "/metrics", timeout=5).text
            m = re.search(r'hailo_scrfd_requests_total\{endpoint="/v1/track",status="200"\} (\S+)', text)
            out.append(float(m.group(1)) if m else 0.0)
        return out

    used = set()
    for session in range(12):
        before = counters()
        for frame in range(5):  # a client-named session: its first frame opens it where the name hashes to
            resp = proxy_session.post(f"{proxy.url}/v1/track?session=cam-{session}", data=frame_bytes,
                                      headers={"Content-Type": "image/jpeg"}, timeout=30)
            assert resp.status_code == 200, resp.text
            assert resp.json()["session"] == f"cam-{session}" and resp.json()["frame"] == frame
        delta = [a - b for a, b in zip(counters(), before, strict=True)]
        assert sorted(delta) == [0, 0, 5], f"session cam-{session} was split across instances: {delta}"
        used.add(delta.index(5))
    assert len(used) >= 2, "consistent hashing should spread 12 sessions over more than one instance"


def test_metrics_and_debug_are_not_public(cluster):
    proxy, instance = cluster["nginx"], cluster["instances"][2]
    assert requests.get(proxy.url + "/metrics", timeout=5).status_code == 404
    assert requests.post(proxy.url + "/debug/faults", json={}, timeout=5).status_code == 404
    assert requests.get(instance.url + "/metrics", timeout=5).status_code == 200  # scraped per instance
    assert requests.get(proxy.url + "/health", timeout=5).json()["status"] == "ok"


def test_body_limit_is_enforced_by_nginx_as_json(cluster):
    conn = http.client.HTTPConnection("127.0.0.1", cluster["nginx"].port, timeout=10)
    conn.putrequest("POST", "/v1/detect")
    conn.putheader("Content-Type", "image/jpeg")
    conn.putheader("Content-Length", str(21 * 1024 * 1024))  # server.max_body_mb is 20
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 413 and resp.getheader("Content-Type") == "application/json"
    assert b'"code": "payload_too_large"' in body
