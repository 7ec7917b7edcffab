"""INT8 with no user step: on a fresh model dir, model.precision auto serves FP32 at once, makes the INT8 version
from synthetic scenes in the background, checks it, swaps it in with no failed request, and later starts load it.

One background quantization for the whole module (tens of seconds at nice 19): the fixture starts the model
and waits for the swap while a client thread keeps sending requests.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from hailo_scrfd.backends.onnx_auto import AUTO_ENV
from hailo_scrfd.backends.onnx_quantize import calibration_of, find_quantized
from hailo_scrfd.cli import main
from hailo_scrfd.http.app import create_app
from hailo_scrfd.options import DetectOptions
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.system.models import MODEL_DIR_ENV
from hailo_scrfd.vision.detections import box_iou

from ..conftest import DEFAULT_MODEL
from .test_decode_parity import IMAGES
from .test_int8 import SCORE_DRIFT, assert_same_faces

SWAP_TIMEOUT_S = 600
LOGGER = "hailo_scrfd.backends.precision"


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _config(shared, precision: str = "auto") -> SCRFDServiceConfig:
    return SCRFDServiceConfig().override(model__path=str(shared / "models" / DEFAULT_MODEL),
                                         model__precision=precision)


@pytest.fixture(scope="module")
def fresh_start(shared, tmp_path_factory, load_image):
    """A first start on an empty model dir, with auto's background quantization on, run until the swap."""
    saved = {k: os.environ.get(k) for k in (MODEL_DIR_ENV, AUTO_ENV)}
    os.environ[MODEL_DIR_ENV] = str(tmp_path_factory.mktemp("auto-models"))
    os.environ.pop(AUTO_ENV, None)
    lines, logger = _Lines(), logging.getLogger(LOGGER)
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    start = time.perf_counter()
    model = SCRFDModel(_config(shared)).load()
    result = {"model": model, "ready_s": time.perf_counter() - start, "lines": lines.lines, "served": [],
              "failed": [], "first": model.info()["precision"]}
    image, stop = load_image("t1.jpg"), threading.Event()

    def client():
        while not stop.is_set():
            try:
                model.detect_faces(image)
                result["served"].append(model.backend.name)
            except Exception as exc:  # noqa: BLE001 - every failure is reported by the test
                result["failed"].append(repr(exc))
            time.sleep(0.05)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    deadline = time.monotonic() + SWAP_TIMEOUT_S
    while time.monotonic() < deadline and model.info()["precision"].get("int8") == "quantizing":
        time.sleep(0.5)
    time.sleep(0.5)  # a few requests on the new engine
    stop.set()
    thread.join()
    yield result
    model.close()
    logger.removeHandler(lines)
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def test_fresh_start_serves_fp32_then_swaps_to_synthetic_int8(fresh_start):
    assert fresh_start["first"] == {"precision": "fp32", "calibration": None, "int8": "quantizing"}
    assert any("serving FP32 while it is made from synthetic scenes" in line for line in fresh_start["lines"])
    assert fresh_start["model"].info()["precision"] == {"precision": "int8", "calibration": "synthetic"}, \
        fresh_start["lines"]
    assert any("(calibration: synthetic) finds the same faces as FP32" in line and "now serving INT8" in line
               for line in fresh_start["lines"]), fresh_start["lines"]
    assert not fresh_start["failed"], fresh_start["failed"][:3]
    served = fresh_start["served"]
    assert served[0] == "onnxruntime:CPUExecutionProvider" and served[-1].endswith(" int8"), set(served)


def test_synthetic_int8_finds_every_fp32_face(shared, fresh_start, load_image):
    """The parity test of `quantize --calibration` photos, and stricter: every FP32 face at the default threshold
    is found by INT8 (down to a 0.05 lower score) at IoU >= 0.9."""
    path = find_quantized(str(shared / "models" / DEFAULT_MODEL))
    assert path is not None and calibration_of(path) == "synthetic"
    fp32, int8 = (SCRFDModel(_config(shared, p)).load() for p in ("fp32", "int8"))
    assert_same_faces(fp32, int8, load_image)
    lower = DetectOptions(threshold=DetectOptions().threshold - SCORE_DRIFT)
    for name in IMAGES:
        a, b = fp32.detect_faces(load_image(name)).faces, int8.detect_faces(load_image(name), lower).faces
        if len(a):
            assert len(b) and (box_iou(a.xyxy, b.xyxy).max(axis=1) >= 0.9).all(), name
    fp32.close()
    int8.close()


def test_later_start_loads_int8_and_health_names_the_calibration(shared, fresh_start, capsys):
    lines, logger = _Lines(), logging.getLogger(LOGGER)
    logger.addHandler(lines)
    start = time.perf_counter()
    try:
        model = SCRFDModel(_config(shared)).load()
    finally:
        logger.removeHandler(lines)
    ready_s = time.perf_counter() - start
    assert model.backend.name.endswith(" int8") and ready_s < 10, (ready_s, lines.lines)
    assert any("INT8 (calibration: synthetic)" in line for line in lines.lines), lines.lines
    assert not any("no INT8 version" in line for line in lines.lines)
    health = create_app(model.config, model).test_client().get("/health").get_json()
    assert health["model"]["precision"] == {"precision": "int8", "calibration": "synthetic"}
    model.close()
    # `quantize --synthetic` finds it made already; `--calibration` photos would replace it.
    assert main(["quantize", str(shared / "models" / DEFAULT_MODEL), "--synthetic"]) == 0
    assert "calibrated on synthetic" in capsys.readouterr().err
