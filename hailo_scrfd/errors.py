"""Domain exceptions, each with the HTTP status and stable code it maps to.

The Flask error handlers in :mod:`hailo_scrfd.http.errors` are the only place these
become responses; everything else just raises them.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: an error with a client-facing message, status and code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.details = details  # machine-readable extras, sent as error.details


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class MalformedJSON(BadRequest):
    code = "malformed_json"


class MissingImage(BadRequest):
    code = "missing_image"


class InvalidBase64(BadRequest):
    code = "invalid_base64"


class InvalidParameter(BadRequest):
    code = "invalid_parameter"


class BatchTooLarge(BadRequest):
    """More images in one batch request than limits.max_batch_images."""

    code = "batch_too_large"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="hailo-scrfd"'})


class NotFound(ServiceError):
    status, code = 404, "not_found"


class LimitReached(ServiceError):
    """A configured cap (open streams, event clients, tracking sessions) is reached."""

    status, code = 429, "limit_reached"

    def __init__(self, message: str, *, retry_after_s: int = 5):
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_media_type"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class FetchFailed(ServiceError):
    status, code = 422, "fetch_failed"


class InvalidImage(ServiceError):
    status, code = 422, "invalid_image"


class NoUsableFace(ServiceError):
    """No face passes the quality checks (``/v1/best``); details list each face's issue codes."""

    status, code = 422, "no_usable_face"


class ImageTooLarge(ServiceError):
    status, code = 422, "image_too_large"


class ModelNotReady(ServiceError):
    status, code = 503, "model_not_ready"


class QueueFull(ServiceError):
    status, code = 503, "queue_full"

    def __init__(self, message: str, *, retry_after_s: int = 1):
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class InferenceFailed(ServiceError):
    status, code = 503, "inference_failed"


class InferenceTimeout(ServiceError):
    status, code = 503, "inference_timeout"


class ModelLoadError(Exception):
    """The model or backend could not be loaded; the message is one actionable line."""


class ConfigError(Exception):
    """The configuration file cannot be used at all (missing, unreadable, not YAML)."""
