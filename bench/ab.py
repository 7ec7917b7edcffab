"""Interleaved A/B measures for the benchmark: FP32 against INT8, batching on against off, the busy session
against one session, and ours against the naive peer (bench/peer.py), each round running every side in turn
so machine load hits all alike.

Throughput is measured on held-out WIDER FACE val photos: the ones INT8 calibration never saw.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import timed
from hailo_scrfd.backends.onnx import OnnxBackend
from hailo_scrfd.backends.onnx_quantize import calibration_images, find_quantized, quantize_model
from hailo_scrfd.vision.decode import decode_image_reduced
from hailo_scrfd.vision.letterbox import fit_letterbox
from support.server import ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION = 61  # one photo of each of the 61 events (the first, sorted); the other 61 are held out
# name -> (config, model dir): "fresh" is a fresh install's dir once its first start has made the INT8 version
# from synthetic scenes (bench/fresh.py), "bench" the benchmark's own, with the INT8 version calibrated on
# WIDER photos by hand (ensure_int8). Without a fresh install (--quick) the first row is left out.
SERVERS = {"ours (default: fresh install, precision auto)": ("", "fresh"),
           "ours, hand-calibrated INT8 (61 WIDER photos)": ("", "bench"),
           "ours, precision fp32": ("model:\n  precision: fp32\n", "bench"),
           "ours, dynamic batching (onnx.batch_max 4)": ("onnx:\n  batch_max: 4\n", "bench"),
           # every run on one session with all the threads, as before onnx.busy_threads
           "ours, one session (onnx.busy_threads = cores)": (f"onnx:\n  busy_threads: {len(os.sched_getaffinity(0))}\n",
                                                              "bench")}
# The benchmark sends the same photos again and again: it measures the engine path, not the result cache
# (bench/cache.py measures that).
NO_CACHE = "cache:\n  enabled: false\n"
PEER = "naive peer (Flask dev server + InsightFace)"


def wider_images(shared: Path) -> Path:
    return shared / "widerface" / "WIDER_val" / "images"


def ensure_int8(model_path: Path, shared: Path, quick: bool) -> tuple[Path, float | None]:
    """The INT8 model in the (bench's own) model dir, quantized now if missing: (path, seconds it took or None)."""
    found = find_quantized(str(model_path))
    if found:
        return found, None
    from hailo_scrfd.backends.onnx_quantize import cache_path

    start = time.perf_counter()
    images = calibration_images(wider_images(shared), 8 if quick else CALIBRATION)
    return quantize_model(model_path, cache_path(model_path), images), time.perf_counter() - start


def held_out_photos(shared: Path, n: int) -> list[bytes]:
    seen = set(calibration_images(wider_images(shared), CALIBRATION))
    rest = [p for p in sorted(wider_images(shared).rglob("*.jpg")) if p not in seen]
    return [p.read_bytes() for p in rest[:: max(1, len(rest) // n)][:n]]


def engine_ab(model_path: Path, int8_path: Path, t1: bytes, n: int) -> dict[str, list[float]]:
    """FP32 and INT8 engine times on t1's fit-mode input, interleaved run by run."""
    fp32, int8 = OnnxBackend(str(model_path)), OnnxBackend(str(int8_path))
    pixels, _ = decode_image_reduced(t1, max_pixels=10**9, long_side=640)
    tensor = fp32.prepare(fit_letterbox(pixels.shape[:2], fp32.input_spec.hw).apply(pixels))
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(n):
        times["fp32"] += timed(lambda: fp32.infer(tensor), 1, warmup=0)
        times["int8"] += timed(lambda: int8.infer(tensor), 1, warmup=0)
    fp32.close()
    int8.close()
    return times


class Peer:
    """bench/peer.py in the benchmark's own venv, on a free port."""

    def __init__(self, python: Path, model: Path):
        self.port = free_port()
        self.proc = subprocess.Popen([str(python), str(ROOT / "bench" / "peer.py"), str(model), str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the naive peer did not start (exit code {self.proc.poll()})")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def rate(port: int, path: str, bodies: list[bytes], mime: str, clients: int, per_client: int) -> float:
    """Requests per second for ``clients`` keep-alive clients, each cycling through ``bodies`` from its own
    starting point, after one warm-up request each."""
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for k in range(per_client + 1):
            conn.request("POST", path, body=bodies[(i + k) % len(bodies)], headers={"Content-Type": mime})
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status} from {path}: {resp.read()[:200]!r}")
            resp.read()
            if k == 0:
                barrier.wait()
        conn.close()

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, i) for i in range(clients)]
        barrier.wait()
        start = time.perf_counter()
        for f in futures:
            f.result()
    return clients * per_client / (time.perf_counter() - start)


def measure_servers(model_path: Path, envs: dict[str, dict], peer_python: Path, photos: list[bytes], rounds: int,
                    per_client: int, clients: int = 8) -> dict[str, list[float]]:
    """Throughput at ``clients`` clients of each server configuration and of the peer, interleaved by round;
    ``envs``: the environment for each model dir :data:`SERVERS` names; a server whose dir is missing is left
    out."""
    servers, peer = {}, None
    with tempfile.TemporaryDirectory(prefix="hailo-scrfd-bench-") as tmp:
        try:
            for name, (yaml, model_dir) in SERVERS.items():
                if model_dir not in envs:  # no fresh install (--quick): its row would repeat the next one
                    continue
                config = Path(tmp, f"{len(servers)}.yaml")
                config.write_text(NO_CACHE + yaml)
                servers[name] = ServerProcess(model_path, "--config", str(config), env=envs[model_dir])
            targets = {name: (s.port, "/v1/detect", photos, "image/jpeg") for name, s in servers.items()}
            if peer_python.exists():
                peer = Peer(peer_python, model_path)
                peer.wait_ready()
                bodies = [json.dumps({"image": base64.b64encode(p).decode()}).encode() for p in photos]
                targets[PEER] = (peer.port, "/detect", bodies, "application/json")
            for s in servers.values():
                s.wait_ready()
            result: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, (port, path, bodies, mime) in targets.items():
                    result[name].append(rate(port, path, bodies, mime, clients, per_client))
        finally:
            for s in servers.values():
                s.stop()
            if peer is not None:
                peer.stop()
    return result


def ratios(result: dict[str, list[float]], a: str, b: str) -> list[float]:
    """Round-by-round ratios a / b (each round ran both back to back)."""
    return [x / y for x, y in zip(result[a], result[b], strict=True)]


def median_ratio(result: dict[str, list[float]], a: str, b: str) -> float | None:
    return statistics.median(ratios(result, a, b)) if a in result and b in result else None


def default_server(servers: dict[str, list[float]]) -> str:
    """The first of :data:`SERVERS` that ran: the fresh install, or without one the hand-calibrated INT8."""
    return next(name for name in SERVERS if name in servers)
