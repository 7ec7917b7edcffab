"""The picture routes: /v1/draw (faces drawn) and /v1/redact (faces covered), answered with the image itself."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, Response, request

from ..options import DetectOptions
from ..pipeline.budget import image_bytes
from ..vision.draw import MEDIA_TYPES
from .params import RequestOptions, parse_picture_params
from .payload import read_payload
from .routes import cache_scope, service

bp = Blueprint("pictures", __name__)


def redact_defaults(defaults: DetectOptions) -> DetectOptions:
    """The detection defaults of /v1/redact: the service's, with the most thorough scale coverage.

    THE ONE PLACE /v1/redact's default detection mode is chosen: ``full`` (every scale pass), so that small
    faces in crowds and close-ups are covered too, whatever the config's ``detection.mode``. A request's own
    ``mode`` still wins.
    """
    return dataclasses.replace(defaults, mode="full")


@bp.post("/v1/draw")
def draw():
    return _picture(redact=False)


@bp.post("/v1/redact")
def redact():
    return _picture(redact=True)


def _picture(redact: bool) -> Response:
    svc = service()
    svc.model.ensure_ready()  # answer 503 before spending time on the body
    payload = read_payload(request, svc.config.url_fetch)
    detect = redact_defaults(svc.pipeline.defaults) if redact else svc.pipeline.defaults
    defaults = RequestOptions(detect=detect, quality=svc.pipeline.quality_defaults)
    options, render, cover = parse_picture_params(payload.typed, payload.text, defaults=defaults, redact=redact,
                                                  shadowed=payload.shadowed)
    if "format" not in payload.typed and "format" not in payload.text:
        render = dataclasses.replace(render, format=negotiated_format(render.format))
    with svc.budget.reserve(image_bytes(payload.image)):  # a picture is always decoded in full
        picture = svc.pipeline.picture(payload.image, options.detect, render, cover, options.quality,
                                       scope=cache_scope(svc))
    if not picture.cached:
        svc.metrics.observe_detection(picture.timings_ms["inference"], picture.faces)
    response = Response(picture.data, mimetype=picture.media_type)
    response.headers["X-Cache"] = "hit" if picture.cached else "miss"
    response.headers["X-Face-Count"] = str(picture.faces)
    response.headers["Server-Timing"] = ", ".join(f"{name};dur={ms}" for name, ms in picture.timings_ms.items())
    return response


def negotiated_format(default: str) -> str:
    """The output format the ``Accept`` header names with the highest quality (image/png or image/jpeg);
    ``default`` when it names neither (no header, ``*/*``, ``image/*``) or both equally."""
    accept = request.accept_mimetypes
    named = {value.lower() for value, quality in accept if quality > 0} & set(MEDIA_TYPES.values())
    if not named:
        return default
    best = max(sorted(named), key=lambda media: (accept[media], media == MEDIA_TYPES[default]))
    return next(fmt for fmt, media in MEDIA_TYPES.items() if media == best)
