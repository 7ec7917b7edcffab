"""The error handlers: the only place exceptions become responses, always ``{"error": {code, message}}``."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import ServiceError

log = logging.getLogger(__name__)
bp = Blueprint("errors", __name__)

HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
    411: "length_required", 413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
    431: "headers_too_large",
}


def error_response(status: int, code: str, message: str, headers: dict | None = None, details: dict | None = None):
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.app_errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.headers, exc.details)


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        message = f"the request body exceeds the limit of {limit / 1048576:g} MiB"
    else:
        message = exc.description or exc.name
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    return error_response(status, HTTP_CODES.get(status, "http_error"), message, headers)


@bp.app_errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")
