"""`create_app(config, model)`: the Flask application factory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, g, request

from .config import SCRFDServiceConfig
from .metrics import Metrics
from .model import DetectOptions, SCRFDModel


@dataclass
class Service:
    """What the routes need, stored on the app rather than in globals."""

    config: SCRFDServiceConfig
    model: SCRFDModel
    metrics: Metrics
    started: float = field(default_factory=time.monotonic)

    @property
    def defaults(self) -> DetectOptions:
        """Request parameter defaults: the config's ``detection`` section."""
        return DetectOptions.from_config(self.config.detection)


def create_app(config: SCRFDServiceConfig, model: SCRFDModel) -> Flask:
    from . import api

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    service = Service(config, model, Metrics(model))
    app.extensions["hailo_scrfd"] = service
    app.register_blueprint(api.bp)

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        # The route pattern, not the path, keeps label cardinality bounded (404s are one label).
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        service.metrics.observe_request(endpoint, response.status_code,
                                        time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    return app
