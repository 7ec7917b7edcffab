"""The `hailo-scrfd` command line: detect, align and their failure modes."""

import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from support.server import clean_env


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hailo_scrfd", *map(str, args)], capture_output=True, text=True,
                           env=env or clean_env(), timeout=120)


def test_detect_prints_one_json_line_per_image(shared, model_path):
    proc = run("detect", shared / "images" / "t1.jpg", shared / "images" / "s_l.jpg", "--model", model_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(d["count"], d["image"]["width"]) for d in lines] == [(6, 1280), (2, 400)]
    assert set(lines[0]) >= {"faces", "count", "image", "model", "backend", "timings_ms"}


def test_detect_reports_a_bad_image_and_continues(shared, model_path, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    proc = run("detect", bad, shared / "images" / "newton.png", "--model", model_path)
    assert proc.returncode == 1 and "bad.jpg" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["count"] == 1


def test_align_writes_crops(shared, model_path, tmp_path):
    proc = run("align", shared / "images" / "t1.jpg", "--out", tmp_path / "crops", "--model", model_path)
    assert proc.returncode == 0, proc.stderr
    crops = sorted((tmp_path / "crops").glob("face_*.png"))
    assert len(crops) == 6 and all(cv2.imread(str(c)).shape == (112, 112, 3) for c in crops)
    proc = run("align", shared / "images" / "t1.jpg", "--out", tmp_path / "c2", "--size", "256", "--format", "jpeg",
               "--model", model_path)
    assert proc.returncode == 0 and cv2.imread(str(tmp_path / "c2" / "face_0.jpg")).shape == (256, 256, 3)


def sideways(shared, name: str, folder) -> str:
    """``name`` from ../shared/images with its pixels turned 90 degrees and no EXIF orientation, as a JPEG."""
    path = folder / f"sideways-{name.rsplit('.', 1)[0]}.jpg"
    Image.fromarray(np.rot90(np.asarray(Image.open(shared / "images" / name).convert("RGB")))).save(path, quality=92)
    return str(path)


def detected(*args) -> dict:
    proc = run("detect", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_detect_rotations_finds_the_faces_of_a_sideways_photo(shared, model_path, tmp_path):
    photo = sideways(shared, "selfie.jpg", tmp_path)  # a crowd: about 150 faces upright
    upright_only = detected(photo, "--model", model_path)
    assert upright_only["count"] <= 5 and [p["name"] for p in upright_only["passes"]] == ["base"]
    turned = detected(photo, "--model", model_path, "--rotations", "auto")
    assert turned["count"] >= 140 and any(p["name"].startswith("rot") for p in turned["passes"])
    # Without the flag the config's detection.rotations holds; the flag overrides it.
    config = tmp_path / "config.yaml"
    config.write_text("detection:\n  rotations: auto\n")
    assert detected(photo, "--model", model_path, "--config", config)["count"] == turned["count"]
    assert detected(photo, "--model", model_path, "--config", config, "--rotations", "none")["count"] <= 5


def test_detect_mode_full_runs_every_scale(shared, model_path):
    full = detected(shared / "images" / "s_l.jpg", "--model", model_path, "--mode", "full")
    assert full["count"] == 2 and len(full["passes"]) >= 3


def test_align_rotations_gives_upright_crops_of_a_sideways_photo(shared, model_path, tmp_path):
    def crops(image, out, *args) -> list[np.ndarray]:
        proc = run("align", image, "--out", tmp_path / out, "--model", model_path, *args)
        assert proc.returncode == 0, proc.stderr
        return [cv2.imread(str(c), cv2.IMREAD_GRAYSCALE).astype(np.float64)
                for c in sorted((tmp_path / out).glob("face_*.png"))]

    upright = crops(shared / "images" / "t1.jpg", "upright")
    turned = crops(sideways(shared, "t1.jpg", tmp_path), "turned", "--rotations", "auto")
    assert len(upright) == len(turned) == 6
    for crop in upright:  # each upright face has an upright crop from the sideways photo
        assert max(np.corrcoef(crop.ravel(), c.ravel())[0, 1] for c in turned) > 0.9


@pytest.mark.parametrize("args", [
    ("detect", "x.jpg", "--rotations", "sideways"),
    ("detect", "x.jpg", "--mode", "quick"),
    ("align", "x.jpg", "--out", "d", "--rotations", "90"),
])
def test_a_bad_choice_is_argparses_error(args):
    proc = run(*args)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "high"])
def test_a_threshold_outside_0_1_is_argparses_error(value):
    proc = run("detect", "x.jpg", "--threshold", value)
    assert proc.returncode == 2 and "--threshold" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,message", [
    ((), "no model given"),
    (("--model", "/nonexistent/m.onnx"), "model file not found: /nonexistent/m.onnx"),
    (("--config", "/nonexistent/c.yaml"), "config file not found"),
])
def test_model_and_config_errors_exit_2_in_one_line(shared, args, message):
    proc = run("detect", shared / "images" / "t1.jpg", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hailo-scrfd: error: ") and message in lines[0]


def test_not_an_onnx_model_exits_2(shared, tmp_path):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\0" * 100)
    proc = run("detect", shared / "images" / "t1.jpg", "--model", fake)
    assert proc.returncode == 2 and "cannot load ONNX model" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_check_passes_and_reports(model_path):
    proc = run("check", "--model", model_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "backend:     onnxruntime:CPUExecutionProvider (input 640x640)" in out
    assert re.search(r"inference:   preprocess [\d.]+ ms, queue [\d.]+ ms, inference [\d.]+ ms", out)
    assert re.search(r"temperature: ([\d.]+ C|unknown)", out) and out.strip().endswith("check passed")


def test_check_fails_with_the_reason(tmp_path):
    proc = run("check", "--model", tmp_path / "absent.onnx")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"hailo-scrfd: error: check failed: model file not found: {tmp_path / 'absent.onnx'}"
