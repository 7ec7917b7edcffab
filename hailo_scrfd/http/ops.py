"""Operations routes: /health, /metrics, /openapi.json, and the opt-in fault-injection hook."""

from __future__ import annotations

import logging
import time
from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..errors import InvalidParameter
from ..system.thermal import soc_temperature_c
from .routes import service

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)


@bp.get("/health")
def health():
    svc = service()
    model = svc.model
    body = {
        "status": model.state,
        "model": model.info(),
        "version": __version__,
        "uptime_s": round(time.monotonic() - svc.started, 1),
        "temperature_c": soc_temperature_c(),
        "queue_depth": model.queue_depth,
        "recoveries": model.recoveries,
        "requests": svc.metrics.request_counts(),
        "streams": svc.streams.stats(),
        "memory": svc.budget.status(),
        "cache": svc.pipeline.cache.status(),
    }
    if model.state != "ok":
        body["reason"] = model.reason
    fallback = getattr(model, "fallback_status", None)
    if fallback is not None and fallback["active"] and model.state == "ok":  # serving on the CPU: still 200
        body.update(status="degraded", reason=fallback["reason"], fallback=fallback)
    code = 200 if model.state == "ok" else 503
    if svc.draining.is_set():  # stopping: still serving, but a balancer should send elsewhere
        body.update(status="draining", reason="the service is stopping; requests are still served for now")
        code = 503
    if _deep(request.args.get("deep")):
        body["probe"] = probe = svc.probe.check()
        if not probe["ok"] and code == 200:
            body["reason"], code = f"deep health probe failed: {probe['reason']}", 503
    return jsonify(body), code


def _deep(value: str | None) -> bool:
    """The ``deep`` query parameter: 1/true runs the probe, 0/false or none does not."""
    if value is None or value in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise InvalidParameter("'deep' must be 1, true, 0 or false")


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(service().metrics.registry), content_type=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi():
    return Response(service().openapi, content_type="application/json")


def register_debug_routes(app) -> None:
    """POST /debug/faults, only when config debug.fault_injection is on."""

    @app.post("/debug/faults")
    def arm_faults():
        body = request.get_json(silent=True) or {}
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
            raise InvalidParameter("'count' must be an integer between 1 and 100")
        try:
            service().model.faults.arm(str(body.get("mode")), count)
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        log.warning("fault injection armed: %s x%d", body.get("mode"), count)
        return jsonify({"armed": body.get("mode"), "count": count}), 202
