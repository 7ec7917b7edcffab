"""The face routes: /v1/detect, /v1/align and /v1/best. Parsing here, the work in :mod:`hailo_scrfd.pipeline`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .params import RequestOptions, parse_params
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


@bp.post("/v1/best")
def best():
    """The single best usable face, aligned and with its quality: for enrolment (422 no_usable_face if none)."""
    return jsonify(_run(align=True, best=True))


def _run(align: bool, best: bool = False) -> dict:
    svc = service()
    svc.model.ensure_ready()  # answer 503 before spending time on the body
    payload = read_payload(request, svc.config.url_fetch)
    defaults = RequestOptions(detect=svc.pipeline.defaults, quality=svc.pipeline.quality_defaults)
    options = parse_params(payload.typed, payload.text, defaults=defaults, align=align)
    response = svc.pipeline.run(payload.image, options.detect, options.align if align else None, options.quality,
                                best=best)
    svc.metrics.observe_detection(response["timings_ms"]["inference"], response["count"])
    return response
