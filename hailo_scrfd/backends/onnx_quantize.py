"""INT8 SCRFD for the CPU: ONNX Runtime static quantization (QDQ, per-channel weights), and its cache.

:func:`quantize_model` converts the export to opset 13 (per-channel ``QuantizeLinear`` axes need it;
InsightFace's exports are opset 11), folds BatchNorm and infers shapes with ONNX Runtime's own
pre-processing, then calibrates activation ranges on real photos letterboxed exactly as the
reference does (640x640, top-left, zero padding). ONNX Runtime's tool is used rather than
hand-written Q/DQ insertion: it knows which operators its int8 kernels fuse.

The result is cached under :func:`cache_path`, keyed by the sha256 of the FP32 file and the recipe's
version, so the service finds it for ``model.precision: int8|auto`` without recomputing it, and never
takes a file an older recipe made. The calibration
photos are an argument and are never stored: only the ranges they produced are in the model.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, Union

import numpy as np

from ..system.models import model_dir
from ..vision.decode import decode_image
from ..vision.letterbox import fixed_letterbox
from .onnx_cache import file_sha256

log = logging.getLogger(__name__)

TARGET_OPSET = 13
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MEAN, STD = 127.5, 128.0
META_SOURCE = "hailo_scrfd.int8_source_sha256"
META_RECIPE = "hailo_scrfd.int8_recipe"
META_CALIBRATION = "hailo_scrfd.int8_calibration"  # photos (hailo-scrfd quantize) or synthetic (auto, no photos)
# r2: the Conv that reads the image stays FP32 too. r1 (every Conv but the heads) lost 0.017 easy and 0.023
# hard AP on x86 CPUs without VNNI, where ONNX Runtime's U8S8 kernels add pairs of products in int16 (AVX2
# VPMADDUBSW) and saturate on the image's full-range activations.
RECIPE = "r2"


def cache_path(model_path: str | os.PathLike, sha256: str | None = None) -> Path:
    """Where the INT8 version of ``model_path`` is cached:
    ``<model dir>/int8/<stem>-<sha256[:16]>.int8-<recipe>.onnx``."""
    sha256 = sha256 or file_sha256(model_path)
    return model_dir() / "int8" / f"{Path(model_path).stem}-{sha256[:16]}.int8-{RECIPE}.onnx"


def find_quantized(model_path: str) -> Path | None:
    """The cached INT8 model made from exactly this file (same sha256), or None."""
    path = cache_path(model_path)
    return path if path.is_file() else None


def outdated_quantized(model_path: str) -> list[Path]:
    """INT8 files an earlier recipe made from this file: never used, worth making again."""
    current = cache_path(model_path)
    stem = current.name.split(".int8")[0]
    return sorted(p for p in current.parent.glob(f"{glob.escape(stem)}.int8*.onnx") if p != current)


def calibration_of(path: str | os.PathLike) -> str:
    """What calibrated the INT8 file at ``path``: ``photos`` or ``synthetic`` (files made before this was
    recorded were all calibrated on photos)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == META_CALIBRATION), "photos")


