"""Video routes: streams with their Server-Sent Events, and pushed-frame tracking (POST /v1/track).

The work happens in :class:`~hailo_scrfd.video.sessions.StreamManager`; here are parsing, the source
fences (:mod:`.stream_sources`) and the SSE wire format.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterator

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidParameter, UnsupportedMediaType
from ..video.events import Event, Subscription
from .json_provider import encode
from .params import FRAME_PARAMS, RequestOptions, parse_params
from .payload import _json_body, read_payload
from .routes import service
from .stream_sources import stream_source

SESSION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

bp = Blueprint("streams", __name__)


def register(app, config) -> None:
    """The blueprint; ``POST /v1/streams`` only while ``streams.enabled`` (else it is a 405, as the served
    OpenAPI document, which leaves it out, says)."""
    app.register_blueprint(bp)
    if config.streams.enabled:
        app.add_url_rule("/v1/streams", "streams.open_stream", open_stream, methods=["POST"])


def open_stream():
    svc = service()
    svc.model.ensure_ready()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send a JSON body: {\"url\": ...} or {\"file\": ...}")
    label, opener, live = stream_source(_json_body(request), svc.config)
    session = svc.streams.open(label, opener, live=live)
    body = {**session.info(), "events": f"/v1/streams/{session.id}/events"}
    return jsonify(body), 201, {"Location": f"/v1/streams/{session.id}"}


@bp.get("/v1/streams")
def list_streams():
    return jsonify({"streams": service().streams.list()})


@bp.delete("/v1/streams/<stream_id>")
def close_stream(stream_id: str):
    return jsonify(service().streams.close(stream_id))


@bp.get("/v1/streams/<stream_id>/events")
def stream_events(stream_id: str):
    svc = service()
    manager = svc.streams
    subscription = manager.subscribe(stream_id)
    body = _sse(subscription, svc.config.streams.keepalive_s, lambda: manager.unsubscribe(subscription))
    return Response(body, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


@bp.post("/v1/track")
def track():
    svc = service()
    svc.model.ensure_ready()
    payload = read_payload(request, svc.config.url_fetch)
    text = dict(payload.text)
    session = text.pop("session", None)
    if session is not None and not SESSION_NAME.fullmatch(session):
        raise InvalidParameter("'session' must be an id a /v1/track response returned, or a name of your own: "
                               "1-64 letters, digits, '_', '.' or '-'")
    shadowed = {name: value for name, value in payload.shadowed.items() if name != "session"}
    frame_defaults = dataclasses.replace(svc.pipeline.defaults, rotations="none")  # video: upright unless asked
    options = parse_params(payload.typed, text, defaults=RequestOptions(frame_defaults),
                           table=FRAME_PARAMS, shadowed=shadowed).detect
    frame = svc.pipeline.decode(payload.image, full=True).pixels
    manager = svc.streams
    result = manager.track(session, frame, options)
    height, width = frame.shape[:2]
    return jsonify({**result, "count": len(result["tracks"]), "image": {"width": width, "height": height},
                    "model": svc.model.name})


def _sse(subscription: Subscription, keepalive_s: float, release) -> Iterator[bytes]:
    """The event stream: ``event: NAME`` and one ``data:`` line of JSON per event, comments as keep-alives.
    ``release`` runs however the stream ends: the stream's end, or a client that went away (its next
    write fails, and the server closes this generator)."""
    try:
        yield b": connected\n\n"
        while True:
            event = subscription.get(keepalive_s)
            if event is None:
                if subscription.finished:
                    return
                yield b": keepalive\n\n"
                continue
            yield _wire(event)
            if event.name == "end":
                return
    finally:
        release()


def _wire(event: Event) -> bytes:
    if event.wire is None:
        event.wire = b"event: " + event.name.encode() + b"\ndata: " + encode(event.data) + b"\n\n"
    return event.wire
