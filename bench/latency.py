#!/usr/bin/env python3
"""Sequential /v1/detect latency over real HTTP next to the raw engine time, for one image.

    python bench/latency.py --model ../shared/models/scrfd_2.5g_bnkps.onnx --image ../shared/images/t1.jpg

Prints medians and the HTTP/engine ratio. Targets only 127.0.0.1; bounded by --requests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hailo_scrfd.config import SCRFDServiceConfig  # noqa: E402
from hailo_scrfd.imageio import decode_image  # noqa: E402
from hailo_scrfd.model import SCRFDModel  # noqa: E402
from hailo_scrfd.preprocess import fixed_letterbox  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402

MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    data = Path(args.image).read_bytes()

    model = SCRFDModel(SCRFDServiceConfig().override(model__path=args.model)).load()
    image = decode_image(data, max_pixels=10**9)
    backend = model.backend
    tensor = backend.prepare(fixed_letterbox(image.shape[:2], backend.input_spec.hw).apply(image))
    timed(lambda: backend.infer(tensor), 5)
    engine = timed(lambda: backend.infer(tensor), args.requests)
    pipeline = timed(lambda: model.detect_faces(decode_image(data, max_pixels=10**9)), args.requests)
    model.close()

    server = ServerProcess(Path(args.model))
    try:
        server.wait_ready()
        session = requests.Session()
        headers = {"Content-Type": MIME.get(Path(args.image).suffix.lower(), "application/octet-stream")}
        def post():
            session.post(server.url + "/v1/detect", data=data, headers=headers, timeout=60).raise_for_status()

        timed(post, 5)
        http = timed(post, args.requests)
    finally:
        server.stop()

    print(f"image {Path(args.image).name}  model {Path(args.model).name}  backend {backend.name}  n={args.requests}")
    print(f"{'':28s}{'p50 ms':>10s}{'p95 ms':>10s}")
    for label, values in (("engine (backend.infer)", engine), ("in-process decode+detect", pipeline),
                          ("HTTP /v1/detect", http)):
        print(f"{label:28s}{statistics.median(values):10.1f}{pct(values, 95):10.1f}")
    print(f"HTTP / engine (p50): {statistics.median(http) / statistics.median(engine):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