@contextlib.contextmanager
def quantize_lock(dst: Path):
    """One quantization of a file at a time (services starting side by side, or a user's `quantize`)."""
    import fcntl

    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst.with_name(f".{dst.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def calibration_images(directory: str | os.PathLike, limit: int) -> list[Path]:
    """Up to ``limit`` photos under ``directory``, evenly spread over the sorted list (so a folder tree of
    events is sampled across events, not from the first few)."""
    if not Path(directory).is_dir():
        raise ValueError(f"calibration directory not found: {directory}")
    files = sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {directory}")
    if len(files) <= limit:
        return files
    return [files[i * len(files) // limit] for i in range(limit)]


# Photos to calibrate on, or a function of the input (height, width) that yields uint8 RGB canvases.
Calibration = Union[Sequence[Path], Callable[[tuple[int, int]], Iterable[np.ndarray]]]


def reference_tensor(path: Path, input_hw: tuple[int, int]) -> np.ndarray:
    """One photo as the FP32 export takes it: reference letterbox, (x - 127.5) / 128, NCHW float32."""
    pixels = decode_image(path.read_bytes(), max_pixels=200_000_000)
    return canvas_tensor(fixed_letterbox(pixels.shape[:2], input_hw).apply(pixels))


def canvas_tensor(canvas: np.ndarray) -> np.ndarray:
    return ((canvas.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]


class _Photos:
    """ONNX Runtime's CalibrationDataReader protocol over photos decoded one at a time, or canvases drawn one at
    a time."""

    def __init__(self, input_name: str, images: Calibration, input_hw: tuple[int, int]):
        tensors = (map(canvas_tensor, images(input_hw)) if callable(images)
                   else (reference_tensor(p, input_hw) for p in images))
        self._feeds: Iterator[dict] = ({input_name: t} for t in tensors)
        self.count = 0

    def get_next(self) -> dict | None:
        feed = next(self._feeds, None)
        self.count += feed is not None
        return feed



def quantize_model(src: str | os.PathLike, dst: str | os.PathLike, images: Calibration,
                   fp32_heads: bool = True, fp32_input_conv: bool = True, calibration: str = "photos") -> Path:
    """Write the INT8 QDQ version of the SCRFD export ``src`` to ``dst``, calibrated on ``images`` (photos, or a
    source of canvases: :mod:`.onnx_synthetic`); ``calibration`` names them in the file's metadata.

    ``fp32_heads`` keeps the last Conv of each output head in FP32: measured on ../shared/widerface (61 photos
    calibrating, 61 held out), hard AP held-out moved -0.0085 with every Conv in INT8 and -0.0018 with the
    heads in FP32, for a little more engine time (MinMax; percentile calibration was no better).
    ``fp32_input_conv`` keeps the Conv that reads the image in FP32: on an AVX2 CPU without VNNI its INT8
    version saturates (easy AP -0.017, hard -0.023 on the 122 photos); in FP32 the AP is FP32's (+0.0009,
    +0.0001) at the same engine time (docs/performance.md). 7-bit weights (``reduce_range``) instead cost
    hard AP -0.008.
    """
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load(str(src))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    input_name, input_hw = model.graph.input[0].name, (dims[2].dim_value or 640, dims[3].dim_value or 640)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    with tempfile.TemporaryDirectory(prefix="hailo-scrfd-quantize-") as tmp:
        converted, prepared, out = Path(tmp, "opset13.onnx"), Path(tmp, "prepared.onnx"), Path(tmp, "int8.onnx")
        if opset < TARGET_OPSET:
            model = version_converter.convert_version(model, TARGET_OPSET)
        onnx.save(model, str(converted))
        quant_pre_process(str(converted), str(prepared), skip_symbolic_shape=True)
        reader = _Photos(input_name, images, input_hw)
        quantize_static(str(prepared), str(out), reader,
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=_fp32_convs(onnx.load(str(prepared)), fp32_heads, fp32_input_conv))
        result = onnx.load(str(out))
        for key, value in ((META_SOURCE, file_sha256(src)), (META_RECIPE, RECIPE), (META_CALIBRATION, calibration)):
            entry = result.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(result, str(out))
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(out), str(dst))
    for stale in Path(dst).parent.glob(f"{glob.escape(Path(dst).stem)}.auto-*.json"):
        stale.unlink(missing_ok=True)  # auto's decisions were about the file this one replaces
    log.info("quantized %s (opset %d -> %d) on %d %s: %s", src, opset, TARGET_OPSET, reader.count,
             "photos" if calibration == "photos" else f"{calibration} scenes", dst)
    return Path(dst)


def _fp32_convs(model, heads: bool, input_conv: bool) -> list[str]:
    return (_head_convs(model) if heads else []) + (_input_convs(model) if input_conv else [])


def _input_convs(model) -> list[str]:
    """The first Conv on each path from the graph's image input."""
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found, frontier, seen = [], [model.graph.input[0].name], set()
    while frontier:
        for node in consumers.get(frontier.pop(), []):
            if node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type == "Conv":
                found.append(node.name)
            else:
                frontier.extend(node.output)
    return found


def _head_convs(model) -> list[str]:
    """The last Conv before each graph output (the score, box and landmark heads)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    heads = []
    for output in model.graph.output:
        node = producer.get(output.name)
        while node is not None and node.op_type != "Conv":
            node = producer.get(node.input[0])
        if node is not None:
            heads.append(node.name)
    return heads
