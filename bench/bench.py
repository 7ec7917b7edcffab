#!/usr/bin/env python3
"""End-to-end benchmark of hailo-scrfd on this machine, against the engine and the reference library.

    python bench/bench.py                  # full run (about 2-3 minutes)
    python bench/bench.py --quick          # short mode, for CI: same table, fewer samples

It starts the real server (`hailo-scrfd serve`) on a free 127.0.0.1 port, drives it with
concurrent HTTP clients using the photos in ../shared, and prints one table: engine and
in-process times, HTTP latency percentiles and throughput at concurrency 1, 4 and 8, RSS
and start-up time, the InsightFace reference's in-process ``detect()`` on the same files,
and every target ratio. The reference runs in its own environment (``make bench-env``
creates ``.bench/venv`` with the insightface package); it is never a project dependency.
All traffic stays on 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import io
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hailo_scrfd.system.config import SCRFDServiceConfig  # noqa: E402
from hailo_scrfd.system.models import MODEL_DIR_ENV  # noqa: E402
from hailo_scrfd.vision.decode import decode_image_reduced, decode_into_canvas  # noqa: E402
from hailo_scrfd.runtime.model import SCRFDModel  # noqa: E402
from hailo_scrfd.pipeline.detector import Detector  # noqa: E402
from hailo_scrfd.pipeline.response import faces_to_json  # noqa: E402
from hailo_scrfd.vision.letterbox import fit_letterbox  # noqa: E402
from bench import ab, fresh, report  # noqa: E402
from bench.common import rss_mb  # noqa: E402
from bench.client import http_load, overhead_samples  # noqa: E402
from bench.stack import stack_floor  # noqa: E402
from bench.latency import Reference, photo_rows  # noqa: E402
from bench.common import timed  # noqa: E402
from bench.report import latencies  # noqa: E402
from support.data import shared_dir  # noqa: E402
from support.server import ServerProcess, clean_env  # noqa: E402

PHOTOS = ["t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg"]
MIME = {".jpg": "image/jpeg", ".png": "image/png"}


def twelve_megapixel_jpeg(shared: Path) -> bytes:
    """A realistic 12 MP (4000x3000) camera-like JPEG, made at run time from a shared photo plus sensor-like noise."""
    src = Image.open(shared / "images" / "solvay_conference_1927.png").convert("RGB").resize((4000, 3000))
    arr = np.asarray(src).astype(np.int16)
    arr += np.random.default_rng(0).integers(-10, 11, arr.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def engine_max_rate(backend, tensor, seconds: float) -> float:
    """Inferences per second with as many runs in flight as the backend allows (2 on ONNX Runtime)."""
    done = [0] * backend.max_in_flight
    deadline = time.perf_counter() + seconds

    def run(i):
        while time.perf_counter() < deadline:
            backend.infer(tensor)
            done[i] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(backend.max_in_flight) as pool:
        list(pool.map(run, range(backend.max_in_flight)))
    return sum(done) / (time.perf_counter() - start)


def fastest_decoders(data: bytes, canvas_hw=None) -> tuple:
    """Ours (as the server runs it, into the network canvas with ``canvas_hw``), and OpenCV's (libpng/libjpeg) at
    the same DCT reduction: the two ways to decode ``data`` here."""
    pixels, _ = decode_image_reduced(data, max_pixels=10**9, long_side=640)
    buf = np.frombuffer(data, np.uint8)
    factor = max(1, round(max(Image.open(io.BytesIO(data)).size) / max(pixels.shape[:2])))
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}.get(
        factor, cv2.IMREAD_UNCHANGED)
    return (lambda: decode_into_canvas(data, max_pixels=10**9, long_side=640, canvas_hw=canvas_hw),
            lambda: cv2.imdecode(buf, flag))


def fastest_decode_ms(data: bytes, n: int) -> float:
    """The quickest this machine decodes ``data`` to what the model needs, in a warm loop."""
    return min(statistics.median(timed(fn, n)) for fn in fastest_decoders(data))


def fastest_decode_share(data: bytes, model, tensor, n: int) -> float:
    """The fastest decoder's time over ours (at most 1), each decode timed right after an engine run, as a
    server decodes: a request's decode floor is its own decode times this."""
    times: tuple[list[float], list[float]] = ([], [])
    decoders, backend = fastest_decoders(data, Detector(model).canvas_hw), model.backend
    for i in range(2 * n):
        backend.infer(tensor)
        times[i % 2].extend(timed(decoders[i % 2], 1, warmup=0))
    ours, opencv = (statistics.median(t) for t in times)
    return min(1.0, opencv / ours)


