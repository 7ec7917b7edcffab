"""The one place a request becomes faces: decode plan, detection, alignment, response objects.

The HTTP routes and the CLI both call :meth:`FacePipeline.run`; neither assembles a
response itself. New capabilities (scale passes, quality, drawing) plug in here.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..options import AlignOptions, DetectOptions, QualityOptions, RedactOptions, RenderOptions
from ..runtime.model import SCRFDModel
from ..system.config import SCRFDServiceConfig
from ..vision.decode import decode_image, decode_into_canvas
from ..vision.detections import Detections
from ..vision.quality import QualitySettings
from . import quality as face_quality
from . import scales
from ..vision.order import face_order
from .batch import run_batch
from .picture import Picture, render_picture
from .response import aligned_crops, faces_to_json, round_timings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedImage:
    """The pixels a request runs on; ``original_size`` (width, height) when they were decoded reduced, and
    ``canvas``, the network input they were decoded straight into (``pixels`` is its top-left), if they were."""

    pixels: np.ndarray
    original_size: tuple[int, int] | None = None
    canvas: np.ndarray | None = None


@dataclass(frozen=True)
class Found:
    """The faces of one image after every selection, with their qualities (when assessed), the image's
    original size, the stage timings (milliseconds) and the scale passes that ran."""

    faces: Detections
    qualities: list | None
    image_size: tuple[int, int]
    timings: dict[str, float]
    passes: list[dict]


class FacePipeline:
    """Runs requests on one loaded model. ``defaults``: the options of a request that names none;
    ``reduced_decode``: decode large JPEGs for detection at the size the model needs (alignment always
    decodes in full, since crops need every pixel)."""

    def __init__(self, model: SCRFDModel, *, defaults: DetectOptions, max_pixels: int, reduced_decode: bool = True,
                 quality_defaults: QualityOptions | None = None, quality_settings: QualitySettings | None = None,
                 refine_faces: int = 8):
        self.model = model
        self.defaults = defaults
        self.quality_defaults = quality_defaults or QualityOptions()
        self.quality_settings = quality_settings or QualitySettings()
        self.max_pixels = max_pixels
        self.reduced_decode = reduced_decode
        self.refine_faces = refine_faces

    @classmethod
    def from_config(cls, model: SCRFDModel, config: SCRFDServiceConfig, **overrides: Any) -> "FacePipeline":
        """A pipeline with the config's request defaults, quality thresholds and limits."""
        settings = {"defaults": DetectOptions.from_config(config.detection),
                    "quality_defaults": QualityOptions(quality=config.quality.enabled),
                    "quality_settings": config.quality,
                    "refine_faces": config.quality.refine_faces,
                    "max_pixels": config.limits.max_image_pixels,
                    "reduced_decode": config.performance.reduced_decode}
        return cls(model, **{**settings, **overrides})

    def decode(self, data: bytes, *, full: bool) -> DecodedImage:
        """The image of a request, reduced to the model's input size where that loses nothing."""
        if full or not self.reduced_decode:
            return DecodedImage(decode_image(data, max_pixels=self.max_pixels))
        long_side = max(self.model.input_spec.hw)
        pixels, original, canvas = decode_into_canvas(data, max_pixels=self.max_pixels, long_side=long_side,
                                                      canvas_hw=self.model.canvas_hw)
        return DecodedImage(pixels, original, canvas)

    def detect_frame(self, pixels: np.ndarray, options: DetectOptions | None = None) -> Detections:
        """The faces of one decoded RGB frame (a video frame, or a pushed frame already decoded)."""
        return self.model.detect_faces(pixels, options or self.defaults).faces

    def run(self, data: bytes, options: DetectOptions | None = None, align: AlignOptions | None = None,
            quality: QualityOptions | None = None, *, best: bool = False) -> dict[str, Any]:
        """The /v1/detect response for an encoded image, the /v1/align one when ``align`` is given, and with
        ``best`` the /v1/best one: the single best usable face (or NoUsableFace)."""
        start = time.perf_counter()
        options, quality = options or self.defaults, quality or self.quality_defaults
        image = self.decode(data, full=align is not None or self.needs_full_decode(options, quality, best))
        decoded = time.perf_counter()
        found = self.find(image, options, quality, best=best)
        timings = {"decode": (decoded - start) * 1000.0, **found.timings}
        body = faces_to_json(found.faces)
        if found.qualities is not None and (quality.quality or best):
            for face, q in zip(body, found.qualities, strict=True):
                face["quality"] = q.to_json()
        if align is not None:
            aligned_at = time.perf_counter()
            for face, crop in zip(body, aligned_crops(image.pixels, found.faces, align), strict=True):
                face["aligned"] = crop
            timings["align"] = (time.perf_counter() - aligned_at) * 1000.0
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return self.response(found.image_size, body, timings, found.passes)

    @staticmethod
    def needs_full_decode(options: DetectOptions, quality: QualityOptions, best: bool = False) -> bool:
        """Whether detection needs every pixel: quality, and the high-resolution passes of full mode, do."""
        return best or quality.needed or options.order == "quality" or options.mode == "full"

    def find(self, image: DecodedImage, options: DetectOptions, quality: QualityOptions, *,
             best: bool = False) -> Found:
        """The faces of a decoded image: scale passes, then quality and the selections that need it."""
        assess = best or quality.needed or options.order == "quality"
        detect = dataclasses.replace(options, max_faces=0) if assess else options  # cut after quality is known
        faces, image_size, engine_timings, passes = scales.detect(self.model, image.pixels, detect,
                                                                  image.original_size, image.canvas)
        timings = {**engine_timings, "passes": len(passes)}
        qualities = None
        if assess:
            assessed_at = time.perf_counter()
            qualities, timings["quality_inference"] = face_quality.assess(
                self.model, image.pixels, faces, self.quality_settings, refine=self.refine_faces)
            if best:
                chosen = face_quality.best(qualities)
                faces, qualities = faces[chosen], [qualities[chosen]]
            else:
                faces, qualities = face_quality.select(faces, qualities, options, quality)
                if options.order != "quality" and options.max_faces:
                    faces, qualities = self._cut(faces, qualities, options, image_size)
            timings["quality"] = (time.perf_counter() - assessed_at) * 1000.0
        return Found(faces, qualities, image_size, timings, passes)

    def run_batch(self, images: Sequence[Callable[[], bytes]], options: DetectOptions,
                  align: AlignOptions | None = None, quality: QualityOptions | None = None,
                  in_flight: int = 0) -> list[dict[str, Any]]:
        """:meth:`run` for each image of a batch, pipelined; see :func:`.batch.run_batch`."""
        return run_batch(self, images, options, align, quality, in_flight)

    def picture(self, data: bytes, options: DetectOptions, render: RenderOptions,
                redact: RedactOptions | None = None, quality: QualityOptions | None = None) -> Picture:
        """The /v1/draw picture, or the /v1/redact one when ``redact`` is given; see :func:`.picture.render_picture`."""
        return render_picture(self, data, options, render, redact, quality or self.quality_defaults)

    @staticmethod
    def _cut(faces: Detections, qualities: list, options: DetectOptions, image_size: tuple[int, int]):
        """``max_faces`` by a detection-only ``order``, when quality kept the model from cutting."""
        keep = np.sort(face_order(faces.xyxy, faces.scores, options.order, image_size)[:options.max_faces])
        return faces[keep], [qualities[i] for i in keep]

    def response(self, image_size: tuple[int, int], faces: list[dict[str, Any]], timings: dict[str, float],
                 passes: list[dict]) -> dict[str, Any]:
        width, height = image_size
        backend = self.model.backend
        return {
            "faces": faces,
            "count": len(faces),
            "image": {"width": width, "height": height},
            "model": self.model.name,
            "backend": backend.name if backend else None,
            "timings_ms": round_timings(timings),
            "passes": passes,
        }

