"""The end-to-end tests' model file and a real server process on it."""

import pytest

from support.server import running


@pytest.fixture(scope="module")
def model_path(shared):
    return shared / "models" / "scrfd_2.5g_bnkps.onnx"


@pytest.fixture(scope="module")
def server(model_path):
    with running(model_path) as srv:
        yield srv
