"""HTTP routes and the error handlers: the only place exceptions become responses."""

from __future__ import annotations

import base64
import logging
import time

from importlib.resources import files

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from . import __version__, schemas
from .align import encode_crop, estimate_transform, warp
from .errors import InvalidParameter, ServiceError
from .imageio import decode_image, decode_image_reduced
from .params import parse_params
from .payload import read_payload
from .thermal import soc_temperature_c

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)

HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
    411: "length_required", 413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
    431: "headers_too_large",
}


def _service():
    return current_app.extensions["hailo_scrfd"]


@bp.get("/health")
def health():
    service = _service()
    model = service.model
    body = {
        "status": model.state,
        "model": model.info(),
        "version": __version__,
        "uptime_s": round(time.monotonic() - service.started, 1),
        "temperature_c": soc_temperature_c(),
        "queue_depth": model.queue_depth,
        "recoveries": model.recoveries,
        "requests": service.metrics.request_counts(),
    }
    if model.state != "ok":
        body["reason"] = model.reason
    fallback = getattr(model.backend, "fallback_status", None)
    if fallback is not None and fallback["active"] and model.state == "ok":  # serving on the CPU: still 200
        body.update(status="degraded", reason=fallback["reason"], fallback=fallback)
    return jsonify(body), 200 if model.state == "ok" else 503


def register_debug_routes(app) -> None:
    """POST /debug/faults, only when config debug.fault_injection is on."""

    @app.post("/debug/faults")
    def arm_faults():
        body = request.get_json(silent=True) or {}
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
            raise InvalidParameter("'count' must be an integer between 1 and 100")
        try:
            _service().model.faults.arm(str(body.get("mode")), count)
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        log.warning("fault injection armed: %s x%d", body.get("mode"), count)
        return jsonify({"armed": body.get("mode"), "count": count}), 202


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(_service().metrics.registry), content_type=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi():
    return Response(_OPENAPI, content_type="application/json")


_OPENAPI = files(__package__).joinpath("openapi.json").read_bytes()


@bp.post("/v1/detect")
def detect():
    return jsonify(_detect(align=False))


@bp.post("/v1/align")
def align():
    return jsonify(_detect(align=True))


def _detect(align: bool) -> dict:
    service = _service()
    model = service.model
    start = time.perf_counter()
    spec = model.ensure_ready().backend.input_spec  # answer 503 before spending time on the body
    payload = read_payload(request, service.config.url_fetch)
    options, align_options = parse_params(payload.typed, payload.text, defaults=service.defaults, align=align)
    max_pixels = service.config.limits.max_image_pixels
    original_size = None
    if align or not service.config.performance.reduced_decode:
        image = decode_image(payload.image, max_pixels=max_pixels)  # crops need every pixel
    else:
        image, original_size = decode_image_reduced(payload.image, max_pixels=max_pixels,
                                                    long_side=max(spec.hw))
    decoded = time.perf_counter()
    result = model.detect_faces(image, options, original_size)
    service.metrics.observe_detection(result.timings_ms["inference"], len(result.faces))
    faces = schemas.faces_to_json(result.faces)
    timings = {"decode": (decoded - start) * 1000.0, **result.timings_ms}
    if align:
        aligned_at = time.perf_counter()
        for face, landmarks in zip(faces, result.faces.landmarks, strict=True):
            matrix = estimate_transform(landmarks, align_options.size)
            crop = encode_crop(warp(image, matrix, align_options.size), align_options.format)
            face["aligned"] = {
                "image": base64.b64encode(crop).decode("ascii"),
                "format": align_options.format,
                "size": align_options.size,
                "transform": [[round(float(v), 6) for v in row] for row in matrix],
            }
        timings["align"] = (time.perf_counter() - aligned_at) * 1000.0
    timings["total"] = (time.perf_counter() - start) * 1000.0
    width, height = result.image_size
    return {
        "faces": faces,
        "count": len(faces),
        "image": {"width": width, "height": height},
        "model": model.name,
        "backend": model.backend.name if model.backend else None,
        "timings_ms": schemas.round_timings(timings),
    }


def _error(status: int, code: str, message: str, headers: dict | None = None):
    response = jsonify(schemas.error_body(code, message))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.app_errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return _error(exc.status, exc.code, exc.message, exc.headers)


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        message = f"the request body exceeds the limit of {limit / 1048576:g} MiB"
    else:
        message = exc.description or exc.name
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    return _error(status, HTTP_CODES.get(status, "http_error"), message, headers)


@bp.app_errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error(500, "internal_error", "an internal error occurred; it has been logged")
