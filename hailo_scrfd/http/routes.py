"""The face routes: /v1/detect, /v1/align and /v1/best. Parsing here, the work in :mod:`hailo_scrfd.pipeline`."""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app, jsonify, request

from ..errors import ServiceError
from ..pipeline.batch import auto_in_flight
from ..pipeline.budget import image_bytes
from .params import RequestOptions, parse_params
from .payload import Batch, read_payload
from .security import presented_key

bp = Blueprint("faces", __name__)


def service():
    """The app's :class:`~hailo_scrfd.http.app.Service` (what the routes need, kept on the app)."""
    return current_app.extensions["hailo_scrfd"]


@bp.post("/v1/detect")
def detect():
    return _with_cache_header(_run(align=False))


@bp.post("/v1/align")
def align():
    return _with_cache_header(_run(align=True))


@bp.post("/v1/best")
def best():
    """The single best usable face, aligned and with its quality: for enrolment (422 no_usable_face if none)."""
    return _with_cache_header(_run(align=True, best=True))


def cache_scope(svc) -> str:
    """Whose cache entries a request may see: its API key when keys are on (a hit is faster than a miss, so
    a shared entry would tell one client what another sent), else everyone's."""
    return (presented_key(request.headers) or "") if svc.keys.enabled else ""


def cache_state(timings: list[dict]) -> str:
    """X-Cache: ``hit`` when the cache gave every image's faces (their timings have ``cache``), ``miss``
    when it gave none, ``partial`` for a batch in between."""
    hits = sum("cache" in t for t in timings)
    return "hit" if hits == len(timings) and hits else "partial" if hits else "miss"


def _with_cache_header(body: dict):
    response = jsonify(body)
    timings = [entry["timings_ms"] for entry in body.get("results", [body]) if "timings_ms" in entry]
    response.headers["X-Cache"] = cache_state(timings)
    return response


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
    full = align or svc.pipeline.needs_full_decode(options.detect, options.quality, best)
    with svc.budget.reserve(image_bytes(payload.image, long_side=None if full else max(svc.model.input_spec.hw))):
        response = svc.pipeline.run(payload.image, options.detect, options.align if align else None,
                                    options.quality, best=best, scope=cache_scope(svc))
    _observe(svc, response)
    return response


def _observe(svc, response: dict) -> None:
    """Engine time and faces, for what the engine ran: a cache hit ran nothing."""
    if "cache" not in response["timings_ms"]:
        svc.metrics.observe_detection(response["timings_ms"]["inference"], response["count"])


def _run_batch(batch: Batch, options: RequestOptions, align: bool) -> dict:
    """``{"results": [...]}``: one single-request response, or ``{"error": ...}``, per image, in order."""
    svc = service()
    in_flight = svc.config.performance.batch_in_flight or auto_in_flight(svc.pipeline)
    images = tuple(map(_read_once, batch.images))  # a multipart file can be read once: its header is read here
    with svc.budget.reserve(min(len(images), in_flight) * max(map(_batch_image_bytes, images))):
        results = svc.pipeline.run_batch(images, options.detect, options.align if align else None,
                                         options.quality, in_flight=in_flight,
                                         scope=cache_scope(svc))
    for entry in results:
        if "error" not in entry:
            _observe(svc, entry)
    return {"results": results}


def _read_once(image: Callable[[], bytes]) -> Callable[[], bytes]:
    """``image``, read on its first call; later calls give the same bytes, or raise the same error."""
    outcome: list = []

    def read() -> bytes:
        if not outcome:
            try:
                outcome.append(image())
            except ServiceError as exc:
                outcome.append(exc)
        if isinstance(outcome[0], ServiceError):
            raise outcome[0]
        return outcome[0]
    return read


def _batch_image_bytes(image: Callable[[], bytes]) -> int:
    """What one image of a batch holds at its peak (in full: a batch's options are shared); 0 for an image
    that is its own error entry."""
    try:
        return image_bytes(image())
    except ServiceError:
        return 0
