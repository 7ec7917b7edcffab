"""Build a simulated HEF (a JSON file read by the simulated ``hailo_platform``) from SCRFD ONNX weights.

Like Hailo's Dataflow Compiler, it calibrates each output's uint8 quantization (scale
and zero point) on sample images; the sigmoid scores get the fixed range [0, 1].
Output names follow the Model Zoo HEF (``scrfd_2_5g/conv42`` for the stride-8 scores),
and the outputs are listed in HailoRT's name order, not the ONNX order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hailo_scrfd.vision.letterbox import fixed_letterbox

STRIDES = (8, 16, 32)
# HEF channels per cell for each canonical kind, and the ONNX output index base (scores, boxes, kps).
KINDS = (("score", 2, 0), ("box", 8, 3), ("kps", 20, 6))
# conv layer numbers of the Model Zoo's scrfd HEFs, per stride: box, score (sigmoid), landmarks
CONV = {0: (41, 42, 43), 1: (48, 49, 50), 2: (54, 55, 56)}


def build_sim_hef(onnx_path: Path, hef_path: Path, network: str, calibration: list[np.ndarray],
                  arch: str = "hailo10h", size: int = 640, bits: int = 8) -> Path:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    lows, highs = np.full(9, np.inf), np.full(9, -np.inf)
    for image in calibration:
        canvas = fixed_letterbox(image.shape[:2], (size, size)).apply(image)
        x = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        for i, out in enumerate(session.run(None, {name: x})):
            lows[i], highs[i] = min(lows[i], out.min()), max(highs[i], out.max())
    outputs = []
    for kind, channels, base in KINDS:
        for s_index, stride in enumerate(STRIDES):
            i = base + s_index
            lo, hi = (0.0, 1.0) if kind == "score" else (min(float(lows[i]), 0.0), float(highs[i]))
            scale = (hi - lo) / (2**bits - 1)
            conv = CONV[s_index][("box", "score", "kps").index(kind)]
            outputs.append({"name": f"{network}/conv{conv}", "shape": [size // stride, size // stride, channels],
                            "scale": scale, "zero_point": float(round(-lo / scale)), "onnx_index": i,
                            "type": "UINT16" if bits == 16 else "UINT8"})
    outputs.sort(key=lambda o: int(o["name"].rsplit("conv", 1)[1]))
    hef_path.write_text(json.dumps({
        "sim_hef": 1, "network": network, "arch": arch, "onnx": str(onnx_path),
        "input": {"name": f"{network}/input_layer1", "shape": [size, size, 3]},
        "outputs": outputs,
    }, indent=1))
    return hef_path
