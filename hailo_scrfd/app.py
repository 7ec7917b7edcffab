"""`create_app(config, model)`: the Flask application factory."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from flask import Flask

from .config import SCRFDServiceConfig
from .model import DetectOptions, SCRFDModel


@dataclass
class Service:
    """What the routes need, stored on the app rather than in globals."""

    config: SCRFDServiceConfig
    model: SCRFDModel
    started: float = field(default_factory=time.monotonic)

    @property
    def defaults(self) -> DetectOptions:
        """Request parameter defaults: the config's ``detection`` section."""
        return DetectOptions(**dataclasses.asdict(self.config.detection))


def create_app(config: SCRFDServiceConfig, model: SCRFDModel) -> Flask:
    from . import api

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["hailo_scrfd"] = Service(config, model)
    app.register_blueprint(api.bp)

    @app.after_request
    def _headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
