#!/usr/bin/env python3
"""A 60 fps MJPEG camera (the synthetic ../shared pan, looped, served on 127.0.0.1) against a stream capped at
20 processed frames a second, on a real server: lag, drops and memory over a bounded run.

    python bench/stream_load.py --duration 60     # the full run
    python bench/stream_load.py --duration 20     # what CI runs (tests/video/test_stream_load.py)

The stream keeps only its newest frame, so the lag (capture to event) must stay within two processing
periods however long it runs, every frame not processed must be counted as dropped, and the server's RSS
must not grow. Exit status 1 when any of those fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import rss_mb  # noqa: E402
from support.data import shared_dir  # noqa: E402
from support.server import ServerProcess  # noqa: E402
from support.video import MjpegServer, jpegs, scene  # noqa: E402

CONFIG = ("streams:\n  enabled: true\n  max_fps: {fps}\n"
          "url_fetch:\n  enabled: true\n  allowed_schemes: [http]\n  allowed_hosts: [127.0.0.1]\n"
          "  allow_private_addresses: true\n")


def run(duration_s: float, source_fps: float = 60.0, max_fps: float = 20.0) -> dict:
    frames = jpegs(scene(shared_dir()).frames)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "load.yaml"
        config.write_text(CONFIG.format(fps=max_fps))
        server = ServerProcess(shared_dir() / "models" / "scrfd_2.5g_bnkps.onnx", "--config", str(config))
        camera = MjpegServer(frames, source_fps, loop=True)
        try:
            server.wait_ready()
            return _measure(server, camera, duration_s)
        finally:
            camera.close()
            server.stop()


def _measure(server: ServerProcess, camera: MjpegServer, duration_s: float) -> dict:
    sid = requests.post(server.url + "/v1/streams", json={"url": camera.url}, timeout=10).json()["id"]
    lags, rss, stop = [], [], threading.Event()

    def sample():
        while not stop.wait(1.0):
            rss.append(rss_mb(server.proc.pid))

    threading.Thread(target=sample, daemon=True).start()
    start = time.monotonic()
    with requests.get(f"{server.url}/v1/streams/{sid}/events", stream=True, timeout=30) as resp:
        name = None
        for line in resp.iter_lines():
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: ") and name == b"frame":
                lags.append((time.monotonic() - start, json.loads(line[6:])["lag_ms"]))
            if time.monotonic() - start > duration_s:
                break
    stop.set()
    info = next(s for s in requests.get(server.url + "/v1/streams", timeout=5).json()["streams"] if s["id"] == sid)
    requests.delete(f"{server.url}/v1/streams/{sid}", timeout=10)
    return _summary(lags, rss, info, duration_s)


def _summary(lags: list, rss: list, info: dict, duration_s: float) -> dict:
    warm = [lag for t, lag in lags if t > 2.0]
    processed_fps = len(lags) / duration_s
    period_ms = 1000.0 / processed_fps if processed_fps else float("inf")
    third = max(len(rss) // 3, 1)
    return {"frames_in": info["frames_in"], "frames_processed": info["frames_processed"],
            "frames_dropped": info["frames_dropped"], "frames_failed": info["frames_failed"],
            "processed_fps": round(processed_fps, 2),
            "period_ms": round(period_ms, 1), "lag_ms_p50": round(statistics.median(warm), 1),
            "lag_ms_p95": round(sorted(warm)[int(0.95 * (len(warm) - 1))], 1),
            "lag_ms_last_third_p50": round(statistics.median(warm[-max(len(warm) // 3, 1):]), 1),
            "rss_mb_first_third": round(statistics.median(rss[third:2 * third] or rss), 1),
            "rss_mb_last_third": round(statistics.median(rss[-third:]), 1)}


def verdict(r: dict) -> list[str]:
    """What failed: lag beyond two processing periods, drops not accounted, memory growing."""
    problems = []
    if r["lag_ms_p95"] > 2 * r["period_ms"]:
        problems.append(f"lag p95 {r['lag_ms_p95']} ms exceeds two frame times ({2 * r['period_ms']:.0f} ms)")
    unprocessed = r["frames_in"] - r["frames_processed"] - r["frames_failed"]
    if not 0 <= unprocessed - r["frames_dropped"] <= 2 or not r["frames_dropped"]:  # but one in the slot, one in hand
        problems.append("dropped frames are not all counted")
    if r["rss_mb_last_third"] > r["rss_mb_first_third"] * 1.05 + 5:
        problems.append(f"RSS grew from {r['rss_mb_first_third']} to {r['rss_mb_last_third']} MB")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--source-fps", type=float, default=60.0)
    parser.add_argument("--max-fps", type=float, default=20.0)
    args = parser.parse_args()
    result = run(args.duration, args.source_fps, args.max_fps)
    for key, value in result.items():
        print(f"{key:24s} {value}")
    problems = verdict(result)
    print("\n".join(problems) or "ok: lag bounded, drops counted, memory flat")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
