"""Per-image throughput of batch requests against single requests, on a live `serve` process.

For each round, the same images go to /v1/detect as: N single requests one after another (one keep-alive
connection); N single requests from ``--clients`` concurrent connections; one batch (a JSON ``images``
list) on one server per ``--in-flight`` value of ``performance.batch_in_flight`` (1: unpipelined); and one
batch as multipart files. Rounds interleave every mode, so a noisy machine slows all of them alike;
ratios are against the sequential single requests of the same round.

    python bench/batch.py [--images 16] [--rounds 5] [--clients 4] [--align] [--in-flight 0,1,2,3]
                          [--model scrfd_500m_bnkps.onnx]

Only 127.0.0.1; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support.data import shared_dir  # noqa: E402
from support.server import ServerProcess  # noqa: E402

MODEL = "scrfd_2.5g_bnkps.onnx"


def photos(shared: Path, count: int) -> list[bytes]:
    """``count`` WIDER FACE val photos (JPEG, about 1024 px wide, 1 to 100+ faces), the typical input."""
    paths = sorted((shared / "widerface" / "WIDER_val" / "images").rglob("*.jpg"))
    return [path.read_bytes() for path in paths[:count]]


def modes(servers: dict[int, str], images: list[bytes], clients: int, route: str) -> dict[str, Callable[[], int]]:
    """Each mode sends every image once and returns the faces found (a check that all of them ran)."""
    session = requests.Session()
    sessions = [requests.Session() for _ in range(clients)]
    encoded = [base64.b64encode(data).decode() for data in images]
    first = next(iter(servers.values()))

    def single(s: requests.Session, data: bytes) -> int:
        resp = s.post(first + route, data=data, headers={"Content-Type": "image/jpeg"}, timeout=120)
        resp.raise_for_status()
        return resp.json()["count"]

    def batch(url: str, multipart: bool = False) -> int:
        if multipart:
            resp = session.post(url + route, files=[("images", (f"{i}.jpg", d)) for i, d in enumerate(images)],
                                timeout=300)
        else:
            resp = session.post(url + route, json={"images": encoded}, timeout=300)
        resp.raise_for_status()
        return sum(entry["count"] for entry in resp.json()["results"])

    def concurrent() -> int:
        with ThreadPoolExecutor(clients) as pool:
            return sum(pool.map(lambda i: single(sessions[i % clients], images[i]), range(len(images))))

    table = {"single, sequential": lambda: sum(single(session, data) for data in images),
             f"single, {clients} clients": concurrent,
             "batch, multipart": lambda: batch(first, multipart=True)}
    for in_flight, url in servers.items():
        table[f"batch, in_flight {in_flight or 'auto'}"] = lambda url=url: batch(url)
    return table


def measure(table: dict[str, Callable[[], int]], rounds: int, count: int) -> dict[str, tuple[float, float]]:
    """Median milliseconds per image and median throughput ratio to sequential singles, per mode."""
    found = {name: fn() for name, fn in table.items()}  # warm-up, and every mode finds the same faces
    assert len(set(found.values())) == 1, found
    times: dict[str, list[float]] = {name: [] for name in table}
    ratios: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(rounds):
        for name, fn in table.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000.0 / count)
        for name in table:
            ratios[name].append(times["single, sequential"][-1] / times[name][-1])
    return {name: (statistics.median(times[name]), statistics.median(ratios[name])) for name in table}


def run(args: argparse.Namespace) -> None:
    shared = shared_dir()
    images = photos(shared, args.images)
    route = "/v1/align" if args.align else "/v1/detect"
    model = shared / "models" / args.model
    servers: dict[int, ServerProcess] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for in_flight in args.in_flight:
                config = Path(tmp) / f"in_flight_{in_flight}.yaml"
                config.write_text(f"performance:\n  batch_in_flight: {in_flight}\n")
                servers[in_flight] = ServerProcess(model, "--config", str(config))
            for server in servers.values():
                server.wait_ready()
            table = modes({k: s.url for k, s in servers.items()}, images, args.clients, route)
            results = measure(table, args.rounds, len(images))
        finally:
            for server in servers.values():
                server.stop()
    print(f"{route}, {args.model}: {len(images)} WIDER FACE val JPEGs per request, {args.rounds} rounds")
    print(f"{'mode':<24} {'ms/image (median)':>18} {'throughput vs sequential singles (median)':>42}")
    for name, (ms, ratio) in results.items():
        print(f"{name:<24} {ms:>18.1f} {ratio:>41.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="images per batch (default 16, the default cap)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections for the single baseline")
    parser.add_argument("--align", action="store_true", help="measure /v1/align instead of /v1/detect")
    parser.add_argument("--in-flight", type=lambda text: [int(v) for v in text.split(",")], default=[0, 1, 2],
                        help="performance.batch_in_flight values, one server each (default 0,1,2; 0 = auto)")
    parser.add_argument("--model", default=MODEL, help=f"a model file in ../shared/models (default {MODEL})")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
