"""Request image bytes to an RGB uint8 array: base64, EXIF orientation, every mode, pixel limits."""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import warnings
from typing import Callable

import cv2
import numpy as np
import simplejpeg
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import ImageTooLarge, InvalidBase64, InvalidImage, MissingImage
from .heif import container_format, open_container
from .jpeg import JpegHeader, plain_jpeg_header

SUPPORTED_FORMATS = "JPEG, PNG, WebP, BMP, TIFF, GIF, HEIC/HEIF, AVIF"

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w=.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_URLSAFE = str.maketrans("-_", "+/")


def decode_base64_image(text: str) -> bytes:
    """Bytes from base64 text: a data-URI prefix, whitespace, the URL-safe alphabet and missing padding are accepted."""
    text = _DATA_URI.sub("", text.strip(), count=1)
    text = _WHITESPACE.sub("", text).translate(_URLSAFE).rstrip("=")
    if not text:
        raise MissingImage("the 'image' field is empty")
    if len(text) % 4 == 1:
        raise InvalidBase64("the 'image' field is not valid base64: its length is impossible (truncated?)")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64("the 'image' field is not valid base64") from None


def decode_image(data: bytes, *, max_pixels: int) -> np.ndarray:
    """Decode an encoded image into an RGB uint8 ``(H, W, 3)`` array.

    The pixel limit is checked from the header, before any pixel is decoded. EXIF orientation (and HEIF's
    ``irot``/``imir``) is applied; animated images give their first frame, HEIC/HEIF/AVIF their primary image.
    """
    pixels, _, _ = _decode_any(data, max_pixels, None)
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else pixels


