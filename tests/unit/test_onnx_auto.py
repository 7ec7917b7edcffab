"""auto's background INT8: the swap never fails a run, the synthetic scenes are deterministic, and every way the
background job ends is logged as docs/troubleshooting.md quotes it."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from hailo_scrfd.backends import precision
from hailo_scrfd.backends.base import Backend, InputSpec
from hailo_scrfd.backends.onnx_auto import SwappingBackend, auto_int8
from hailo_scrfd.backends.onnx_synthetic import synthetic_canvases
from hailo_scrfd.system.config import SCRFDServiceConfig
from support.wait import until

from ..conftest import ROOT

DOC = (ROOT / "docs" / "troubleshooting.md").read_text()
MODEL = "/path/model.onnx"


class Fake(Backend):
    def __init__(self, name: str, gate: threading.Event | None = None):
        self.name, self.input_spec, self.gate = name, InputSpec(640, 640, dynamic=True), gate
        self.closed = False
        self.precision = {"precision": "int8" if "int8" in name else "fp32", "calibration": None}

    def prepare(self, canvas):
        return canvas[None]

    def infer(self, tensor):
        if self.gate is not None:
            self.gate.wait(5)
        assert not self.closed, f"{self.name} ran after it was closed"
        return self.name

    def close(self):
        self.closed = True


def test_swap_lets_runs_in_flight_finish_and_later_runs_use_the_new_engine():
    gate = threading.Event()
    old, new = Fake("fp32", gate), Fake("fp32 int8")
    swapping = SwappingBackend(old, {"precision": "fp32"})
    results = []
    running = threading.Thread(target=lambda: results.append(swapping.infer(np.zeros((1, 32, 32, 3)))))
    running.start()
    assert until(lambda: swapping._users.get(id(old)) == 1, interval_s=0.001)  # in flight on the old engine
    swapper = threading.Thread(target=swapping.swap, args=(new, new.precision))
    swapper.start()
    assert until(lambda: swapping.name == new.name, interval_s=0.001)
    assert swapping.infer(None) == "fp32 int8" and not old.closed  # the new engine answers; the old one still runs
    gate.set()
    running.join(30)
    swapper.join(30)
    assert results == ["fp32"] and old.closed and swapping.precision["precision"] == "int8"
    swapping.close()
    assert new.closed and not swapping.swap(Fake("late"), {})  # closed: nothing swaps in any more


def test_synthetic_scenes_are_deterministic_letterboxed_canvases():
    a, b = (list(synthetic_canvases((640, 640), 3)) for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(c.shape == (640, 640, 3) and c.dtype == np.uint8 for c in a)
    assert any(not c[-1].any() or not c[:, -1].any() for c in a)  # the letterbox's zero padding


def test_auto_int8_is_off_by_key_or_environment(monkeypatch):
    config = SCRFDServiceConfig()
    monkeypatch.delenv("HAILO_SCRFD_AUTO_INT8", raising=False)
    assert auto_int8(config) == "synthetic" and auto_int8(config.override(model__auto_int8="off")) == "off"
    monkeypatch.setenv("HAILO_SCRFD_AUTO_INT8", "off")
    assert auto_int8(config) == "off"


def _child(returncode: int, err: str = ""):
    return SimpleNamespace(returncode=returncode, communicate=lambda: ("", err), poll=lambda: returncode)


@pytest.mark.parametrize("case", ["quantize fails", "check fails", "slower"])
def test_background_endings_are_logged_as_documented(case, monkeypatch, tmp_path, caplog):
    int8_file = tmp_path / "model.int8-r2.onnx"
    monkeypatch.setattr(precision, "quantize_in_background",
                        lambda path: _child(1, "...") if case == "quantize fails" else _child(0))
    monkeypatch.setattr(precision, "find_quantized", lambda path: None if case == "quantize fails" else int8_file)
    monkeypatch.setattr(precision, "OnnxBackend", lambda *a: Fake("fp32"))
    monkeypatch.setattr(precision, "_int8", lambda backend: backend)
    monkeypatch.setattr(precision, "same_faces", lambda a, b: (case != "check fails", "..."))
    monkeypatch.setattr(precision, "engine_times", lambda a, b, rounds: (2.0, 1.0))
    monkeypatch.setattr(precision, "decision_path", lambda path, section: tmp_path / "decision.json")
    fp32 = Fake("fp32")
    swapping = SwappingBackend(fp32, {"precision": "fp32", "int8": "quantizing"})
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        precision._make_int8(swapping, fp32, SCRFDServiceConfig(), MODEL)
    line = caplog.records[-1].getMessage().replace("2.0 ms", "... ms").replace("1.0 ms", "... ms")
    assert line in DOC, line
    assert swapping.name == "fp32" and swapping.precision["precision"] == "fp32" and swapping.precision["int8"]
    if case != "quantize fails":
        assert '"choice": "fp32"' in (tmp_path / "decision.json").read_text()


def test_first_start_line_is_documented(shared, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("HAILO_SCRFD_AUTO_INT8", raising=False)
    monkeypatch.setattr(precision, "_make_int8", lambda *a: None)  # no background work in this test
    model = tmp_path / "model.onnx"
    model.write_bytes((shared / "models" / "scrfd_500m_bnkps.onnx").read_bytes())
    monkeypatch.setenv("HAILO_SCRFD_MODEL_DIR", str(tmp_path / "models"))
    with caplog.at_level(logging.INFO, logger="hailo_scrfd.backends.precision"):
        backend = precision.create_onnx(SCRFDServiceConfig(), str(model))
    assert isinstance(backend, SwappingBackend) and backend.precision["int8"] == "quantizing"
    line = next(r.getMessage() for r in caplog.records if "yet: serving FP32" in r.getMessage())
    assert line.replace(str(model), MODEL) in DOC, line
    backend.close()
