"""Fit an image into the network input: resize keeping the aspect ratio, pad at the top-left."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """Where an image lands in the input tensor, and how to map detections back.

    ``scale`` is (sx, sy): input pixels per original pixel.
    """

    input_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    scale: tuple[float, float]

    def back_to(self, image_hw: tuple[int, int], original_size: tuple[int, int] | None = None
                ) -> tuple[tuple[float, float], tuple[int, int]]:
        """How faces on the input map back: ((sx, sy) input pixels per image pixel, the image's (width, height)).
        ``original_size`` (width, height): the ``image_hw`` pixels were decoded reduced from a larger original,
        whose pixels the faces are then mapped to."""
        height, width = image_hw
        scale = self.scale
        if original_size is not None and original_size != (width, height):
            scale = (scale[0] * width / original_size[0], scale[1] * height / original_size[1])
            width, height = original_size
        return scale, (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The uint8 ``(H, W, 3)`` input canvas: the resized image at the top-left, zeros elsewhere.

        ``image`` is RGB ``(H, W, 3)`` or greyscale ``(H, W)``, which is spread to three channels.
        """
        return top_left_canvas(image, self.input_hw, self.resized_hw)


def top_left_canvas(image: np.ndarray, canvas_hw: tuple[int, int], resized_hw: tuple[int, int]) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` canvas with ``image`` resized (bilinear) to ``resized_hw`` at its top-left and zeros
    elsewhere. ``image`` is RGB, or greyscale ``(H, W)``, which is spread to three channels.

    An RGB image resizes straight into the canvas, and only the padding is zeroed, so each pixel is written
    once; a writable, contiguous image that already is the whole canvas is returned as it is (callers only
    read canvases; HailoRT's ``set_buffer`` takes writable buffers only, and Pillow's arrays are read-only).
    """
    rh, rw = resized_hw
    same_size = image.shape[:2] == (rh, rw)
    rgb = image.ndim == 3 and image.dtype == np.uint8
    if same_size and rgb and (rh, rw) == tuple(canvas_hw) and image.flags.c_contiguous and image.flags.writeable:
        return image
    canvas = np.empty((*canvas_hw, 3), dtype=np.uint8)
    region = canvas[:rh, :rw]
    if rgb and not same_size:
        out = cv2.resize(image, (rw, rh), dst=region, interpolation=cv2.INTER_LINEAR)
        if out is not region:  # OpenCV allocated its own output after all: copy it in
            region[...] = out
    else:
        if not same_size:
            image = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_LINEAR)
        region[...] = image[:, :, None] if image.ndim == 2 else image
    canvas[rh:] = 0
    canvas[:rh, rw:] = 0
    return canvas


def input_letterbox(image_hw: tuple[int, int], input_hw: tuple[int, int], dynamic: bool) -> Letterbox:
    """The letterbox of an engine's input: :func:`fit_letterbox` when it takes any size (``dynamic``), else
    :func:`fixed_letterbox`."""
    return (fit_letterbox if dynamic else fixed_letterbox)(image_hw, input_hw)


def fixed_letterbox(image_hw: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
    """The reference (InsightFace) letterbox into a fixed input size.

    The long side fills the input and the short side is truncated to an integer, exactly
    as InsightFace's ``SCRFD.detect`` does. Like InsightFace, both axes map back with the
    height ratio ``new_h / h``; on images where the width fills the input and the height
    is truncated, that is up to 0.3 % off on x, which is what reproducing the reference
    to a fraction of a pixel requires.
    """
    h, w = image_hw
    in_h, in_w = input_hw
    if h / w > in_h / in_w:
        new_h = in_h
        new_w = max(1, int(new_h / (h / w)))
    else:
        new_w = in_w
        new_h = max(1, int(new_w * (h / w)))
    ratio = new_h / h
    return Letterbox(input_hw=(in_h, in_w), resized_hw=(new_h, new_w), scale=(ratio, ratio))


def fit_letterbox(image_hw: tuple[int, int], max_hw: tuple[int, int], stride: int = 32) -> Letterbox:
    """Fit mode, for backends that take any input size: scale the image uniformly so that it
    fits ``max_hw``, then pad only to the next multiple of ``stride`` (e.g. 640x448 for a 3:2
    photo instead of 640x640). Each axis maps back with its own exact ratio.
    """
    h, w = image_hw
    scale = min(max_hw[0] / h, max_hw[1] / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    input_hw = (math.ceil(new_h / stride) * stride, math.ceil(new_w / stride) * stride)
    return Letterbox(input_hw=input_hw, resized_hw=(new_h, new_w), scale=(new_w / w, new_h / h))