def engine_ms_for(backend, data: bytes, n: int) -> float:
    """The engine alone on the input this photo becomes in fit mode."""
    return statistics.median(timed(engine_on(backend, data), n))


def engine_on(backend, data: bytes):
    """A call of the engine on the input ``data`` becomes in fit mode."""
    pixels, _ = decode_image_reduced(data, max_pixels=10**9, long_side=640)
    tensor = backend.prepare(fit_letterbox(pixels.shape[:2], backend.input_spec.hw).apply(pixels))
    return lambda: backend.infer(tensor)


def floor_parts(backend, n: int):
    """For a file's bytes: (its fastest decoder here, chosen in a warm loop; the engine on its input)."""
    def parts(data: bytes):
        decoders = fastest_decoders(data)
        fastest = min(decoders, key=lambda fn: statistics.median(timed(fn, n)))
        return fastest, engine_on(backend, data)
    return parts


def measure_in_process(model_path: Path, photos: dict[str, bytes], big: bytes, n: int, quick: bool) -> dict:
    """Engine and in-process pipeline on t1, as the server builds them (fit mode, reduced decode), and the
    parts no serving code can avoid: each file's fastest decode and the engine on its input."""
    t1 = photos["t1.jpg"]
    model = SCRFDModel(SCRFDServiceConfig().override(model__path=str(model_path))).load()
    backend = model.backend
    pixels, original = decode_image_reduced(t1, max_pixels=10**9, long_side=640)
    letterbox = fit_letterbox(pixels.shape[:2], backend.input_spec.hw)
    tensor = backend.prepare(letterbox.apply(pixels))
    engine = timed(lambda: backend.infer(tensor), n)
    # The engine's own best: one run at a time, or as many in flight as the backend allows.
    rate = max(1000.0 / statistics.median(engine), engine_max_rate(backend, tensor, 1.0 if quick else 5.0))

    def pipeline():
        p, o = decode_image_reduced(t1, max_pixels=10**9, long_side=640)
        model.detect_faces(p, original_size=o)

    in_process = timed(pipeline, n)
    floor_n = max(3, n // 4)
    files = [("t1.jpg", t1), ("12 MP", big)]
    result = {"engine": engine, "engine_rate": rate, "in_process": in_process, "backend": backend.name,
              "input_hw": letterbox.input_hw,
              "decode_floor": {p: fastest_decode_ms(d, floor_n) for p, d in files},
              "engine_at": {p: engine_ms_for(backend, d, floor_n) for p, d in files}}
    result["t1_decode_share"] = fastest_decode_share(t1, model, tensor, n)
    result["big_decode_share"] = fastest_decode_share(big, model, tensor, floor_n)
    result["t1_faces"] = faces_to_json(model.detect_faces(pixels, None, original).faces)
    result["model"] = model  # the floor of the per-photo rows runs on it, interleaved with the server
    return result


def measure_http(model_path: Path, photos: dict[str, bytes], big: bytes, n: int, per_client: int, env: dict,
                 rows) -> dict:
    """Latency and throughput of a real server process, its RSS after the load and its start-up time; ``rows``
    (port -> per-photo rows) measures the photos against the reference while the server runs."""
    config = Path(tempfile.mkdtemp(prefix="hailo-scrfd-bench-")) / "config.yaml"
    config.write_text(ab.NO_CACHE)
    started = time.perf_counter()
    server = ServerProcess(model_path, "--config", str(config), env=env)
    try:
        server.wait_ready()
        startup_s = time.perf_counter() - started
        port, t1 = server.port, photos["t1.jpg"]
        levels = {c: http_load(port, t1, "image/jpeg", c, per_client if c > 1 else n) for c in (1, 4, 8)}
        photo_rows = rows(port)
        big_samples = overhead_samples(port, big, max(3, n // 3))  # each request's own decode and engine
        round_trip = statistics.median(latencies(http_load(port, b"", "", 1, n, path="/health")[0]))
        overhead = overhead_samples(port, t1, 3 * n)  # the smallest difference measured: more samples
        rss = rss_mb(server.proc.pid)
    finally:
        server.stop()
    return {"levels": levels, "photo_rows": photo_rows, "big": big_samples, "round_trip": round_trip,
            "overhead": overhead,
            "rss": rss, "startup_s": startup_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(shared_dir()))
    ap.add_argument("--model", default="scrfd_2.5g_bnkps.onnx")
    ap.add_argument("--reference-python", default=str(ROOT / ".bench" / "venv" / "bin" / "python"))
    ap.add_argument("--quick", action="store_true", help="few samples: checks that everything runs, not for numbers")
    ap.add_argument("--model-dir", help="model dir for the INT8 version and the optimised graphs (default: "
                                        ".bench/models, .bench/models-quick with --quick)")
    args = ap.parse_args()
    shared = Path(args.shared)
    model_path = shared / "models" / args.model
    n = 8 if args.quick else 60
    # The bench's own model dir: it never reads or fills the user's cache.
    env = {MODEL_DIR_ENV: args.model_dir or str(ROOT / ".bench" / ("models-quick" if args.quick else "models"))}
    os.environ.update(env)
    int8_path, quantize_s = ab.ensure_int8(model_path, shared, args.quick)
    photos = {p: (shared / "images" / p).read_bytes() for p in PHOTOS}
    envs = {"bench": clean_env(**env)}
    installed = None
    if not args.quick:  # the quick mode (CI) skips the minutes of background quantization
        fresh_dir, installed = fresh.fresh_install(model_path, photos["t1.jpg"], starts=3)
        envs["fresh"] = fresh.fresh_env(fresh_dir)
    big = twelve_megapixel_jpeg(shared)
    local = measure_in_process(model_path, photos, big, n, args.quick)
    faces = local["t1_faces"]
    local["stack"] = stack_floor(model_path, shared / "images" / "t1.jpg", {"faces": faces, "count": len(faces)},
                                 big, n)
    local["engine_ab"] = ab.engine_ab(model_path, int8_path, photos["t1.jpg"], n)
    reference = Reference(Path(args.reference_python), model_path)
    try:
        http = measure_http(model_path, photos, big, n, 4 if args.quick else 40, envs.get("fresh", envs["bench"]),
                            lambda port: photo_rows(port, {p: shared / "images" / p for p in PHOTOS},
                                                    {p: MIME[Path(p).suffix] for p in PHOTOS},
                                                    floor_parts(local["model"].backend, max(3, n // 4)), reference,
                                                    max(5, n // 3)))
    finally:
        reference.close()
        local.pop("model").close()
    held_out = ab.held_out_photos(shared, 4 if args.quick else 16)
    servers = ab.measure_servers(model_path, envs, Path(args.reference_python), held_out, 2 if args.quick else 4,
                                 2 if args.quick else 12)
    if quantize_s is not None:
        print(f"made the INT8 model first ({quantize_s:.0f} s): {int8_path}")
    report.print_all(args.model, args.quick, local, http, PHOTOS, servers, len(held_out), installed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
