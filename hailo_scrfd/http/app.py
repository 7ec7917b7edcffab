"""`create_app(config, model)`: the Flask application factory."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, g, request

from ..errors import Unauthorized
from ..pipeline import FacePipeline
from ..pipeline.budget import MemoryBudget, budget_bytes
from ..runtime.model import SCRFDModel
from ..runtime.probe import HealthProbe
from ..video.sessions import StreamManager
from ..system.config import SCRFDServiceConfig
from . import errors, ops, pictures, routes, streams, ui
from .json_provider import OrjsonProvider
from .metrics import Metrics
from .openapi import served_document
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
    pipeline: FacePipeline
    metrics: Metrics
    keys: ApiKeys
    streams: StreamManager
    probe: HealthProbe
    budget: MemoryBudget
    openapi: bytes = b""  # the served OpenAPI document, fitted to the config once
    started: float = field(default_factory=time.monotonic)
    draining: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM: /health answers 503


def create_app(config: SCRFDServiceConfig, model: SCRFDModel) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json = OrjsonProvider(app)
    keys = ApiKeys.from_config(config)
    probe = HealthProbe(model, config.health, max_pixels=config.limits.max_image_pixels)  # ConfigError first
    pipeline = FacePipeline.from_config(model, config)
    manager = StreamManager(config.streams, pipeline)
    budget = MemoryBudget(budget_bytes(config.limits.memory_budget_mb), wait_s=config.limits.memory_wait_s,
                          max_waiting=config.performance.max_queue_size)
    metrics = Metrics(model, manager, budget)
    metrics.watch_cache(pipeline.cache)
    service = Service(config, model, pipeline, metrics, keys, manager, probe, budget,
                      json.dumps(served_document(config)).encode())
    app.extensions["hailo_scrfd"] = service
    public = {"/openapi.json"} | ({"/health"} if config.security.health_public else set()) | (
        {"/metrics"} if config.security.metrics_public else set())
    public |= ui.register(app, config)  # GET / and /docs: static pages, keyless; before _finish (see ui.register)
    for blueprint in (errors.bp, ops.bp, routes.bp, pictures.bp):
        app.register_blueprint(blueprint)
    streams.register(app, config)
    if config.debug.fault_injection:
        ops.register_debug_routes(app)

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
