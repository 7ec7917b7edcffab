"""Pull the image bytes and raw parameters out of a Flask request, in any of the three accepted forms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import Request

from ..errors import BadRequest, InvalidParameter, MalformedJSON, MissingImage, UnsupportedMediaType
from .fetch import fetch_image
from ..vision.decode import decode_base64_image

RAW_IMAGE_TYPES = frozenset({
    "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/bmp", "image/x-ms-bmp",
    "image/tiff", "image/tif", "image/gif", "application/octet-stream",
})
SUPPORTED = "application/json, multipart/form-data, or a raw image (image/jpeg, png, webp, bmp, tiff)"


@dataclass(frozen=True)
class Payload:
    """The image bytes, plus parameters: ``typed`` from a JSON body, ``text`` from form fields and the query.

    A parameter may appear both in the query string and in the body; the body's value wins.
    """

    image: bytes
    typed: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)


def read_payload(request: Request, url_settings) -> Payload:
    """The image and raw parameters; ``url_settings`` (config ``url_fetch``) governs {"url": ...} bodies."""
    mimetype = request.mimetype
    query = _single_values(request.args.to_dict(flat=False), "in the query string")
    if mimetype == "application/json" or mimetype.endswith("+json"):
        body = _json_body(request)
        image, url = body.pop("image", None), body.pop("url", None)
        if url is not None:
            if image is not None:
                raise BadRequest("send either 'image' or 'url', not both")
            if not isinstance(url, str):
                raise BadRequest(f"'url' must be a string, got {type(url).__name__}")
            return Payload(fetch_image(url, url_settings), typed=body, text=query)
        if image is None:
            raise MissingImage("the JSON body has no 'image' field (base64 or a data URI)")
        if not isinstance(image, str):
            raise BadRequest(f"'image' must be a base64 string, got {type(image).__name__}")
        return Payload(decode_base64_image(image), typed=body, text=query)
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise MissingImage("the multipart body has no file in field 'image'")
        extra_files = sorted(set(request.files) - {"image"})
        if extra_files:
            raise InvalidParameter(f"unexpected file field(s) {', '.join(map(repr, extra_files))}; send one 'image'")
        form = _single_values(request.form.to_dict(flat=False), "in the form")
        return Payload(upload.read(), text={**query, **form})  # the body's value wins, as for JSON
    if mimetype in RAW_IMAGE_TYPES:
        data = _read_body(request)
        if not data:
            raise MissingImage("the request body is empty")
        return Payload(data, text=query)
    if not mimetype:
        raise UnsupportedMediaType(f"the request has no Content-Type; send {SUPPORTED}")
    raise UnsupportedMediaType(f"Content-Type {mimetype!r} is not supported; send {SUPPORTED}")


def _read_body(request: Request) -> bytes:
    """The whole body. Reading to EOF matters: for a chunked body (no Content-Length) werkzeug
    stops at the size limit and only raises 413 on the read after it, where ``get_data()``
    would silently return the truncated bytes."""
    chunks = []
    while chunk := request.stream.read(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _json_body(request: Request) -> dict[str, Any]:
    raw = _read_body(request)
    if not raw:
        raise MalformedJSON("the JSON body is empty")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedJSON(f"the body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise MalformedJSON(f"the JSON body must be an object, got {type(body).__name__}")
    return body


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _single_values(multi: dict[str, list[str]], where: str) -> dict[str, str]:
    for name, values in multi.items():
        if len(values) > 1:
            raise InvalidParameter(f"'{name}' is given more than once {where}")
    return {name: values[0] for name, values in multi.items()}

