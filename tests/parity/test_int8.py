"""INT8 on the CPU: the quantized model finds the same faces as FP32, and model.precision picks it as documented.

Calibration runs on WIDER FACE val photos from ../shared (one of each event, as `hailo-scrfd quantize
--max-images 61` picks them); parity is checked on the ../shared/images photos, which it never saw.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hailo_scrfd.backends.onnx_quantize import (META_RECIPE, META_SOURCE, RECIPE, cache_path, calibration_images,
                                                find_quantized, outdated_quantized)
from hailo_scrfd.backends.onnx_cache import file_sha256
from hailo_scrfd.cli import main
from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.options import DetectOptions
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.system.models import MODEL_DIR_ENV
from hailo_scrfd.vision.detections import box_iou

from ..conftest import DEFAULT_MODEL
from .test_decode_parity import IMAGES

CONFIDENT = 0.65  # as in test_fit_mode: below it, borderline faces come and go between any two pipelines
SCORE_DRIFT = 0.05  # how far INT8 may move a face's score: a 0.51 FP32 face may score 0.49 in INT8
CALIBRATION = 61


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model dir of the tests' own, so no INT8 file leaks into (or comes from) the user's cache."""
    old = os.environ.get(MODEL_DIR_ENV)
    os.environ[MODEL_DIR_ENV] = str(tmp_path_factory.mktemp("models"))
    yield os.environ[MODEL_DIR_ENV]
    if old is None:
        del os.environ[MODEL_DIR_ENV]
    else:
        os.environ[MODEL_DIR_ENV] = old


@pytest.fixture(scope="module")
def int8_model(shared, model_dir):
    """`hailo-scrfd quantize` on the default model, through the command itself."""
    src = str(shared / "models" / DEFAULT_MODEL)
    calibration = shared / "widerface" / "WIDER_val" / "images"
    assert main(["quantize", src, "--calibration", str(calibration), "--max-images", str(CALIBRATION)]) == 0
    path = find_quantized(src)
    assert path is not None and path == cache_path(src)
    return path


def _model(shared, precision: str) -> SCRFDModel:
    config = SCRFDServiceConfig().override(model__path=str(shared / "models" / DEFAULT_MODEL),
                                           model__precision=precision)
    return SCRFDModel(config).load()


