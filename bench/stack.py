"""The serving stack's own floor for the overhead target: a bare Flask app on cheroot (the same WSGI server and
framework as the service) whose one route reads the request body and runs the engine inline, with no decode,
no worker thread, no post-processing and no middleware, and returns a ready-made response of the same size.

What it costs beyond its engine run, minus its own bare round trip, is the part of "HTTP - engine - decode -
round trip" that no code of ours can remove on this machine: reading the body, Flask's dispatch and the
engine's after-effects on the CPU (caches and threads), which a GET /health never pays.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time

from cheroot import wsgi
from flask import Flask, Response, request


def bare_app(run_engine, response_body: bytes) -> tuple[Flask, list[float]]:
    """The bare app, and the list its route appends each engine run's milliseconds to."""
    app = Flask("bare-stack")
    engine_ms: list[float] = []

    @app.get("/ping")
    def ping():
        return Response(b'{"status":"ok"}', mimetype="application/json")

    @app.post("/engine")
    def engine():
        request.get_data()
        start = time.perf_counter()
        run_engine()
        engine_ms.append((time.perf_counter() - start) * 1000.0)
        return Response(response_body, mimetype="application/json")

    return app, engine_ms


def stack_floor(run_engine, body: bytes, response: dict, n: int) -> dict[str, float]:
    """Median ``trip`` (GET /ping) and ``beyond_engine`` (POST of ``body`` minus its own engine time) in ms,
    alternating the two requests on one keep-alive connection."""
    app, engine_ms = bare_app(run_engine, json.dumps(response).encode())
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=4)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="bare-stack", daemon=True)
    thread.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.bind_addr[1], timeout=60)
    trips, beyond = [], []
    try:
        for i in range(n + 5):
            start = time.perf_counter()
            conn.request("GET", "/ping")
            conn.getresponse().read()
            middle = time.perf_counter()
            conn.request("POST", "/engine", body=body, headers={"Content-Type": "image/jpeg"})
            conn.getresponse().read()
            end = time.perf_counter()
            if i >= 5:
                trips.append((middle - start) * 1000.0)
                beyond.append((end - middle) * 1000.0 - engine_ms[-1])
    finally:
        conn.close()
        server.stop()
        thread.join(timeout=10)
    return {"trip": statistics.median(trips), "beyond_engine": statistics.median(beyond)}
