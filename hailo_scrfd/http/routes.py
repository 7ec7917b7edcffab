"""The face routes: /v1/detect, /v1/align and /v1/best. Parsing here, the work in :mod:`hailo_scrfd.pipeline`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .params import RequestOptions, parse_params
from .payload import Batch, read_payload

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
    # The request itself, not its context-local proxy: the parsers read a dozen of its attributes.
    payload = read_payload(request._get_current_object(), svc.config.url_fetch,
                           max_batch=0 if best else svc.config.limits.max_batch_images)
    defaults = RequestOptions(detect=svc.pipeline.defaults, quality=svc.pipeline.quality_defaults)
    options = parse_params(payload.typed, payload.text, defaults=defaults, align=align, shadowed=payload.shadowed)
    if isinstance(payload, Batch):
        return _run_batch(payload, options, align)
    response = svc.pipeline.run(payload.image, options.detect, options.align if align else None, options.quality,
                                best=best)
    svc.metrics.observe_detection(response["timings_ms"]["inference"], response["count"])
    return response


def _run_batch(batch: Batch, options: RequestOptions, align: bool) -> dict:
    """``{"results": [...]}``: one single-request response, or ``{"error": ...}``, per image, in order."""
    svc = service()
    results = svc.pipeline.run_batch(batch.images, options.detect, options.align if align else None, options.quality,
                                     in_flight=svc.config.performance.batch_in_flight)
    for entry in results:
        if "error" not in entry:
            svc.metrics.observe_detection(entry["timings_ms"]["inference"], entry["count"])
    return {"results": results}
