"""Throughput of 1, 2 and 3 `serve` instances behind nginx (deploy/nginx/hailo-scrfd.conf), on this machine.

Each instance is started as systemd's hailo-scrfd@N would be (``serve --instance N``), pinned to its share of
the cores with ``taskset`` as a ``CPUAffinity=`` drop-in would, so it takes its ONNX Runtime threads from that
affinity. A closed-loop client (``--clients`` connections) posts one photo for ``--duration`` seconds per level.
The 1-instance level runs first and last (noise on a shared VM); ratios are against their mean.

    python bench/scale_out.py [--duration 8] [--clients 8] [--image t1.jpg] [--levels 1,2,3]

Only 127.0.0.1; every level is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support.data import shared_dir  # noqa: E402
from support.nginx import Nginx, nginx_binary  # noqa: E402
from support.server import ServerProcess, clean_env, free_port  # noqa: E402

CONFIG = "performance:\n  inference_threads: 0\n  inference_concurrency: {conc}\n  worker_threads: 4\n"


def cpu_sets(n: int) -> list[list[int]]:
    """Split this process's cores between ``n`` instances (round robin when there are more instances)."""
    cores = sorted(os.sched_getaffinity(0))
    if n >= len(cores):
        return [[cores[i % len(cores)]] for i in range(n)]
    per = len(cores) // n
    return [cores[i * per:(i + 1) * per] for i in range(n)]


def start_instances(n: int, model: Path, tmp: Path) -> list[ServerProcess]:
    sets = cpu_sets(n)
    instances = []
    for i in range(1, n + 1):
        config = tmp / f"instance{n}-{i}.yaml"
        config.write_text(CONFIG.format(conc=2 if len(sets[i - 1]) > 1 else 1))
        port = free_port()  # --port is the base: instance i listens on base + i
        proc = ServerProcess(model, "--config", str(config), "--port", str(port - i), "--instance", str(i),
                             port=port, env=clean_env())
        # Set while the child is still importing, before the model loads: its thread count follows it.
        os.sched_setaffinity(proc.proc.pid, sets[i - 1])
        instances.append(proc)
    for s in instances:
        s.wait_ready()
    return instances


def drive(url: str, body: bytes, clients: int, duration_s: float) -> tuple[float, list[float], int]:
    """Closed loop: requests/s, latencies (ms) and failures over ``duration_s``."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop = time.monotonic() + duration_s

    def client() -> None:
        nonlocal failures
        session = requests.Session()
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            resp = session.post(url + "/v1/detect", data=body, headers={"Content-Type": "image/jpeg"}, timeout=30)
            ms = (time.perf_counter() - t0) * 1000.0
            with lock:
                if resp.status_code == 200:
                    latencies.append(ms)
                else:
                    failures += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - t0), latencies, failures


def run_level(n: int, model: Path, body: bytes, args, tmp: Path) -> dict:
    instances = start_instances(n, model, tmp)
    proxy = Nginx(tmp / f"nginx-{n}-{time.monotonic_ns()}", [s.port for s in instances])
    try:
        proxy.wait_ready()
        drive(proxy.url, body, args.clients, 1.0)  # warm up every instance
        rate, lat, failures = drive(proxy.url, body, args.clients, args.duration)
    finally:
        proxy.stop()
        for s in instances:
            s.stop()
    lat.sort()
    return {"n": n, "cores": [len(c) for c in cpu_sets(n)], "rate": rate, "p50": statistics.median(lat),
            "p95": lat[int(0.95 * (len(lat) - 1))], "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per level (default 8)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--image", default="t1.jpg", help="photo from ../shared/images (default t1.jpg)")
    parser.add_argument("--levels", default="1,2,3", help="instance counts to run (default 1,2,3)")
    args = parser.parse_args()
    if nginx_binary() is None:
        print("nginx is not installed: apt-get install nginx", file=sys.stderr)
        return 2
    shared = shared_dir()
    model, body = shared / "models" / "scrfd_2.5g_bnkps.onnx", (shared / "images" / args.image).read_bytes()
    levels = [int(x) for x in args.levels.split(",")]
    order = levels + ([levels[0]] if len(levels) > 1 else [])
    tmp = Path(tempfile.mkdtemp(prefix="hailo-scrfd-scale-"))
    print(f"{os.cpu_count()} cores here, {len(os.sched_getaffinity(0))} usable; {args.clients} clients, "
          f"{args.duration:.0f} s per level, {args.image}")
    results = []
    try:
        for n in order:
            r = run_level(n, model, body, args, tmp)
            results.append(r)
            print(f"  {n} instance(s), cores each {r['cores']}: {r['rate']:.1f} req/s, p50 {r['p50']:.0f} ms, "
                  f"p95 {r['p95']:.0f} ms, failures {r['failures']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.mean(r["rate"] for r in results if r["n"] == levels[0])
    print(f"\n| instances | cores each | req/s | x {levels[0]} instance | p50 ms | p95 ms |\n|---|---|---|---|---|---|")
    for n in levels:
        rows = [r for r in results if r["n"] == n]
        rate = statistics.mean(r["rate"] for r in rows)
        print(f"| {n} | {rows[0]['cores']} | {rate:.1f} | {rate / base:.2f} | "
              f"{statistics.mean(r['p50'] for r in rows):.0f} | {statistics.mean(r['p95'] for r in rows):.0f} |")
    return 1 if any(r["failures"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
