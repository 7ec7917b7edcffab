"""The one place a request becomes faces: decode plan, detection (:mod:`.detector`, :mod:`.scales`), selection
(:mod:`.select`), alignment, response objects.

The HTTP routes and the CLI both call :meth:`FacePipeline.run`; neither assembles a
response itself. New capabilities (scale passes, quality, drawing) plug in here.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from ..options import AlignOptions, DetectOptions, QualityOptions, RedactOptions, RenderOptions
from ..runtime.model import SCRFDModel
from ..system.config import SCRFDServiceConfig
from ..vision.decode import decode_image
from ..vision.detections import Detections
from ..vision.quality import QualitySettings
from . import quality as face_quality
from . import rotations
from .batch import run_batch
from .cache import ResultCache
from .detector import DecodedImage, Detector
from .picture import Picture, render_picture
from .response import aligned_crops, faces_to_json, round_timings
from .select import select

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """The faces of a request's image (``found``), the image decoded for them (None when they came from the
    cache), the timings to report, whether the cache answered, and the cache key."""

    found: "Found"
    image: DecodedImage | None
    timings: dict[str, float]
    hit: bool
    key: Any


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
                 refine_faces: int = 8, cache: ResultCache | None = None):
        self.model = model
        self.cache = cache or ResultCache(0, 0)
        self.detector = Detector(model)
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
                    "reduced_decode": config.performance.reduced_decode,
                    "cache": ResultCache(config.cache.max_mb * 2**20 if config.cache.enabled else 0,
                                         config.cache.ttl_s)}
        return cls(model, **{**settings, **overrides})

    def decode(self, data: bytes, *, full: bool) -> DecodedImage:
        """The image of a request, reduced to the model's input size where that loses nothing."""
        if full or not self.reduced_decode:
            return DecodedImage(decode_image(data, max_pixels=self.max_pixels))
        return self.detector.decode(data, max_pixels=self.max_pixels)

    def detect_frame(self, pixels: np.ndarray, options: DetectOptions | None = None) -> Detections:
        """The faces of one decoded RGB frame (a video frame, or a pushed frame already decoded): one pass,
        and the request's selection without quality. Turned passes only when ``options`` ask for them (a
        stream's frames default to upright only, whatever the config's ``detection.rotations``)."""
        options = options or dataclasses.replace(self.defaults, rotations="none")
        found = self.detector.detect(DecodedImage(pixels), options.threshold, options.nms_threshold)
        faces, turns = found.faces, rotations.turns_for(options.rotations, found.faces)
        if turns:
            faces, _ = rotations.add_turns(self.detector, pixels, faces, options, found.image_size, turns,
                                           single=True)
        return select(faces, found.image_size, options).faces

    def run(self, data: bytes, options: DetectOptions | None = None, align: AlignOptions | None = None,
            quality: QualityOptions | None = None, *, best: bool = False, scope: str = "") -> dict[str, Any]:
        """The /v1/detect response for an encoded image, the /v1/align one when ``align`` is given, and with
        ``best`` the /v1/best one: the single best usable face (or NoUsableFace). Every endpoint finds a photo's
        faces alike (:meth:`answer`); alignment warps the full decode. ``scope``: whose cache entries these
        are (the API key, when keys are on)."""
        start = time.perf_counter()
        options, quality = options or self.defaults, quality or self.quality_defaults
        answer = self.answer(data, options, quality, best=best, scope=scope)
        found, timings = answer.found, answer.timings
        body = faces_to_json(found.faces)
        if found.qualities is not None and (quality.quality or best):
            for face, q in zip(body, found.qualities, strict=True):
                face["quality"] = q.to_json()
        if align is not None:
            aligned_at = time.perf_counter()
            crops_key = None if answer.key is None else (answer.key, align)  # kept whole, as the seed asked
            crops = self.cache.get(crops_key)
            if crops is None:
                crops = aligned_crops(self.full_pixels(data, answer.image), found.faces, align)
                self.cache.put(crops_key, crops, sum(len(c["image"]) + 128 for c in crops) + 64)
            for face, crop in zip(body, crops, strict=True):
                face["aligned"] = crop
            timings["align"] = (time.perf_counter() - aligned_at) * 1000.0
        timings["total"] = (time.perf_counter() - start) * 1000.0
        return self.response(found.image_size, body, timings, found.passes)

    def answer(self, data: bytes, options: DetectOptions, quality: QualityOptions, *, best: bool = False,
               scope: str = "") -> Answer:
        """The faces of an encoded image as /v1/detect finds them (on the reduced decode where that loses
        nothing), from the cache when the same photo was asked the same of the same engine."""
        start = time.perf_counter()
        decoded: list[DecodedImage] = []

        def compute() -> Found:
            decoded.append(self.decode(data, full=self.needs_full_decode(options, quality, best)))
            decode_ms = (time.perf_counter() - start) * 1000.0
            found = self.find(decoded[0], options, quality, best=best)
            return Found(found.faces, found.qualities, found.image_size, {"decode": decode_ms, **found.timings},
                         found.passes)

        key = self.cache.key(data, scope, self.identity(), options, quality, best)
        found, hit = self.cache.get_or_compute(key, compute, _found_bytes)
        timings = {"decode": 0.0, "inference": 0.0, "postprocess": 0.0,
                   "cache": (time.perf_counter() - start) * 1000.0} if hit else dict(found.timings)
        return Answer(found, decoded[0] if decoded else None, timings, hit, key)

    def full_pixels(self, data: bytes, image: DecodedImage | None) -> np.ndarray:
        """The image in full: the one decoded for detection when it was, else a new full decode."""
        if image is not None and image.original_size is None:
            return image.pixels
        return self.decode(data, full=True).pixels

    def identity(self) -> tuple:
        """What answered, for the cache: the model, the engine (a fallback switch or an INT8 swap renames it)
        and how many times it was re-created."""
        backend = self.model.backend
        return self.model.name, backend.name if backend else "", self.model.recoveries

    @staticmethod
    def needs_full_decode(options: DetectOptions, quality: QualityOptions, best: bool = False) -> bool:
        """Whether detection needs every pixel: quality, and the high-resolution passes of full mode, do."""
        return FacePipeline.quality_decides(options, quality, best) or options.mode == "full"

    @staticmethod
    def quality_decides(options: DetectOptions, quality: QualityOptions, best: bool = False) -> bool:
        """Whether each face's quality is assessed: asked for, a filter on it, ordering by it, or /v1/best."""
        return best or quality.needed or options.order == "quality"

    def find(self, image: DecodedImage, options: DetectOptions, quality: QualityOptions, *,
             best: bool = False) -> Found:
        """The faces of a decoded image: the scale passes, merged, then the one selection (by quality as well
        when quality decides)."""
        assess = None
        if self.quality_decides(options, quality, best):
            assess = partial(face_quality.assess, self.detector, image.pixels, settings=self.quality_settings,
                             refine=self.refine_faces)
        faces, image_size, engine_timings, passes = rotations.detect(
            self.detector, image, options, listed_max=0 if assess else options.max_faces)
        timings = {**engine_timings, "passes": len(passes)}
        started = time.perf_counter()
        chosen = select(faces, image_size, options, quality, assess, best=best)
        selected_ms = (time.perf_counter() - started) * 1000.0
        if assess is None:
            timings["postprocess"] += selected_ms
        else:
            timings["quality_inference"], timings["quality"] = chosen.engine_ms, selected_ms
        return Found(chosen.faces, chosen.qualities, image_size, timings, passes)

    def run_batch(self, images: Sequence[Callable[[], bytes]], options: DetectOptions,
                  align: AlignOptions | None = None, quality: QualityOptions | None = None,
                  in_flight: int = 0, scope: str = "") -> list[dict[str, Any]]:
        """:meth:`run` for each image of a batch, pipelined; see :func:`.batch.run_batch`."""
        return run_batch(self, images, options, align, quality, in_flight, scope)

    def picture(self, data: bytes, options: DetectOptions, render: RenderOptions,
                redact: RedactOptions | None = None, quality: QualityOptions | None = None,
                scope: str = "") -> Picture:
        """The /v1/draw picture, or the /v1/redact one when ``redact`` is given; see :func:`.picture.render_picture`."""
        return render_picture(self, data, options, render, redact, quality or self.quality_defaults, scope)

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



def _found_bytes(found: Found) -> int:
    """What a cached result holds: its arrays, and about 400 bytes per quality block and pass."""
    faces = found.faces
    arrays = faces.xyxy.nbytes + faces.scores.nbytes + faces.landmarks.nbytes
    return 256 + arrays + 400 * (len(found.qualities or ()) + len(found.passes))
