"""The one detector: an image to faces in its own (original) coordinates, through the engine's one way in.

:class:`Detector` letterboxes, runs :meth:`SCRFDModel.infer`, decodes and suppresses overlaps; it knows nothing
of a request beyond the score floor and the NMS IoU (which faces a request keeps is :mod:`.select`'s). The
zero-copy canvas lives here: :meth:`Detector.decode` has a plain JPEG decoded straight into the network input
it will run as (:func:`~hailo_scrfd.vision.decode.decode_into_canvas`), and :meth:`Detector.detect` runs that
canvas as it is when it still is the image's letterbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..backends import InputSpec
from ..runtime.model import DetectionResult, SCRFDModel
from ..vision.decode import decode_into_canvas
from ..vision.detections import Detections
from ..vision.letterbox import Letterbox, input_letterbox
from ..vision.scrfd import decode, postprocess


@dataclass(frozen=True)
class DecodedImage:
    """The pixels a request runs on; ``original_size`` (width, height) when they were decoded reduced, and
    ``canvas``, the network input they were decoded straight into (``pixels`` is its top-left view), if they
    were. Only :meth:`Detector.decode` makes one with a canvas."""

    pixels: np.ndarray
    original_size: tuple[int, int] | None = None
    canvas: np.ndarray | None = None


class Detector:
    """Faces of images and canvases on one model; thread-safe (only the engine call is serialised)."""

    def __init__(self, model: SCRFDModel):
        self.model = model

    @property
    def input_spec(self) -> InputSpec:
        return self.model.input_spec

    def decode(self, data: bytes, *, max_pixels: int) -> DecodedImage:
        """An encoded image decoded for detection: reduced to the model's input where that loses nothing, and
        straight into the network canvas where it goes in unscaled (an upright RGB JPEG as wide as the input)."""
        spec = self.input_spec
        pixels, original, canvas = decode_into_canvas(data, max_pixels=max_pixels, long_side=max(spec.hw),
                                                      canvas_hw=lambda hw: _unscaled(spec, hw))
        return DecodedImage(pixels, original, canvas)

    def canvas_hw(self, image_hw: tuple[int, int]) -> tuple[int, int] | None:
        """The network input (height, width) an image of ``image_hw`` goes into unscaled, or None when it is
        resized (or no model is loaded): a decoder may write such an image straight into its canvas."""
        backend = self.model.backend
        return None if backend is None else _unscaled(backend.input_spec, image_hw)

    def detect(self, image: DecodedImage, threshold: float, nms_threshold: float) -> DetectionResult:
        """The faces of one letterboxed pass over ``image``, in original-image coordinates, by score (NMS'd)."""
        t0 = time.perf_counter()
        pixels = image.pixels
        letterbox = self.model.letterbox(pixels.shape[:2])
        canvas = image.canvas if _is_input(image.canvas, letterbox, pixels.shape[:2]) else letterbox.apply(pixels)
        letterbox_ms = (time.perf_counter() - t0) * 1000.0
        raw = self.model.infer(canvas)
        t1 = time.perf_counter()
        scale, size = letterbox.back_to(pixels.shape[:2], image.original_size)
        faces = postprocess(raw.outputs, input_hw=raw.input_hw, scale=scale, image_size=size,
                            threshold=threshold, nms_threshold=nms_threshold)
        timings = {**raw.timings_ms, "preprocess": letterbox_ms + raw.timings_ms["preprocess"],
                   "postprocess": (time.perf_counter() - t1) * 1000.0}
        return DetectionResult(faces=faces, image_size=size, timings_ms=timings, input_hw=raw.input_hw)

    def detect_canvas(self, canvas: np.ndarray, threshold: float, nms_threshold: float) -> tuple[Detections, float]:
        """Faces on one ready-made uint8 input canvas (a scale pass, a tile, landmark cells), in canvas pixels
        after NMS, and the engine milliseconds."""
        raw = self.model.infer(canvas)
        return decode(raw.outputs, raw.input_hw, threshold).with_nms(nms_threshold), raw.engine_ms


def _unscaled(spec: InputSpec, image_hw: tuple[int, int]) -> tuple[int, int] | None:
    letterbox = input_letterbox(image_hw, spec.hw, spec.dynamic)
    return letterbox.input_hw if letterbox.resized_hw == tuple(image_hw) else None


def _is_input(canvas: np.ndarray | None, letterbox: Letterbox, image_hw: tuple[int, int]) -> bool:
    """Whether the decoder's canvas is this letterbox's input as it is: the image goes in unscaled, and the
    canvas has the input's size (the backend may have changed since the decode, and its input with it)."""
    return canvas is not None and letterbox.resized_hw == tuple(image_hw) and canvas.shape[:2] == letterbox.input_hw
