"""The serving stack's own floor for the overhead target: a bare Flask app on cheroot (the same WSGI server and
framework as the service), in its own process like the service, whose one route reads the request body and runs
the engine inline, with no decode, no worker thread, no post-processing and no middleware, and returns a
ready-made response of the same size.

What it costs beyond its engine run, minus its own bare round trip, is the part of "HTTP - engine - decode -
round trip" that no code of ours can remove on this machine: reading the body, Flask's dispatch and the
engine's after-effects on the CPU (caches and threads), which a bare GET never pays.

A second route, POST /faces, is the least a face service can do on this stack: our decode, the engine inline,
NMS and the faces as JSON, with no parameters, admission, metrics or hooks. Measured the same way, it is the
floor of the service's own design on this machine.

    python -m bench.stack MODEL IMAGE RESPONSE_JSON   # serves on a free 127.0.0.1 port, printed as "PORT n"
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bare_app(run_engine, response_body: bytes, run_faces):
    """The bare app: GET /ping, POST /drain (204), POST /engine (the engine's ms in ``X-Engine-Ms``) and POST
    /faces (``run_faces(body)`` -> (JSON, engine ms, decode ms), those in ``X-Engine-Ms`` and ``X-Decode-Ms``)."""
    from flask import Flask, Response, request

    app = Flask("bare-stack")

    def read_body() -> bytes:  # one sized read from the server's input, as the service reads
        length = request.content_length
        return request.environ["wsgi.input"].read(length) if length else request.get_data()

    @app.get("/ping")
    def ping():
        return Response(b'{"status":"ok"}', mimetype="application/json")

    @app.post("/drain")
    def drain():
        read_body()
        return Response(status=204)

    @app.post("/engine")
    def engine():
        read_body()
        start = time.perf_counter()
        run_engine()
        ms = (time.perf_counter() - start) * 1000.0
        return Response(response_body, mimetype="application/json", headers={"X-Engine-Ms": f"{ms:.4f}"})

    @app.post("/faces")
    def faces():
        body, engine_ms, decode_ms = run_faces(read_body())
        return Response(body, mimetype="application/json",
                        headers={"X-Engine-Ms": f"{engine_ms:.4f}", "X-Decode-Ms": f"{decode_ms:.4f}"})

    return app


def face_service(model):
    """``run_faces(body)`` for POST /faces: our decode (into the canvas), the engine inline, NMS, JSON."""
    from hailo_scrfd.http.json_provider import encode
    from hailo_scrfd.pipeline.detector import Detector
    from hailo_scrfd.pipeline.response import faces_to_json
    from hailo_scrfd.vision.decode import decode_into_canvas
    from hailo_scrfd.vision.letterbox import fit_letterbox
    from hailo_scrfd.vision.scrfd import postprocess

    backend = model.backend
    canvas_hw = Detector(model).canvas_hw

    def run_faces(body: bytes):
        start = time.perf_counter()
        pixels, (width, height), canvas = decode_into_canvas(body, max_pixels=10**9, long_side=640,
                                                             canvas_hw=canvas_hw)
        decoded = time.perf_counter()
        letterbox = fit_letterbox(pixels.shape[:2], backend.input_spec.hw)
        tensor = backend.prepare(canvas if canvas is not None else letterbox.apply(pixels))
        engine_start = time.perf_counter()
        outputs = backend.infer(tensor)
        engine_ms = (time.perf_counter() - engine_start) * 1000.0
        sx, sy = letterbox.scale
        scale = (sx * pixels.shape[1] / width, sy * pixels.shape[0] / height)
        faces = postprocess(outputs, input_hw=letterbox.input_hw, scale=scale, image_size=(width, height),
                            threshold=0.5, nms_threshold=0.4)
        return encode({"faces": faces_to_json(faces), "count": len(faces)}), engine_ms, (decoded - start) * 1000.0

    return run_faces


def serve(model_path: str, image_path: str, response_path: str) -> None:
    """Load the engine as the service does (same config defaults, so the same precision) and serve the bare app."""
    sys.path.insert(0, str(ROOT))
    from cheroot import wsgi

    from hailo_scrfd.runtime.model import SCRFDModel
    from hailo_scrfd.system.config import SCRFDServiceConfig
    from hailo_scrfd.system.tuning import tune_for_serving
    from hailo_scrfd.vision.decode import decode_image_reduced
    from hailo_scrfd.vision.letterbox import fit_letterbox

    tune_for_serving()  # the service's allocator settings: without them each 3.6 MB body is fresh, faulted memory
    model = SCRFDModel(SCRFDServiceConfig().override(model__path=model_path)).load()
    backend = model.backend
    pixels, _ = decode_image_reduced(Path(image_path).read_bytes(), max_pixels=10**9, long_side=640)
    tensor = backend.prepare(fit_letterbox(pixels.shape[:2], backend.input_spec.hw).apply(pixels))
    app = bare_app(lambda: backend.infer(tensor), Path(response_path).read_bytes(), face_service(model))
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=4)
    server.prepare()
    print(f"PORT {server.bind_addr[1]}", flush=True)
    server.serve()


def _send(conn, method: str, path: str, body: bytes | None = None, status: int = 200) -> tuple[float, float, float]:
    """(round trip ms, the engine ms and the decode ms the server reported, else 0)."""
    start = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "image/jpeg"} if body else {})
    resp = conn.getresponse()
    resp.read()
    ms = (time.perf_counter() - start) * 1000.0
    if resp.status != status:
        raise RuntimeError(f"bare stack: {method} {path} gave HTTP {resp.status}, not {status}")
    return ms, float(resp.getheader("X-Engine-Ms", "0")), float(resp.getheader("X-Decode-Ms", "0"))


def stack_floor(model_path: Path, image_path: Path, response: dict, big: bytes, n: int) -> dict[str, float]:
    """Medians in ms: ``trip`` (GET /ping), ``beyond_engine`` (POST of the image minus its own engine time),
    alternating the two on one keep-alive connection, ``big_trip`` (POST of ``big``, drained, 204), and
    ``faces`` (POST /faces minus its engine, its decode and the GET /ping just before it, per its engine)."""
    body = image_path.read_bytes()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(response, f)
        f.flush()
        proc = subprocess.Popen([sys.executable, "-m", "bench.stack", str(model_path), str(image_path), f.name],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                raise RuntimeError(f"the bare stack did not start (exit {proc.poll()})")
            conn = http.client.HTTPConnection("127.0.0.1", int(line.split()[1]), timeout=60)
            trips, beyond, faces = [], [], []
            for i in range(n + 5):
                trip, _, _ = _send(conn, "GET", "/ping")
                total, engine, _ = _send(conn, "POST", "/engine", body)
                face_trip, _, _ = _send(conn, "GET", "/ping")
                face_total, face_engine, face_decode = _send(conn, "POST", "/faces", body)
                if i >= 5:
                    trips.append(trip)
                    beyond.append(total - engine)
                    faces.append((face_total - face_engine - face_decode - face_trip) / face_engine)
            big_trips = [_send(conn, "POST", "/drain", big, status=204)[0] for _ in range(max(3, n // 3) + 1)][1:]
            conn.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"trip": statistics.median(trips), "beyond_engine": statistics.median(beyond),
            "big_trip": statistics.median(big_trips), "faces": statistics.median(faces)}


if __name__ == "__main__":
    serve(*sys.argv[1:4])
