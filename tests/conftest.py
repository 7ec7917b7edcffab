"""Shared fixtures. ../shared (real weights, photos, reference outputs) is found at run time, never copied."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.data import ROOT, SHARED_ENV, shared_dir  # noqa: F401 - ROOT is re-exported to the tests

from hailo_scrfd.backends.onnx_auto import AUTO_ENV as AUTO_INT8_ENV
from hailo_scrfd.http.app import create_app
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.system.models import MODEL_DIR_ENV
from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.runtime.model import SCRFDModel


# model file -> the key of its results in reference/insightface_detections.json
MODEL_REFERENCE = {
    "scrfd_2.5g_bnkps.onnx": "scrfd_2.5g_bnkps.onnx",
    "scrfd_2.5g_bnkps_renamed_io.onnx": "scrfd_2.5g_bnkps.onnx",
    "scrfd_500m_bnkps.onnx": "scrfd_500m_bnkps.onnx",
}
DEFAULT_MODEL = "scrfd_2.5g_bnkps.onnx"


@pytest.fixture(scope="session", autouse=True)
def own_model_cache(tmp_path_factory):
    """The whole session (and the servers it starts) caches models in a temp dir, never the user's."""
    previous = os.environ.get(MODEL_DIR_ENV)
    os.environ[MODEL_DIR_ENV] = str(tmp_path_factory.mktemp("model-cache"))
    # model.precision auto would quantize in the background and swap to INT8 mid-test: only the tests of that
    # (tests/parity/test_int8_auto.py) let it.
    os.environ[AUTO_INT8_ENV] = "off"
    yield
    if previous is None:
        os.environ.pop(MODEL_DIR_ENV, None)
    else:
        os.environ[MODEL_DIR_ENV] = previous


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "models").is_dir():
        pytest.skip(f"shared test data not found at {path}; set {SHARED_ENV} to its location")
    return path


@pytest.fixture(scope="session")
def reference(shared) -> dict:
    return json.loads((shared / "reference" / "insightface_detections.json").read_text())["results"]


@pytest.fixture(scope="session")
def load_image(shared):
    cache: dict[str, object] = {}

    def load(name: str):
        if name not in cache:
            cache[name] = decode_image((shared / "images" / name).read_bytes(), max_pixels=100_000_000)
        return cache[name]

    return load


@pytest.fixture(scope="session")
def model_factory(shared):
    """Loaded SCRFDModel per model file, shared by the whole session (loading costs ~0.3 s each)."""
    models: dict[tuple, SCRFDModel] = {}

    def get(model_file: str = DEFAULT_MODEL, **overrides) -> SCRFDModel:
        key = (model_file, tuple(sorted(overrides.items())))
        if key not in models:
            config = SCRFDServiceConfig().override(model__path=str(shared / "models" / model_file), **overrides)
            models[key] = SCRFDModel(config).load()
        return models[key]

    yield get
    for m in models.values():
        m.close()


@pytest.fixture(scope="session")
def model(model_factory) -> SCRFDModel:
    return model_factory()


@pytest.fixture(scope="session")
def t1(shared) -> bytes:
    """The group photo's JPEG bytes (6 frontal faces)."""
    return (shared / "images" / "t1.jpg").read_bytes()


@pytest.fixture(scope="module")
def app_factory(model):
    """A test client of an app built from the model's config with ``section__key=value`` overrides."""
    def make(**overrides):
        app = create_app(model.config.override(**overrides), model)
        app.testing = True
        return app.test_client()
    return make


@pytest.fixture(scope="module")
def client(app_factory):
    """A test client of the app with the default config, on the session's model."""
    return app_factory()
