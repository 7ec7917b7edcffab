#!/usr/bin/env python3
"""Two checkouts of the service, measured in turn on the same load: a change's before and after.

Usage: python bench/compare.py BEFORE_DIR [AFTER_DIR (default: this checkout)] [--rounds N] [--quick]

Each round starts one server per checkout (the same Python, run from the checkout's folder, FP32 so that no
INT8 file decides), and measures, one checkout after the other so that machine load hits both alike:
- overhead: per request, (HTTP latency - the /health round trip just before it - the server's own engine and
  decode times) / engine, on t1.jpg, as bench/bench.py measures it;
- throughput: requests per second at 8 keep-alive clients on held-out WIDER FACE photos;
- RSS after the load, and the time from start to ready.
It prints each round and the median of the per-round ratios after / before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ab  # noqa: E402
from bench.client import http_load, overhead_samples  # noqa: E402
from support.data import shared_dir  # noqa: E402
from support.server import clean_env, free_port  # noqa: E402

import requests  # noqa: E402


def start(tree: Path, model: Path) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    started = time.perf_counter()
    config = Path(tempfile.mkdtemp(prefix="hailo-scrfd-compare-")) / "config.yaml"
    config.write_text(ab.NO_CACHE)  # the same photo is sent again and again: measure the engine path
    proc = subprocess.Popen([sys.executable, "-m", "hailo_scrfd", "serve", "--model", str(model), "--host",
                             "127.0.0.1", "--port", str(port), "--config", str(config)], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=clean_env(HAILO_SCRFD_AUTO_INT8="off", MALLOC_ARENA_MAX="1",
                                          HAILO_SCRFD_MODEL_DIR=tempfile.mkdtemp(prefix="hailo-scrfd-compare-")))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port, time.perf_counter() - started
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{tree}: not ready after 120 s")


def measure(tree: Path, model: Path, t1: bytes, held_out: list[tuple[bytes, str]], n: int) -> dict:
    proc, port, ready_s = start(tree, model)
    try:
        samples = overhead_samples(port, t1, n)
        overhead = statistics.median((lat - trip - eng - dec) / eng for lat, trip, eng, dec in samples)
        began, done = time.perf_counter(), 0
        for data, mime in held_out:
            _, _ = http_load(port, data, mime, 8, 2)
            done += 8 * 3
        throughput = done / (time.perf_counter() - began)
        rss = int(Path(f"/proc/{proc.pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    finally:
        proc.terminate()
        proc.wait(30)
    return {"overhead": overhead, "throughput": throughput, "rss": rss, "ready": ready_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shared = shared_dir()
    model = shared / "models" / "scrfd_2.5g_bnkps.onnx"
    t1 = (shared / "images" / "t1.jpg").read_bytes()
    held_out = [(data, "image/jpeg") for data in ab.held_out_photos(shared, 4 if args.quick else 12)]
    n = 20 if args.quick else 60
    rows: dict[str, list[dict]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for name, tree in (("before", args.before), ("after", args.after)):
            rows[name].append(measure(tree, model, t1, held_out, n))
            m = rows[name][-1]
            print(f"round {r + 1} {name:6s} overhead {m['overhead']:.3f}  throughput {m['throughput']:.1f} req/s  "
                  f"RSS {m['rss']:.0f} MB  ready {m['ready']:.2f} s", flush=True)
    print("median of the per-round ratios after / before:")
    for key in ("overhead", "throughput", "rss", "ready"):
        ratios = [a[key] / b[key] for a, b in zip(rows["after"], rows["before"], strict=True)]
        before, after = (statistics.median(x[key] for x in rows[side]) for side in ("before", "after"))
        print(f"  {key:10s} {statistics.median(ratios):.3f}  (before {before:.3f}, after {after:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
