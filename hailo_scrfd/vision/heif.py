"""HEIC, HEIF and AVIF: told apart by the brands of their ``ftyp`` box, opened by the decoder for their codec.

* AVIF (AV1): Pillow's own plugin, libavif in Pillow's wheels since 11.2 (``PIL.features.check("avif")``).
* HEIC/HEIF (HEVC): pillow-heif (libheif and libde265), imported only when the first such body arrives, so that
  start-up and a service that never sees one pay nothing for it. It is never registered with Pillow: its image
  class is used directly, as Pillow's AVIF one is, so the codec follows the brands and a failure keeps its reason.

Opening reads the container's boxes only (``ispe`` gives the size): no pixel is decoded before the caller has
checked the pixel limit. The primary item is the image (a burst, a depth map, a thumbnail is never taken for it).

Orientation: HEIF's ``irot``/``imir`` boxes are the authoritative transform; EXIF's Orientation tag in such a file
only repeats it (iPhones write both). libheif applies ``irot``/``imir`` while decoding and pillow-heif resets
the EXIF tag to 1, so Pillow's EXIF transpose then does nothing; libavif leaves the pixels as stored and Pillow
turns ``irot``/``imir`` into the EXIF tag, which the transpose applies. Either way it is applied once.
"""

from __future__ import annotations

import io

from PIL import Image

from ..errors import InvalidImage

_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AV1_BRANDS = frozenset({b"avif", b"avis"})
_STRUCTURAL_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"miaf"})  # HEIF without saying which codec
_MAX_BRANDS = 64


def container_format(data: bytes) -> str | None:
    """"HEIF" (HEVC-coded: HEIC and plain HEIF), "AVIF", or None when ``data`` does not start as either."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    end = min(int.from_bytes(data[:4], "big"), len(data), 16 + 4 * _MAX_BRANDS)
    major = data[8:12]
    brands = {major, *(data[i:i + 4] for i in range(16, end - 3, 4))}
    if major in _HEVC_BRANDS:
        return "HEIF"
    if major in _AV1_BRANDS or brands & _AV1_BRANDS:
        return "AVIF"
    if brands & (_HEVC_BRANDS | _STRUCTURAL_BRANDS):
        return "HEIF"
    return None


def open_container(data: bytes, container: str) -> Image.Image:
    """The image of a :func:`container_format` body, its header read and its pixels not yet decoded."""
    image_class = _avif_class() if container == "AVIF" else _hevc_class()
    try:
        return image_class(io.BytesIO(data))
    except Exception as exc:  # the plugins raise SyntaxError, ValueError, RuntimeError... for a broken container
        name = "AVIF" if container == "AVIF" else "HEIC/HEIF"
        raise InvalidImage(f"the {name} image cannot be read: the file is truncated or corrupt, or declares "
                           f"a size its decoder refuses ({_reason(exc)})") from None


def _avif_class() -> type[Image.Image]:
    from PIL import AvifImagePlugin, features

    if not features.check("avif"):
        raise InvalidImage("AVIF images are not supported: this Pillow was built without libavif")
    return AvifImagePlugin.AvifImageFile


def _hevc_class() -> type[Image.Image]:
    """pillow-heif's image class, imported on first use (Python's import lock makes that once; setting the
    options again is harmless)."""
    from pillow_heif import options
    from pillow_heif.as_plugin import HeifImageFile

    # The primary image only: no thumbnails for draft(), no depth or auxiliary images read.
    options.THUMBNAILS = options.DEPTH_IMAGES = options.AUX_IMAGES = False
    return HeifImageFile


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