def decode_image_reduced(data: bytes, *, max_pixels: int, long_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Like :func:`decode_image`, but a JPEG larger than needed is decoded at a reduced size.

    libjpeg's DCT scaling (1/2, 1/4, 1/8) is chosen so that the long side stays at least
    ``long_side``, which skips most of the work for large photos. Greyscale images stay
    ``(H, W)``: they are resized first and spread to three channels only at network size.
    Returns the pixels and the original image's (width, height) after EXIF orientation, to
    map coordinates back.
    """
    pixels, original, _ = _decode_any(data, max_pixels, long_side)
    return pixels, original


def decode_into_canvas(data: bytes, *, max_pixels: int, long_side: int,
                       canvas_hw: Callable[[tuple[int, int]], tuple[int, int] | None] | None = None
                       ) -> tuple[np.ndarray, tuple[int, int], np.ndarray | None]:
    """:func:`decode_image_reduced`, and the network canvas when the pixels could be decoded straight into it.

    ``canvas_hw``: for the decoded (height, width), the (height, width) of the zero-padded canvas that the image
    goes into unscaled, at its top-left, or None when it will be resized. When the canvas is as wide as the
    image, an upright RGB JPEG is decoded into its top rows (the rest zeroed), which saves copying every pixel
    again: returns (pixels, original (width, height), canvas), the pixels being a view of the canvas; the canvas
    is None when that could not be done.
    """
    return _decode_any(data, max_pixels, long_side, canvas_hw)


def _decode_any(data: bytes, max_pixels: int, long_side: int | None,
                canvas_hw=None) -> tuple[np.ndarray, tuple[int, int], np.ndarray | None]:
    """(pixels, the upright original's (width, height), canvas or None); greyscale stays ``(H, W)``.

    Plain JPEGs are read and decoded by libjpeg-turbo alone (:mod:`.jpeg`); everything else, and any JPEG
    libjpeg-turbo only warns about, goes through Pillow.
    """
    if not data:
        raise MissingImage("the image is empty (0 bytes)")
    header = plain_jpeg_header(data)
    if header is not None:
        _check_size(header.width, header.height, max_pixels)
        pixels, canvas = _decode_jpeg(data, header, long_side, canvas_hw)
        if pixels is not None:
            return pixels, _upright_size(header.width, header.height, header.orientation), canvas
    image = _open(data, max_pixels)
    width, height = image.size
    if header is None and image.format == "JPEG" and image.mode in ("RGB", "L"):
        pillow_header = JpegHeader(width, height, image.mode == "L", _orientation(image))
        pixels, canvas = _decode_jpeg(data, pillow_header, long_side, canvas_hw)
        if pixels is not None:
            return pixels, _upright_size(width, height, pillow_header.orientation), canvas
    factor = _reduction(image.size, long_side) if long_side else 1
    if image.format == "JPEG" and factor > 1:
        image.draft(None, (-(-width // factor), -(-height // factor)))
    return _decode(image, keep_grey=True), _upright_size(width, height, _orientation(image)), None


def _upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    return (height, width) if orientation in _TRANSPOSING else (width, height)


def _decode_jpeg(data: bytes, header: JpegHeader, long_side: int | None,
                 canvas_hw=None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A YCbCr, RGB or greyscale JPEG decoded by libjpeg-turbo (simplejpeg), EXIF orientation applied, and the
    canvas it was decoded into (see :func:`decode_into_canvas`), or None.

    Straight to RGB or grey at the :func:`_reduction` for ``long_side`` (or full size), with
    none of Pillow's intermediate copies, which makes it faster than Pillow's path
    (docs/performance.md). ``None`` means "use Pillow": anything libjpeg only warns about
    (truncated or corrupt data), which Pillow then accepts or words as an error.
    """
    size = (header.width, header.height)
    factor = _reduction(size, long_side) if long_side else 1
    hw = (-(-header.height // factor), -(-header.width // factor))  # libjpeg's scaled size rounds up
    undo = _ORIENT.get(header.orientation)
    canvas = None
    if canvas_hw is not None and not header.grey and undo is None:
        canvas_size = canvas_hw(hw)
        if canvas_size is not None and canvas_size[1] == hw[1] and canvas_size[0] >= hw[0]:
            canvas = np.empty((*canvas_size, 3), np.uint8)
            canvas[hw[0]:] = 0
    try:
        pixels = simplejpeg.decode_jpeg(data, "GRAY" if header.grey else "RGB", strict=True,
                                        min_width=hw[1], min_height=hw[0], buffer=canvas)
    except ValueError:
        return None, None
    if canvas is not None and pixels.shape[:2] != hw:  # not the size the canvas was made for: never expected
        canvas = None
        pixels = pixels.copy()
    pixels = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
    return (undo(pixels) if undo else pixels), canvas


def _reduction(size: tuple[int, int], long_side: int) -> int:
    """The JPEG DCT reduction, 1, 2, 4 or 8, that keeps the long side at least ``long_side``.

    Powers of two only, as Pillow's ``draft`` chooses them: libjpeg-turbo also scales by 3/8,
    5/8 and so on, but the extra resize from those sizes moved small faces (IoU 0.82-0.9 on
    selfie.jpg), while 1/2 keeps every confident face.
    """
    width, height = size
    if max(width, height) <= long_side:
        return 1
    scale = long_side / max(width, height)
    ratio = min(width // math.ceil(width * scale), height // math.ceil(height * scale))
    return next(f for f in (8, 4, 2, 1) if ratio >= f)


def _orientation(image: Image.Image) -> int:
    try:
        return image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a corrupt EXIF block must not cost the whole image
        return 1


# EXIF orientation -> the operation that shows the image upright, as ImageOps.exif_transpose does.
_ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
_TRANSPOSING = (5, 6, 7, 8)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image with its header read (the size known, no pixel decoded), within the pixel limit."""
    container = container_format(data)
    if container is not None:  # HEIC, HEIF, AVIF (:mod:`.heif`)
        image = open_container(data, container)
    else:
        image = _open_with_pillow(data, max_pixels)
    _check_size(*image.size, max_pixels)
    return image


def _open_with_pillow(data: bytes, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked after
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"the image exceeds the limit of {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise InvalidImage(f"the body is not a decodable image (supported: {SUPPORTED_FORMATS})") from None
    except Exception as exc:
        raise InvalidImage(f"the image header is corrupt ({type(exc).__name__})") from None


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise InvalidImage(f"the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageTooLarge(f"the image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")


def _decode(image: Image.Image, keep_grey: bool = False) -> np.ndarray:
    try:
        image.load()
        image = _apply_orientation(image)
        if keep_grey and image.mode == "L":
            return np.asarray(image)
        return _to_rgb(image)
    except (ImageTooLarge, InvalidImage):
        raise
    except Exception as exc:  # truncated data, bad Huffman tables, etc.
        raise InvalidImage(f"the image data is corrupt or truncated ({_short(exc)})") from None


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a corrupt EXIF block must not cost the whole image
        return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (and PNG's 32-bit "I" decode of it): keep the top 8 bits.
        grey = (np.asarray(image, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.nan_to_num(np.asarray(image, dtype=np.float32))
        top = float(grey.max()) if grey.size else 0.0
        grey = grey * (255.0 if top <= 1.0 else 255.0 / top)
        return np.repeat(grey.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels become black, as if composited on the zero padding the model sees.
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(black, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def decoded_size(data: bytes, *, long_side: int | None = None) -> tuple[int, int, str]:
    """(width, height, format) of what decoding ``data`` will give, from the header alone; the format is
    ``jpeg`` for a plain JPEG (then at the DCT reduction for ``long_side``; None: in full), else Pillow's
    name for it. (0, 0, "") when the header is unreadable: the decode then says why."""
    header = plain_jpeg_header(data)
    if header is not None:
        factor = _reduction((header.width, header.height), long_side) if long_side else 1
        return -(-header.width // factor), -(-header.height // factor), "jpeg"
    try:
        image = _open(data, 2**62)
    except Exception:  # the decode words the error
        return 0, 0, ""
    return image.width, image.height, (image.format or "").lower()
