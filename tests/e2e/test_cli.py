"""The `hailo-scrfd` command line: detect, align and their failure modes."""

import json
import re
import subprocess
import sys

import cv2
import pytest

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