def test_quantized_model_is_opset13_qdq_with_per_channel_weights(shared, int8_model):
    model = onnx.load(str(int8_model))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 20 and ops.count("DequantizeLinear") > 20
    inits = {i.name: i for i in model.graph.initializer}
    weight_scales = [numpy_helper.to_array(inits[n.input[1]]) for n in model.graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in inits
                     and inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert weight_scales and all(s.ndim == 1 and s.size > 1 for s in weight_scales)  # one scale per channel
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[META_SOURCE] == file_sha256(shared / "models" / DEFAULT_MODEL)
    assert meta[META_RECIPE] == RECIPE and f".int8-{RECIPE}." in int8_model.name
    # The Conv that reads the image stays FP32 (its INT8 kernels saturate on AVX2 without VNNI), as do the heads.
    first = next(n for n in model.graph.node if n.op_type == "Conv")
    assert all(inits[w].data_type == onnx.TensorProto.FLOAT for w in first.input[1:] if w in inits), first.name
    fp32_convs = [n for n in model.graph.node if n.op_type == "Conv" and n.input[1] in inits]
    assert len(fp32_convs) == 1 + 9, [n.name for n in fp32_convs]  # the input Conv and 3 heads x 3 strides


def test_int8_finds_the_same_faces_as_fp32(shared, int8_model, load_image):
    fp32, int8 = _model(shared, "fp32"), _model(shared, "int8")
    assert int8.backend.name.endswith(" int8") and not fp32.backend.name.endswith(" int8")
    assert_same_faces(fp32, int8, load_image)
    fp32.close()
    int8.close()


def assert_same_faces(fp32: SCRFDModel, int8: SCRFDModel, load_image) -> None:
    """Every FP32 face found by INT8 on the ../shared photos; confident ones at IoU >= 0.9 both ways."""
    lower = DetectOptions(threshold=DetectOptions().threshold - SCORE_DRIFT)
    for name in IMAGES:
        image = load_image(name)
        a, b = fp32.detect_faces(image).faces, int8.detect_faces(image).faces
        if not len(a) or not len(b):
            assert len(a) == len(b) == 0, name
            continue
        # Every FP32 face is in INT8, at the threshold or, for one that scored just above it, a little below.
        found = box_iou(a.xyxy, int8.detect_faces(image, lower).faces.xyxy).max(axis=1) >= 0.5
        assert found.all(), f"{name}: FP32 faces missing in INT8: scores {a.scores[~found]}"
        iou = box_iou(a.xyxy, b.xyxy)
        assert (iou.max(axis=1)[a.scores >= DetectOptions().threshold + SCORE_DRIFT] >= 0.5).all(), name
        assert (iou.max(axis=1)[a.scores >= CONFIDENT] >= 0.9).all(), name
        assert (iou.max(axis=0)[b.scores >= CONFIDENT] >= 0.9).all(), name
        assert abs(len(a) - len(b)) <= max(1, len(a) // 20), name


def test_auto_times_both_and_logs_its_choice(shared, int8_model, caplog):
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        model = _model(shared, "auto")
    line = next(r.getMessage() for r in caplog.records if "model.precision auto" in r.getMessage())
    int8_ms, fp32_ms = (float(line.split(kind)[1].split("ms")[0]) for kind in ("INT8 ", "FP32 "))
    assert model.backend.name.endswith(" int8") == (int8_ms < fp32_ms), line
    chosen = model.backend.name
    model.close()
    # The next start on this machine loads only the chosen model: the measurement is kept, not repeated.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        again = _model(shared, "auto")
    assert again.backend.name == chosen, caplog.text
    assert "as measured at an earlier start" in caplog.text or "measured faster at an earlier start" in caplog.text, \
        caplog.text
    assert "ms per image here" not in caplog.text
    again.close()


def test_int8_without_a_quantized_file_says_how_to_make_one(shared, model_dir, tmp_path, caplog):
    other = tmp_path / "other.onnx"
    other.write_bytes((shared / "models" / "scrfd_500m_bnkps.onnx").read_bytes())
    config = SCRFDServiceConfig().override(model__path=str(other), model__precision="int8")
    with pytest.raises(ModelLoadError, match="hailo-scrfd quantize"):
        SCRFDModel(config).load()
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        model = SCRFDModel(config.override(model__precision="auto")).load()
    assert not model.backend.name.endswith(" int8") and "no INT8 version" in caplog.text
    model.close()
    # A file an earlier recipe made is never used, and the message says why there is none to use.
    old = cache_path(other).with_name(cache_path(other).name.split(".int8")[0] + ".int8.onnx")
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"not loaded")
    assert outdated_quantized(str(other)) == [old]
    with pytest.raises(ModelLoadError, match="earlier INT8 recipe.*hailo-scrfd quantize"):
        SCRFDModel(config).load()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        model = SCRFDModel(config.override(model__precision="auto")).load()
    assert not model.backend.name.endswith(" int8") and old.name in caplog.text
    model.close()


def test_quantize_command_errors_are_one_line(shared, model_dir, tmp_path, capsys):
    src = str(shared / "models" / DEFAULT_MODEL)
    assert main(["quantize", src, "--calibration", str(tmp_path / "absent")]) == 2
    assert "calibration directory not found" in capsys.readouterr().err
    assert main(["quantize", src, "--calibration", str(tmp_path), "--force"]) == 2  # a folder with no photos
    assert "no images" in capsys.readouterr().err
    assert main(["quantize", str(tmp_path / "absent.onnx"), "--calibration", str(tmp_path)]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_quantize_reuses_the_cached_version_and_copies_it_out(shared, int8_model, tmp_path, capsys):
    before = int8_model.stat().st_mtime_ns
    out = tmp_path / "copy.onnx"
    assert main(["quantize", str(shared / "models" / DEFAULT_MODEL), str(out), "--calibration", str(tmp_path)]) == 0
    assert int8_model.stat().st_mtime_ns == before and out.read_bytes() == int8_model.read_bytes()


def test_calibration_images_spread_over_the_events(shared):
    picked = calibration_images(shared / "widerface" / "WIDER_val" / "images", CALIBRATION)
    assert len(picked) == CALIBRATION and len({p.parent.name for p in picked}) == CALIBRATION
    assert np.all([p.suffix == ".jpg" for p in picked])
