"""The face routes: /v1/detect and /v1/align. Parsing here, the work in :mod:`hailo_scrfd.pipeline`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .params import parse_params
from .payload import read_payload

bp = Blueprint("faces", __name__)


def service():
    """The app's :class:`~hailo_scrfd.http.app.Service` (what the routes need, kept on the app)."""
    return current_app.extensions["hailo_scrfd"]


@bp.post("/v1/detect")
def detect():
    return jsonify(_run(align=False))


@bp.post("/v1/align")
def align():
    return jsonify(_run(align=True))


def _run(align: bool) -> dict:
    svc = service()
    svc.model.ensure_ready()  # answer 503 before spending time on the body
    payload = read_payload(request, svc.config.url_fetch)
    options, align_options = parse_params(payload.typed, payload.text, defaults=svc.pipeline.defaults, align=align)
    response = svc.pipeline.run(payload.image, options, align_options if align else None)
    svc.metrics.observe_detection(response["timings_ms"]["inference"], response["count"])
    return response
