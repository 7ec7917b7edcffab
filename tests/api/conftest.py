"""The API tests' Flask test clients, on the session's loaded model."""

import pytest

from hailo_scrfd.http.app import create_app


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
    return app_factory()
