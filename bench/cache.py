#!/usr/bin/env python3
"""The result cache, measured: the seed's detect -> align workflow, and a load of all-different photos.

Usage: python bench/cache.py [--rounds N] [--quick]

Two servers, one with the cache (the default) and one with ``cache.enabled: false``, measured in turn each
round so that machine load hits both alike, on held-out WIDER FACE photos (ones INT8 calibration never saw):
- workflow: POST /v1/detect then POST /v1/align of each photo; the align call's latency, and the engine runs
  per photo (the server's /health counts: misses, i.e. engine results, per photo);
- load: 8 keep-alive clients sending photos that are all different (so every request misses): throughput, and
  the RSS after it.
It prints each round and the medians of the per-round ratios cache / no cache.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ab  # noqa: E402
from bench.client import send  # noqa: E402
from bench.common import rss_mb  # noqa: E402
from support.data import shared_dir  # noqa: E402
from support.server import ServerProcess, clean_env  # noqa: E402

JPEG = {"Content-Type": "image/jpeg"}


def server(model: Path, cache: bool) -> ServerProcess:
    config = Path(tempfile.mkdtemp(prefix="hailo-scrfd-cache-bench-")) / "config.yaml"
    config.write_text(f"cache:\n  enabled: {'true' if cache else 'false'}\n")
    srv = ServerProcess(model, "--config", str(config), env=clean_env(MALLOC_ARENA_MAX="1"))
    srv.wait_ready(120)
    return srv


def workflow(port: int, photos: list[bytes]) -> tuple[float, float]:
    """(median align latency ms, engine results per photo) for detect then align of each photo."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    before = cache_misses(conn)
    aligns = []
    for data in photos:
        send(conn, "POST", "/v1/detect", data, JPEG)
        aligns.append(send(conn, "POST", "/v1/align", data, JPEG)[0])
    runs = (cache_misses(conn) - before) / len(photos) if before is not None else 2.0
    conn.close()
    return statistics.median(aligns), runs


def cache_misses(conn) -> int | None:
    conn.request("GET", "/health")
    body = json.loads(conn.getresponse().read())
    return body["cache"]["misses"] if body["cache"]["enabled"] else None


def load(port: int, photos: list[bytes], clients: int = 8) -> float:
    """Requests per second for ``clients`` keep-alive clients sending every photo once, all different."""
    shares = [photos[i::clients] for i in range(clients)]

    def client(mine: list[bytes]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for data in mine:
            send(conn, "POST", "/v1/detect", data, JPEG)
        conn.close()
        return len(mine)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(client, shares))
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shared = shared_dir()
    model = shared / "models" / "scrfd_2.5g_bnkps.onnx"
    photos = ab.held_out_photos(shared, 8 if args.quick else 40)
    rows: dict[str, list[dict]] = {"cache": [], "no cache": []}
    for r in range(args.rounds):
        for name in rows:
            srv = server(model, name == "cache")
            try:
                # Different bytes for the load than for the workflow, so that the load's photos all miss.
                align_ms, runs = workflow(srv.port, photos)
                rate = load(srv.port, [data + b"\0" for data in photos])
                rows[name].append({"align_ms": align_ms, "runs": runs, "throughput": rate,
                                   "rss": rss_mb(srv.proc.pid)})
            finally:
                srv.stop()
            m = rows[name][-1]
            print(f"round {r + 1} {name:9s} align p50 {m['align_ms']:7.1f} ms  engine runs per photo {m['runs']:.2f}"
                  f"  throughput {m['throughput']:5.1f} req/s  RSS {m['rss']:.0f} MB", flush=True)
    print("medians (cache / no cache, per round):")
    for key in ("align_ms", "throughput", "rss"):
        ratios = [a[key] / b[key] for a, b in zip(rows["cache"], rows["no cache"], strict=True)]
        print(f"  {key:10s} {statistics.median(ratios):.3f}")
    print(f"  engine runs per photo: cache {statistics.median(x['runs'] for x in rows['cache']):.2f}, "
          f"no cache 2 (detect and align each run the engine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
