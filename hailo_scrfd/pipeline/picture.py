"""Pictures: the request's image with its faces drawn (/v1/draw) or covered (/v1/redact), encoded anew."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..options import DetectOptions, QualityOptions, RedactOptions, RenderOptions
from ..vision import draw
from .response import round_timings

if TYPE_CHECKING:
    from .face_pipeline import FacePipeline


@dataclass(frozen=True)
class Picture:
    """An encoded image, with the number of faces found and the timings (milliseconds) of each stage."""

    data: bytes
    media_type: str
    faces: int
    timings_ms: dict[str, float]
    cached: bool = False  # the faces came from the result cache


def render_picture(pipeline: "FacePipeline", data: bytes, options: DetectOptions, render: RenderOptions,
                   redact: RedactOptions | None, quality: QualityOptions, scope: str = "") -> Picture:
    """The image with boxes, landmarks and scores drawn, or with every face covered when ``redact`` is given.

    The faces are those /v1/detect finds for the same image and options; the picture is always decoded in
    full and upright (EXIF orientation applied), and written from the pixels alone, so none of the upload's
    metadata survives.
    """
    start = time.perf_counter()
    # The faces exactly as /v1/detect finds them, on the decode it uses (reduced where that loses nothing);
    # the picture from a full decode. A reduced decode costs a fraction of a full one (DCT scaling).
    answer = pipeline.answer(data, options, quality, scope=scope)
    pixels = pipeline.full_pixels(data, answer.image)
    decoded = time.perf_counter()
    faces, max_side = answer.found.faces, render.max_side or None
    # The pixels are this request's own: drawn on, covered and encoded in place (a 40 MP photo is 115 MB).
    if redact is None:
        picture = draw.annotate(pixels, faces.xyxy, faces.scores, faces.landmarks, max_side=max_side, inplace=True)
    else:
        picture, _ = draw.fit_max_side(draw.redact(pixels, faces.xyxy, style=redact.style, inplace=True), max_side)
    answer_timings, hit = answer.timings, answer.hit
    del pixels, answer
    drawn = time.perf_counter()
    body = draw.encode_image(picture, render.format, consume=True)
    end = time.perf_counter()
    # passes is a count; decode is what the stages leave of the time to the full pixels
    stages = {name: ms for name, ms in answer_timings.items() if name not in ("passes", "decode")}
    timings = {"decode": (decoded - start) * 1000.0 - sum(stages.values()), **stages,
               "draw": (drawn - decoded) * 1000.0, "encode": (end - drawn) * 1000.0, "total": (end - start) * 1000.0}
    return Picture(body, draw.MEDIA_TYPES[render.format], len(faces), round_timings(timings), hit)
