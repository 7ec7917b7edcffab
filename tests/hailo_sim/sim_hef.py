"""Build a simulated HEF (a JSON file read by the simulated ``hailo_platform``) from SCRFD ONNX weights.

Like Hailo's Dataflow Compiler, it calibrates each output's quantization (scale and
zero point, per tensor or per channel) on sample images; the sigmoid scores get the
fixed range [0, 1]. Output names are the Model Zoo HEF's real layer names, and HailoRT
lists them in its own order, which the simulation shuffles.

Layer names: hailo-apps ``hailo_apps/postprocess/cpp/scrfd.cpp`` (``BOXES_2_5g``,
``CLASSES_2_5g``, ``LANDMARKS_2_5g`` and the ``_10g`` lists) and the Model Zoo's
``cfg/alls/generic/scrfd_*.alls`` (``change_output_activation(convNN, sigmoid)`` names the
score layers). For 500m only the score layers are published (conv26/32/38); its box
and landmark layers follow the pattern of the other two (score + 1, score + 2).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hailo_scrfd.vision.letterbox import fixed_letterbox

STRIDES = (8, 16, 32)
# HEF channels per cell for each canonical kind, and the ONNX output index base (scores, boxes, kps).
KINDS = (("score", 2, 0), ("box", 8, 3), ("kps", 20, 6))
# conv layer of (score, box, landmarks) for strides 8, 16, 32
CONV = {
    "scrfd_2_5g": ((42, 43, 44), (49, 50, 51), (55, 56, 57)),
    "scrfd_10g": ((41, 42, 43), (49, 50, 51), (56, 57, 58)),
    "scrfd_500m": ((26, 27, 28), (32, 33, 34), (38, 39, 40)),
}


def calibrate(onnx_path: Path, calibration: list[np.ndarray], size: int = 640) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per ONNX output, the (per-channel min, per-channel max) over the calibration images."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    ranges: list[tuple[np.ndarray, np.ndarray]] = []
    for image in calibration:
        canvas = fixed_letterbox(image.shape[:2], (size, size)).apply(image)
        x = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        for i, out in enumerate(session.run(None, {name: x})):
            flat = out.reshape(-1, out.shape[-1])
            lo, hi = flat.min(axis=0), flat.max(axis=0)
            if len(ranges) <= i:
                ranges.append((lo, hi))
            else:
                ranges[i] = (np.minimum(ranges[i][0], lo), np.maximum(ranges[i][1], hi))
    return ranges


def _quant(kind: str, lo: np.ndarray, hi: np.ndarray, channels: int, bits: int, per_channel: bool):
    """(scale, zero_point): floats per tensor, or lists of ``channels`` per channel."""
    if kind == "score":
        lo, hi = np.zeros_like(lo), np.ones_like(hi)
    lo = np.minimum(lo, 0.0)
    if not per_channel:
        lo, hi = lo.min(keepdims=True), hi.max(keepdims=True)
    scale = np.maximum(hi - lo, 1e-6) / (2**bits - 1)
    zero_point = np.round(-lo / scale)
    if not per_channel:
        return float(scale[0]), float(zero_point[0])
    # the HEF is NHWC with two anchors per cell: channel c of the HEF is ONNX channel c % (channels/2)
    return np.tile(scale, 2).tolist(), np.tile(zero_point, 2).tolist()


def build_sim_hef(onnx_path: Path, hef_path: Path, network: str, calibration: list[np.ndarray],
                  arch: str = "hailo10h", size: int = 640, bits: int = 8, per_channel: bool = False,
                  ranges: list | None = None) -> Path:
    ranges = ranges if ranges is not None else calibrate(onnx_path, calibration, size)
    outputs = []
    for kind, channels, base in KINDS:
        for s_index, stride in enumerate(STRIDES):
            i = base + s_index
            scale, zero_point = _quant(kind, *ranges[i], channels, bits, per_channel)
            conv = CONV[network][s_index][("score", "box", "kps").index(kind)]
            outputs.append({"name": f"{network}/conv{conv}", "shape": [size // stride, size // stride, channels],
                            "scale": scale, "zero_point": zero_point, "onnx_index": i,
                            "type": "UINT16" if bits == 16 else "UINT8"})
    random.Random(network).shuffle(outputs)  # HailoRT's order is neither the ONNX order nor by name
    write_sim_hef(hef_path, {"network": network, "arch": arch, "onnx": str(onnx_path),
                             "input": {"name": f"{network}/input_layer1", "shape": [size, size, 3]},
                             "outputs": outputs})
    return hef_path


def write_sim_hef(hef_path: Path, spec: dict) -> Path:
    """Write ``spec`` as a simulated HEF (the simulation checks the ``sim_hef`` marker, like HailoRT's magic)."""
    hef_path.write_text(json.dumps({"sim_hef": 1, **spec}, indent=1))
    return hef_path


def nms_variant(hef_path: Path, out_path: Path) -> Path:
    """The same network compiled with on-chip NMS: one output without a shape (HAILO_NMS_BY_SCORE)."""
    spec = json.loads(hef_path.read_text())
    spec["outputs"] = [{"name": f"{spec['network']}/nms_postprocess", "order": "HAILO_NMS_BY_SCORE",
                        "type": "FLOAT32", "scale": 1.0, "zero_point": 0.0}]
    return write_sim_hef(out_path, spec)


def arch_variant(hef_path: Path, out_path: Path, arch: str) -> Path:
    """The same network compiled for another chip."""
    spec = json.loads(hef_path.read_text())
    spec["arch"] = arch
    return write_sim_hef(out_path, spec)
