"""The one place a request becomes faces: decode plan, detection, alignment, response objects.

The HTTP routes and the CLI both call :meth:`FacePipeline.run`; neither assembles a
response itself. New capabilities (scale passes, quality, drawing) plug in here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..options import AlignOptions, DetectOptions, RedactOptions, RenderOptions
from ..runtime.model import DetectionResult, SCRFDModel
from ..system.config import SCRFDServiceConfig
from ..vision.decode import decode_image, decode_image_reduced
from ..vision.detections import Detections
from .batch import run_batch
from .picture import Picture, render_picture
from .response import aligned_crops, faces_to_json, round_timings


@dataclass(frozen=True)
class DecodedImage:
    """The pixels a request runs on; ``original_size`` (width, height) when they were decoded reduced."""

    pixels: np.ndarray
    original_size: tuple[int, int] | None = None


class FacePipeline:
    """Runs requests on one loaded model. ``defaults``: the options of a request that names none;
    ``reduced_decode``: decode large JPEGs for detection at the size the model needs (alignment always
    decodes in full, since crops need every pixel)."""

    def __init__(self, model: SCRFDModel, *, defaults: DetectOptions, max_pixels: int, reduced_decode: bool = True):
        self.model = model
        self.defaults = defaults
        self.max_pixels = max_pixels
        self.reduced_decode = reduced_decode

    @classmethod
    def from_config(cls, model: SCRFDModel, config: SCRFDServiceConfig, **overrides: Any) -> "FacePipeline":
        """A pipeline with the config's request defaults and limits."""
        settings = {"defaults": DetectOptions.from_config(config.detection),
                    "max_pixels": config.limits.max_image_pixels,
                    "reduced_decode": config.performance.reduced_decode}
        return cls(model, **{**settings, **overrides})

    def decode(self, data: bytes, *, full: bool) -> DecodedImage:
        """The image of a request, reduced to the model's input size where that loses nothing."""
        if full or not self.reduced_decode:
            return DecodedImage(decode_image(data, max_pixels=self.max_pixels))
        long_side = max(self.model.input_spec.hw)
        pixels, original = decode_image_reduced(data, max_pixels=self.max_pixels, long_side=long_side)
        return DecodedImage(pixels, original)

    def detect_frame(self, pixels: np.ndarray, options: DetectOptions | None = None) -> Detections:
        """The faces of one decoded RGB frame (a video frame, or a pushed frame already decoded)."""
        return self.model.detect_faces(pixels, options or self.defaults).faces

    def run(self, data: bytes, options: DetectOptions | None = None,
            align: AlignOptions | None = None) -> dict[str, Any]:
        """The /v1/detect response for an encoded image, or the /v1/align one when ``align`` is given."""
        start = time.perf_counter()
        image = self.decode(data, full=align is not None)
        decoded = time.perf_counter()
        result = self.model.detect_faces(image.pixels, options or self.defaults, image.original_size)
        timings = {"decode": (decoded - start) * 1000.0, **result.timings_ms}
        faces = faces_to_json(result.faces)
        if align is not None:
            aligned_at = time.perf_counter()
            for face, crop in zip(faces, aligned_crops(image.pixels, result.faces, align), strict=True):
                face["aligned"] = crop
            timings["align"] = (time.perf_counter() - aligned_at) * 1000.0
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return self.response(result, faces, timings)

    def run_batch(self, images: Sequence[Callable[[], bytes]], options: DetectOptions,
                  align: AlignOptions | None = None, in_flight: int = 0) -> list[dict[str, Any]]:
        """:meth:`run` for each image of a batch, pipelined; see :func:`.batch.run_batch`."""
        return run_batch(self, images, options, align, in_flight)

    def picture(self, data: bytes, options: DetectOptions, render: RenderOptions,
                redact: RedactOptions | None = None) -> Picture:
        """The /v1/draw picture, or the /v1/redact one when ``redact`` is given; see :func:`.picture.render_picture`."""
        return render_picture(self, data, options, render, redact)

    def response(self, result: DetectionResult, faces: list[dict[str, Any]],
                 timings: dict[str, float]) -> dict[str, Any]:
        width, height = result.image_size
        backend = self.model.backend
        return {
            "faces": faces,
            "count": len(faces),
            "image": {"width": width, "height": height},
            "model": self.model.name,
            "backend": backend.name if backend else None,
            "timings_ms": round_timings(timings),
        }
