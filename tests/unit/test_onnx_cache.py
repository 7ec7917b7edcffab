"""The optimised-graph cache: written once, loaded at the next start, rewritten when it is damaged."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hailo_scrfd.backends.onnx import OnnxBackend
from hailo_scrfd.system.models import MODEL_DIR_ENV
from hailo_scrfd.system.sections import OnnxSection

from ..conftest import DEFAULT_MODEL


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    return tmp_path


def test_optimised_graph_is_saved_then_loaded(shared, model_dir, caplog):
    path = str(shared / "models" / DEFAULT_MODEL)
    x = np.random.default_rng(0).integers(0, 256, (1, 448, 640, 3), np.uint8)
    with caplog.at_level(logging.INFO):
        first = OnnxBackend(path)
    saved = list((model_dir / "optimized").glob("*.onnx"))
    assert len(saved) == 1 and "saved the optimised model" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        second = OnnxBackend(path)
    assert "saved the optimised model" not in caplog.text and second.input_spec == first.input_spec
    for a, b in zip(first.infer(x), second.infer(x), strict=True):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)


def test_a_damaged_cache_file_is_replaced(shared, model_dir, caplog):
    path = str(shared / "models" / DEFAULT_MODEL)
    OnnxBackend(path)
    saved = next((model_dir / "optimized").glob("*.onnx"))
    saved.write_bytes(b"not a model")
    with caplog.at_level(logging.INFO):
        backend = OnnxBackend(path)
    assert "does not load" in caplog.text and "saved the optimised model" in caplog.text
    assert saved.stat().st_size > 1000 and backend.input_spec.dynamic


def test_modes_and_switches_get_their_own_files(shared, model_dir):
    path = str(shared / "models" / DEFAULT_MODEL)
    OnnxBackend(path, OnnxSection(input_mode="fixed"))
    OnnxBackend(path, OnnxSection(batch_max=2))
    OnnxBackend(path, OnnxSection(cache_optimized=False))
    names = [p.name for p in (model_dir / "optimized").glob("*.onnx")]
    assert len(names) == 2 and {"fixed", "fit-batch"} == {n.split("-", 1)[1].rsplit("-", 1)[0] for n in names}
