"""The benchmark's HTTP client: keep-alive load from a few threads, and the overhead row's alternating samples.

http.client, not requests: it shares the machine's two cores with the server, so the lighter it is, the less it
distorts what it measures. Every loop is bounded and targets 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def http_load(port: int, data: bytes, mime: str, clients: int, requests_per_client: int,
              path: str = "/v1/detect") -> tuple[list[tuple[float, float | None]], float]:
    """Per request (latency ms, the server's own engine ms), and throughput (req/s), for ``clients``
    concurrent keep-alive clients each sending its share.

    The client is http.client, not requests: it shares the machine's two cores with the server,
    so the lighter it is, the less it distorts what it measures.
    """
    samples: list[tuple[float, float | None]] = []
    lock = threading.Lock()
    headers = {"Content-Type": mime}

    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        send(conn, "POST" if data else "GET", path, data, headers)  # warm-up
        mine = [send(conn, "POST" if data else "GET", path, data, headers, engine=path == "/v1/detect" and clients == 1)
                for _ in range(requests_per_client)]
        conn.close()
        with lock:
            samples.extend(mine)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    return samples, clients * (requests_per_client + 1) / wall


def send(conn, method: str, path: str, data: bytes | None, headers: dict, engine: bool = False,
         timings: bool = False) -> tuple[float, Any]:
    """(latency ms, and with ``engine`` the server's engine ms, with ``timings`` all its timings): the clock
    stops when the body is read, before the client parses it."""
    start = time.perf_counter()
    conn.request(method, path, body=data or None, headers=headers if data else {})
    resp = conn.getresponse()
    body = resp.read()
    ms = (time.perf_counter() - start) * 1000.0
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
    if not (engine or timings):
        return ms, None
    server = json.loads(body)["timings_ms"]
    return ms, server if timings else server["inference"]


def overhead_samples(port: int, data: bytes, n: int) -> list[tuple[float, float, float, float]]:
    """Per request: (detect latency, the round trip of the GET /health just before it, the server's engine ms
    and its decode ms), alternating on one keep-alive connection as bench/stack.py measures the bare stack, so
    that the round trip subtracted from each request is one paid in the same state, right after a request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for i in range(n + 5):
        trip, _ = send(conn, "GET", "/health", None, {})
        latency, timings = send(conn, "POST", "/v1/detect", data, {"Content-Type": "image/jpeg"}, timings=True)
        if i >= 5:
            out.append((latency, trip, timings["inference"], timings["decode"]))
    conn.close()
    return out
