"""SIGTERM during a burst, under CPU load, 30 times: every request is answered or refused, none reset.

Before the drain (http/drain.py), 2 runs in 12 lost a request to ``ConnectionResetError``: cheroot's ``stop()``
closed the listening socket with connections still queued in the kernel's backlog. Each run here starts a
server (the next one loads while the current one is stopped), sends from 12 clients (8 opening a connection
per request, 4 keeping one alive) and a /health poller, and sends SIGTERM once 12 requests were answered.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter

import pytest

from support.load import Clients, classify, cpu_busy
from support.server import ServerProcess

pytestmark = pytest.mark.e2e

RUNS = 30
DRAIN_S = 0.3


def stop_counts(log: str) -> tuple[int, int, int]:
    return tuple(map(int, re.search(r"stopped: (\d+) requests started, (\d+) finished, (\d+) abandoned",
                                    log).groups()))


class HealthPoller(threading.Thread):
    """GET /health (a new connection each time) until refused: the statuses seen, by HTTP code and body."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.seen = port, Counter()

    def run(self) -> None:
        for _ in range(100_000):  # bounded; ends at the first refusal
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/health", headers={"Connection": "close"})
                resp = conn.getresponse()
                self.seen[(resp.status, json.loads(resp.read())["status"])] += 1
            except OSError as exc:
                self.seen[classify(exc)] += 1
                if isinstance(exc, ConnectionRefusedError):
                    return
            finally:
                conn.close()
            time.sleep(0.02)

    @property
    def answered(self) -> int:
        return sum(n for key, n in self.seen.items() if isinstance(key, tuple))


def burst(srv: ServerProcess, body: bytes) -> dict:
    """One run: load, SIGTERM, wait for the exit; what the clients and the server saw."""
    srv.wait_ready(120)
    fresh = Clients(srv.port, body, count=8, until_refused=True).start()
    kept = Clients(srv.port, body, count=4, keepalive=True, until_refused=True).start()
    health = HealthPoller(srv.port)
    health.start()
    fresh.wait_answers(8)
    kept.wait_answers(4)
    start = time.monotonic()
    code = srv.stop(timeout_s=60)
    stop_s = time.monotonic() - start
    for clients in (fresh, kept):
        clients.stop()
    health.join(30)
    started, finished, abandoned = stop_counts(srv.log())
    outcomes = fresh.outcomes + kept.outcomes
    return {"code": code, "outcomes": outcomes, "by_kind": (dict(fresh.outcomes), dict(kept.outcomes)),
            "health": health.seen, "stop_s": stop_s, "started": started,
            "finished": finished, "abandoned": abandoned,
            "server_answered": outcomes[200] + health.answered + srv.probes, "log": srv.log()}


def check_run(run: int, result: dict) -> None:
    failures = {k: v for k, v in result["outcomes"].items() if k not in (200, "refused")}
    assert result["code"] == 0, result["log"]
    assert not failures, f"run {run}: {result['by_kind']}\n{result['log']}"
    assert result["abandoned"] == 0 and result["started"] == result["finished"], result["log"]
    # Every request the server took was answered to its client; the others were refused unsent.
    assert result["server_answered"] == result["finished"], (run, dict(result["outcomes"]), dict(result["health"]),
                                                             result["log"])
    assert not [k for k in result["health"] if not isinstance(k, tuple) and k != "refused"]


def test_sigterm_bursts_under_cpu_load_lose_nothing(shared):
    body = (shared / "images" / "t1.jpg").read_bytes()
    model = shared / "models" / "scrfd_500m_bnkps.onnx"
    totals, health, slowest_stop = Counter(), Counter(), 0.0
    upcoming = None
    with cpu_busy():
        try:
            upcoming = ServerProcess(model, drain_s=DRAIN_S)
            for run in range(RUNS):
                srv, upcoming = upcoming, (ServerProcess(model, drain_s=DRAIN_S) if run + 1 < RUNS else None)
                try:
                    result = burst(srv, body)
                finally:
                    srv.stop()
                check_run(run, result)
                totals += result["outcomes"]
                health += result["health"]
                slowest_stop = max(slowest_stop, result["stop_s"])
        finally:
            if upcoming is not None:  # a failed run leaves the next server started: stop it too
                upcoming.stop()
    assert totals[200] >= RUNS * 12 and totals["refused"] == RUNS * 12
    assert health[(503, "draining")] >= 1, dict(health)  # the balancer's signal was seen
    print(f"\n{RUNS} SIGTERM bursts under CPU load: {totals[200]} answered 200, {totals['refused']} refused "
          f"unsent, 0 reset; /health {dict(health)}; slowest stop {slowest_stop:.2f}s")
