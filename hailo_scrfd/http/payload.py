"""Pull the image bytes and raw parameters out of a Flask request, in any of the three accepted forms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import BadRequest, BatchTooLarge, InvalidParameter, MalformedJSON, MissingImage, UnsupportedMediaType
from .fetch import fetch_image
from ..vision.decode import decode_base64_image

RAW_IMAGE_TYPES = frozenset({
    "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/bmp", "image/x-ms-bmp",
    "image/tiff", "image/tif", "image/gif", "image/heic", "image/heif", "image/avif", "image/heic-sequence",
    "image/heif-sequence", "image/avif-sequence", "application/octet-stream",
})
SUPPORTED = ("application/json, multipart/form-data, or a raw image "
             "(image/jpeg, png, webp, bmp, tiff, heic, heif, avif)")
BATCH_FIELD = "images"  # a JSON list of base64 images, or repeated multipart files of that name


@dataclass(frozen=True)
class Payload:
    """The image bytes, plus parameters: ``typed`` from a JSON body, ``text`` from form fields and the query.

    A parameter may appear both in the query string and in the body; the body's value wins. ``shadowed``:
    query values that a form field of the same name overrides (still validated, then ignored).
    """

    image: bytes
    typed: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    shadowed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """Several images of one request, in order, with the parameters they share.

    Each image is a callable returning its bytes, or raising the ServiceError that makes it that image's
    error entry (bad base64, an empty file), so one bad image never fails the batch.
    """

    images: tuple[Callable[[], bytes], ...]
    typed: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    shadowed: dict[str, str] = field(default_factory=dict)


def read_payload(request: Request, url_settings, *, max_batch: int = 0) -> Payload | Batch:
    """The image and raw parameters; ``url_settings`` (config ``url_fetch``) governs {"url": ...} bodies.

    With ``max_batch`` > 0, a JSON ``images`` list or multipart ``images`` files make a :class:`Batch`
    of at most that many images (more: 400 batch_too_large).
    """
    mimetype = request.mimetype
    query = _single_values(request.args.to_dict(flat=False), "in the query string") if request.query_string else {}
    if mimetype == "application/json" or mimetype.endswith("+json"):
        body = _json_body(request)
        if max_batch and BATCH_FIELD in body:
            return _json_batch(body, query, max_batch)
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
        if max_batch and BATCH_FIELD in request.files:
            return _multipart_batch(request, query, max_batch)
        if len(request.files.getlist("image")) > 1:
            raise InvalidParameter(f"'image' is given more than once; send a batch as repeated '{BATCH_FIELD}' files")
        upload = request.files.get("image")
        if upload is None:
            raise MissingImage("the multipart body has no file in field 'image'")
        extra_files = sorted(set(request.files) - {"image"})
        if extra_files:
            raise InvalidParameter(f"unexpected file field(s) {', '.join(map(repr, extra_files))}; send one 'image'")
        form = _single_values(request.form.to_dict(flat=False), "in the form")
        # The body's value wins, as for JSON; the query's is still validated.
        return Payload(upload.read(), text={**query, **form}, shadowed=_shadowed(query, form))
    if mimetype in RAW_IMAGE_TYPES:
        data = _read_body(request)
        if not data:
            raise MissingImage("the request body is empty")
        return Payload(data, text=query)
    if not mimetype:
        raise UnsupportedMediaType(f"the request has no Content-Type; send {SUPPORTED}")
    raise UnsupportedMediaType(f"Content-Type {mimetype!r} is not supported; send {SUPPORTED}")


def _json_batch(body: dict[str, Any], query: dict[str, str], max_batch: int) -> Batch:
    images = body.pop(BATCH_FIELD)
    if "image" in body or "url" in body:
        raise BadRequest(f"send either '{BATCH_FIELD}' (a batch) or one 'image' or 'url', not both")
    if not isinstance(images, list) or not images:
        raise BadRequest(f"'{BATCH_FIELD}' must be a non-empty list of base64 images")
    _check_batch_size(len(images), max_batch)
    return Batch(tuple(partial(_base64_item, i, item) for i, item in enumerate(images)), typed=body, text=query)


def _base64_item(index: int, item: Any) -> bytes:
    if not isinstance(item, str):
        raise BadRequest(f"{BATCH_FIELD}[{index}] must be a base64 string, got {type(item).__name__}")
    return decode_base64_image(item)


def _multipart_batch(request: Request, query: dict[str, str], max_batch: int) -> Batch:
    extra_files = sorted(set(request.files) - {BATCH_FIELD})
    if extra_files:
        raise InvalidParameter(f"unexpected file field(s) {', '.join(map(repr, extra_files))} "
                               f"in a batch; send every image as '{BATCH_FIELD}'")
    uploads = request.files.getlist(BATCH_FIELD)
    _check_batch_size(len(uploads), max_batch)
    form = _single_values(request.form.to_dict(flat=False), "in the form")
    return Batch(tuple(partial(_upload_item, i, upload) for i, upload in enumerate(uploads)),
                 text={**query, **form}, shadowed=_shadowed(query, form))


def _upload_item(index: int, upload) -> bytes:
    data = upload.read()
    if not data:
        raise MissingImage(f"{BATCH_FIELD}[{index}] is an empty file")
    return data


def _shadowed(query: dict[str, str], form: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in query.items() if name in form}


def _check_batch_size(count: int, max_batch: int) -> None:
    if count > max_batch:
        raise BatchTooLarge(f"the batch has {count} images; limits.max_batch_images is {max_batch}")


def _read_body(request: Request) -> bytes:
    """The whole body.

    With a Content-Length, straight from the server's input in one sized read (werkzeug's limited stream
    copies it twice more through a bytearray), after the same 413 check werkzeug makes; a body that ends
    short of its length is a 400, never a truncated image. Without one (chunked), through werkzeug's
    stream to EOF: it stops at the size limit and raises 413 only on the read after it, where
    ``get_data()`` would silently return the truncated bytes.
    """
    length = request.content_length
    if length is None:
        chunks = []
        while chunk := request.stream.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    limit = request.max_content_length
    if limit is not None and length > limit:
        raise RequestEntityTooLarge()
    source = request.environ["wsgi.input"]
    chunks, got = [], 0
    try:
        while got < length and (chunk := source.read(length - got)):
            chunks.append(chunk)
            got += len(chunk)
    except (OSError, ValueError):  # the client went away, or its socket timed out, mid-body
        raise BadRequest(f"the request body ended after {got} of its {length} bytes (Content-Length)") from None
    if got < length:
        raise BadRequest(f"the request body ended after {got} of its {length} bytes (Content-Length)")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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

