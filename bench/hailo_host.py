#!/usr/bin/env python3
"""Host-side cost per frame of the Hailo path: what the CPU must do around each NPU inference.

    python bench/hailo_host.py [--shared ../shared] [--image t1.jpg] [--n 300]

Real outputs are captured once from the simulated Hailo-10H (tests/hailo_sim), then the
host steps are timed alone: letterbox + input preparation, and output handling + decode,
once with uint8 outputs dequantized here (only rows above the threshold) and once with
float32 outputs as HailoRT would deliver them. Prints milliseconds per frame and the
frame rate one CPU core could feed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hailo_sim" / "sim")]

from hailo_scrfd.system.config import SCRFDServiceConfig  # noqa: E402
from hailo_scrfd.vision.decode import decode_image  # noqa: E402
from hailo_scrfd.runtime.model import SCRFDModel  # noqa: E402
from hailo_scrfd.vision.letterbox import fixed_letterbox  # noqa: E402
from hailo_scrfd.vision.scrfd import postprocess  # noqa: E402
from bench.common import timed  # noqa: E402
from tests.hailo_sim.sim_hef import build_sim_hef  # noqa: E402


def measure(hef: Path, image, fmt: str, n: int) -> tuple[str, float, float, int]:
    """(format, pre-processing ms, output decode ms, faces) for one output format."""
    model = SCRFDModel(SCRFDServiceConfig().override(model__path=str(hef), hailo__output_format=fmt)).load()
    try:
        backend = model.backend
        letterbox = fixed_letterbox(image.shape[:2], backend.input_spec.hw)
        for _ in range(backend.max_in_flight):  # the slots are used in turn: fill every one
            model.detect_faces(image)
        slot = backend._slots.get()  # one frame's real output buffers, as the simulated device wrote them
        backend._slots.put(slot)
        buffers = {k: v.copy() for k, v in slot.outputs.items()}

        def decode_outputs():
            outs = backend._to_canonical(buffers)
            return postprocess(outs, input_hw=letterbox.input_hw, scale=letterbox.scale,
                               image_size=image.shape[1::-1], threshold=0.5, nms_threshold=0.4)

        faces = len(decode_outputs())
        pre = statistics.median(timed(lambda: backend.prepare(letterbox.apply(image)), n, warmup=10))
        post = statistics.median(timed(decode_outputs, n, warmup=10))
        return fmt, pre, post, faces
    finally:
        model.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--image", default="t1.jpg")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    shared = Path(args.shared)
    data = (shared / "images" / args.image).read_bytes()
    image = decode_image(data, max_pixels=10**9)
    hef = build_sim_hef(shared / "models" / "scrfd_2.5g_bnkps.onnx", Path(tempfile.mkdtemp()) / "scrfd_2.5g.hef",
                        "scrfd_2_5g", [image])
    rows = [measure(hef, image, fmt, args.n) for fmt in ("quantized", "float32")]
    image_decode = statistics.median(timed(lambda: decode_image(data, max_pixels=10**9), max(20, args.n // 10)))

    print(f"image {args.image} {image.shape[1]}x{image.shape[0]}, scrfd_2.5g HEF layout, one CPU core")
    print(f"{'outputs':10s}{'pre ms':>9s}{'decode ms':>11s}{'host ms':>9s}{'frames/s':>10s}{'faces':>7s}")
    for fmt, pre, post, faces in rows:
        print(f"{fmt:10s}{pre:9.3f}{post:11.3f}{pre + post:9.3f}{1000 / (pre + post):10.0f}{faces:7d}")
    print(f"image decode (JPEG -> RGB, per request, not per NPU frame): {image_decode:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
