"""`create_app(config, model)`: the Flask application factory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from flask import Flask, g, request

from .config import SCRFDServiceConfig
from .errors import Unauthorized
from .metrics import Metrics
from .model import DetectOptions, SCRFDModel
from .security import ApiKeys, presented_key

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class Service:
    """What the routes need, stored on the app rather than in globals."""

    config: SCRFDServiceConfig
    model: SCRFDModel
    metrics: Metrics
    keys: ApiKeys
    started: float = field(default_factory=time.monotonic)

    @cached_property
    def defaults(self) -> DetectOptions:
        """Request parameter defaults: the config's ``detection`` section (fixed for the app's life)."""
        return DetectOptions.from_config(self.config.detection)


def create_app(config: SCRFDServiceConfig, model: SCRFDModel) -> Flask:
    from . import api, ui

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    keys = ApiKeys.from_config(config)
    service = Service(config, model, Metrics(model), keys)
    app.extensions["hailo_scrfd"] = service
    public = {"/openapi.json"} | ({"/health"} if config.security.health_public else set()) | (
        {"/metrics"} if config.security.metrics_public else set())
    public |= ui.register(app, config)  # GET / and /docs: static pages, keyless; before _finish (see ui.register)
    app.register_blueprint(api.bp)
    if config.debug.fault_injection:
        api.register_debug_routes(app)

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        service.metrics.request_started()
        if keys.enabled and request.path not in public and not keys.accepts(presented_key(request.headers)):
            raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'")

    @app.teardown_request
    def _done(_exc):
        service.metrics.request_finished()

    @app.after_request
    def _finish(response):
        response.headers.update(SECURITY_HEADERS)
        # The route pattern, not the path, keeps label cardinality bounded (404s are one label).
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        service.metrics.observe_request(endpoint, response.status_code,
                                        time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    return app
